/* reconcile.h — one reconcile of one PSC: observe (the caller's cached view plus a
 * scrape of every member's metrics), plan (pure), act (only when leading). Separate
 * from the informer plumbing so the sequence can be driven from a test. */
#ifndef BALLAST_CTL_RECONCILE_H
#define BALLAST_CTL_RECONCILE_H

#include <stdbool.h>
#include <time.h>
#include <cjson/cJSON.h>

#include "base/err.h"
#include "kube/client.h"
#include "plan/plan.h"

/* What the caches hold for one PSC; everything borrowed for the call. `observed`
 * carries the children, the nodes and dns_check; ctl_reconcile fills in its psc (parsed
 * from `psc`), health (scraped), dns (looked up, when dns_check) and now. */
struct ctl_view {
    const cJSON *psc;
    struct plan_input observed;
};

struct ctl_outcome {
    int requeue_after; /* seconds; 0 = wait for the next event */
    int writes;        /* API writes issued */
    int actions;       /* plan actions + restart */
    bool conflict;     /* stale cache: requeue soon */
    bool rolling;      /* the Rolling condition is True */
    bool blocked;      /* the roll is blocked by a gate */
    int failed;        /* actions the API refused (also name conflicts) */
    int refused;       /* evictions the disruption budget refused */
    bool not_leading;  /* the pass stopped: leadership lost */
};

struct act_api;

/* ctl_reconcile runs one pass: scrape every member, then ctl_reconcile_pass. api NULL
 * (not the leader, or dry): plan and log, write nothing. Returns 0, or a negative ERR_*
 * with e filled (the caller retries with back-off): also when an action failed (the
 * failure is in status and in an Event by then). A spec that is invalid (unparsable, or
 * refused by the planner) is planned from the last accepted spec, read from the
 * ConfigMap the planner keeps (PLAN_ACCEPTED_SUFFIX, among v's configmaps): missing
 * members are recreated from it and status says InvalidSpec; with no such record only
 * the status is written. */
int ctl_reconcile(const struct act_api *api, const struct ctl_view *v, long scrape_timeout_ms,
                  time_t now, struct ctl_outcome *out, struct err *e);

/* ctl_reconcile_pass is ctl_reconcile with the members' health given (borrowed), as the
 * model-based test drives it. */
int ctl_reconcile_pass(const struct act_api *api, const struct ctl_view *v,
                       const struct plan_member_health *health, int nhealth, time_t now,
                       struct ctl_outcome *out, struct err *e);

/* ctl_invalid_status builds the status written when the PSC cannot even be parsed (and
 * no accepted spec is recorded):
 * Ready=False and Degraded=True with reason InvalidSpec and msg, keeping the other
 * conditions and transition times of prev_status (borrowed, may be NULL). Returns an
 * owned cJSON (caller frees with cJSON_Delete), or NULL when out of memory. Sets
 * *changed when it differs from prev_status in more than lastProbeTime. */
cJSON *ctl_invalid_status(const cJSON *prev_status, long long generation, const char *msg,
                          time_t now, bool *changed);

#endif
