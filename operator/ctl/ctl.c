/* ctl.c — the controller's runtime: informers (PSCs, their children by label, nodes as
 * metadata), a work queue of PSC keys, reconcile workers, leader election and the
 * HTTP server, started in that order and stopped in reverse. Only the leader acts;
 * every replica keeps its caches warm so a new leader starts at once. */
#include "ctl/ctl.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "act/act.h"
#include "base/flag.h"
#include "base/htab.h"
#include "base/log.h"
#include "ctl/compact.h"
#include "ctl/expect.h"
#include "ctl/reconcile.h"
#include "kube/client.h"
#include "kube/informer.h"
#include "kube/lease.h"
#include "kube/workqueue.h"
#include "psc/psc.h"
#include "server/httpd.h"
#include "server/metrics.h"

#define MANAGED_SELECTOR PSC_LABEL_MANAGED_BY "=ballast"
#define MAX_NS           64
#define MAX_WORKERS      32

enum kind { K_PSC = 0, K_POD, K_PVC, K_SVC, K_CM, K_PDB, K_COUNT };

struct ctl {
    struct kube_config *cfg;
    const struct ctl_opts *o;
    volatile int *stop;
    int nns; /* 1 with ns[0] NULL = all namespaces */
    const char *ns[MAX_NS];
    struct kube_informer *inf[K_COUNT][MAX_NS];
    struct kube_informer *nodes;
    /* The distinct (zone, schedulable) pairs of the nodes: all the planner reads of them,
     * rebuilt only when a node event moved node_gen past zones_gen. */
    pthread_mutex_t zmu;
    atomic_ulong node_gen;
    unsigned long zones_gen;
    struct plan_node *zones; /* owned, as are their zone strings */
    int nzones;
    struct kube_wq *q;
    struct kube_lease *lease;
    atomic_int leading;
    struct metrics *m;
    struct metrics_ballast mb;
    struct srv *srv;
    pthread_t workers[MAX_WORKERS];
    int nworkers;
    /* PSC key -> struct pending: what its last pass wrote that the caches do not show yet */
    pthread_mutex_t pmu;
    struct htab pending;
};

static const struct kube_res *kind_res(enum kind k)
{
    static const struct kube_res *const r[K_COUNT] = {&KUBE_PSCS,     &KUBE_PODS,       &KUBE_PVCS,
                                                      &KUBE_SERVICES, &KUBE_CONFIGMAPS, &KUBE_PDBS};
    return r[k];
}

static const char *kind_name(enum kind k)
{
    static const char *const n[K_COUNT] = {
        "physicalstatefulclusters", "pods", "persistentvolumeclaims", "services", "configmaps",
        "poddisruptionbudgets"};
    return n[k];
}

static int ns_index(struct ctl *c, const char *ns)
{
    if (c->ns[0] == NULL)
        return 0;
    for (int i = 0; i < c->nns; i++)
        if (ns && strcmp(c->ns[i], ns) == 0)
            return i;
    return -1;
}

/* ---- event handlers: every change enqueues the owning PSC's key ---- */

static const char *meta_str(const cJSON *obj, const char *field)
{
    const cJSON *v =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(obj, "metadata"), field);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void enqueue(struct ctl *c, const char *ns, const char *name)
{
    char key[512];
    kube_cache_key(ns, name, key, sizeof key);
    kube_wq_add(c->q, key);
}

static void on_psc(enum kube_event_type t, const cJSON *obj, void *ud)
{
    struct ctl *c = ud;
    (void)t;
    enqueue(c, meta_str(obj, "namespace"), meta_str(obj, "name"));
}

/* A child names its PSC in its controller owner reference, or (PVCs, which outlive
 * their PSC) in the instance label. */
static void on_child(enum kube_event_type t, const cJSON *obj, void *ud)
{
    struct ctl *c = ud;
    (void)t;
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    const cJSON *ref;
    cJSON_ArrayForEach(ref, cJSON_GetObjectItemCaseSensitive(md, "ownerReferences"))
    {
        const cJSON *kind = cJSON_GetObjectItemCaseSensitive(ref, "kind");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(ref, "name");
        if (cJSON_IsString(kind) && strcmp(kind->valuestring, PSC_KIND) == 0 &&
            cJSON_IsString(name)) {
            enqueue(c, meta_str(obj, "namespace"), name->valuestring);
            return;
        }
    }
    const cJSON *inst = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(md, "labels"), PSC_LABEL_INSTANCE);
    if (cJSON_IsString(inst))
        enqueue(c, meta_str(obj, "namespace"), inst->valuestring);
}

static int enqueue_each(const cJSON *obj, void *ud)
{
    enqueue(ud, meta_str(obj, "namespace"), meta_str(obj, "name"));
    return 0;
}

static void enqueue_all(struct ctl *c)
{
    for (int i = 0; i < c->nns; i++)
        kube_cache_each_ns(kube_informer_cache(c->inf[K_PSC][i]), NULL, enqueue_each, c);
}

/* Zones come from nodes: a node joining or leaving can change placement for everyone. */
static void on_node(enum kube_event_type t, const cJSON *obj, void *ud)
{
    struct ctl *c = ud;
    (void)obj;
    atomic_fetch_add(&c->node_gen, 1);
    if (t == KUBE_ADDED || t == KUBE_DELETED)
        enqueue_all(c);
}

static void zones_free(struct plan_node *z, int n)
{
    for (int i = 0; z != NULL && i < n; i++)
        free((char *)z[i].zone);
    free(z);
}

struct zone_set {
    struct plan_node *v;
    int n, cap;
    bool oom;
};

static int add_zone(struct zone_set *zs, const char *zone, bool schedulable)
{
    for (int i = 0; i < zs->n; i++)
        if (zs->v[i].schedulable == schedulable &&
            ((zs->v[i].zone == NULL && zone == NULL) ||
             (zs->v[i].zone != NULL && zone != NULL && strcmp(zs->v[i].zone, zone) == 0)))
            return 0;
    if (zs->n == zs->cap) {
        int cap = zs->cap ? zs->cap * 2 : 8;
        struct plan_node *v = realloc(zs->v, (size_t)cap * sizeof *v);
        if (v == NULL)
            return ERR_NOMEM;
        zs->v = v;
        zs->cap = cap;
    }
    char *z = zone ? strdup(zone) : NULL;
    if (zone != NULL && z == NULL)
        return ERR_NOMEM;
    zs->v[zs->n++] = (struct plan_node){.name = NULL, .zone = z, .schedulable = schedulable};
    return 0;
}

static int collect_zone(const cJSON *nd, void *ud)
{
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(nd, "metadata");
    const cJSON *zone = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(md, "labels"), PSC_LABEL_ZONE);
    const cJSON *unsched = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(nd, "spec"), "unschedulable");
    /* Metadata-only nodes carry no spec: taken as schedulable. */
    return add_zone(ud, cJSON_IsString(zone) ? zone->valuestring : NULL, !cJSON_IsTrue(unsched));
}

/* A copy of the nodes' distinct zones for one pass (caller frees with zones_free): the
 * planner only asks which zones have nodes and which have schedulable ones, so the
 * copy costs the number of zones, not of nodes. */
static int node_zones(struct ctl *c, struct plan_node **out, int *nout)
{
    int rc = 0;
    *out = NULL;
    *nout = 0;
    pthread_mutex_lock(&c->zmu);
    unsigned long gen = atomic_load(&c->node_gen);
    if (c->zones == NULL || c->zones_gen != gen) {
        struct zone_set zs = {0};
        rc = kube_cache_each_ns(kube_informer_cache(c->nodes), NULL, collect_zone, &zs);
        if (rc == 0 && zs.v == NULL && (zs.v = calloc(1, sizeof *zs.v)) == NULL)
            rc = ERR_NOMEM;
        if (rc == 0) {
            zones_free(c->zones, c->nzones);
            c->zones = zs.v;
            c->nzones = zs.n;
            c->zones_gen = gen;
        } else {
            zones_free(zs.v, zs.n);
        }
    }
    if (rc == 0) {
        struct zone_set copy = {0};
        for (int i = 0; i < c->nzones && rc == 0; i++)
            rc = add_zone(&copy, c->zones[i].zone, c->zones[i].schedulable);
        if (rc == 0 && copy.v == NULL && (copy.v = calloc(1, sizeof *copy.v)) == NULL)
            rc = ERR_NOMEM;
        if (rc == 0) {
            *out = copy.v;
            *nout = copy.n;
        } else {
            zones_free(copy.v, copy.n);
        }
    }
    pthread_mutex_unlock(&c->zmu);
    return rc;
}

/* ---- observing one PSC ---- */

struct objs {
    cJSON *arr; /* owned deep copies */
    const cJSON **v;
    int n;
};

static void objs_index(struct objs *o)
{
    o->n = cJSON_GetArraySize(o->arr);
    o->v = calloc((size_t)o->n + 1, sizeof *o->v);
    if (o->v == NULL) {
        o->n = 0; /* out of memory: an empty view, and reconcile_key refuses to plan on it */
        return;
    }
    int i = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, o->arr) o->v[i++] = x;
}

static void objs_free(struct objs *o)
{
    cJSON_Delete(o->arr);
    free(o->v);
}

/* Asked before every write of a pass (act.h): the election thread may not have
 * noticed yet that the Lease ran out, so the Lease itself is asked too. */
static int ctl_leading(void *ud)
{
    struct ctl *c = ud;
    return atomic_load(&c->leading) != 0 && (c->lease == NULL || kube_lease_is_leader(c->lease));
}

/* ---- the previous pass's writes, until the caches show them (ctl/expect.h) ---- */

struct pending {
    struct htab_node node;
    struct expect_list l;
    char key[];
};

/* The key's pending writes, taken out of the table (NULL when none): the worker holding
 * the key owns them until pending_put. */
static struct pending *pending_take(struct ctl *c, const char *key)
{
    pthread_mutex_lock(&c->pmu);
    struct htab_node *n = htab_find(&c->pending, key);
    if (n != NULL)
        htab_remove(&c->pending, n);
    pthread_mutex_unlock(&c->pmu);
    return n != NULL ? HTAB_ENTRY(n, struct pending, node) : NULL;
}

static void pending_link(struct ctl *c, struct pending *p)
{
    pthread_mutex_lock(&c->pmu);
    htab_insert(&c->pending, &p->node);
    pthread_mutex_unlock(&c->pmu);
}

static void pending_free(struct pending *p)
{
    if (p != NULL)
        expect_clear(&p->l);
    free(p);
}

/* Keeps l (moved: l is left empty) for key's next pass; nothing when l is empty. */
static void pending_put(struct ctl *c, const char *key, struct expect_list *l)
{
    if (l->n == 0)
        return;
    size_t n = strlen(key) + 1;
    struct pending *p = malloc(sizeof *p + n);
    if (p == NULL || c->pending.b == NULL) {
        /* out of memory: the next pass plans from what it sees, as before */
        free(p);
        expect_clear(l);
        return;
    }
    memcpy(p->key, key, n);
    p->node.key = p->key;
    p->l = *l;
    *l = (struct expect_list){0};
    pending_link(c, p);
}

static enum kind plan_kind_to_kind(enum plan_kind k)
{
    switch (k) {
    case PLAN_POD:
        return K_POD;
    case PLAN_PVC:
        return K_PVC;
    case PLAN_SERVICE:
        return K_SVC;
    case PLAN_CONFIGMAP:
        return K_CM;
    case PLAN_PDB:
        return K_PDB;
    }
    return K_POD;
}

static int fill_seen(const cJSON *obj, void *ud)
{
    expect_seen_of(obj, ud);
    return 0;
}

struct look {
    struct ctl *c;
    int ix;
};

static int look_cache(void *ud, int kind, const char *ns, const char *name, struct expect_seen *out)
{
    const struct look *lk = ud;
    if (kind < 0 || kind >= K_COUNT)
        return ERR_INVALID;
    int rc =
        kube_cache_with(kube_informer_cache(lk->c->inf[kind][lk->ix]), ns, name, fill_seen, out);
    if (rc == ERR_NOTFOUND)
        expect_seen_of(NULL, out);
    return rc == ERR_NOTFOUND ? 0 : rc;
}

static void record_write(void *ud, const struct act_wrote *w)
{
    struct expect_list *l = ud;
    int k = w->psc ? K_PSC : (int)plan_kind_to_kind(w->kind);
    if (expect_add(l, k, w, time(NULL)) != 0)
        log_warn("out of memory keeping a write until the cache shows it", "name",
                 w->name ? w->name : "");
}

/* Whether key's pass must wait: the previous pass's writes are not all in the caches yet
 * (those that are are forgotten). Past EXPECT_MAX_WAIT_SECONDS it plans anyway, and says so. */
static bool caches_lag(struct ctl *c, const char *key, int ix)
{
    struct pending *p = pending_take(c, key);
    if (p == NULL)
        return false;
    char what[400];
    struct look lk = {.c = c, .ix = ix};
    time_t now = time(NULL), since = p->l.since;
    switch (expect_check(&p->l, look_cache, &lk, now, EXPECT_MAX_WAIT_SECONDS, what, sizeof what)) {
    case EXPECT_WAIT:
        log_debug("waiting for the caches to show the last pass's writes", "psc", key,
                  "waiting_for", what);
        pending_link(c, p);
        return true;
    case EXPECT_LATE: {
        char s[32];
        snprintf(s, sizeof s, "%llds", (long long)(now - since));
        log_warn("the caches do not show this PSC's own writes; planning anyway", "psc", key,
                 "waiting_for", what, "waited", s);
        break;
    }
    case EXPECT_GO:
        break;
    }
    pending_free(p);
    return false;
}

static int reconcile_key(struct ctl *c, struct kube_client *kc, const char *key,
                         struct ctl_outcome *out, struct err *e)
{
    char ns[256] = "", name[256];
    const char *slash = strchr(key, '/');
    if (slash == NULL)
        return err_set(e, ERR_INVALID, "bad key %s", key);
    snprintf(ns, sizeof ns, "%.*s", (int)(slash - key), key);
    snprintf(name, sizeof name, "%s", slash + 1);
    int ix = ns_index(c, ns);
    memset(out, 0, sizeof *out);
    if (ix < 0)
        return 0;
    cJSON *psc = kube_cache_get(kube_informer_cache(c->inf[K_PSC][ix]), ns, name);
    static const char *const states[] = {"idle", "rolling", "blocked"};
    if (psc == NULL) {
        /* Deleted: its children go with it (owner references), its series too. */
        pending_free(pending_take(c, key));
        for (size_t s = 0; s < 3; s++)
            metrics_remove(c->mb.roll_state, METRICS_LABELS(key, states[s]));
        metrics_remove(c->mb.psc_reconciles, METRICS_LABELS(key));
        return 0;
    }
    if (caches_lag(c, key, ix)) {
        /* the watch that brings the write enqueues the key; this is the fallback */
        cJSON_Delete(psc);
        out->requeue_after = 1;
        return 0;
    }
    const char *uid = meta_str(psc, "uid");
    struct objs kids[K_COUNT] = {0};
    for (int k = K_POD; k < K_COUNT; k++) {
        struct kube_cache *cache = kube_informer_cache(c->inf[k][ix]);
        /* PVCs outlive their PSC (no owner reference): found by the instance label */
        if (k == K_PVC)
            kids[k].arr = kube_cache_list_label(cache, ns, name);
        else
            kids[k].arr = uid ? kube_cache_list_owner(cache, uid) : cJSON_CreateArray();
        objs_index(&kids[k]);
    }
    struct plan_node *nodes = NULL;
    int nn = 0;
    bool oom = node_zones(c, &nodes, &nn) != 0;
    for (int k = K_POD; k < K_COUNT; k++)
        oom |= kids[k].arr == NULL || kids[k].v == NULL;
    if (oom) {
        /* A plan from a partial view would create what exists: retry later instead. */
        zones_free(nodes, nn);
        for (int k = K_POD; k < K_COUNT; k++)
            objs_free(&kids[k]);
        cJSON_Delete(psc);
        return err_set(e, ERR_NOMEM, "out of memory reading the cache for %s", key);
    }
    struct ctl_view v = {
        .psc = psc,
        .observed = {.pods = kids[K_POD].v,
                     .npods = kids[K_POD].n,
                     .pvcs = kids[K_PVC].v,
                     .npvcs = kids[K_PVC].n,
                     .services = kids[K_SVC].v,
                     .nservices = kids[K_SVC].n,
                     .configmaps = kids[K_CM].v,
                     .nconfigmaps = kids[K_CM].n,
                     .pdbs = kids[K_PDB].v,
                     .npdbs = kids[K_PDB].n,
                     .nodes = nodes,
                     .nnodes = nn,
                     .dns_check = c->o->dns_check},
    };
    struct act_api api;
    struct expect_list written = {0};
    act_api_kube(&api, kc, ctl_leading, c);
    api.wrote = record_write;
    api.wrote_ud = &written;
    int rc = ctl_reconcile(ctl_leading(c) ? &api : NULL, &v, c->o->scrape_timeout_ms, time(NULL),
                           out, e);
    pending_put(c, key, &written);
    char state[16];
    snprintf(state, sizeof state, "%s",
             out->blocked   ? "blocked"
             : out->rolling ? "rolling"
                            : "idle");
    for (size_t s = 0; s < 3; s++)
        metrics_gauge_set(c->mb.roll_state, METRICS_LABELS(key, states[s]),
                          strcmp(state, states[s]) == 0 ? 1 : 0);
    /* Counted after the pass, so a test that sees it grow by 2 after a change knows a
     * whole pass began after that change (tests/integration/lib/e2e.sh wait_reconciles). */
    metrics_counter_add(c->mb.psc_reconciles, METRICS_LABELS(key), 1);
    zones_free(nodes, nn);
    for (int k = K_POD; k < K_COUNT; k++)
        objs_free(&kids[k]);
    cJSON_Delete(psc);
    return rc;
}

/* ---- workers ---- */

static void *worker_main(void *arg)
{
    struct ctl *c = arg;
    struct err e = {0};
    struct kube_client *kc = kube_client_new(c->cfg, &e);
    if (kc == NULL) {
        log_error("worker cannot start", "error", e.msg);
        return NULL;
    }
    kube_client_set_write_guard(kc, ctl_leading, c);
    while (!flag_get(c->stop)) {
        char *key = kube_wq_get(c->q, 1.0);
        metrics_gauge_set(c->mb.workqueue_depth, NULL, (double)kube_wq_len(c->q));
        if (key == NULL)
            continue;
        if (!atomic_load(&c->leading)) {
            /* Not leading: keep the key for when we are. */
            kube_wq_done(c->q, key);
            kube_wq_add_after(c->q, key, 2.0);
            free(key);
            continue;
        }
        struct ctl_outcome out;
        err_clear(&e);
        /* The election thread may not have noticed yet that the Lease ran out: ask the
         * Lease itself right before acting. */
        int rc = reconcile_key(c, kc, key, &out, &e);
        if (rc != 0) {
            double delay = 0;
            kube_wq_add_rate_limited(c->q, key, &delay);
            char d[32];
            snprintf(d, sizeof d, "%.1fs", delay);
            log_error("reconcile failed", "psc", key, "error", e.msg, "retry_in", d);
            metrics_counter_add(c->mb.reconciles, METRICS_LABELS("error"), 1);
            metrics_counter_add(c->mb.reconcile_errors, NULL, 1);
        } else {
            kube_wq_forget(c->q, key);
            if (out.requeue_after > 0)
                kube_wq_add_after(c->q, key, out.requeue_after);
            metrics_counter_add(c->mb.reconciles, METRICS_LABELS("ok"), 1);
            if (out.actions > 0 || out.writes > 0) {
                char a[16], w[16];
                snprintf(a, sizeof a, "%d", out.actions);
                snprintf(w, sizeof w, "%d", out.writes);
                log_info("reconciled", "psc", key, "actions", a, "writes", w);
            }
        }
        kube_wq_done(c->q, key);
        free(key);
    }
    kube_client_free(kc);
    return NULL;
}

/* ---- leader election ---- */

static void on_started_leading(void *ud)
{
    struct ctl *c = ud;
    atomic_store(&c->leading, 1);
    metrics_gauge_set(c->mb.leader, NULL, 1);
    log_info("started leading", "identity", c->o->identity);
    enqueue_all(c);
}

static void on_stopped_leading(void *ud)
{
    struct ctl *c = ud;
    atomic_store(&c->leading, 0);
    metrics_gauge_set(c->mb.leader, NULL, 0);
    log_info("stopped leading", "identity", c->o->identity);
}

static void on_new_leader(const char *id, void *ud)
{
    (void)ud;
    log_info("leader is", "identity", id && *id ? id : "(none)");
}

/* ---- API request metrics ---- */

static void observe_request(const char *verb, long status, void *ud)
{
    struct ctl *c = ud;
    char code[16];
    snprintf(code, sizeof code, "%ld", status);
    metrics_counter_add(c->mb.api_requests, METRICS_LABELS(verb, code), 1);
}

/* ---- the webhook: what the schema cannot say ---- */

struct zone_scan {
    const char *name;
    const char **zones; /* by ordinal, borrowed from the cache's copies in keep */
    int n;
    cJSON *keep;
};

/* A member's zone lives on its PVC's label (placement is for life). */
static int collect_pvc_zone(const cJSON *obj, void *ud)
{
    struct zone_scan *z = ud;
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "labels");
    const cJSON *inst = cJSON_GetObjectItemCaseSensitive(labels, PSC_LABEL_INSTANCE);
    const cJSON *ord = cJSON_GetObjectItemCaseSensitive(labels, PSC_LABEL_ORDINAL);
    const cJSON *zone = cJSON_GetObjectItemCaseSensitive(labels, PSC_LABEL_ZONE);
    if (!cJSON_IsString(inst) || strcmp(inst->valuestring, z->name) != 0 || !cJSON_IsString(ord) ||
        !cJSON_IsString(zone))
        return 0;
    char *end = NULL;
    long i = strtol(ord->valuestring, &end, 10);
    if (end == ord->valuestring || *end != '\0' || i < 0 || i >= PSC_MAX_REPLICAS)
        return 0;
    if (i >= z->n) {
        const char **nz = realloc(z->zones, (size_t)(i + 1) * sizeof *nz);
        if (nz == NULL)
            return ERR_NOMEM;
        for (long k = z->n; k <= i; k++)
            nz[k] = NULL;
        z->zones = nz;
        z->n = (int)i + 1;
    }
    cJSON *copy = cJSON_CreateString(zone->valuestring);
    cJSON_AddItemToArray(z->keep, copy);
    z->zones[i] = copy ? copy->valuestring : NULL;
    return 0;
}

static int validate_psc(const cJSON *old_obj, const cJSON *new_obj, char *msg, size_t msglen,
                        void *ud)
{
    struct ctl *c = ud;
    struct psc *np = NULL, *op = NULL;
    struct err e = {0};
    struct zone_scan z = {.keep = cJSON_CreateArray()};
    int rc = psc_parse(new_obj, &np, &e);
    if (rc == 0 && old_obj != NULL && (rc = psc_parse(old_obj, &op, &e)) == 0) {
        int ix = ns_index(c, np->ns);
        z.name = np->name;
        if (ix >= 0 && c->inf[K_PVC][ix] != NULL)
            kube_cache_each_label(kube_informer_cache(c->inf[K_PVC][ix]), np->ns, np->name,
                                  collect_pvc_zone, &z);
        rc = psc_validate_update(op, np, z.zones, z.n, &e);
    }
    if (rc != 0)
        snprintf(msg, msglen, "%s", e.msg);
    free(z.zones);
    cJSON_Delete(z.keep);
    psc_free(np);
    psc_free(op);
    return rc == 0 ? 0 : ERR_INVALID;
}

static int start_server(struct ctl *c, struct err *e)
{
    struct srv_opts so = {.metrics = c->m, .validate = validate_psc, .validate_ud = c};
    char hhost[256] = "", thost[256] = "";
    if (c->o->http_addr) {
        so.http = true;
        if (srv_parse_addr(c->o->http_addr, hhost, sizeof hhost, &so.http_port, e) != 0)
            return err_prefix(e, "--http-addr");
        so.http_host = hhost;
    }
    if (c->o->webhook_addr) {
        so.tls = true;
        if (srv_parse_addr(c->o->webhook_addr, thost, sizeof thost, &so.tls_port, e) != 0)
            return err_prefix(e, "--webhook-addr");
        so.tls_host = thost;
        so.tls_cert = c->o->webhook_cert;
        so.tls_key = c->o->webhook_key;
    }
    if (!so.http && !so.tls)
        return 0;
    return srv_start(&so, &c->srv, e);
}

/* ballast_cache_objects / ballast_cache_bytes of one resource, over its n informers. */
static void publish_cache_size(struct ctl *c, const char *what, struct kube_informer *const *inf,
                               int n)
{
    struct kube_cache_stats sum = {0}, one;
    for (int i = 0; i < n; i++) {
        kube_cache_stats(kube_informer_cache(inf[i]), &one);
        sum.objects += one.objects;
        sum.bytes += one.bytes;
    }
    metrics_gauge_set(c->mb.cache_objects, METRICS_LABELS(what), (double)sum.objects);
    metrics_gauge_set(c->mb.cache_bytes, METRICS_LABELS(what), (double)sum.bytes);
}

static void publish_cache_sizes(struct ctl *c)
{
    for (int k = 0; k < K_COUNT; k++)
        publish_cache_size(c, kind_name(k), c->inf[k], c->nns);
    publish_cache_size(c, "nodes", &c->nodes, 1);
}

static int start_informer(struct ctl *c, struct kube_informer **slot,
                          const struct kube_informer_opts *io, struct err *e)
{
    *slot = kube_informer_new(c->cfg, io, e);
    if (*slot == NULL)
        return e->code ? e->code : ERR_NOMEM;
    return kube_informer_start(*slot, e);
}

static void stop_all(struct ctl *c)
{
    if (c->q)
        kube_wq_shutdown(c->q);
    for (int i = 0; i < c->nworkers; i++)
        pthread_join(c->workers[i], NULL);
    c->nworkers = 0;
    /* The Lease is released only once no worker can write any more. */
    if (c->lease) {
        kube_lease_free(c->lease);
        c->lease = NULL;
    }
    atomic_store(&c->leading, 0);
    /* The webhook reads the informers' caches (validate_psc): the server stops, and its
     * thread is joined, before any cache is freed. */
    srv_stop(c->srv);
    c->srv = NULL;
    for (int k = 0; k < K_COUNT; k++)
        for (int i = 0; i < c->nns; i++)
            kube_informer_request_stop(c->inf[k][i]);
    kube_informer_request_stop(c->nodes);
    for (int k = 0; k < K_COUNT; k++)
        for (int i = 0; i < c->nns; i++)
            kube_informer_free(c->inf[k][i]);
    kube_informer_free(c->nodes);
    /* Every thread that issues requests has been joined: the observer can go. */
    kube_set_request_observer(NULL, NULL);
    kube_wq_free(c->q);
    metrics_free(c->m);
}

static bool all_synced(struct ctl *c)
{
    if (!kube_informer_synced(c->nodes))
        return false;
    for (int k = 0; k < K_COUNT; k++)
        for (int i = 0; i < c->nns; i++)
            if (!kube_informer_synced(c->inf[k][i]))
                return false;
    return true;
}

int ctl_run(struct kube_config *cfg, const struct ctl_opts *o, volatile int *stop, struct err *e)
{
    struct ctl *c = calloc(1, sizeof *c);
    int rc = 0;
    if (c == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    c->cfg = cfg;
    c->o = o;
    c->stop = stop;
    pthread_mutex_init(&c->zmu, NULL);
    pthread_mutex_init(&c->pmu, NULL);
    if (htab_init(&c->pending) != 0) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    if (o->nnamespaces > MAX_NS) {
        rc = err_set(e, ERR_INVALID, "at most %d namespaces can be watched", MAX_NS);
        goto out;
    }
    c->nns = o->nnamespaces > 0 ? o->nnamespaces : 1;
    for (int i = 0; i < o->nnamespaces; i++)
        c->ns[i] = o->namespaces[i];

    c->m = metrics_new(0);
    if (c->m == NULL || metrics_register_ballast(c->m, &c->mb, e) != 0) {
        rc = c->m ? e->code : err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    kube_set_request_observer(observe_request, c);
    struct kube_wq_opts qo = {0};
    c->q = kube_wq_new(&qo, e);
    if (c->q == NULL) {
        rc = e->code ? e->code : ERR_NOMEM;
        goto out;
    }
    for (int k = 0; k < K_COUNT; k++) {
        for (int i = 0; i < c->nns; i++) {
            struct kube_informer_opts io = {
                .res = kind_res(k),
                .ns = c->ns[i],
                .label_selector = k == K_PSC ? NULL : MANAGED_SELECTOR,
                .index_label = k == K_PSC ? NULL : PSC_LABEL_INSTANCE,
                .handler = k == K_PSC ? on_psc : on_child,
                .compact = k == K_PSC   ? ctl_compact_psc
                           : k == K_POD ? ctl_compact_pod
                           : k == K_CM  ? ctl_compact_configmap
                                        : ctl_compact_child,
                .ud = c,
            };
            if ((rc = start_informer(c, &c->inf[k][i], &io, e)) != 0) {
                err_prefix(e, "watch %s", kind_name(k));
                goto out;
            }
        }
    }
    struct kube_informer_opts nio = {.res = &KUBE_NODES,
                                     .metadata_only = 1,
                                     .handler = on_node,
                                     .compact = ctl_compact_node,
                                     .ud = c};
    if ((rc = start_informer(c, &c->nodes, &nio, e)) != 0) {
        err_prefix(e, "watch nodes");
        goto out;
    }

    /* After the informers exist: the webhook reads member zones from the PVC cache. */
    if ((rc = start_server(c, e)) != 0)
        goto out;

    /* Wait for the caches: a plan from a half-filled cache would create what exists. */
    log_info("waiting for caches to sync");
    while (!flag_get(stop) && !all_synced(c)) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (flag_get(stop))
        goto out;
    if (c->srv)
        srv_set_ready(c->srv, true);
    log_info("caches synced");

    if (o->leader_elect) {
        struct kube_lease_opts lo = {
            .ns = o->lease_namespace,
            .name = o->lease_name,
            .identity = o->identity,
            .on_started_leading = on_started_leading,
            .on_stopped_leading = on_stopped_leading,
            .on_new_leader = on_new_leader,
            .ud = c,
        };
        /* Created before the workers start, so they read a pointer that never changes. */
        c->lease = kube_lease_new(cfg, &lo, e);
        if (c->lease == NULL) {
            rc = e->code ? e->code : ERR_NOMEM;
            err_prefix(e, "leader election on Lease %s/%s", o->lease_namespace, o->lease_name);
            goto out;
        }
    }
    int nw = o->workers < 1 ? 1 : o->workers > MAX_WORKERS ? MAX_WORKERS : o->workers;
    for (int i = 0; i < nw; i++) {
        if (pthread_create(&c->workers[i], NULL, worker_main, c) != 0) {
            rc = err_set(e, ERR_IO, "cannot start reconcile worker %d", i);
            goto out;
        }
        c->nworkers++;
    }

    if (c->lease != NULL) {
        if (kube_lease_start(c->lease, e) != 0) {
            rc = e->code ? e->code : ERR_IO;
            err_prefix(e, "leader election on Lease %s/%s", o->lease_namespace, o->lease_name);
            goto out;
        }
    } else {
        on_started_leading(c);
    }

    unsigned long last_restarts[K_COUNT] = {0};
    while (!flag_get(stop)) {
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
        for (int k = 0; k < K_COUNT; k++) {
            unsigned long restarts = 0;
            for (int i = 0; i < c->nns; i++) {
                struct kube_informer_stats st;
                kube_informer_get_stats(c->inf[k][i], &st);
                restarts += st.watch_restarts + st.relists;
            }
            if (restarts > last_restarts[k])
                metrics_counter_add(c->mb.watch_restarts, METRICS_LABELS(kind_name(k)),
                                    (double)(restarts - last_restarts[k]));
            last_restarts[k] = restarts;
        }
        publish_cache_sizes(c);
    }
    log_info("stopping: finishing reconciles in flight, then releasing the Lease");
out:
    stop_all(c);
    zones_free(c->zones, c->nzones);
    struct htab_iter it;
    htab_iter_init(&it, &c->pending);
    for (struct htab_node *n; (n = htab_iter_next(&it)) != NULL;)
        pending_free(HTAB_ENTRY(n, struct pending, node));
    htab_free(&c->pending);
    pthread_mutex_destroy(&c->pmu);
    pthread_mutex_destroy(&c->zmu);
    free(c);
    return rc;
}
