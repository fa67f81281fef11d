/* watch.h — one streaming watch request: newline-delimited JSON events with resourceVersion and
 * bookmarks, a bounded line size, dead-stream detection, and prompt cancel through a stop flag.
 * Re-watching and relisting on ERR_GONE are the caller's (the informer's) job. */
#ifndef BALLAST_KUBE_WATCH_H
#define BALLAST_KUBE_WATCH_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "base/err.h"
#include "kube/client.h"

enum kube_event_type { KUBE_ADDED, KUBE_MODIFIED, KUBE_DELETED, KUBE_BOOKMARK, KUBE_ERROR };
/* obj is borrowed (valid during the call). Return 0 to go on, non-zero to end the watch
 * (ERR_CANCELLED). For KUBE_ERROR obj is the API Status; the watch ends after the call whatever
 * fn returns (ERR_GONE for code 410, else ERR_API). */
typedef int (*kube_watch_fn)(enum kube_event_type t, const cJSON *obj, void *ud);
struct kube_watch_opts {
    const char *label_selector;
    const char *field_selector;
    const char *resource_version; /* start after this rv (required for a correct informer);
                                     NULL = start from last_rv when it is not "" */
    int timeout_seconds;          /* server-side timeoutSeconds; 0 = random 300..600 */
    size_t max_line;              /* bound on one event line; 0 = 16 MiB */
    int metadata_only;            /* Accept PartialObjectMetadata */
    volatile int *stop;           /* checked often; set to end the watch promptly (ERR_CANCELLED) */
};
/* One watch request with allowWatchBookmarks=true, streaming newline-delimited events to fn. Keeps
 * last_rv updated with the newest resourceVersion seen (events and bookmarks). Returns 0 when the
 * server ended the stream normally (caller re-watches from last_rv), ERR_GONE on 410 / an ERROR
 * event with code 410 (caller must relist), ERR_IO on transport failure or a stalled stream
 * (LOW_SPEED ~150s), ERR_CANCELLED when stopped, ERR_INVALID when a line exceeds max_line or is not
 * JSON, ERR_API for another HTTP error or ERROR event (e says which). */
int kube_watch(struct kube_client *c, const struct kube_res *res, const char *ns,
               const struct kube_watch_opts *o, kube_watch_fn fn, void *ud, char *last_rv,
               size_t rv_len, struct err *e);

/* kube_watch_decode runs kube_watch's stream decoder, without the transport, on a body given in
 * pieces[0..n) (cut anywhere, as the network delivers it): lines split at '\n', each a JSON event
 * handed to fn, last_rv kept as kube_watch keeps it. max_line 0 = 16 MiB. Returns 0 when every
 * piece was consumed (an unfinished last line is dropped, as kube_watch does), else the code the
 * watch would end with (ERR_INVALID, ERR_GONE, ERR_API, ERR_CANCELLED, ERR_NOMEM), e saying why.
 * For tests and fuzzing: the bytes are the API server's, hence untrusted. */
int kube_watch_decode(const char *const *pieces, const size_t *lens, int n, size_t max_line,
                      kube_watch_fn fn, void *ud, char *last_rv, size_t rv_len, struct err *e);

/* Test hook: the stall detector's window in seconds (default 150). Not thread-safe. */
void kube_watch_set_stall_seconds(long seconds);

#endif
