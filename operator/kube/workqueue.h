/* workqueue.h — the controller's queue of object keys ("ns/name"), as client-go's: a key is queued
 * at most once, never handed to two workers at the same time (re-added while processing, it is
 * queued again after kube_wq_done), can be added after a delay, and retried with per-key
 * exponential back-off. Thread-safe. Time comes from a clock function so tests need not sleep. */
#ifndef BALLAST_KUBE_WORKQUEUE_H
#define BALLAST_KUBE_WORKQUEUE_H

#include <stddef.h>

#include "base/err.h"

/* Seconds on a monotonic scale (only differences matter). */
typedef double (*kube_wq_clock_fn)(void *ud);

struct kube_wq_opts {
    double base_delay;      /* first rate-limited retry; 0 = 0.5 s */
    double max_delay;       /* back-off cap; 0 = 300 s */
    kube_wq_clock_fn clock; /* NULL = CLOCK_MONOTONIC */
    void *clock_ud;
};

struct kube_wq;
/* o may be NULL (defaults). Caller frees with kube_wq_free (after every worker has returned). */
struct kube_wq *kube_wq_new(const struct kube_wq_opts *o, struct err *e);
void kube_wq_free(struct kube_wq *q);

/* Queue key now (no-op when it is already queued, or after shutdown). 0, ERR_INVALID for a
 * NULL/empty key, ERR_NOMEM. */
int kube_wq_add(struct kube_wq *q, const char *key);
/* Queue key once `seconds` have passed ("requeue after"); <= 0 is kube_wq_add. A key already
 * waiting keeps the earlier of its two deadlines. */
int kube_wq_add_after(struct kube_wq *q, const char *key, double seconds);
/* Queue key after its back-off: base_delay * 2^failures, capped at max_delay; failures+1. The
 * delay used is written to *delay (may be NULL). */
int kube_wq_add_rate_limited(struct kube_wq *q, const char *key, double *delay);
/* Resets key's back-off (call after a successful reconcile). */
void kube_wq_forget(struct kube_wq *q, const char *key);
/* How many rate-limited retries key has had since the last forget. */
int kube_wq_requeues(struct kube_wq *q, const char *key);

/* Waits up to timeout seconds (real time; 0 = do not wait, < 0 = forever) for a key that is due
 * and not being processed. Returns it (caller frees with free, and calls kube_wq_done(key) when
 * done), or NULL on timeout, shutdown or out of memory. */
char *kube_wq_get(struct kube_wq *q, double timeout);
/* Marks key processed; if it was added meanwhile it is queued again. */
void kube_wq_done(struct kube_wq *q, const char *key);

/* Wakes every waiter; kube_wq_get returns NULL from now on and adds are ignored. */
void kube_wq_shutdown(struct kube_wq *q);
int kube_wq_shutting_down(struct kube_wq *q);

/* Keys ready to be handed out (the queue-depth metric); waiting = keys in add_after/back-off. */
size_t kube_wq_len(struct kube_wq *q);
size_t kube_wq_waiting(struct kube_wq *q);

/* The default clock: CLOCK_MONOTONIC in seconds (ud unused). */
double kube_wq_monotonic(void *ud);

#endif
