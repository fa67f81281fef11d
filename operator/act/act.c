/* act.c — executes plans against the API server; see act.h. Every call here is a
 * write, so each is logged as one structured line, and each failure says which
 * object and what the API server answered. */
#include "act/act.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"

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

static void psc_key(const struct psc *psc, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", psc->ns, psc->name);
}

/* One action. 404 on delete and 409/AlreadyExists on create mean the world already
 * is as wanted or moved on: not an error, but the caller requeues to re-read. */
static int apply_action(struct kube_client *c, const struct psc *psc, const struct plan_action *a,
                        struct act_result *res, struct err *e)
{
    const struct kube_res *r = act_resource(a->kind);
    struct kube_resp resp = {0};
    char key[256];
    int rc;

    psc_key(psc, key, sizeof key);
    if (r == NULL)
        return err_set(e, ERR_INVALID, "unknown object kind %d in plan", (int)a->kind);
    switch (a->verb) {
    case PLAN_CREATE:
        rc = kube_create(c, r, a->ns, a->object, &resp);
        break;
    case PLAN_UPDATE:
        rc = kube_update(c, r, a->ns, a->name, a->object, &resp);
        break;
    case PLAN_DELETE: {
        struct kube_delete_opts o = {
            .precondition_uid = a->uid, .grace_seconds = -1, .propagation = "Background"};
        rc = kube_delete(c, r, a->ns, a->name, &o, &resp);
        break;
    }
    default:
        return err_set(e, ERR_INVALID, "unknown verb %d in plan", (int)a->verb);
    }
    res->writes++;
    if (rc == 0 || (a->verb == PLAN_DELETE && rc == ERR_NOTFOUND)) {
        res->applied++;
        log_info("applied", "psc", key, "action", plan_verb_name(a->verb), "kind",
                 plan_kind_name(a->kind), "name", a->name, "why", a->why);
        rc = 0;
    } else if (rc == ERR_CONFLICT) {
        res->conflict = true;
        log_info("conflict, will re-read", "psc", key, "action", plan_verb_name(a->verb), "kind",
                 plan_kind_name(a->kind), "name", a->name, "reason", resp.reason);
        rc = 0;
    } else {
        rc = kube_resp_err(e, rc, &resp, "%s %s %s/%s", plan_verb_name(a->verb),
                           plan_kind_name(a->kind), a->ns, a->name);
    }
    kube_resp_free(&resp);
    return rc;
}

static int restart_member(struct kube_client *c, const struct psc *psc,
                          const struct plan_restart *rs, struct act_result *res, struct err *e)
{
    struct kube_resp resp = {0};
    struct kube_delete_opts o = {.precondition_uid = rs->uid, .grace_seconds = -1};
    char key[256];
    psc_key(psc, key, sizeof key);
    int rc = kube_delete(c, &KUBE_PODS, rs->ns, rs->pod, &o, &resp);
    res->writes++;
    if (rc == 0 || rc == ERR_NOTFOUND) {
        log_info("restarted member", "psc", key, "pod", rs->pod, "why", rs->reason);
        rc = 0;
    } else if (rc == ERR_CONFLICT) {
        /* The uid precondition failed: the pod was already replaced. */
        res->conflict = true;
        rc = 0;
    } else {
        rc = kube_resp_err(e, rc, &resp, "restart member %s/%s", rs->ns, rs->pod);
    }
    kube_resp_free(&resp);
    return rc;
}

static void rfc3339(time_t t, char out[32])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int act_event(struct kube_client *c, const struct psc *psc, bool warning, const char *reason,
              const char *message, struct err *e)
{
    char name[300], ts[32];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    /* Unique per event, as client-go's recorder does: <object>.<hex nanoseconds>. */
    snprintf(name, sizeof name, "%.200s.%" PRIx64, psc->name,
             (uint64_t)now.tv_sec * UINT64_C(1000000000) + (uint64_t)now.tv_nsec);
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
    int rc = kube_create(c, &KUBE_EVENTS, psc->ns, ev, &resp);
    if (rc != 0) {
        rc = kube_resp_err(e, rc, &resp, "record event %s on %s/%s", reason, psc->ns, psc->name);
        log_warn("event not recorded", "error", e ? e->msg : "");
    }
    kube_resp_free(&resp);
    cJSON_Delete(ev);
    return rc;
}

int act_write_status(struct kube_client *c, const char *ns, const char *name, long long generation,
                     const char *resource_version, const cJSON *status, struct err *e)
{
    char *rv = resource_version ? strdup(resource_version) : NULL;
    int rc = ERR_CONFLICT;

    for (int attempt = 0; attempt < 3 && rc == ERR_CONFLICT; attempt++) {
        struct kube_resp resp = {0};
        cJSON *obj = cJSON_CreateObject();
        cJSON_AddStringToObject(obj, "apiVersion", PSC_API_VERSION);
        cJSON_AddStringToObject(obj, "kind", PSC_KIND);
        cJSON *md = cJSON_AddObjectToObject(obj, "metadata");
        cJSON_AddStringToObject(md, "name", name);
        cJSON_AddStringToObject(md, "namespace", ns);
        if (rv)
            cJSON_AddStringToObject(md, "resourceVersion", rv);
        cJSON_AddItemToObject(obj, "status", cJSON_Duplicate(status, 1));
        rc = kube_update_status(c, &KUBE_PSCS, ns, name, obj, &resp);
        cJSON_Delete(obj);
        if (rc != ERR_CONFLICT) {
            if (rc != 0)
                rc = kube_resp_err(e, rc, &resp, "write status of %s/%s", ns, name);
            kube_resp_free(&resp);
            break;
        }
        kube_resp_free(&resp);
        /* 409: someone wrote the PSC since we read it. Re-read; if the spec moved on,
         * our status describes an old generation: leave it to the next pass. */
        struct kube_resp cur = {0};
        int grc = kube_get(c, &KUBE_PSCS, ns, name, &cur);
        if (grc != 0) {
            rc = kube_resp_err(e, grc, &cur, "re-read %s/%s after a status conflict", ns, name);
            kube_resp_free(&cur);
            break;
        }
        const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(cur.body, "metadata");
        const cJSON *gen = cJSON_GetObjectItemCaseSensitive(cmd, "generation");
        const cJSON *nrv = cJSON_GetObjectItemCaseSensitive(cmd, "resourceVersion");
        if (!cJSON_IsNumber(gen) || (long long)gen->valuedouble != generation ||
            !cJSON_IsString(nrv)) {
            kube_resp_free(&cur);
            rc = ERR_CONFLICT;
            err_set(e, rc, "status of %s/%s not written: the spec changed meanwhile", ns, name);
            break;
        }
        free(rv);
        rv = strdup(nrv->valuestring);
        kube_resp_free(&cur);
        rc = ERR_CONFLICT;
    }
    free(rv);
    return rc;
}

int act_execute(struct kube_client *c, const struct psc *psc, const struct plan *p,
                struct act_result *res, struct err *e)
{
    int rc = 0;
    memset(res, 0, sizeof *res);
    for (int i = 0; i < p->nactions; i++) {
        rc = apply_action(c, psc, &p->actions[i], res, e);
        if (rc != 0)
            return rc;
    }
    if (p->restart.set) {
        rc = restart_member(c, psc, &p->restart, res, e);
        if (rc != 0)
            return rc;
    }
    for (int i = 0; i < p->nevents; i++) {
        if (act_event(c, psc, p->events[i].type == PLAN_EVENT_WARNING, p->events[i].reason,
                      p->events[i].message, NULL) == 0)
            res->writes++;
    }
    if (p->status_changed && p->status) {
        rc = act_write_status(c, psc->ns, psc->name, psc->generation, psc->resource_version,
                              p->status, e);
        res->writes++;
        if (rc == ERR_CONFLICT) {
            res->conflict = true;
            rc = 0;
        } else if (rc == 0) {
            res->status_written = true;
        }
    }
    return rc;
}
