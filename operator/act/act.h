/* act.h — the executor: applies a plan computed by plan_compute to the API server
 * with the fewest calls that do it, in the plan's order, stopping at the first
 * failure; then the one restart, the Events, and the status (through /status, only
 * when it changed). The imperative shell around the pure planner. */
#ifndef BALLAST_ACT_ACT_H
#define BALLAST_ACT_ACT_H

#include <stdbool.h>

#include "base/err.h"
#include "kube/client.h"
#include "plan/plan.h"
#include "psc/psc.h"

struct act_result {
    int writes;    /* API writes issued (create/update/delete/status/event) */
    int applied;   /* plan actions that took effect */
    bool conflict; /* a 409 or an already-exists: the cache was stale; requeue soon */
    bool status_written;
};

/* act_execute applies p for the PSC psc (both borrowed). Returns 0 when everything
 * in the plan took effect (a 409 counts as success with res->conflict set: the next
 * pass re-reads and decides again), or a negative ERR_* with e naming the action. */
int act_execute(struct kube_client *c, const struct psc *psc, const struct plan *p,
                struct act_result *res, struct err *e);

/* act_write_status writes status (borrowed) to the PSC's /status subresource with
 * the PSC's resourceVersion; on 409 re-reads the PSC and retries (up to 3 times) as
 * long as its generation is unchanged (a newer generation means the status we hold
 * is for an old spec: the next pass computes a new one). */
int act_write_status(struct kube_client *c, const char *ns, const char *name, long long generation,
                     const char *resource_version, const cJSON *status, struct err *e);

/* act_event records a Kubernetes Event (core/v1) on the PSC. Best effort: a failure
 * is logged and returned, never fatal for the reconcile. */
int act_event(struct kube_client *c, const struct psc *psc, bool warning, const char *reason,
              const char *message, struct err *e);

/* act_resource maps a plan kind to the API resource. */
const struct kube_res *act_resource(enum plan_kind k);

#endif
