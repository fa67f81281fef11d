/* lease.h — leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection:
 * take the Lease when it is free or expired, renew it while leading, write with resourceVersion so
 * a 409 means another replica won, and hand it back on shutdown. A leader that cannot renew within
 * the renew deadline stops acting. The decision itself (kube_lease_decide) is pure. */
#ifndef BALLAST_KUBE_LEASE_H
#define BALLAST_KUBE_LEASE_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "base/err.h"
#include "kube/config.h"

enum kube_lease_action {
    KUBE_LEASE_STANDBY = 0, /* someone else holds a live lease */
    KUBE_LEASE_ACQUIRE,     /* absent, released, expired or unreadable: take it */
    KUBE_LEASE_RENEW        /* we hold it */
};

/* What a follower last saw of another holder's Lease, and when, by its own monotonic clock:
 * as client-go, expiry is judged by the time the record was locally seen to change plus
 * leaseDurationSeconds, never by comparing the holder's renewTime with the local clock, so
 * any clock skew between replicas is tolerated. Zero it before the first decision. */
struct kube_lease_seen {
    char record[512]; /* resourceVersion, holder, renewTime, leaseDurationSeconds */
    double at;        /* monotonic seconds when record was first seen */
    int valid;
};

/* What to do given the Lease read (borrowed; NULL = it does not exist), our identity, what we
 * saw before (updated) and now (monotonic seconds, the same clock as seen->at). Held by another:
 * STANDBY until leaseDurationSeconds have passed on our clock with the record unchanged, then
 * ACQUIRE; a lease seen for the first time is given a full duration. A lease without a holder,
 * a renewTime or a leaseDurationSeconds in 1..2^31-1 counts as free. */
enum kube_lease_action kube_lease_decide(const cJSON *lease, const char *identity,
                                         struct kube_lease_seen *seen, double now);

/* 1 while a leader whose last successful renewal was sent at last_renew (monotonic) may still
 * act at now: now - last_renew < renew_deadline. Past it, it must stop before the lease runs
 * out for the others (renew_deadline < lease duration). */
int kube_lease_holds(double last_renew, double renew_deadline, double now);

/* RFC 3339 MicroTime ("2026-11-24T07:00:00.123456Z", offsets accepted) to Unix seconds. 0, or
 * ERR_INVALID. */
int kube_lease_parse_time(const char *s, double *out);
/* Unix seconds to "2026-11-24T07:00:00.123456Z" (out at least 32 bytes). */
void kube_lease_format_time(double t, char *out, size_t n);

struct kube_lease_opts {
    const char *ns;        /* namespace of the Lease */
    const char *name;      /* Lease name, e.g. "ballast-leader" */
    const char *identity;  /* this replica, e.g. the pod name; must differ between replicas */
    double lease_duration; /* 0 = 15 s: how long a holder's lease lasts without renewal */
    double renew_deadline; /* 0 = 10 s: a leader not renewed for this long stops leading */
    double retry_period;   /* 0 = 2 s: time between attempts */
    int no_release;        /* 1 = do not hand the Lease back on stop (simulates a crash) */
    /* Called on the election thread (or the thread in kube_lease_try/stop); they must not block
     * for long nor call kube_lease_stop. on_stopped_leading comes after the failed attempt that
     * found the deadline passed: code that acts checks kube_lease_is_leader() right before it. */
    void (*on_started_leading)(void *ud);
    void (*on_stopped_leading)(void *ud);
    void (*on_new_leader)(const char *identity, void *ud); /* holder seen changed ("" = none) */
    void *ud;
};

struct kube_lease;
/* cfg borrowed (must outlive); o's strings are copied. Caller frees with kube_lease_free. */
struct kube_lease *kube_lease_new(struct kube_config *cfg, const struct kube_lease_opts *o,
                                  struct err *e);
/* Starts the election thread: stand by / acquire / renew every retry_period. After losing the
 * lease (on_stopped_leading) it goes back to standing by; a process that must not lead twice
 * stops on that callback instead. 0, ERR_INVALID (started twice), ERR_NOMEM/ERR_IO. */
int kube_lease_start(struct kube_lease *l, struct err *e);
/* Stops the thread (promptly, within one request), releases the Lease if we hold it (unless
 * no_release) and calls on_stopped_leading if we were leading. Idempotent. */
void kube_lease_stop(struct kube_lease *l);
void kube_lease_free(struct kube_lease *l); /* stops first */

/* 1 while we hold the lease and the last renewal is younger than renew_deadline. Thread-safe. */
int kube_lease_is_leader(struct kube_lease *l);
/* The holder last seen in the Lease ("" = none), into out. */
void kube_lease_holder(struct kube_lease *l, char *out, size_t n);

/* One attempt, synchronously on the calling thread (the thread must not be running): returns 1
 * when we hold the lease afterwards, 0 when another does, or a negative ERR_* (e says why). */
int kube_lease_try(struct kube_lease *l, struct err *e);
/* Hands the lease back if we hold it (holder "", leaseDurationSeconds 1), synchronously. 0 or
 * ERR_*; ERR_CONFLICT when it changed under us (then it is not ours anyway). */
int kube_lease_release(struct kube_lease *l, struct err *e);

#endif
