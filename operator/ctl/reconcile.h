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
 * carries the children and the nodes; ctl_reconcile fills in its psc (parsed from
 * `psc`), health (scraped) and now. */
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
};

/* ctl_reconcile runs one pass. act=false (not the leader, or dry): plan and log,
 * write nothing. Returns 0, or a negative ERR_* with e filled (the caller retries
 * with back-off). */
int ctl_reconcile(struct kube_client *c, const struct ctl_view *v, bool act, long scrape_timeout_ms,
                  time_t now, struct ctl_outcome *out, struct err *e);

/* ctl_invalid_status builds the status written when the PSC cannot even be parsed:
 * Ready=False and Degraded=True with reason InvalidSpec and msg, keeping the other
 * conditions and transition times of prev_status (borrowed, may be NULL). Returns an
 * owned cJSON (caller frees with cJSON_Delete), or NULL when out of memory. Sets
 * *changed when it differs from prev_status in more than lastProbeTime. */
cJSON *ctl_invalid_status(const cJSON *prev_status, long long generation, const char *msg,
                          time_t now, bool *changed);

#endif
