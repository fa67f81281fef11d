/* scrape.h — reading the members' Prometheus metrics over HTTP, all at once, with
 * libcurl multi: a bounded time per scrape (even against a member that accepts and
 * never answers), a bounded body size, and bodies parsed as they arrive, so one sick
 * or hostile member can neither stall a reconcile nor fill the operator's memory.
 *
 * The caller must have called curl_global_init(CURL_GLOBAL_DEFAULT) once, before any
 * thread starts (main does it); this module keeps no global state of its own. Each
 * scrape_all call uses its own multi handle, so calls from different threads are safe. */
#ifndef BALLAST_HEALTH_SCRAPE_H
#define BALLAST_HEALTH_SCRAPE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "health/promtext.h"

#define SCRAPE_CONNECT_TIMEOUT_MS_DEFAULT 2000
#define SCRAPE_TIMEOUT_MS_DEFAULT         5000 /* whole request, connect included */
#define SCRAPE_MAX_PARALLEL_DEFAULT       128
/* Bytes of (decoded) metrics text one scrape may read. Memory does not grow with it:
 * the text is parsed as it arrives and only the sums asked for are kept. It bounds
 * the work one member can make ballast do per pass (a Kafka broker serves well under
 * 1 MiB with the exporter rules in hack/kafka). */
#define SCRAPE_MAX_BODY_DEFAULT (4u << 20)

struct scrape_target {
    const char *name; /* the member, e.g. "orders-2", for messages (borrowed) */
    const char *host; /* pod IP (IPv4, or IPv6 without brackets) or DNS name (borrowed) */
    int port;         /* 1..65535, e.g. spec.health.metricsPort */
    const char *path; /* starts with '/', e.g. "/metrics" (borrowed) */
};

struct scrape_opts {
    long connect_timeout_ms; /* 0 = SCRAPE_CONNECT_TIMEOUT_MS_DEFAULT */
    long timeout_ms;         /* 0 = SCRAPE_TIMEOUT_MS_DEFAULT */
    size_t max_body;         /* 0 = SCRAPE_MAX_BODY_DEFAULT; a larger body fails the scrape */
    int max_parallel;        /* 0 = SCRAPE_MAX_PARALLEL_DEFAULT scrapes in flight at once */
    /* The metric families to read from every target (borrowed): results[i].values[k] is
     * the sum of metrics[k] on target i (prom_sum's rules). */
    const char *const *metrics;
    int nmetrics;
    const struct prom_limits *limits; /* NULL = defaults; max_body comes from above */
};

struct scrape_value {
    bool found; /* the family had at least one series */
    double sum;
};

/* One member's outcome. Owns url and values; free with scrape_results_free. No body is
 * kept: it is parsed as it arrives and dropped line by line. */
struct scrape_result {
    int rc;      /* 0: HTTP 200 and the whole body is metrics text (values are valid);
                    ERR_TIMEOUT; ERR_IO (refused, reset, cut short, HTTP status other than
                    200); ERR_INVALID (bad target, body over the cap, not metrics text);
                    ERR_NOMEM */
    long status; /* HTTP status when one arrived, else 0 */
    char *url;   /* what was asked for, or NULL when the target was invalid */
    struct scrape_value *values; /* nmetrics entries when rc == 0, else NULL */
    size_t body_len;             /* bytes of text read */
    double seconds;              /* wall time the scrape took */
    char error[512];             /* one sentence when rc != 0, naming the URL; else "" */
};

/* scrape_all GETs every target concurrently (up to max_parallel at once), parses each
 * body while it arrives, and fills results[0..n) (the caller's array; free its
 * contents with scrape_results_free, also after an error). The whole call returns
 * within timeout_ms (+ a 250 ms grace) however many targets there are: a scrape queued
 * behind max_parallel slow ones gets what is left of the budget, or fails with
 * ERR_TIMEOUT unstarted. Per-target failures land in results[i].rc, not in the return
 * value: returns 0, or ERR_INVALID (NULL arrays), ERR_NOMEM or ERR_IO (libcurl setup
 * failed). Memory: one unfinished line per scrape in flight, not one body. */
int scrape_all(const struct scrape_target *targets, int n, const struct scrape_opts *opts,
               struct scrape_result *results, struct err *e);
void scrape_results_free(struct scrape_result *results, int n);

/* scrape_url writes "http://<host>:<port><path>" into out (brackets around an IPv6
 * host). Returns 0, or ERR_INVALID when the host, port or path is unusable or the
 * URL does not fit in cap bytes. */
int scrape_url(const struct scrape_target *t, char *out, size_t cap, struct err *e);

#endif
