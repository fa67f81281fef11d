/* scrape.h — reading the members' Prometheus metrics over HTTP, all at once, with
 * libcurl multi: a bounded time per scrape (even against a member that accepts and
 * never answers) and a bounded body size, so one sick broker cannot stall a reconcile.
 *
 * The caller must have called curl_global_init(CURL_GLOBAL_DEFAULT) once, before any
 * thread starts (main does it); this module keeps no global state of its own. Each
 * scrape_all call uses its own multi handle, so calls from different threads are safe. */
#ifndef BALLAST_HEALTH_SCRAPE_H
#define BALLAST_HEALTH_SCRAPE_H

#include <stddef.h>

#include "base/err.h"
#include "health/promtext.h"

#define SCRAPE_CONNECT_TIMEOUT_MS_DEFAULT 2000
#define SCRAPE_TIMEOUT_MS_DEFAULT         5000 /* whole request, connect included */
#define SCRAPE_MAX_PARALLEL_DEFAULT       128

struct scrape_target {
    const char *name; /* the member, e.g. "orders-2", for messages (borrowed) */
    const char *host; /* pod IP (IPv4, or IPv6 without brackets) or DNS name (borrowed) */
    int port;         /* 1..65535, e.g. spec.health.metricsPort */
    const char *path; /* starts with '/', e.g. "/metrics" (borrowed) */
};

struct scrape_opts {
    long connect_timeout_ms; /* 0 = SCRAPE_CONNECT_TIMEOUT_MS_DEFAULT */
    long timeout_ms;         /* 0 = SCRAPE_TIMEOUT_MS_DEFAULT */
    size_t max_body;         /* 0 = PROM_MAX_BODY_DEFAULT; a larger body aborts the scrape */
    int max_parallel;        /* 0 = SCRAPE_MAX_PARALLEL_DEFAULT scrapes in flight at once */
};

/* One member's outcome. Owns url and body; free with scrape_results_free. */
struct scrape_result {
    int rc;          /* 0: an HTTP response arrived (any status, see status); else ERR_TIMEOUT,
                        ERR_IO (refused, reset...), ERR_INVALID (bad target, body over the cap) */
    long status;     /* HTTP status when rc == 0 */
    char *url;       /* what was asked for, or NULL when the target was invalid */
    char *body;      /* NUL-terminated response body when rc == 0, else NULL */
    size_t body_len; /* bytes in body, NUL excluded */
    double seconds;  /* wall time the scrape took */
    char error[512]; /* one sentence when rc != 0, naming the URL; else "" */
};

/* scrape_all GETs every target concurrently (up to max_parallel at once) and fills
 * results[0..n) (the caller's array; free its contents with scrape_results_free, also
 * after an error). The whole call returns within timeout_ms (+ a 250 ms grace) however
 * many targets there are: a scrape queued behind max_parallel slow ones gets what is
 * left of the budget, or fails with ERR_TIMEOUT unstarted. Per-target failures land in
 * results[i].rc, not in the return value: returns 0, or ERR_INVALID (NULL arrays),
 * ERR_NOMEM or ERR_IO (libcurl setup failed). */
int scrape_all(const struct scrape_target *targets, int n, const struct scrape_opts *opts,
               struct scrape_result *results, struct err *e);
void scrape_results_free(struct scrape_result *results, int n);

/* scrape_parse turns one result into samples: an error when the scrape failed or the
 * status was not 200, else prom_parse of the body (lim may be NULL). Returns 0 and sets
 * *out (caller frees with prom_samples_free), or a negative ERR_* with e naming the URL. */
int scrape_parse(const struct scrape_result *r, const struct prom_limits *lim,
                 struct prom_samples **out, struct err *e);

/* scrape_url writes "http://<host>:<port><path>" into out (brackets around an IPv6
 * host). Returns 0, or ERR_INVALID when the host, port or path is unusable or the
 * URL does not fit in cap bytes. */
int scrape_url(const struct scrape_target *t, char *out, size_t cap, struct err *e);

#endif
