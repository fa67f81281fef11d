/* fakeapi.h — an in-memory API server behind struct act_api, for the executor's, the
 * reconcile's and the model-based tests: objects keyed by resource, namespace and name,
 * uids and resourceVersions as the real server assigns them, AlreadyExists, stale
 * resourceVersion and uid-precondition conflicts, a status subresource, Events counted,
 * and evictions refereed by a PodDisruptionBudget of maxUnavailable 1 over the pods
 * that carry the instance label. A test can make any call fail (fa_fault) and take
 * leadership away (leading). Header-only: only test programs compile it. */
#ifndef BALLAST_TEST_FAKEAPI_H
#define BALLAST_TEST_FAKEAPI_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "act/act.h"

#define FA_MAX 256

struct fa_obj {
    const struct kube_res *res;
    char ns[64];
    char name[128];
    cJSON *obj; /* owned */
};

struct fa_call {
    char verb[16]; /* "create", "update", "status", "delete", "evict", "get" */
    const struct kube_res *res;
    char name[128];
    int rc;
};

struct fa {
    struct fa_obj objs[FA_MAX];
    int n;
    long seq; /* uids and resourceVersions */
    /* fault hook: return 0 to let the call through, or an rc (and fill r) to fail it */
    int (*fault)(struct fa *f, const char *verb, const struct kube_res *res, const char *name,
                 struct kube_resp *r);
    void *fault_ud;
    bool not_leading;     /* leading() answers 0 */
    int leading_after;    /* > 0: leading() answers 1 this many more times, then 0 */
    bool pods_linger;     /* delete/evict of a pod sets deletionTimestamp instead of removing */
    int expected_members; /* PDB: pods that should exist (0 = count those present) */
    const char *instance; /* PDB selector: app.kubernetes.io/instance */
    /* what happened */
    struct fa_call calls[4096];
    int ncalls;
    int writes, events, warnings, status_writes, evictions, refused, leading_asked;
    char last_event_reason[64];
    char last_warning[512];
};

static inline const struct kube_res *fa_res_pod(void)
{
    return &KUBE_PODS;
}

static inline int fa_find(struct fa *f, const struct kube_res *res, const char *ns,
                          const char *name)
{
    for (int i = 0; i < f->n; i++)
        if (f->objs[i].res == res && strcmp(f->objs[i].ns, ns ? ns : "") == 0 &&
            strcmp(f->objs[i].name, name) == 0)
            return i;
    return -1;
}

static inline cJSON *fa_get_obj(struct fa *f, const struct kube_res *res, const char *ns,
                                const char *name)
{
    int i = fa_find(f, res, ns, name);
    return i >= 0 ? f->objs[i].obj : NULL;
}

static inline cJSON *fa_md(cJSON *o)
{
    cJSON *md = cJSON_GetObjectItemCaseSensitive(o, "metadata");
    if (md == NULL)
        md = cJSON_AddObjectToObject(o, "metadata");
    return md;
}

static inline const char *fa_mstr(const cJSON *o, const char *field)
{
    const cJSON *v =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "metadata"), field);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static inline void fa_set(cJSON *o, const char *k, const char *v)
{
    cJSON_DeleteItemFromObjectCaseSensitive(o, k);
    cJSON_AddStringToObject(o, k, v);
}

static inline void fa_resp(struct kube_resp *r, long status, const char *reason, const char *msg)
{
    r->status = status;
    snprintf(r->reason, sizeof r->reason, "%s", reason);
    snprintf(r->message, sizeof r->message, "%s", msg);
}

static inline void fa_log(struct fa *f, const char *verb, const struct kube_res *res,
                          const char *name, int rc)
{
    if (f->ncalls >= (int)(sizeof f->calls / sizeof f->calls[0]))
        return;
    struct fa_call *c = &f->calls[f->ncalls++];
    snprintf(c->verb, sizeof c->verb, "%s", verb);
    c->res = res;
    snprintf(c->name, sizeof c->name, "%s", name ? name : "");
    c->rc = rc;
}

static inline int fa_count(const struct fa *f, const char *verb, const struct kube_res *res,
                           const char *name)
{
    int n = 0;
    for (int i = 0; i < f->ncalls; i++)
        n += strcmp(f->calls[i].verb, verb) == 0 && (res == NULL || f->calls[i].res == res) &&
             (name == NULL || strcmp(f->calls[i].name, name) == 0);
    return n;
}

/* Stores obj (taken) as the server would: uid, resourceVersion, a pod Pending, a Service
 * a clusterIP. Replaces an object of the same key. Returns the stored object. */
static inline cJSON *fa_put(struct fa *f, const struct kube_res *res, const char *ns, cJSON *obj)
{
    char v[32];
    cJSON *md = fa_md(obj);
    if (fa_mstr(obj, "uid") == NULL) {
        snprintf(v, sizeof v, "uid-%ld", ++f->seq);
        fa_set(md, "uid", v);
    }
    snprintf(v, sizeof v, "%ld", ++f->seq);
    fa_set(md, "resourceVersion", v);
    if (res == &KUBE_PODS && cJSON_GetObjectItemCaseSensitive(obj, "status") == NULL)
        cJSON_AddStringToObject(cJSON_AddObjectToObject(obj, "status"), "phase", "Pending");
    if (res == &KUBE_SERVICES) {
        cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
        if (spec != NULL && cJSON_GetObjectItemCaseSensitive(spec, "clusterIP") == NULL)
            cJSON_AddStringToObject(spec, "clusterIP", "10.96.0.10");
    }
    const char *name = fa_mstr(obj, "name");
    int i = fa_find(f, res, ns, name);
    if (i < 0) {
        if (f->n >= FA_MAX) {
            cJSON_Delete(obj);
            return NULL;
        }
        i = f->n++;
        f->objs[i].res = res;
        snprintf(f->objs[i].ns, sizeof f->objs[i].ns, "%s", ns ? ns : "");
        snprintf(f->objs[i].name, sizeof f->objs[i].name, "%s", name);
    } else {
        cJSON_Delete(f->objs[i].obj);
    }
    f->objs[i].obj = obj;
    return obj;
}

/* Stores a copy of obj exactly as given (uid and resourceVersion kept), as a fixture. */
static inline void fa_load(struct fa *f, const struct kube_res *res, const char *ns,
                           const cJSON *obj)
{
    const char *name = fa_mstr(obj, "name");
    int i = fa_find(f, res, ns, name);
    if (i < 0 && f->n < FA_MAX) {
        i = f->n++;
        f->objs[i].res = res;
        snprintf(f->objs[i].ns, sizeof f->objs[i].ns, "%s", ns ? ns : "");
        snprintf(f->objs[i].name, sizeof f->objs[i].name, "%s", name);
    } else if (i >= 0) {
        cJSON_Delete(f->objs[i].obj);
    } else {
        return;
    }
    f->objs[i].obj = cJSON_Duplicate(obj, true);
}

static inline void fa_drop(struct fa *f, int i)
{
    cJSON_Delete(f->objs[i].obj);
    f->objs[i] = f->objs[--f->n];
}

static inline void fa_free(struct fa *f)
{
    while (f->n > 0)
        fa_drop(f, f->n - 1);
}

/* ---- the act_api calls ---- */

static inline int fa_fault_check(struct fa *f, const char *verb, const struct kube_res *res,
                                 const char *name, struct kube_resp *r)
{
    memset(r, 0, sizeof *r);
    return f->fault != NULL ? f->fault(f, verb, res, name, r) : 0;
}

static inline int fa_api_get(void *ud, const struct kube_res *res, const char *ns, const char *name,
                             struct kube_resp *r)
{
    struct fa *f = ud;
    int rc = fa_fault_check(f, "get", res, name, r);
    if (rc == 0) {
        cJSON *o = fa_get_obj(f, res, ns, name);
        if (o == NULL) {
            fa_resp(r, 404, "NotFound", "not found");
            rc = ERR_NOTFOUND;
        } else {
            r->status = 200;
            r->body = cJSON_Duplicate(o, true);
        }
    }
    fa_log(f, "get", res, name, rc);
    return rc;
}

static inline int fa_api_create(void *ud, const struct kube_res *res, const char *ns,
                                const cJSON *obj, struct kube_resp *r)
{
    struct fa *f = ud;
    const char *name = fa_mstr(obj, "name");
    int rc = fa_fault_check(f, "create", res, name, r);
    if (rc == 0 && res == &KUBE_EVENTS) {
        f->events++;
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, "type");
        const cJSON *rs = cJSON_GetObjectItemCaseSensitive(obj, "reason");
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, "message");
        snprintf(f->last_event_reason, sizeof f->last_event_reason, "%s",
                 cJSON_IsString(rs) ? rs->valuestring : "");
        if (cJSON_IsString(t) && strcmp(t->valuestring, "Warning") == 0) {
            f->warnings++;
            snprintf(f->last_warning, sizeof f->last_warning, "%s: %s",
                     cJSON_IsString(rs) ? rs->valuestring : "",
                     cJSON_IsString(m) ? m->valuestring : "");
        }
        r->status = 201;
        fa_log(f, "create", res, "event", 0);
        return 0;
    }
    f->writes++;
    if (rc == 0 && fa_find(f, res, ns, name) >= 0) {
        fa_resp(r, 409, "AlreadyExists", "already exists");
        rc = ERR_CONFLICT;
    } else if (rc == 0) {
        cJSON *copy = cJSON_Duplicate(obj, true);
        cJSON_DeleteItemFromObjectCaseSensitive(fa_md(copy), "uid");
        cJSON_DeleteItemFromObjectCaseSensitive(copy, "status");
        cJSON *st = fa_put(f, res, ns, copy);
        r->status = 201;
        r->body = st ? cJSON_Duplicate(st, true) : NULL;
    }
    fa_log(f, "create", res, name, rc);
    return rc;
}

static inline int fa_replace(struct fa *f, const char *verb, const struct kube_res *res,
                             const char *ns, const char *name, const cJSON *obj,
                             struct kube_resp *r, bool status_only)
{
    int rc = fa_fault_check(f, verb, res, name, r);
    f->writes++;
    if (status_only)
        f->status_writes++;
    int i = rc == 0 ? fa_find(f, res, ns, name) : -1;
    if (rc == 0 && i < 0) {
        fa_resp(r, 404, "NotFound", "not found");
        rc = ERR_NOTFOUND;
    } else if (rc == 0) {
        const char *have = fa_mstr(f->objs[i].obj, "resourceVersion");
        const char *sent = fa_mstr(obj, "resourceVersion");
        if (sent != NULL && (have == NULL || strcmp(have, sent) != 0)) {
            fa_resp(r, 409, "Conflict", "the object has been modified");
            rc = ERR_CONFLICT;
        } else {
            cJSON *copy;
            if (status_only) {
                copy = cJSON_Duplicate(f->objs[i].obj, true);
                cJSON_DeleteItemFromObjectCaseSensitive(copy, "status");
                const cJSON *st = cJSON_GetObjectItemCaseSensitive(obj, "status");
                if (st != NULL)
                    cJSON_AddItemToObject(copy, "status", cJSON_Duplicate(st, true));
            } else {
                copy = cJSON_Duplicate(obj, true);
                const cJSON *st = cJSON_GetObjectItemCaseSensitive(f->objs[i].obj, "status");
                cJSON_DeleteItemFromObjectCaseSensitive(copy, "status");
                if (st != NULL)
                    cJSON_AddItemToObject(copy, "status", cJSON_Duplicate(st, true));
            }
            fa_put(f, res, ns, copy);
            r->status = 200;
        }
    }
    fa_log(f, verb, res, name, rc);
    return rc;
}

static inline int fa_api_update(void *ud, const struct kube_res *res, const char *ns,
                                const char *name, const cJSON *obj, struct kube_resp *r)
{
    return fa_replace(ud, "update", res, ns, name, obj, r, false);
}

static inline int fa_api_update_status(void *ud, const struct kube_res *res, const char *ns,
                                       const char *name, const cJSON *obj, struct kube_resp *r)
{
    return fa_replace(ud, "status", res, ns, name, obj, r, true);
}

/* Removes object i (a pod lingers, terminating, when pods_linger). */
static inline void fa_remove(struct fa *f, int i)
{
    if (f->pods_linger && f->objs[i].res == &KUBE_PODS) {
        cJSON *md = fa_md(f->objs[i].obj);
        if (cJSON_GetObjectItemCaseSensitive(md, "deletionTimestamp") == NULL)
            cJSON_AddStringToObject(md, "deletionTimestamp", "2026-12-02T00:00:00Z");
        return;
    }
    fa_drop(f, i);
}

static inline int fa_api_del(void *ud, const struct kube_res *res, const char *ns, const char *name,
                             const struct kube_delete_opts *o, struct kube_resp *r)
{
    struct fa *f = ud;
    int rc = fa_fault_check(f, "delete", res, name, r);
    f->writes++;
    int i = rc == 0 ? fa_find(f, res, ns, name) : -1;
    if (rc == 0 && i < 0) {
        fa_resp(r, 404, "NotFound", "not found");
        rc = ERR_NOTFOUND;
    } else if (rc == 0 && o != NULL && o->precondition_uid != NULL &&
               strcmp(o->precondition_uid, fa_mstr(f->objs[i].obj, "uid")) != 0) {
        fa_resp(r, 409, "Conflict", "Precondition failed: UID in precondition");
        rc = ERR_CONFLICT;
    } else if (rc == 0) {
        fa_remove(f, i);
        r->status = 200;
    }
    fa_log(f, "delete", res, name, rc);
    return rc;
}

static inline bool fa_pod_ready(const cJSON *pod)
{
    if (cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(pod, "metadata"),
                                         "deletionTimestamp") != NULL)
        return false;
    const cJSON *k;
    cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(
                              cJSON_GetObjectItemCaseSensitive(pod, "status"), "conditions"))
    {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(k, "type");
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(k, "status");
        if (cJSON_IsString(t) && strcmp(t->valuestring, "Ready") == 0)
            return cJSON_IsString(s) && strcmp(s->valuestring, "True") == 0;
    }
    return false;
}

static inline const char *fa_label(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "metadata"), "labels"),
        key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The PDB's verdict, as the eviction subresource gives it (the stored PDB's minAvailable,
 * else maxUnavailable 1 over expected_members; policy
 * IfHealthyBudget): a pod that ended goes at once; otherwise at most one selected pod may
 * be unhealthy after the eviction, counting missing pods as unhealthy. */
static inline bool fa_pdb_allows(struct fa *f, const cJSON *pod)
{
    const char *phase = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(pod, "status"), "phase"));
    if (phase != NULL && (strcmp(phase, "Failed") == 0 || strcmp(phase, "Succeeded") == 0))
        return true;
    int present = 0, healthy = 0;
    for (int i = 0; i < f->n; i++) {
        if (f->objs[i].res != &KUBE_PODS)
            continue;
        const char *inst = fa_label(f->objs[i].obj, PSC_LABEL_INSTANCE);
        if (f->instance != NULL && (inst == NULL || strcmp(inst, f->instance) != 0))
            continue;
        present++;
        healthy += fa_pod_ready(f->objs[i].obj);
    }
    int expected = f->expected_members > 0 ? f->expected_members : present;
    int desired = expected - 1;
    for (int i = 0; i < f->n; i++) { /* a stored PDB with minAvailable says it itself */
        const cJSON *min = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(f->objs[i].obj, "spec"), "minAvailable");
        if (f->objs[i].res == &KUBE_PDBS && cJSON_IsNumber(min))
            desired = (int)min->valuedouble;
    }
    if (!fa_pod_ready(pod))
        return healthy >= desired; /* an unhealthy pod may go while the budget holds */
    return healthy - 1 >= desired;
}

static inline int fa_api_evict(void *ud, const char *ns, const char *name, const char *uid,
                               struct kube_resp *r)
{
    struct fa *f = ud;
    int rc = fa_fault_check(f, "evict", &KUBE_PODS, name, r);
    f->writes++;
    int i = rc == 0 ? fa_find(f, &KUBE_PODS, ns, name) : -1;
    if (rc == 0 && i < 0) {
        fa_resp(r, 404, "NotFound", "not found");
        rc = ERR_NOTFOUND;
    } else if (rc == 0 && uid != NULL && strcmp(uid, fa_mstr(f->objs[i].obj, "uid")) != 0) {
        fa_resp(r, 409, "Conflict", "Precondition failed: UID in precondition");
        rc = ERR_CONFLICT;
    } else if (rc == 0 && !fa_pdb_allows(f, f->objs[i].obj)) {
        fa_resp(r, 429, "TooManyRequests",
                "Cannot evict pod as it would violate the pod's disruption budget.");
        f->refused++;
        rc = ERR_API;
    } else if (rc == 0) {
        f->evictions++;
        fa_remove(f, i);
        r->status = 201;
    }
    fa_log(f, "evict", &KUBE_PODS, name, rc);
    return rc;
}

static inline int fa_leading(void *ud)
{
    struct fa *f = ud;
    f->leading_asked++;
    if (f->leading_after > 0) {
        if (--f->leading_after == 0)
            f->not_leading = true;
        return 1;
    }
    return !f->not_leading;
}

static inline struct act_api fa_api(struct fa *f)
{
    struct act_api a = {.ud = f,
                        .get = fa_api_get,
                        .create = fa_api_create,
                        .update = fa_api_update,
                        .update_status = fa_api_update_status,
                        .del = fa_api_del,
                        .evict = fa_api_evict,
                        .leading = fa_leading,
                        .leading_ud = f};
    return a;
}

/* Objects of one resource (borrowed pointers into f, valid until the next call). */
static inline int fa_list(struct fa *f, const struct kube_res *res, const cJSON **out, int max)
{
    int n = 0;
    for (int i = 0; i < f->n && n < max; i++)
        if (f->objs[i].res == res)
            out[n++] = f->objs[i].obj;
    return n;
}

#endif
