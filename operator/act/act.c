/* act.c — executes plans against the API server; see act.h. Every call here is a
 * write, so each is logged as one structured line, and each failure says which
 * object and what the API server answered — in the log, in status and in an Event. */
#include "act/act.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/num.h"

const struct kube_res *act_resource(enum plan_kind k)
{
    switch (k) {
    case PLAN_CONFIGMAP:
        return &KUBE_CONFIGMAPS;
    case PLAN_SERVICE:
        return &KUBE_SERVICES;
    case PLAN_PDB:
        return &KUBE_PDBS;
    case PLAN_PVC:
        return &KUBE_PVCS;
    case PLAN_POD:
        return &KUBE_PODS;
    }
    return NULL;
}

/* ---- the kube-backed act_api ---- */

static int k_get(void *ud, const struct kube_res *res, const char *ns, const char *name,
                 struct kube_resp *r)
{
    return kube_get(ud, res, ns, name, r);
}

static int k_create(void *ud, const struct kube_res *res, const char *ns, const cJSON *obj,
                    struct kube_resp *r)
{
    return kube_create(ud, res, ns, obj, r);
}

static int k_update(void *ud, const struct kube_res *res, const char *ns, const char *name,
                    const cJSON *obj, struct kube_resp *r)
{
    return kube_update(ud, res, ns, name, obj, r);
}

static int k_update_status(void *ud, const struct kube_res *res, const char *ns, const char *name,
                           const cJSON *obj, struct kube_resp *r)
{
    return kube_update_status(ud, res, ns, name, obj, r);
}

static int k_del(void *ud, const struct kube_res *res, const char *ns, const char *name,
                 const struct kube_delete_opts *o, struct kube_resp *r)
{
    return kube_delete(ud, res, ns, name, o, r);
}

static int k_evict(void *ud, const char *ns, const char *name, const char *uid, struct kube_resp *r)
{
    struct buf path = {0};
    memset(r, 0, sizeof *r);
    if (kube_path(&path, &KUBE_PODS, ns, name, "eviction") != 0) {
        snprintf(r->message, sizeof r->message, "bad pod name %s/%s", ns, name);
        return ERR_INVALID;
    }
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "apiVersion", "policy/v1");
    cJSON_AddStringToObject(ev, "kind", "Eviction");
    cJSON *md = cJSON_AddObjectToObject(ev, "metadata");
    cJSON_AddStringToObject(md, "name", name);
    cJSON_AddStringToObject(md, "namespace", ns);
    if (uid != NULL) {
        cJSON *pre =
            cJSON_AddObjectToObject(cJSON_AddObjectToObject(ev, "deleteOptions"), "preconditions");
        cJSON_AddStringToObject(pre, "uid", uid);
    }
    char *body = cJSON_PrintUnformatted(ev);
    cJSON_Delete(ev);
    int rc;
    if (body == NULL) {
        snprintf(r->message, sizeof r->message, "out of memory");
        rc = ERR_NOMEM;
    } else {
        rc = kube_request(ud, "POST", path.data, NULL, "application/json", body, r);
    }
    free(body);
    buf_free(&path);
    return rc;
}

void act_api_kube(struct act_api *api, struct kube_client *c, int (*leading)(void *), void *ud)
{
    *api = (struct act_api){.ud = c,
                            .get = k_get,
                            .create = k_create,
                            .update = k_update,
                            .update_status = k_update_status,
                            .del = k_del,
                            .evict = k_evict,
                            .leading = leading,
                            .leading_ud = ud};
}

/* ---- helpers ---- */

static void psc_key(const struct psc *psc, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", psc->ns, psc->name);
}

static bool leading(const struct act_api *api)
{
    return api->leading == NULL || api->leading(api->leading_ud) != 0;
}

static const char *jstr(const cJSON *o, const char *a, const char *b)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
    if (b != NULL)
        x = cJSON_GetObjectItemCaseSensitive(x, b);
    return cJSON_IsString(x) ? x->valuestring : NULL;
}

/* Whether obj is this PSC's: its controller owner reference names the PSC's uid, or (a PVC,
 * which outlives its PSC) it carries ballast's managed-by and instance labels. */
static bool owned_by(const cJSON *obj, const struct psc *psc, enum plan_kind k)
{
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    const cJSON *ref;
    cJSON_ArrayForEach(ref, cJSON_GetObjectItemCaseSensitive(md, "ownerReferences"))
    {
        const char *uid = jstr(ref, "uid", NULL);
        if (uid != NULL && psc->uid != NULL && strcmp(uid, psc->uid) == 0)
            return true;
    }
    if (k != PLAN_PVC)
        return false;
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(md, "labels");
    const char *by = jstr(labels, PSC_LABEL_MANAGED_BY, NULL);
    const char *inst = jstr(labels, PSC_LABEL_INSTANCE, NULL);
    return by != NULL && strcmp(by, "ballast") == 0 && inst != NULL && strcmp(inst, psc->name) == 0;
}

static void wrote(const struct act_api *api, const struct act_wrote *w)
{
    if (api->wrote != NULL)
        api->wrote(api->wrote_ud, w);
}

static void wrote_child(const struct act_api *api, const struct plan_action *a,
                        enum act_wrote_op op)
{
    struct act_wrote w = {.kind = a->kind, .op = op, .ns = a->ns, .name = a->name};
    if (op == ACT_WROTE_DELETED)
        w.uid = a->uid;
    if (op == ACT_WROTE_UPDATED &&
        (w.old_rv[0] = jstr(cJSON_GetObjectItemCaseSensitive(a->object, "metadata"),
                            "resourceVersion", NULL)) != NULL)
        w.nold = 1;
    wrote(api, &w);
}

/* What one failure does to status: the condition it overrides and how. */
struct override {
    const char *type;   /* "Degraded", "Rolling" or "Resizing" */
    const char *reason; /* ActionFailed, NameConflict, EvictionRefused */
    char message[512];
};

struct pass {
    const struct act_api *api;
    const struct psc *psc;
    struct act_result *res;
    struct override ov[3]; /* at most one per condition type: the first failure wins */
    int nov;
    bool restart_refused;
    char key[256];
};

static void add_override(struct pass *x, const char *type, const char *reason, const char *msg)
{
    for (int i = 0; i < x->nov; i++)
        if (strcmp(x->ov[i].type, type) == 0)
            return;
    if (x->nov >= 3)
        return;
    struct override *o = &x->ov[x->nov++];
    o->type = type;
    o->reason = reason;
    snprintf(o->message, sizeof o->message, "%s", msg);
}

static void api_text(const struct kube_resp *r, int rc, char *out, size_t n)
{
    if (r->status != 0)
        snprintf(out, n, "%ld %s: %s", r->status, r->reason[0] ? r->reason : "Error",
                 r->message[0] ? r->message : "(no message)");
    else
        snprintf(out, n, "%s",
                 r->message[0]       ? r->message
                 : rc == ERR_TIMEOUT ? "timed out"
                                     : "no answer");
}

static void failed(struct pass *x, const char *what, const struct kube_resp *r, int rc)
{
    char api[400], msg[512];
    api_text(r, rc, api, sizeof api);
    snprintf(msg, sizeof msg, "%s failed: %s.", what, api);
    x->res->failed++;
    if (x->res->failure[0] == '\0')
        snprintf(x->res->failure, sizeof x->res->failure, "%s", msg);
    log_warn("action failed", "psc", x->key, "action", what, "error", api);
    char full[512];
    snprintf(full, sizeof full, "%s failed: %s; ballast retries with back-off.", what, api);
    add_override(x, "Degraded", "ActionFailed", full);
}

/* A create answered 409 AlreadyExists: ours in a stale cache, or a name taken by an
 * object ballast does not own, which it never adopts nor overwrites. */
static bool create_conflict(struct pass *x, const struct plan_action *a, const struct kube_res *r)
{
    struct kube_resp cur = {0};
    int grc = x->api->get(x->api->ud, r, a->ns, a->name, &cur);
    bool ours = grc == 0 && owned_by(cur.body, x->psc, a->kind);
    kube_resp_free(&cur);
    if (grc != 0 && grc != ERR_NOTFOUND)
        return false; /* cannot tell: treat as not (yet) there, retry next pass */
    if (ours || grc == ERR_NOTFOUND) {
        x->res->conflict = true; /* stale cache (or gone again): re-read */
        return ours;
    }
    char msg[512];
    snprintf(msg, sizeof msg,
             "%s %s/%s exists but does not belong to this PSC; ballast never adopts it and "
             "waits: delete or rename it.",
             plan_kind_name(a->kind), a->ns, a->name);
    x->res->name_conflicts++;
    log_warn("name taken by an object ballast does not own", "psc", x->key, "kind",
             plan_kind_name(a->kind), "name", a->name);
    add_override(x, "Degraded", "NameConflict", msg);
    return false;
}

static bool refused(const struct kube_resp *r, int rc)
{
    return rc == ERR_API && r->status == 429;
}

static void eviction_refused(struct pass *x, const char *type, const char *pod,
                             const struct kube_resp *r)
{
    char msg[512];
    snprintf(msg, sizeof msg,
             "The eviction of pod %s is refused for now (%s); another voluntary disruption "
             "holds the PodDisruptionBudget, and ballast tries again.",
             pod, r->message[0] ? r->message : "429 TooManyRequests");
    x->res->refused++;
    if (x->res->requeue_after == 0 || x->res->requeue_after > 10)
        x->res->requeue_after = 10;
    log_info("eviction refused", "psc", x->key, "pod", pod, "reason", r->message);
    add_override(x, type, "EvictionRefused", msg);
}

/* One action: true when it took effect (or the world already is as wanted). */
static bool apply_action(struct pass *x, const struct plan_action *a)
{
    const struct kube_res *r = act_resource(a->kind);
    struct kube_resp resp = {0};
    char what[400];
    int rc;
    bool ok = false;

    snprintf(what, sizeof what, "%s %s %s/%s", plan_verb_name(a->verb), plan_kind_name(a->kind),
             a->ns, a->name);
    if (r == NULL || (a->verb == PLAN_EVICT && a->kind != PLAN_POD)) {
        snprintf(resp.message, sizeof resp.message, "not a valid action");
        failed(x, what, &resp, ERR_INVALID);
        return false;
    }
    switch (a->verb) {
    case PLAN_CREATE:
        rc = x->api->create(x->api->ud, r, a->ns, a->object, &resp);
        break;
    case PLAN_UPDATE:
        rc = x->api->update(x->api->ud, r, a->ns, a->name, a->object, &resp);
        break;
    case PLAN_DELETE: {
        struct kube_delete_opts o = {
            .precondition_uid = a->uid, .grace_seconds = -1, .propagation = "Background"};
        rc = x->api->del(x->api->ud, r, a->ns, a->name, &o, &resp);
        break;
    }
    case PLAN_EVICT:
        rc = x->api->evict(x->api->ud, a->ns, a->name, a->uid, &resp);
        break;
    default:
        rc = ERR_INVALID;
        snprintf(resp.message, sizeof resp.message, "unknown verb %d", (int)a->verb);
        break;
    }
    x->res->writes++;
    if (rc == 0 || ((a->verb == PLAN_DELETE || a->verb == PLAN_EVICT) && rc == ERR_NOTFOUND)) {
        log_info("applied", "psc", x->key, "action", plan_verb_name(a->verb), "kind",
                 plan_kind_name(a->kind), "name", a->name, "why", a->why);
        ok = true;
        wrote_child(x->api, a,
                    a->verb == PLAN_CREATE   ? ACT_WROTE_CREATED
                    : a->verb == PLAN_UPDATE ? ACT_WROTE_UPDATED
                                             : ACT_WROTE_DELETED);
    } else if (rc == ERR_CONFLICT && a->verb == PLAN_CREATE) {
        /* ours already, in a cache that lags: the next pass waits until it shows it */
        if ((ok = create_conflict(x, a, r)))
            wrote_child(x->api, a, ACT_WROTE_CREATED);
    } else if (rc == ERR_CONFLICT) {
        /* stale resourceVersion, or a uid precondition: the object moved on; re-read */
        x->res->conflict = true;
        log_info("conflict, will re-read", "psc", x->key, "action", plan_verb_name(a->verb), "kind",
                 plan_kind_name(a->kind), "name", a->name, "reason", resp.reason);
    } else if (a->verb == PLAN_EVICT && refused(&resp, rc)) {
        eviction_refused(x, "Resizing", a->name, &resp);
    } else {
        failed(x, what, &resp, rc);
    }
    kube_resp_free(&resp);
    if (ok)
        x->res->applied++;
    return ok;
}

static void restart_member(struct pass *x, const struct plan_restart *rs)
{
    struct kube_resp resp = {0};
    int rc = x->api->evict(x->api->ud, rs->ns, rs->pod, rs->uid, &resp);
    x->res->writes++;
    if (rc == 0 || rc == ERR_NOTFOUND) {
        log_info("restarted member", "psc", x->key, "pod", rs->pod, "why", rs->reason);
        x->res->applied++;
        struct act_wrote w = {.kind = PLAN_POD,
                              .op = ACT_WROTE_DELETED,
                              .ns = rs->ns,
                              .name = rs->pod,
                              .uid = rs->uid};
        wrote(x->api, &w);
    } else if (rc == ERR_CONFLICT) {
        x->res->conflict = true; /* the uid precondition failed: already replaced */
        x->restart_refused = true;
    } else if (refused(&resp, rc)) {
        eviction_refused(x, "Rolling", rs->pod, &resp);
        x->restart_refused = true;
    } else {
        char what[300];
        snprintf(what, sizeof what, "evict Pod %s/%s (restart)", rs->ns, rs->pod);
        failed(x, what, &resp, rc);
        x->restart_refused = true;
    }
    kube_resp_free(&resp);
}

static void rfc3339(time_t t, char out[32])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int act_event(const struct act_api *api, const struct psc *psc, bool warning, const char *reason,
              const char *message, struct err *e)
{
    char name[300], ts[32];
    struct timespec now;
    static unsigned seq;
    clock_gettime(CLOCK_REALTIME, &now);
    /* Unique per event, as client-go's recorder does: <object>.<hex nanoseconds>. */
    snprintf(name, sizeof name, "%.200s.%" PRIx64, psc->name,
             (uint64_t)now.tv_sec * UINT64_C(1000000000) + (uint64_t)now.tv_nsec +
                 __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED));
    rfc3339(now.tv_sec, ts);

    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "apiVersion", "v1");
    cJSON_AddStringToObject(ev, "kind", "Event");
    cJSON *md = cJSON_AddObjectToObject(ev, "metadata");
    cJSON_AddStringToObject(md, "name", name);
    cJSON_AddStringToObject(md, "namespace", psc->ns);
    cJSON *io = cJSON_AddObjectToObject(ev, "involvedObject");
    cJSON_AddStringToObject(io, "apiVersion", PSC_API_VERSION);
    cJSON_AddStringToObject(io, "kind", PSC_KIND);
    cJSON_AddStringToObject(io, "namespace", psc->ns);
    cJSON_AddStringToObject(io, "name", psc->name);
    if (psc->uid)
        cJSON_AddStringToObject(io, "uid", psc->uid);
    cJSON_AddStringToObject(ev, "reason", reason);
    cJSON_AddStringToObject(ev, "message", message);
    cJSON_AddStringToObject(ev, "type", warning ? "Warning" : "Normal");
    cJSON_AddStringToObject(ev, "firstTimestamp", ts);
    cJSON_AddStringToObject(ev, "lastTimestamp", ts);
    cJSON_AddNumberToObject(ev, "count", 1);
    cJSON_AddStringToObject(ev, "reportingComponent", "ballast");
    cJSON *src = cJSON_AddObjectToObject(ev, "source");
    cJSON_AddStringToObject(src, "component", "ballast");

    struct kube_resp resp = {0};
    int rc = api->create(api->ud, &KUBE_EVENTS, psc->ns, ev, &resp);
    if (rc != 0) {
        rc = kube_resp_err(e, rc, &resp, "record event %s on %s/%s", reason, psc->ns, psc->name);
        log_warn("event not recorded", "error", e ? e->msg : "");
    }
    kube_resp_free(&resp);
    cJSON_Delete(ev);
    return rc;
}

int act_write_status(const struct act_api *api, const char *ns, const char *name,
                     long long generation, const char *resource_version, const cJSON *based_on,
                     const cJSON *status, struct err *e)
{
    char *rv = resource_version ? strdup(resource_version) : NULL;
    int rc = ERR_CONFLICT;
    /* the resourceVersions the status was written over: the cache shows the write once
     * it holds none of them */
    struct act_wrote w = {.psc = true, .op = ACT_WROTE_UPDATED, .ns = ns, .name = name};
    char *olds[3] = {0};

    for (int attempt = 0; attempt < 3 && rc == ERR_CONFLICT; attempt++) {
        struct kube_resp resp = {0};
        if (!leading(api)) {
            rc = err_set(e, ERR_CANCELLED, "status of %s/%s not written: not leading", ns, name);
            break;
        }
        cJSON *obj = cJSON_CreateObject();
        cJSON_AddStringToObject(obj, "apiVersion", PSC_API_VERSION);
        cJSON_AddStringToObject(obj, "kind", PSC_KIND);
        cJSON *md = cJSON_AddObjectToObject(obj, "metadata");
        cJSON_AddStringToObject(md, "name", name);
        cJSON_AddStringToObject(md, "namespace", ns);
        if (rv)
            cJSON_AddStringToObject(md, "resourceVersion", rv);
        cJSON_AddItemToObject(obj, "status", cJSON_Duplicate(status, 1));
        rc = api->update_status(api->ud, &KUBE_PSCS, ns, name, obj, &resp);
        cJSON_Delete(obj);
        if (rv != NULL && (olds[attempt] = strdup(rv)) != NULL)
            w.old_rv[w.nold++] = olds[attempt];
        if (rc != ERR_CONFLICT) {
            if (rc != 0)
                rc = kube_resp_err(e, rc, &resp, "write status of %s/%s", ns, name);
            else
                wrote(api, &w);
            kube_resp_free(&resp);
            break;
        }
        kube_resp_free(&resp);
        /* 409: someone wrote the PSC since we read it. Re-read; if the spec moved on,
         * our status describes an old generation: leave it to the next pass. */
        struct kube_resp cur = {0};
        int grc = api->get(api->ud, &KUBE_PSCS, ns, name, &cur);
        if (grc != 0) {
            rc = kube_resp_err(e, grc, &cur, "re-read %s/%s after a status conflict", ns, name);
            kube_resp_free(&cur);
            break;
        }
        const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(cur.body, "metadata");
        const cJSON *gen = cJSON_GetObjectItemCaseSensitive(cmd, "generation");
        const cJSON *nrv = cJSON_GetObjectItemCaseSensitive(cmd, "resourceVersion");
        if (!num_json_is(gen, generation) || !cJSON_IsString(nrv)) {
            kube_resp_free(&cur);
            rc = ERR_CONFLICT;
            err_set(e, rc, "status of %s/%s not written: the spec changed meanwhile", ns, name);
            break;
        }
        if (act_status_differs(cJSON_GetObjectItemCaseSensitive(cur.body, "status"), based_on)) {
            kube_resp_free(&cur);
            rc = ERR_CONFLICT;
            err_set(e, rc, "status of %s/%s not written: a newer status is there", ns, name);
            break;
        }
        free(rv);
        rv = strdup(nrv->valuestring);
        kube_resp_free(&cur);
        rc = ERR_CONFLICT;
    }
    free(rv);
    for (int i = 0; i < 3; i++)
        free(olds[i]);
    return rc;
}

static void strip_probe_times(cJSON *status)
{
    cJSON *k;
    cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(status, "conditions"))
    {
        if (cJSON_IsObject(k))
            cJSON_DeleteItemFromObjectCaseSensitive(k, "lastProbeTime");
    }
}

bool act_status_differs(const cJSON *a, const cJSON *b)
{
    if (a == NULL || b == NULL)
        return a != b;
    cJSON *x = cJSON_Duplicate(a, true), *y = cJSON_Duplicate(b, true);
    bool differ = true;
    if (x != NULL && y != NULL) {
        strip_probe_times(x);
        strip_probe_times(y);
        differ = !cJSON_Compare(x, y, true);
    }
    cJSON_Delete(x);
    cJSON_Delete(y);
    return differ;
}

static cJSON *find_condition(cJSON *status, const char *type)
{
    cJSON *k;
    cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(status, "conditions"))
    {
        const char *t = jstr(k, "type", NULL);
        if (t != NULL && strcmp(t, type) == 0)
            return k;
    }
    return NULL;
}

static void set_str(cJSON *o, const char *k, const char *v)
{
    cJSON *s = cJSON_CreateString(v);
    if (s == NULL)
        return;
    if (cJSON_GetObjectItemCaseSensitive(o, k) != NULL)
        cJSON_ReplaceItemInObjectCaseSensitive(o, k, s);
    else
        cJSON_AddItemToObject(o, k, s);
}

/* Writes o into status: condition o->type becomes True with o's reason and message; its
 * lastTransitionTime is the previous status's while that was True too, else now, and its
 * lastProbeTime the previous status's while that said the same, else now. */
static void apply_override(cJSON *status, const cJSON *prev_status, const struct override *o,
                           time_t now)
{
    cJSON *k = find_condition(status, o->type);
    if (k == NULL)
        return;
    const cJSON *pk = find_condition((cJSON *)prev_status, o->type);
    const char *ps = jstr(pk, "status", NULL);
    const char *pr = jstr(pk, "reason", NULL);
    const char *pm = jstr(pk, "message", NULL);
    const char *pltt = jstr(pk, "lastTransitionTime", NULL);
    const char *pprobe = jstr(pk, "lastProbeTime", NULL);
    bool was_true = ps != NULL && strcmp(ps, "True") == 0;
    char ts[32];
    rfc3339(now, ts);
    const char *was = jstr(k, "status", NULL);
    if (was == NULL || strcmp(was, "True") != 0)
        set_str(k, "lastTransitionTime", was_true && pltt ? pltt : ts);
    bool same = was_true && pr != NULL && strcmp(pr, o->reason) == 0 && pm != NULL &&
                strcmp(pm, o->message) == 0 && pprobe != NULL;
    set_str(k, "lastProbeTime", same ? pprobe : ts);
    set_str(k, "status", "True");
    set_str(k, "reason", o->reason);
    set_str(k, "message", o->message);
}

static const char *prev_reason(const struct psc *psc, const char *type)
{
    return jstr(find_condition(psc->status, type), "reason", NULL);
}

int act_execute(const struct act_api *api, const struct psc *psc, const struct plan *p, time_t now,
                struct act_result *res, struct err *e)
{
    struct pass x = {.api = api, .psc = psc, .res = res};
    memset(res, 0, sizeof *res);
    psc_key(psc, x.key, sizeof x.key);
    bool *ok = calloc((size_t)p->nactions + 1, sizeof *ok);
    if (ok == NULL)
        return err_set(e, ERR_NOMEM, "out of memory applying the plan of %s", x.key);
    for (int i = 0; i < p->nactions; i++) {
        const struct plan_action *a = &p->actions[i];
        if (a->needs > 0 && (a->needs > i || !ok[a->needs - 1])) {
            res->skipped++;
            continue;
        }
        if (!leading(api))
            goto lost;
        ok[i] = apply_action(&x, a);
    }
    if (p->restart.set) {
        if (!leading(api))
            goto lost;
        restart_member(&x, &p->restart);
    }

    /* Events: the plan's, but not news that did not come true (an action or restart that
     * did not take effect, a condition this pass's failures overrode); then one Warning
     * per failure that status did not already report. */
    for (int i = 0; i < p->nevents; i++) {
        const struct plan_event *ev = &p->events[i];
        if ((ev->action == -1 && x.restart_refused) ||
            (ev->action > 0 && (ev->action > p->nactions || !ok[ev->action - 1])))
            continue;
        bool overridden = false;
        for (int k = 0; k < x.nov && ev->condition != NULL; k++)
            overridden |= strcmp(x.ov[k].type, ev->condition) == 0;
        if (overridden)
            continue;
        if (!leading(api))
            goto lost;
        res->writes++;
        act_event(api, psc, p->events[i].type == PLAN_EVENT_WARNING, p->events[i].reason,
                  p->events[i].message, NULL);
    }
    for (int i = 0; i < x.nov; i++) {
        const char *pr = prev_reason(psc, x.ov[i].type);
        const cJSON *pk = find_condition(psc->status, x.ov[i].type);
        const char *pm = jstr(pk, "message", NULL);
        if (pr != NULL && strcmp(pr, x.ov[i].reason) == 0 && pm != NULL &&
            strcmp(pm, x.ov[i].message) == 0)
            continue;
        if (!leading(api))
            goto lost;
        res->writes++;
        act_event(api, psc, true, x.ov[i].reason, x.ov[i].message, NULL);
    }
    free(ok);
    ok = NULL;

    int rc = 0;
    cJSON *status = p->status;
    bool changed = p->status_changed;
    cJSON *mine = NULL;
    if (x.nov > 0 && p->status != NULL) {
        mine = cJSON_Duplicate(p->status, true);
        if (mine == NULL)
            return err_set(e, ERR_NOMEM, "out of memory writing the status of %s", x.key);
        for (int i = 0; i < x.nov; i++)
            apply_override(mine, psc->status, &x.ov[i], now);
        status = mine;
        changed = act_status_differs(mine, psc->status);
    }
    if (changed && status != NULL) {
        if (!leading(api)) {
            cJSON_Delete(mine);
            goto lost;
        }
        rc = act_write_status(api, psc->ns, psc->name, psc->generation, psc->resource_version,
                              psc->status, status, e);
        res->writes++;
        if (rc == ERR_CONFLICT) {
            res->conflict = true;
            rc = 0;
        } else if (rc == 0) {
            res->status_written = true;
        } else if (rc == ERR_CANCELLED) {
            res->not_leading = true;
        }
    }
    cJSON_Delete(mine);
    if (res->conflict && (res->requeue_after == 0 || res->requeue_after > 1))
        res->requeue_after = 1;
    return rc;
lost:
    free(ok);
    res->not_leading = true;
    log_warn("stopped mid-pass: no longer leading", "psc", x.key);
    return err_set(e, ERR_CANCELLED, "%s: leadership lost, nothing more written", x.key);
}
