/* client.h — a small dynamic Kubernetes REST client: request(method, path, query, body) ->
 * (status, cJSON), typed helpers for the verbs, retries only where they are safe, and the
 * API's Status surfaced as the error. One kube_client per thread (it owns a curl handle).
 * Call kube_global_init() once in main() before any thread starts; kube_global_cleanup() at exit.
 */
#ifndef BALLAST_KUBE_CLIENT_H
#define BALLAST_KUBE_CLIENT_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"
#include "kube/config.h"

/* curl_global_init / curl_global_cleanup. main() (and each test program) calls init once, before
 * any thread starts; kube_client_new calls it lazily too, for single-threaded programs. */
int kube_global_init(struct err *e);
void kube_global_cleanup(void);

struct kube_client; /* one per thread: owns a curl easy handle, so connections are reused */
struct kube_client *kube_client_new(struct kube_config *cfg /* borrowed; must outlive */,
                                    struct err *e);
void kube_client_free(struct kube_client *c);
/* Per-attempt timeout (default 60 s) and attempts per request (default 5); 0 = default. A caller
 * with a deadline, e.g. a Lease renewal, bounds its worst case (attempts x timeout + back-off). */
void kube_client_set_limits(struct kube_client *c, long timeout_seconds, int max_attempts);
/* guard (may be NULL = none) is asked right before each attempt of every request but GET/HEAD,
 * retries included; 0 stops it unsent with ERR_CANCELLED. The workers pass their leadership
 * check, so no write goes out, first or retried, once the Lease's renew deadline has passed. */
void kube_client_set_write_guard(struct kube_client *c, int (*guard)(void *ud), void *ud);
/* How many connections this client has opened so far (reuse shows as a small number). */
long kube_client_connects(const struct kube_client *c);

struct kube_resp {
    long status;     /* HTTP status; 0 when no response arrived */
    cJSON *body;     /* owned: parsed JSON body, or NULL */
    char reason[64]; /* API Status.reason on errors ("NotFound", "Conflict", "AlreadyExists",...) */
    char message[512]; /* API Status.message, or the transport error */
};
void kube_resp_free(struct kube_resp *r); /* frees body and zeroes r; safe on a zeroed r */

/* Fills e from a failed call: "what: 409 Conflict: <message>" (or the transport error) and
 * returns rc, so callers can `return kube_resp_err(e, rc, &r, "update pod %s", name);`. */
int kube_resp_err(struct err *e, int rc, const struct kube_resp *r, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

struct kube_res {
    const char *group; /* "" = core */
    const char *version;
    const char *resource;
    int namespaced;
};
extern const struct kube_res KUBE_PODS, KUBE_SERVICES, KUBE_CONFIGMAPS, KUBE_PVCS, KUBE_EVENTS,
    KUBE_NODES, KUBE_NAMESPACES, KUBE_LEASES, KUBE_PDBS, KUBE_CRDS, KUBE_PSCS, KUBE_SECRETS,
    KUBE_ENDPOINTS;

/* "/api/v1/namespaces/ns/pods/name/status" etc. ns/name/sub may be NULL (ns NULL on a namespaced
 * resource = all namespaces). Appends to out; on error out is unchanged. ERR_INVALID when a
 * segment is empty, ".", "..", has '/', '?', '#', '%', spaces or non-ASCII, when ns is given for a
 * cluster-scoped resource, or sub without name (sub may hold '/': "status", "scale"). */
int kube_path(struct buf *out, const struct kube_res *r, const char *ns, const char *name,
              const char *sub);

/* All verbs: return 0 on 2xx (r->body holds the answer); otherwise r filled and
 * ERR_NOTFOUND (404), ERR_CONFLICT (409), ERR_GONE (410), ERR_API (other HTTP errors), ERR_IO (no
 * response), ERR_INVALID (bad args). Retries with jittered back-off only where safe: transport
 * errors before any byte was sent, 429 and 5xx for GET/LIST and for requests that are idempotent
 * (PUT with resourceVersion, DELETE with precondition, apply); honours Retry-After; on 401 reloads
 * the token once. The caller always calls kube_resp_free(r) afterwards, success or not.
 * Details: at most 5 attempts (back-off 250 ms doubling, +-50% jitter, cap 8 s; Retry-After up to
 * 30 s wins when longer); 429 is retried for any verb (the server did not run the request); a JSON
 * merge patch counts as idempotent; transport errors of idempotent requests are retried too.
 * r is zeroed on entry without being freed: pass a zeroed or kube_resp_free'd r. */
int kube_request(struct kube_client *c, const char *method, const char *path, const char *query,
                 const char *content_type, const char *body, struct kube_resp *r);
int kube_get(struct kube_client *c, const struct kube_res *res, const char *ns, const char *name,
             struct kube_resp *r);
struct kube_list_opts {
    const char *label_selector;
    const char *field_selector;
    long limit;
    const char *continue_token;
    const char *resource_version;
    int metadata_only; /* Accept PartialObjectMetadataList */
    /* kube_list_all only: called on each item as its page arrives, to drop what the caller
     * will not read before the next page is fetched (NULL = keep everything). */
    void (*compact)(cJSON *item);
};
/* One page. o may be NULL. */
int kube_list(struct kube_client *c, const struct kube_res *res, const char *ns,
              const struct kube_list_opts *o, struct kube_resp *r);
/* kube_list_all's walk (below), handing each page to fn as it arrives (compacted as o->compact
 * says): fn takes the page's items (an owned cJSON array, possibly empty) and returns 0 to go on or
 * a negative error, which ends the walk and is returned. rv is the last page's resourceVersion. On
 * error r holds the failing page's answer as for kube_list_all; on success r->body is NULL. */
typedef int kube_page_fn(cJSON *items, void *ud);
int kube_list_pages(struct kube_client *c, const struct kube_res *res, const char *ns,
                    const struct kube_list_opts *o, kube_page_fn *fn, void *ud, char *rv,
                    size_t rv_len, struct kube_resp *r);
/* Follows `continue` to the end; *items owned cJSON array (caller cJSON_Delete); rv = list
 * resourceVersion. o may be NULL (then limit 500). On error *items is NULL and r holds the failing
 * page's answer (ERR_GONE when the continue token expired mid-way: list again from the start).
 * On success r->body is NULL (the items moved to *items) and r->status is the last page's. */
int kube_list_all(struct kube_client *c, const struct kube_res *res, const char *ns,
                  const struct kube_list_opts *o, cJSON **items, char *rv, size_t rv_len,
                  struct kube_resp *r);
int kube_create(struct kube_client *c, const struct kube_res *res, const char *ns, const cJSON *obj,
                struct kube_resp *r);
int kube_update(struct kube_client *c, const struct kube_res *res, const char *ns, const char *name,
                const cJSON *obj,
                struct kube_resp *r); /* PUT; obj carries metadata.resourceVersion */
int kube_update_status(struct kube_client *c, const struct kube_res *res, const char *ns,
                       const char *name, const cJSON *obj,
                       struct kube_resp *r); /* PUT .../status */
int kube_patch_merge(struct kube_client *c, const struct kube_res *res, const char *ns,
                     const char *name, const char *sub, const cJSON *patch, struct kube_resp *r);
int kube_apply(struct kube_client *c, const struct kube_res *res, const char *ns, const char *name,
               const char *sub, const cJSON *obj, const char *field_manager, int force,
               struct kube_resp *r); /* server-side apply */
struct kube_delete_opts {
    const char *propagation;      /* "Foreground", "Background", "Orphan" or NULL */
    const char *precondition_uid; /* or NULL */
    const char *precondition_rv;  /* or NULL */
    long grace_seconds;           /* -1 = server default */
};
int kube_delete(struct kube_client *c, const struct kube_res *res, const char *ns, const char *name,
                const struct kube_delete_opts *o /* may be NULL */, struct kube_resp *r);

/* Observer for metrics: called after every request with verb ("GET","LIST","WATCH","POST","PUT",
 * "PATCH","DELETE") and HTTP status (0 = transport error). Set once before threads start. */
typedef void (*kube_request_observer)(const char *verb, long status, void *ud);
void kube_set_request_observer(kube_request_observer fn, void *ud);

/* Streaming GET, the transport of kube_watch (watch.c); usable for any chunked answer.
 * fn gets the 2xx body chunk by chunk as it arrives; it returns 0 to go on or a negative ERR_* to
 * end the transfer with that code. A non-2xx answer is buffered (1 MiB cap) and reported in r
 * like any request. No total timeout: a stream slower than 1 byte/s for low_speed_time seconds
 * fails with ERR_IO. stop (may be NULL) is polled at least once a second. Returns 0 when the
 * server ended the stream, fn's code, ERR_CANCELLED, ERR_IO, or the HTTP error's code. */
typedef int (*kube_stream_fn)(const char *data, size_t len, void *ud);
struct kube_stream_req {
    const char *verb; /* for the observer; NULL = "WATCH" */
    const char *path;
    const char *query;
    const char *accept; /* NULL = application/json */
    long low_speed_time;
    volatile int *stop;
    kube_stream_fn fn;
    void *ud;
};
int kube_stream(struct kube_client *c, const struct kube_stream_req *sq, struct kube_resp *r);

/* Test hook: scale every back-off sleep (default 1.0; tests use e.g. 0.01). Not thread-safe. */
void kube_set_backoff_scale(double scale);

#endif
