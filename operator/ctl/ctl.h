/* ctl.h — the controller: wires informers, the work queue, health scrapes, the
 * planner and the executor into the reconcile loop, under leader election, with the
 * HTTP server for probes, metrics and the admission webhook. main.c only parses flags
 * and calls ctl_run. */
#ifndef BALLAST_CTL_CTL_H
#define BALLAST_CTL_CTL_H

#include <stdbool.h>

#include "base/err.h"
#include "kube/config.h"

struct ctl_opts {
    const char *const *namespaces; /* watched namespaces; NULL/0 = all */
    int nnamespaces;
    const char *http_addr;    /* "host:port" for /healthz /readyz /metrics; NULL = off */
    const char *webhook_addr; /* "host:port" for the TLS webhook; NULL = off */
    const char *webhook_cert; /* PEM files */
    const char *webhook_key;
    bool leader_elect;
    const char *lease_namespace;
    const char *lease_name;
    const char *identity;
    int workers;           /* reconcile workers, >= 1 */
    int scrape_timeout_ms; /* per member scrape */
    bool dns_check;        /* a new member's pod waits until its Service's name resolves here */
};

/* ctl_run runs until *stop becomes non-zero (SIGTERM/SIGINT), then finishes the API
 * call in flight, releases the Lease and returns 0. Returns a negative ERR_* with e
 * filled when it cannot start (e.g. the HTTP port is taken). cfg is borrowed. */
int ctl_run(struct kube_config *cfg, const struct ctl_opts *o, volatile int *stop, struct err *e);

#endif
