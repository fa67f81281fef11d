/* httpd.h — ballast's HTTP(S) server: /healthz, /readyz and /metrics on a plain
 * listener, POST /validate (the admission webhook) on an optional TLS listener. One
 * libwebsockets context served by a thread of its own; other threads only flip the
 * readiness flag and update the metrics registry, both under mutexes. */
#ifndef BALLAST_SERVER_HTTPD_H
#define BALLAST_SERVER_HTTPD_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "server/admission.h"
#include "server/metrics.h"

struct srv_opts {
    /* Plain listener for probes and metrics. host NULL or "" = every interface;
     * port 0 = the kernel picks one (read it back with srv_http_port). */
    bool http;
    const char *http_host;
    int http_port;
    /* TLS listener for the webhook; cert and key are PEM file paths, read at start and
     * again whenever either file changes (checked every 2 s; a pair that does not load
     * leaves the previous one served). */
    bool tls;
    const char *tls_host;
    int tls_port;
    const char *tls_cert;
    const char *tls_key;
    struct metrics *metrics;  /* borrowed, outlives the server; NULL = empty /metrics */
    adm_validate_fn validate; /* NULL = allow every well-formed review */
    void *validate_ud;
    size_t max_body; /* webhook request cap in bytes; 0 = ADM_MAX_BODY; over it: 413 */
};

struct srv;

/* srv_start binds the listeners and starts serving on a new thread. Returns
 * ERR_INVALID (bad options, unreadable cert), ERR_IO (address in use, thread) with e
 * filled. *out is freed by srv_stop. Not ready until srv_set_ready(s, true). */
int srv_start(const struct srv_opts *o, struct srv **out, struct err *e);

/* srv_stop stops the service thread (within a poll wake-up), closes every
 * connection and listener, and frees s. NULL is a no-op. */
void srv_stop(struct srv *s);

/* srv_set_ready sets what /readyz answers (e.g. true once the caches have synced). */
void srv_set_ready(struct srv *s, bool ready);

/* The bound ports (useful after asking for port 0); -1 when that listener is off. */
int srv_http_port(const struct srv *s);
int srv_tls_port(const struct srv *s);
/* How many times the webhook's certificate was reloaded after a change of its files. */
int srv_cert_reloads(struct srv *s);

/* srv_parse_addr splits "host:port", ":port" or "[v6addr]:port" (the --metrics-addr
 * and --webhook-addr flags). host gets "" for every interface. */
int srv_parse_addr(const char *hostport, char *host, size_t hostlen, int *port, struct err *e);

#endif
