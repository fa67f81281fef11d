/* testkit.h — fixtures for the planner's unit tests (tests/unit/test_plan_*.c), not
 * used by the operator: a hand-built struct psc and a tiny in-memory "cluster" that
 * applies a plan the way the API server would (names, uids, clusterIPs), so tests can
 * run several passes and check what the planner does next. Header-only on purpose:
 * only the test programs compile it. Everything is owned by struct tk; tk_free. */
#ifndef BALLAST_PLAN_TESTKIT_H
#define BALLAST_PLAN_TESTKIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan/plan.h"

#define TK_MAX 64

struct tk_list {
    cJSON *items[TK_MAX];
    int n;
};

struct tk {
    struct psc psc;
    struct tk_list pods, pvcs, svcs, cms, pdbs;
    struct plan_node nodes[16];
    int nnodes;
    struct plan_member_health health[TK_MAX];
    struct plan_reading gates[TK_MAX][4];
    int nhealth;
    bool dns_check; /* plan_input.dns_check, with dns[0..ndns) */
    struct plan_member_dns dns[TK_MAX];
    int ndns;
    time_t now;
    int uid_seq;
    struct plan *plan; /* last plan computed */
};

static inline char *tk_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* A PSC "orders" in ns "streaming" with `replicas` members, the default gates and
 * listener, and no zones in the spec. Nodes: one per zone in `zones` (NULL-terminated). */
static inline void tk_init(struct tk *t, int replicas, const char *const *zones)
{
    memset(t, 0, sizeof *t);
    struct psc *p = &t->psc;
    p->name = tk_strdup("orders");
    p->ns = tk_strdup("streaming");
    p->uid = tk_strdup("uid-psc-1");
    p->generation = 1;
    p->spec.replicas = replicas;
    p->spec.image = tk_strdup("apache/kafka:3.9.0");
    p->spec.nconfig = 1;
    p->spec.config = calloc(1, sizeof *p->spec.config);
    p->spec.config[0].key = tk_strdup("num.partitions");
    p->spec.config[0].value = tk_strdup("6");
    p->spec.resources = cJSON_Parse("{\"requests\":{\"cpu\":\"2\",\"memory\":\"8Gi\"}}");
    p->spec.storage_size = tk_strdup("100Gi");
    p->spec.storage_bytes = 100LL << 30;
    p->spec.nlisteners = 1;
    p->spec.listeners = calloc(1, sizeof *p->spec.listeners);
    p->spec.listeners[0].name = tk_strdup("client");
    p->spec.listeners[0].port = 9092;
    p->spec.metrics_port = 9404;
    p->spec.metrics_path = tk_strdup("/metrics");
    p->spec.ngates = 2;
    p->spec.gates = calloc(2, sizeof *p->spec.gates);
    p->spec.gates[0].metric = tk_strdup("kafka_server_replicamanager_underreplicatedpartitions");
    p->spec.gates[1].metric = tk_strdup("kafka_controller_kafkacontroller_offlinepartitionscount");
    p->spec.drained_metric = tk_strdup("kafka_server_replicamanager_partitioncount");
    p->spec.roll_timeout_seconds = 900;
    p->spec.grace_seconds = PSC_DEFAULT_GRACE_SECONDS;
    t->now = 1790000000; /* 2026-09-21T... */
    for (int i = 0; zones != NULL && zones[i] != NULL && i < 16; i++) {
        t->nodes[i].name = zones[i]; /* one node per zone, named after it */
        t->nodes[i].zone = zones[i];
        t->nodes[i].schedulable = true;
        t->nnodes++;
    }
}

static inline void tk_set_zones(struct tk *t, const char *const *zones)
{
    for (int i = 0; i < t->psc.spec.nzones; i++)
        free(t->psc.spec.zones[i]);
    free(t->psc.spec.zones);
    t->psc.spec.zones = NULL;
    t->psc.spec.nzones = 0;
    int n = 0;
    while (zones != NULL && zones[n] != NULL)
        n++;
    if (n == 0)
        return;
    t->psc.spec.zones = calloc((size_t)n, sizeof(char *));
    for (int i = 0; i < n; i++)
        t->psc.spec.zones[i] = tk_strdup(zones[i]);
    t->psc.spec.nzones = n;
}

static inline void tk_set_image(struct tk *t, const char *image)
{
    free(t->psc.spec.image);
    t->psc.spec.image = tk_strdup(image);
    t->psc.generation++;
}

static inline void tk_list_clear(struct tk_list *l)
{
    for (int i = 0; i < l->n; i++)
        cJSON_Delete(l->items[i]);
    l->n = 0;
}

static inline void tk_free(struct tk *t)
{
    struct psc *p = &t->psc;
    free(p->name);
    free(p->ns);
    free(p->uid);
    free(p->resource_version);
    free(p->restart_token);
    free(p->spec.image);
    for (int i = 0; i < p->spec.nzones; i++)
        free(p->spec.zones[i]);
    free(p->spec.zones);
    for (int i = 0; i < p->spec.nconfig; i++) {
        free(p->spec.config[i].key);
        free(p->spec.config[i].value);
    }
    free(p->spec.config);
    cJSON_Delete(p->spec.resources);
    free(p->spec.storage_size);
    free(p->spec.storage_class);
    for (int i = 0; i < p->spec.nlisteners; i++)
        free(p->spec.listeners[i].name);
    free(p->spec.listeners);
    free(p->spec.metrics_path);
    for (int i = 0; i < p->spec.ngates; i++)
        free(p->spec.gates[i].metric);
    free(p->spec.gates);
    free(p->spec.drained_metric);
    cJSON_Delete(p->status);
    tk_list_clear(&t->pods);
    tk_list_clear(&t->pvcs);
    tk_list_clear(&t->svcs);
    tk_list_clear(&t->cms);
    tk_list_clear(&t->pdbs);
    plan_free(t->plan);
    t->plan = NULL;
}

static inline struct tk_list *tk_list_for(struct tk *t, enum plan_kind k)
{
    switch (k) {
    case PLAN_POD:
        return &t->pods;
    case PLAN_PVC:
        return &t->pvcs;
    case PLAN_SERVICE:
        return &t->svcs;
    case PLAN_CONFIGMAP:
        return &t->cms;
    case PLAN_PDB:
        return &t->pdbs;
    }
    return NULL;
}

static inline int tk_find(struct tk_list *l, const char *name)
{
    for (int i = 0; i < l->n; i++) {
        cJSON *md = cJSON_GetObjectItemCaseSensitive(l->items[i], "metadata");
        cJSON *nm = cJSON_GetObjectItemCaseSensitive(md, "name");
        if (cJSON_IsString(nm) && strcmp(nm->valuestring, name) == 0)
            return i;
    }
    return -1;
}

static inline cJSON *tk_get(struct tk *t, enum plan_kind k, const char *name)
{
    struct tk_list *l = tk_list_for(t, k);
    int i = tk_find(l, name);
    return i >= 0 ? l->items[i] : NULL;
}

static inline void tk_remove(struct tk *t, enum plan_kind k, const char *name)
{
    struct tk_list *l = tk_list_for(t, k);
    int i = tk_find(l, name);
    if (i < 0)
        return;
    cJSON_Delete(l->items[i]);
    l->items[i] = l->items[--l->n];
}

/* Adds an object as the API server would store it: uid, and for a Service a
 * clusterIP (none when headless). Takes obj. */
static inline void tk_store(struct tk *t, enum plan_kind k, cJSON *obj)
{
    struct tk_list *l = tk_list_for(t, k);
    cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    char uid[32];
    snprintf(uid, sizeof uid, "uid-%d", ++t->uid_seq);
    cJSON_DeleteItemFromObjectCaseSensitive(md, "uid");
    cJSON_AddStringToObject(md, "uid", uid);
    cJSON_DeleteItemFromObjectCaseSensitive(md, "resourceVersion");
    cJSON_AddStringToObject(md, "resourceVersion", uid + 4);
    if (k == PLAN_SERVICE) {
        cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
        if (cJSON_GetObjectItemCaseSensitive(spec, "clusterIP") == NULL)
            cJSON_AddStringToObject(spec, "clusterIP", "10.96.0.10");
    }
    if (k == PLAN_POD && cJSON_GetObjectItemCaseSensitive(obj, "status") == NULL) {
        cJSON *st = cJSON_AddObjectToObject(obj, "status");
        cJSON_AddStringToObject(st, "phase", "Pending");
    }
    const char *name = cJSON_GetObjectItemCaseSensitive(md, "name")->valuestring;
    int i = tk_find(l, name);
    if (i >= 0) {
        cJSON_Delete(l->items[i]);
        l->items[i] = obj;
    } else if (l->n < TK_MAX) {
        l->items[l->n++] = obj;
    } else {
        cJSON_Delete(obj);
    }
}

/* Marks pod `name` Running and Ready (ready=true) or Running and not Ready. */
static inline void tk_pod_ready(struct tk *t, const char *name, bool ready)
{
    cJSON *pod = tk_get(t, PLAN_POD, name);
    if (pod == NULL)
        return;
    cJSON_DeleteItemFromObjectCaseSensitive(pod, "status");
    cJSON *st = cJSON_AddObjectToObject(pod, "status");
    cJSON_AddStringToObject(st, "phase", "Running");
    cJSON *conds = cJSON_AddArrayToObject(st, "conditions");
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "type", "Ready");
    cJSON_AddStringToObject(c, "status", ready ? "True" : "False");
    cJSON_AddItemToArray(conds, c);
}

static inline void tk_all_ready(struct tk *t)
{
    for (int i = 0; i < t->pods.n; i++) {
        cJSON *md = cJSON_GetObjectItemCaseSensitive(t->pods.items[i], "metadata");
        char name[128];
        snprintf(name, sizeof name, "%s",
                 cJSON_GetObjectItemCaseSensitive(md, "name")->valuestring);
        tk_pod_ready(t, name, true);
    }
}

/* Every member 0..n-1 scraped with all gates at value `v`, drained metric `drained`. */
static inline void tk_health_all(struct tk *t, int n, double v, double drained)
{
    t->nhealth = n;
    for (int i = 0; i < n && i < TK_MAX; i++) {
        struct plan_member_health *h = &t->health[i];
        memset(h, 0, sizeof *h);
        h->ordinal = i;
        h->scraped = true;
        for (int g = 0; g < 4; g++) {
            t->gates[i][g].present = true;
            t->gates[i][g].value = v;
        }
        h->gates = t->gates[i];
        h->drained.present = true;
        h->drained.value = drained;
        h->broker_state.present = true;
        h->broker_state.value = 3; /* running */
    }
}

static inline struct plan_input tk_input(struct tk *t)
{
    struct plan_input in = {
        .psc = &t->psc,
        .pods = (const cJSON *const *)t->pods.items,
        .npods = t->pods.n,
        .pvcs = (const cJSON *const *)t->pvcs.items,
        .npvcs = t->pvcs.n,
        .services = (const cJSON *const *)t->svcs.items,
        .nservices = t->svcs.n,
        .configmaps = (const cJSON *const *)t->cms.items,
        .nconfigmaps = t->cms.n,
        .pdbs = (const cJSON *const *)t->pdbs.items,
        .npdbs = t->pdbs.n,
        .nodes = t->nodes,
        .nnodes = t->nnodes,
        .health = t->health,
        .nhealth = t->nhealth,
        .dns_check = t->dns_check,
        .dns = t->dns,
        .ndns = t->ndns,
        .now = t->now,
    };
    return in;
}

/* Computes a plan into t->plan (freeing the previous one); returns plan_compute's rc. */
static inline int tk_plan(struct tk *t)
{
    plan_free(t->plan);
    t->plan = NULL;
    struct plan_input in = tk_input(t);
    struct err e = {0};
    int rc = plan_compute(&in, &t->plan, &e);
    if (rc != 0)
        fprintf(stderr, "plan_compute: %s\n", e.msg);
    return rc;
}

/* Applies t->plan: actions, the restart (pod removed at once, as kwok does), and
 * the status (stored as the PSC's status when changed). */
static inline void tk_apply(struct tk *t)
{
    struct plan *p = t->plan;
    for (int i = 0; i < p->nactions; i++) {
        struct plan_action *a = &p->actions[i];
        if (a->verb == PLAN_DELETE || a->verb == PLAN_EVICT)
            tk_remove(t, a->kind, a->name);
        else
            tk_store(t, a->kind, cJSON_Duplicate(a->object, true));
    }
    if (p->restart.set)
        tk_remove(t, PLAN_POD, p->restart.pod);
    if (p->status_changed) {
        cJSON_Delete(t->psc.status);
        t->psc.status = cJSON_Duplicate(p->status, true);
    }
}

/* tk_roll_to: a new image, with the new revision's engine ConfigMap already created (as
 * the first pass after a spec change does), so a test sees only the roll's own actions. */
static inline void tk_roll_to(struct tk *t, const char *image)
{
    tk_set_image(t, image);
    if (tk_plan(t) != 0)
        return;
    for (int i = 0; i < t->plan->nactions; i++) {
        struct plan_action *a = &t->plan->actions[i];
        if (a->verb == PLAN_CREATE && a->kind == PLAN_CONFIGMAP)
            tk_store(t, a->kind, cJSON_Duplicate(a->object, true));
    }
}

/* Runs passes (plan, apply, pods Ready) until a plan has no actions and no restart,
 * at most `max` passes; returns the number of passes run. */
static inline int tk_converge(struct tk *t, int max)
{
    for (int pass = 1; pass <= max; pass++) {
        if (tk_plan(t) != 0)
            return -1;
        bool idle = t->plan->nactions == 0 && !t->plan->restart.set;
        tk_apply(t);
        tk_all_ready(t);
        t->now += 10;
        if (idle)
            return pass;
    }
    return max + 1;
}

static inline int tk_count(const struct plan *p, enum plan_verb v, enum plan_kind k)
{
    int n = 0;
    for (int i = 0; i < p->nactions; i++)
        n += p->actions[i].verb == v && p->actions[i].kind == k;
    return n;
}

static inline const struct plan_action *tk_action(const struct plan *p, enum plan_verb v,
                                                  enum plan_kind k, const char *name)
{
    for (int i = 0; i < p->nactions; i++)
        if (p->actions[i].verb == v && p->actions[i].kind == k &&
            strcmp(p->actions[i].name, name) == 0)
            return &p->actions[i];
    return NULL;
}

/* The condition `type` of status s: field ("status", "reason", "message", ...) or NULL. */
static inline const char *tk_cond(const cJSON *s, const char *type, const char *field)
{
    const cJSON *k;
    cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(s, "conditions"))
    {
        const cJSON *ty = cJSON_GetObjectItemCaseSensitive(k, "type");
        if (cJSON_IsString(ty) && strcmp(ty->valuestring, type) == 0) {
            const cJSON *f = cJSON_GetObjectItemCaseSensitive(k, field);
            return cJSON_IsString(f) ? f->valuestring : NULL;
        }
    }
    return NULL;
}

/* The zone label of PVC data-orders-<i>, or NULL. */
static inline const char *tk_pvc_zone(struct tk *t, int i)
{
    char name[64];
    snprintf(name, sizeof name, "data-orders-%d", i);
    cJSON *pvc = tk_get(t, PLAN_PVC, name);
    cJSON *l = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(pvc, "metadata"),
                                                "labels");
    cJSON *z = cJSON_GetObjectItemCaseSensitive(l, PSC_LABEL_ZONE);
    return cJSON_IsString(z) ? z->valuestring : NULL;
}

#endif
