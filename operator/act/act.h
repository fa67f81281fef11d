/* act.h — the executor: applies a plan computed by plan_compute to the API server with
 * the fewest calls that do it. Actions are independent: one that fails is reported
 * (Degraded=True reason ActionFailed, naming the object and the API's answer, plus a
 * Warning Event) and never stops the others, so a missing member is still recreated;
 * only an action that needs another (a pod needs its volume) waits for it. Restarts and
 * removals go through the Eviction API, so the PodDisruptionBudget and every other
 * voluntary disruption are respected; a refused eviction (429) is a wait with a reason.
 * Leadership is asked before every write. The API is reached through struct act_api, so
 * tests can put a simulated cluster behind it. */
#ifndef BALLAST_ACT_ACT_H
#define BALLAST_ACT_ACT_H

#include <stdbool.h>

#include "base/err.h"
#include "kube/client.h"
#include "plan/plan.h"
#include "psc/psc.h"

/* A write that took effect, as the caller's caches will show it once their watches bring
 * it: the next pass of this PSC must not plan from a view that does not show it yet (a
 * pod evicted a moment ago still looks Ready and unrestarted there, and would be
 * restarted twice). */
enum act_wrote_op {
    ACT_WROTE_CREATED, /* the name exists */
    ACT_WROTE_UPDATED, /* its resourceVersion is none of old_rv */
    ACT_WROTE_DELETED  /* gone, or terminating, or the name now holds another uid */
};
struct act_wrote {
    bool psc;            /* the PSC itself (its status); else kind names the child */
    enum plan_kind kind; /* when !psc */
    enum act_wrote_op op;
    const char *ns, *name;
    const char *uid;       /* DELETED: the uid that goes; NULL = whatever holds the name */
    const char *old_rv[3]; /* UPDATED: the resourceVersions it was written over */
    int nold;
};

/* The calls the executor makes; each behaves as its kube_* twin (same return codes, r
 * filled and freed by the caller with kube_resp_free). `leading` (may be NULL = always)
 * is asked right before every write: 0 stops the pass before the call is made. */
struct act_api {
    void *ud;
    int (*get)(void *ud, const struct kube_res *res, const char *ns, const char *name,
               struct kube_resp *r);
    int (*create)(void *ud, const struct kube_res *res, const char *ns, const cJSON *obj,
                  struct kube_resp *r);
    int (*update)(void *ud, const struct kube_res *res, const char *ns, const char *name,
                  const cJSON *obj, struct kube_resp *r);
    int (*update_status)(void *ud, const struct kube_res *res, const char *ns, const char *name,
                         const cJSON *obj, struct kube_resp *r);
    int (*del)(void *ud, const struct kube_res *res, const char *ns, const char *name,
               const struct kube_delete_opts *o, struct kube_resp *r);
    /* POST pods/<name>/eviction (policy/v1) with a uid precondition (uid may be NULL).
     * 429 (ERR_API, r->status 429): the disruption budget refuses it now. */
    int (*evict)(void *ud, const char *ns, const char *name, const char *uid, struct kube_resp *r);
    int (*leading)(void *ud);
    void *leading_ud;
    /* NULL, or told of every write that took effect (w and its strings are borrowed for
     * the call). Events are not reported: nothing reads them back. */
    void (*wrote)(void *ud, const struct act_wrote *w);
    void *wrote_ud;
};

/* act_api_kube fills api with calls on c (borrowed); leading may be NULL. */
void act_api_kube(struct act_api *api, struct kube_client *c, int (*leading)(void *), void *ud);

struct act_result {
    int writes;         /* API writes issued (create/update/delete/evict/status/event) */
    int applied;        /* plan actions (and the restart) that took effect */
    int failed;         /* actions the API refused (ActionFailed) */
    int name_conflicts; /* creates refused because an object ballast does not own has the name */
    int refused;        /* evictions the disruption budget refused (429) */
    int skipped;        /* actions not tried because one they need did not take effect */
    bool conflict;      /* a 409 from a stale cache: requeue soon */
    bool not_leading;   /* leadership was lost: the pass stopped before a write */
    bool status_written;
    int requeue_after; /* > 0: come back this soon (a refused eviction, a conflict) */
    char failure[512]; /* the first failure, for logs: "create Pod ns/x: 422 Invalid: ..." */
};

/* act_execute applies p for the PSC psc (both borrowed): every action whose dependency
 * (if any) took effect, then the restart, then the Events, then the status — the plan's,
 * with the failures of this pass written into it — when it differs from the PSC's status
 * in more than lastProbeTime. Returns 0 when every call went through or was answered as
 * expected (a failed action is reported in status, not returned), ERR_CANCELLED when
 * leadership was lost (nothing more is written), or the status write's error. */
int act_execute(const struct act_api *api, const struct psc *psc, const struct plan *p, time_t now,
                struct act_result *res, struct err *e);

/* act_write_status writes status (borrowed) to the PSC's /status subresource with the
 * PSC's resourceVersion. status was computed from based_on (the status of the PSC as
 * read, borrowed, may be NULL). On 409 it re-reads the PSC and retries (up to 3 times)
 * only while the generation is unchanged and the status there is still based_on (but
 * for lastProbeTime): a newer generation means status describes an old spec, and a
 * status written meanwhile (by the previous pass, seen in a cache that lagged) is
 * newer knowledge that this one must not overwrite: both return ERR_CONFLICT, and the
 * next pass computes from what is there. */
int act_write_status(const struct act_api *api, const char *ns, const char *name,
                     long long generation, const char *resource_version, const cJSON *based_on,
                     const cJSON *status, struct err *e);

/* act_event records a Kubernetes Event (core/v1) on the PSC. Best effort: a failure is
 * logged and returned, never fatal for the reconcile. */
int act_event(const struct act_api *api, const struct psc *psc, bool warning, const char *reason,
              const char *message, struct err *e);

/* act_resource maps a plan kind to the API resource. */
const struct kube_res *act_resource(enum plan_kind k);

/* act_status_differs: whether a and b (status objects, may be NULL) differ in more than
 * their conditions' lastProbeTime. */
bool act_status_differs(const cJSON *a, const cJSON *b);

#endif
