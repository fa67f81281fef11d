/* informer.h — keeps a kube_cache in step with the API server for one resource (optionally one
 * namespace and a label selector), on a thread of its own: list, then watch from the list's
 * resourceVersion with bookmarks; re-watch from the last resourceVersion when a watch ends; relist
 * on 410 Gone (synthesizing DELETED for what vanished); back off (1..30 s, jittered) on errors.
 * A handler sees every change so the controller can enqueue the owning object's key. */
#ifndef BALLAST_KUBE_INFORMER_H
#define BALLAST_KUBE_INFORMER_H

#include <cjson/cJSON.h>

#include "base/err.h"
#include "kube/cache.h"
#include "kube/client.h"
#include "kube/watch.h"

/* Called on the informer's thread after the cache was updated, for KUBE_ADDED, KUBE_MODIFIED and
 * KUBE_DELETED only. obj is borrowed (valid during the call); for DELETED it is the last state.
 * Keep it short (enqueue a key); it may read the cache, not write it. */
typedef void (*kube_informer_fn)(enum kube_event_type t, const cJSON *obj, void *ud);

struct kube_informer_opts {
    const struct kube_res *res; /* required */
    const char *ns;             /* NULL = all namespaces (or a cluster-scoped resource) */
    const char *label_selector; /* NULL = everything */
    const char *field_selector;
    int metadata_only;       /* PartialObjectMetadata (e.g. Nodes): only metadata is cached */
    const char *index_label; /* NULL, or a label the cache indexes (kube_cache_each_label) */
    /* NULL, or called on every object (listed or watched) before it is cached, to drop the
     * fields nobody reads; the handler still gets the whole watched object. */
    void (*compact)(cJSON *obj);
    kube_informer_fn handler; /* may be NULL */
    void *ud;
    int watch_timeout_seconds; /* server-side watch timeout; 0 = random 300..600 */
    double backoff_min;        /* 0 = 1 s */
    double backoff_max;        /* 0 = 30 s */
};

struct kube_informer_stats {
    unsigned long lists;          /* successful lists, the first included */
    unsigned long relists;        /* lists after the first (410 Gone, broken watch) */
    unsigned long watch_restarts; /* watches started after the first */
    unsigned long errors;         /* failed lists/watches (each followed by a back-off) */
    unsigned long events;         /* ADDED/MODIFIED/DELETED handed to the handler */
};

struct kube_informer;
/* cfg borrowed (must outlive); o's strings are copied. Caller frees with kube_informer_free. */
struct kube_informer *kube_informer_new(struct kube_config *cfg, const struct kube_informer_opts *o,
                                        struct err *e);
/* Starts the thread. 0, ERR_INVALID (already started), ERR_IO. */
int kube_informer_start(struct kube_informer *inf, struct err *e);
/* Asks the thread to stop without waiting for it: a controller with many informers asks
 * them all first, then joins each (kube_informer_stop), so shutdown takes one informer's
 * time, not the sum. Idempotent. */
void kube_informer_request_stop(struct kube_informer *inf);
/* Asks the thread to stop and joins it (within about a second). Idempotent. */
void kube_informer_stop(struct kube_informer *inf);
void kube_informer_free(struct kube_informer *inf); /* stops first */

/* 1 once the first list has filled the cache and its events went to the handler. */
int kube_informer_synced(struct kube_informer *inf);
/* Waits up to timeout seconds for the first sync, giving up early when *stop (may be NULL)
 * becomes non-zero. 1 when synced, else 0. */
int kube_informer_wait_synced(struct kube_informer *inf, double timeout, volatile int *stop);
/* The cache (borrowed; lives as long as inf). */
struct kube_cache *kube_informer_cache(struct kube_informer *inf);
void kube_informer_get_stats(struct kube_informer *inf, struct kube_informer_stats *out);
/* The last error seen (for logs, /readyz), "" when none since the last success. */
void kube_informer_last_error(struct kube_informer *inf, char *out, size_t n);

#endif
