/* test_ctl_model_safety.c — model-based safety test (issue 11): the real reconcile pass
 * (psc_parse, plan_compute, act_execute through ctl_reconcile_pass) runs step after step
 * against a simulated cluster: the in-memory API server of fakeapi.h (its evictions
 * refereed by the PodDisruptionBudget ballast renders) plus a small world model of
 * what kubelets, brokers, exporters, nodes, people and other operator replicas do.
 * Per seed, each step draws random events — readiness blips, pods dying, brokers
 * recovering, metrics unreadable or lagging, API errors (409, 429, 500, timeouts, some
 * applied before the answer is lost), stale caches, operator restarts, leader changes,
 * spec edits (config, image, restart, replicas up and down, invalid specs, paused) and
 * node drains through evictions — then one reconcile pass. A view may also lag ballast's
 * own last pass (a watch slower than the write): the pass then waits, as ctl.c does, until
 * the view shows what the last pass wrote (ctl/expect.h), and no pod is ever evicted twice.
 * Invariants are checked at every API call and after every step; when one breaks, the seed, the
 * step and a trace of the last steps are printed. After the faults stop, everything must converge.
 *
 * Seeds and steps: BALLAST_MODEL_SEEDS (default 200, divided by BALLAST_TEST_TIME_SCALE
 * under valgrind) × BALLAST_MODEL_STEPS (default 1000, see model_steps); BALLAST_MODEL_SEED=<n>
 * replays one seed, BALLAST_MODEL_LOG=1 shows the operator's log. */
#include <check.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "ctl/expect.h"
#include "ctl/reconcile.h"
#include "fakeapi.h"
#include "psc/psc.h"
#include "timescale.h"

#define NS                     "streaming"
#define MAXM                   8 /* ordinals 0..7 */
#define NNODES                 6 /* two per zone */
#define TRACE                  20
#define STEP_SECS              5
#define MISS_BOUND             12 /* leader passes a wanted member may stay without a pod (faults included) */
#define CONVERGE_BOUND         200 /* steps to converge once faults stop */
#define STATUS_WRITES_PER_PASS 3

static const char *const ZONE[] = {"zone-a", "zone-b", "zone-c"};
static const char *const IMAGES[] = {"apache/kafka:3.9.0", "apache/kafka:3.9.1",
                                     "apache/kafka:4.0.0"};

/* What the engine behind member i does, by ordinal (survives pod incarnations where it
 * lives on the volume: partitions). */
struct truth {
    char uid[64];     /* the pod incarnation this describes */
    int state;        /* brokerstate: 0 no process, 2 recovering, 3 running, 6 shutting down */
    int recover_left; /* steps until 2 -> 3 */
    int sched_wait;   /* steps a scheduled pod takes to start */
    int flap;         /* steps of Ready=False while running */
    int catchup;      /* steps it still lags as a follower: URP on the others */
    int term_left;    /* terminating: steps until the kubelet removes the pod */
    bool ready;       /* the Ready condition last written */
    time_t ready_since;
    int partitions; /* hosted partitions (on the volume) */
    int assign_in;  /* steps until partitions are assigned to a new member */
    int drain_in;   /* steps until an extra member is drained by the admin */
    int unreadable; /* steps of unreadable metrics */
    int lag;        /* steps of lagging metrics */
    int urp_spike, offline_spike;
    bool had_pod;                     /* a pod existed at some point (for "missing") */
    int missing;                      /* consecutive leader passes the wanted member had no pod */
    struct plan_reading hist_g[4][2]; /* last readings: [age][gate] */
    struct plan_reading hist_d[4], hist_b[4];
    bool hist_scraped[4];
};

/* The spec as the model's people write it. */
struct mspec {
    int replicas;
    int image;
    int config;
    int restart; /* annotation value r<k>, 0 = none */
    int invalid; /* 0 valid, 1 unparsable storage size, 2 zone without nodes */
    bool paused;
    bool delete_claim;
};

/* What a pass was given, per ordinal (from its view, computed before the pass, since
 * the executor's writes free the objects the view points at). */
struct vfacts {
    bool pod, ready, terminating, dead;
};

struct model {
    unsigned seed;
    unsigned rng;
    int step;
    time_t now;
    struct fa f;
    struct truth t[MAXM];
    struct plan_node nodes[NNODES];
    char node_names[NNODES][16];
    struct mspec spec, good; /* good: the last valid, unpaused spec (for the calm phase) */
    long long generation;
    /* faults */
    bool faults;
    double p_fault; /* per API call */
    bool lost;      /* leading() answered 0 in this pass */
    int no_leader;  /* steps without a leader (restart, election) */
    bool stale_next;
    bool lag_next;          /* the pass after the next sees the world from before the next */
    bool lag_armed;         /* snap holds the world from before the last pass: the view lags it */
    struct expect_list exp; /* what the last pass wrote (ctl/expect.h), as ctl.c keeps it */
    char evicted[MAXM][64]; /* the last pod uid per ordinal ballast's eviction removed */
    struct fa_obj snap[FA_MAX];
    int nsnap;
    int drain_node; /* -1 none */
    int drain_left;
    /* the pass in flight */
    bool in_pass;
    struct vfacts view[MAXM];
    int view_wanted;
    struct plan_member_health h[MAXM];
    struct plan_reading g[MAXM][2];
    int nh;
    bool lagging[MAXM];
    bool view_stale;
    int pass_status_writes;
    long wanted_seq;
    int wanted_cache;
    /* trace */
    char trace[TRACE][1536];
    int trace_step[TRACE];
    char failure[768];
};

/* What the runs exercised, summed over seeds (printed at the end). */
static struct {
    long steps, passes, restarts, removals, refused, drain_evictions, edits, faults, calm_steps,
        lag_waits;
    int calm_max;
} stats;

static struct model *M; /* the model the API wrappers act for (one at a time) */

/* ---- random ---- */

static unsigned rnd(struct model *m)
{
    m->rng = m->rng * 1103515245u + 12345u;
    unsigned x = m->rng ^ (m->rng >> 15);
    x *= 0x2c1b3c6dU;
    x ^= x >> 12;
    return x;
}

static int rint_(struct model *m, int n) /* 0..n-1 */
{
    return n <= 1 ? 0 : (int)(rnd(m) % (unsigned)n);
}

static bool chance(struct model *m, double p)
{
    return (double)(rnd(m) % 1000000u) < p * 1000000.0;
}

/* ---- trace and failure ---- */

static void tr(struct model *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tr(struct model *m, const char *fmt, ...)
{
    char *b = m->trace[m->step % TRACE];
    size_t len = strlen(b);
    if (len + 4 >= sizeof m->trace[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    if (len > 0)
        b[len++] = ' ', b[len] = '\0';
    vsnprintf(b + len, sizeof m->trace[0] - len, fmt, ap);
    va_end(ap);
}

static void violation(struct model *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void violation(struct model *m, const char *fmt, ...)
{
    if (m->failure[0] != '\0')
        return; /* the first one counts */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->failure, sizeof m->failure, fmt, ap);
    va_end(ap);
    tr(m, "!! VIOLATION: %s", m->failure);
}

static cJSON *world_psc(struct model *m);
static cJSON *world_pod(struct model *m, int i);
static bool obj_ready(const cJSON *pod);
static const char *jget_str(const cJSON *o, const char *a, const char *b);

static void print_trace(struct model *m)
{
    fprintf(stderr, "model: seed %u failed at step %d: %s\nlast steps:\n", m->seed, m->step,
            m->failure);
    for (int s = m->step - TRACE + 1; s <= m->step; s++) {
        if (s < 0)
            continue;
        fprintf(stderr, "  [%d] %s\n", s, m->trace[s % TRACE]);
    }
    const cJSON *k;
    cJSON_ArrayForEach(k,
                       cJSON_GetObjectItemCaseSensitive(
                           cJSON_GetObjectItemCaseSensitive(world_psc(m), "status"), "conditions"))
        fprintf(stderr, "  status %s=%s %s: %s\n", jget_str(k, "type", NULL),
                jget_str(k, "status", NULL), jget_str(k, "reason", NULL),
                jget_str(k, "message", NULL));
    for (int i = 0; i < MAXM; i++) {
        cJSON *pod = world_pod(m, i);
        if (pod != NULL || m->t[i].partitions > 0)
            fprintf(stderr, "  orders-%d: pod %s phase %s ready %d state %d partitions %d\n", i,
                    pod ? "yes" : "no", pod ? jget_str(pod, "status", "phase") : "-",
                    pod ? obj_ready(pod) : 0, m->t[i].state, m->t[i].partitions);
    }
    fprintf(stderr, "replay: BALLAST_MODEL_SEED=%u\n", m->seed);
}

/* ---- helpers on objects ---- */

static int ordinal_of(const char *name, const char *prefix)
{
    size_t n = strlen(prefix);
    if (name == NULL || strncmp(name, prefix, n) != 0)
        return -1;
    char *end;
    long v = strtol(name + n, &end, 10);
    if (end == name + n || *end != '\0' || v < 0 || v >= MAXM)
        return -1;
    return (int)v;
}

static const char *jget_str(const cJSON *o, const char *a, const char *b)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
    if (b != NULL)
        x = cJSON_GetObjectItemCaseSensitive(x, b);
    return cJSON_IsString(x) ? x->valuestring : NULL;
}

static bool obj_terminating(const cJSON *o)
{
    return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "metadata"),
                                            "deletionTimestamp") != NULL;
}

static bool obj_ready(const cJSON *pod)
{
    return fa_pod_ready(pod);
}

static bool obj_dead(const cJSON *pod)
{
    const char *ph = jget_str(pod, "status", "phase");
    return ph != NULL && (strcmp(ph, "Failed") == 0 || strcmp(ph, "Succeeded") == 0);
}

/* The replicas ballast acts on, per a PSC object and the ConfigMaps beside it: the
 * spec's when it is valid, else the last accepted spec's. */
static int wanted_of(const cJSON *psc, const cJSON *const *cms, int ncms)
{
    struct psc *p = NULL;
    struct err e = {0};
    const cJSON *zones =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(psc, "spec"), "zones");
    bool refused = cJSON_GetArraySize(zones) > 3; /* the model's zone-x edit */
    if (!refused && psc_parse(psc, &p, &e) == 0) {
        int r = p->spec.replicas;
        psc_free(p);
        return r;
    }
    for (int i = 0; i < ncms; i++) {
        const char *n = jget_str(cms[i], "metadata", "name");
        if (n == NULL || strcmp(n, "orders" PLAN_ACCEPTED_SUFFIX) != 0)
            continue;
        cJSON *spec = cJSON_Parse(jget_str(cms[i], "data", PLAN_ACCEPTED_KEY));
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(spec, "replicas");
        int v = cJSON_IsNumber(r) ? (int)r->valuedouble : 0;
        cJSON_Delete(spec);
        return v;
    }
    return 0;
}

static cJSON *world_psc(struct model *m)
{
    return fa_get_obj(&m->f, &KUBE_PSCS, NS, "orders");
}

/* (cached while the fake server's objects are unchanged: every write moves f.seq) */
static int world_wanted(struct model *m)
{
    if (m->wanted_seq == m->f.seq && m->wanted_seq != 0)
        return m->wanted_cache;
    const cJSON *cms[FA_MAX];
    int n = fa_list(&m->f, &KUBE_CONFIGMAPS, cms, FA_MAX);
    m->wanted_cache = wanted_of(world_psc(m), cms, n);
    m->wanted_seq = m->f.seq;
    return m->wanted_cache;
}

static cJSON *world_pod(struct model *m, int i)
{
    char name[32];
    snprintf(name, sizeof name, "orders-%d", i);
    return fa_get_obj(&m->f, &KUBE_PODS, NS, name);
}

/* ---- the spec ---- */

static cJSON *spec_json(const struct mspec *s)
{
    cJSON *spec = cJSON_CreateObject();
    cJSON_AddNumberToObject(spec, "replicas", s->replicas);
    cJSON_AddStringToObject(spec, "image", IMAGES[s->image]);
    cJSON *st = cJSON_AddObjectToObject(spec, "storage");
    cJSON_AddStringToObject(st, "size", s->invalid == 1 ? "lots" : "1Gi");
    cJSON_AddBoolToObject(st, "deleteClaimOnScaleDown", s->delete_claim);
    char v[16];
    snprintf(v, sizeof v, "%d", 6 + s->config);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(spec, "config"), "num.partitions", v);
    if (s->invalid == 2) {
        cJSON *z = cJSON_AddArrayToObject(spec, "zones");
        for (int i = 0; i < 3; i++)
            cJSON_AddItemToArray(z, cJSON_CreateString(ZONE[i]));
        cJSON_AddItemToArray(z, cJSON_CreateString("zone-x"));
    }
    if (s->paused)
        cJSON_AddTrueToObject(spec, "paused");
    return spec;
}

/* Writes the model's spec into the PSC as a user's apply would: generation + 1, the
 * status kept. */
static void write_spec(struct model *m)
{
    cJSON *old = world_psc(m);
    cJSON *psc = old ? cJSON_Duplicate(old, true) : NULL;
    if (psc == NULL) {
        psc = cJSON_Parse("{\"apiVersion\":\"ballast.dev/v1alpha1\",\"kind\":"
                          "\"PhysicalStatefulCluster\",\"metadata\":{\"name\":\"orders\","
                          "\"namespace\":\"streaming\",\"uid\":\"uid-psc-1\"}}");
    }
    cJSON *md = cJSON_GetObjectItemCaseSensitive(psc, "metadata");
    cJSON_DeleteItemFromObjectCaseSensitive(md, "generation");
    cJSON_AddNumberToObject(md, "generation", (double)++m->generation);
    cJSON_DeleteItemFromObjectCaseSensitive(md, "annotations");
    if (m->spec.restart > 0) {
        char v[16];
        snprintf(v, sizeof v, "r%d", m->spec.restart);
        cJSON_AddStringToObject(cJSON_AddObjectToObject(md, "annotations"), PSC_ANN_RESTART, v);
    }
    cJSON_DeleteItemFromObjectCaseSensitive(psc, "spec");
    cJSON_AddItemToObject(psc, "spec", spec_json(&m->spec));
    fa_put(&m->f, &KUBE_PSCS, NS, psc);
    if (m->spec.invalid == 0 && !m->spec.paused)
        m->good = m->spec;
}

/* ---- what the exporter says ---- */

static bool member_down(struct model *m, int j)
{
    const cJSON *pod = world_pod(m, j);
    return pod == NULL || m->t[j].state != 3 || m->t[j].catchup > 0;
}

static void fresh_reading(struct model *m, int i, struct plan_reading g[2], struct plan_reading *d,
                          struct plan_reading *b, bool *scraped)
{
    struct truth *t = &m->t[i];
    *scraped = t->state != 0 && t->unreadable == 0;
    b->present = true;
    b->value = t->state;
    d->present = true;
    d->value = t->state == 3 ? t->partitions : 0; /* a recovering broker reports none yet */
    int urp = 0;
    if (t->state == 3)
        for (int j = 0; j < MAXM; j++)
            if (j != i && m->t[j].partitions > 0 && member_down(m, j))
                urp += 3;
    g[0] = (struct plan_reading){.present = true, .value = urp + (t->urp_spike > 0 ? 1 : 0)};
    g[1] = (struct plan_reading){.present = true, .value = t->offline_spike > 0 ? 1 : 0};
}

/* Readings of every member whose pod runs (has an IP), as the scrape would give them. */
static void read_health(struct model *m)
{
    m->nh = 0;
    for (int i = 0; i < MAXM; i++) {
        m->lagging[i] = false;
        cJSON *pod = world_pod(m, i);
        const char *ph = jget_str(pod, "status", "phase");
        if (pod == NULL || ph == NULL || strcmp(ph, "Running") != 0)
            continue;
        struct truth *t = &m->t[i];
        struct plan_member_health *h = &m->h[m->nh];
        struct plan_reading g[2], d, b;
        bool scraped;
        fresh_reading(m, i, g, &d, &b, &scraped);
        /* history: [0] is the newest */
        memmove(&t->hist_g[1], &t->hist_g[0], sizeof t->hist_g[0] * 3);
        memmove(&t->hist_d[1], &t->hist_d[0], sizeof t->hist_d[0] * 3);
        memmove(&t->hist_b[1], &t->hist_b[0], sizeof t->hist_b[0] * 3);
        memmove(&t->hist_scraped[1], &t->hist_scraped[0], sizeof t->hist_scraped[0] * 3);
        memcpy(t->hist_g[0], g, sizeof g);
        t->hist_d[0] = d;
        t->hist_b[0] = b;
        t->hist_scraped[0] = scraped;
        int age = 0;
        if (t->lag > 0 && scraped) {
            age = 1 + rint_(m, 3);
            while (age > 0 && !t->hist_scraped[age])
                age--;
            m->lagging[i] = age > 0;
        }
        memcpy(m->g[m->nh], t->hist_g[age], sizeof m->g[0]);
        *h = (struct plan_member_health){.ordinal = i,
                                         .scraped = scraped,
                                         .error = scraped ? NULL : "connection refused",
                                         .gates = m->g[m->nh],
                                         .drained = t->hist_d[age],
                                         .broker_state = t->hist_b[age]};
        m->nh++;
    }
}

static const struct plan_member_health *reading_of(struct model *m, int i)
{
    for (int k = 0; k < m->nh; k++)
        if (m->h[k].ordinal == i)
            return &m->h[k];
    return NULL;
}

static bool gates_ok(const struct plan_member_health *h)
{
    return h != NULL && h->scraped && h->gates[0].present && h->gates[0].value <= 0 &&
           h->gates[1].present && h->gates[1].value <= 0 &&
           (!h->broker_state.present || h->broker_state.value == 3);
}

/* ---- invariants at a voluntary removal ---- */

/* Whether member j counts as down: wanted without a pod, or a pod not Ready. */
static bool down_in_view(struct model *m, int j)
{
    const struct vfacts *v = &m->view[j];
    if (j < m->view_wanted && !v->pod)
        return true;
    return v->pod && (!v->ready || v->terminating);
}

/* In the world, a missing member counts when it holds data: one that never served yet (a
 * scale-up's new member before its partitions are assigned) is no replica down. (The
 * PDB cannot know of a new member before ballast's next pass updates it.) */
static bool down_in_world(struct model *m, int j, int wanted)
{
    const cJSON *pod = world_pod(m, j);
    if (pod == NULL)
        return j < wanted && m->t[j].partitions > 0;
    return !obj_ready(pod);
}

/* A pod of member i is about to be removed by ballast (evict or delete). */
static void check_removal_decision(struct model *m, int i)
{
    const struct vfacts *v = &m->view[i];
    if (!v->pod || v->dead)
        return; /* a pod that ended is always replaced; one ballast cannot see is not chosen */
    for (int j = 0; j < MAXM; j++)
        if (j != i && down_in_view(m, j))
            violation(m, "two down: ballast removes orders-%d while orders-%d is %s in its view", i,
                      j, m->view[j].pod ? "not Ready" : "missing");
    const struct plan_member_health *h = reading_of(m, i);
    if (i >= m->view_wanted) {
        /* scale-down: Ready, RUNNING, drained */
        if (!v->ready || h == NULL || !h->scraped || !h->broker_state.present ||
            h->broker_state.value != 3 || !h->drained.present || h->drained.value != 0)
            violation(m,
                      "removal of orders-%d without a Ready, RUNNING, drained member (ready %d, "
                      "scraped %d, brokerstate %g, drained %g)",
                      i, v->ready, h ? h->scraped : -1, h ? h->broker_state.value : -1,
                      h ? h->drained.value : -1);
        return;
    }
    if (h != NULL && h->scraped && h->broker_state.present && h->broker_state.value == 2 &&
        !v->ready)
        violation(m, "restart of orders-%d while it recovers its logs (brokerstate 2)", i);
    for (int j = 0; j < MAXM; j++) {
        if (!m->view[j].pod || (j == i && !v->ready))
            continue;
        if (!gates_ok(reading_of(m, j)))
            violation(m, "restart of orders-%d while a gate fails or cannot be read on orders-%d",
                      i, j);
    }
}

/* A removal went through (ballast's or a drain's): check the world. */
static void check_removal_world(struct model *m, int i, const char *who, bool world_exact)
{
    cJSON *pod = world_pod(m, i);
    if (pod == NULL || obj_dead(pod))
        return;
    int wanted = world_wanted(m);
    for (int j = 0; j < MAXM; j++)
        if (j != i && down_in_world(m, j, wanted))
            violation(m, "two down: %s removed orders-%d while orders-%d is %s", who, i, j,
                      world_pod(m, j) ? "not Ready" : "missing");
    if (world_exact && i >= wanted && (m->t[i].partitions > 0 || m->t[i].state != 3))
        violation(m, "%s removed orders-%d, which hosts %d partitions (brokerstate %d)", who, i,
                  m->t[i].partitions, m->t[i].state);
}

/* ---- the API as the executor sees it: faults, checks, then the fake ---- */

static bool is_write(const char *verb)
{
    return strcmp(verb, "get") != 0;
}

/* 0: let through. Else the rc to return without applying (fills r); *after: apply,
 * then answer a timeout (the request went through, the answer was lost). */
static int fault(struct model *m, const char *verb, const struct kube_res *res, const char *name,
                 struct kube_resp *r, bool *after)
{
    *after = false;
    if (m->lost && is_write(verb) && res != &KUBE_EVENTS)
        violation(m, "%s %s %s after leadership was lost", verb, res->resource, name);
    if (!m->faults || res == &KUBE_EVENTS || !chance(m, m->p_fault))
        return 0;
    int kind = rint_(m, 4);
    const char *what;
    int rc;
    memset(r, 0, sizeof *r);
    if (kind == 0 || (kind == 2 && strcmp(verb, "evict") != 0)) {
        fa_resp(r, 500, "InternalError", "etcdserver: request timed out");
        what = "500";
        rc = ERR_API;
    } else if (kind == 1 && strcmp(verb, "get") != 0) {
        fa_resp(r, 409, "Conflict", "the object has been modified");
        what = "409";
        rc = ERR_CONFLICT;
    } else if (kind == 2) {
        fa_resp(r, 429, "TooManyRequests", "Cannot evict pod: too many requests");
        what = "429";
        rc = ERR_API;
    } else {
        snprintf(r->message, sizeof r->message, "operation timed out");
        *after = is_write(verb) && chance(m, 0.5);
        what = *after ? "timeout(applied)" : "timeout";
        rc = ERR_TIMEOUT;
    }
    stats.faults++;
    tr(m, "[api %s on %s %s %s]", what, verb, res->resource, name ? name : "");
    return *after ? 0 : rc;
}

static int timed_out(struct kube_resp *r)
{
    kube_resp_free(r);
    memset(r, 0, sizeof *r);
    snprintf(r->message, sizeof r->message, "operation timed out");
    return ERR_TIMEOUT;
}

static int m_get(void *ud, const struct kube_res *res, const char *ns, const char *name,
                 struct kube_resp *r)
{
    bool after;
    int rc = fault(ud, "get", res, name, r, &after);
    return rc != 0 ? rc : fa_api_get(&M->f, res, ns, name, r);
}

static int m_create(void *ud, const struct kube_res *res, const char *ns, const cJSON *obj,
                    struct kube_resp *r)
{
    struct model *m = ud;
    bool after;
    const char *name = fa_mstr(obj, "name");
    int rc = fault(m, "create", res, name, r, &after);
    if (rc != 0)
        return rc;
    rc = fa_api_create(&m->f, res, ns, obj, r);
    if (res != &KUBE_EVENTS)
        tr(m, "create %s %s=%d;", res->resource, name, rc);
    return after ? timed_out(r) : rc;
}

static int m_update(void *ud, const struct kube_res *res, const char *ns, const char *name,
                    const cJSON *obj, struct kube_resp *r)
{
    struct model *m = ud;
    bool after;
    int rc = fault(m, "update", res, name, r, &after);
    if (rc != 0)
        return rc;
    rc = fa_api_update(&m->f, res, ns, name, obj, r);
    tr(m, "update %s %s=%d;", res->resource, name, rc);
    return after ? timed_out(r) : rc;
}

static int m_update_status(void *ud, const struct kube_res *res, const char *ns, const char *name,
                           const cJSON *obj, struct kube_resp *r)
{
    struct model *m = ud;
    bool after;
    m->pass_status_writes++;
    int rc = fault(m, "status", res, name, r, &after);
    if (rc != 0)
        return rc;
    rc = fa_api_update_status(&m->f, res, ns, name, obj, r);
    tr(m, "status=%d;", rc);
    return after ? timed_out(r) : rc;
}

static int m_del(void *ud, const struct kube_res *res, const char *ns, const char *name,
                 const struct kube_delete_opts *o, struct kube_resp *r)
{
    struct model *m = ud;
    bool after;
    int pod = res == &KUBE_PODS ? ordinal_of(name, "orders-") : -1;
    int pvc = res == &KUBE_PVCS ? ordinal_of(name, "data-orders-") : -1;
    if (pod >= 0)
        check_removal_decision(m, pod);
    int rc = fault(m, "delete", res, name, r, &after);
    if (rc != 0)
        return rc;
    if (pod >= 0 && !m->view_stale)
        check_removal_world(m, pod, "ballast (delete)", !m->lagging[pod]);
    if (pvc >= 0 && m->t[pvc].partitions > 0 && !m->lagging[pvc])
        violation(m, "ballast deletes volume %s, which holds %d partitions", name,
                  m->t[pvc].partitions);
    rc = fa_api_del(&m->f, res, ns, name, o, r);
    tr(m, "delete %s %s=%d;", res->resource, name, rc);
    if (rc == 0 && pvc >= 0)
        m->t[pvc].partitions = 0; /* the data is gone with it */
    return after ? timed_out(r) : rc;
}

static int m_evict(void *ud, const char *ns, const char *name, const char *uid, struct kube_resp *r)
{
    struct model *m = ud;
    bool after;
    int i = ordinal_of(name, "orders-");
    if (i >= 0)
        check_removal_decision(m, i);
    int rc = fault(m, "evict", &KUBE_PODS, name, r, &after);
    if (rc != 0)
        return rc;
    /* the world check needs the PDB's verdict first: only an eviction that goes through
     * takes a member down */
    cJSON *before = i >= 0 ? world_pod(m, i) : NULL;
    bool could = before != NULL && (uid == NULL || strcmp(uid, fa_mstr(before, "uid")) == 0) &&
                 fa_pdb_allows(&m->f, before);
    if (could && i >= 0)
        check_removal_world(m, i, "ballast (evict)", !m->view_stale && !m->lagging[i]);
    if (i >= 0 && uid != NULL && strcmp(uid, m->evicted[i]) == 0)
        violation(m, "ballast evicts %s (uid %s) again: its last eviction went through", name, uid);
    rc = fa_api_evict(&m->f, ns, name, uid, r);
    if (rc == 0 && !after && i >= 0 && uid != NULL)
        snprintf(m->evicted[i], sizeof m->evicted[i], "%s", uid);
    tr(m, "evict %s=%d%s;", name, rc, rc == ERR_API ? "(429)" : "");
    if (rc == 0 && i >= 0 && i < m->view_wanted)
        stats.restarts++;
    else if (rc == 0)
        stats.removals++;
    else if (rc == ERR_API)
        stats.refused++;
    return after ? timed_out(r) : rc;
}

static int m_leading(void *ud)
{
    struct model *m = ud;
    int l = fa_leading(&m->f);
    if (!l && !m->lost) {
        m->lost = true;
        tr(m, "[leadership lost]");
    }
    return l;
}

static struct act_api model_api(struct model *m)
{
    struct act_api a = {.ud = m,
                        .get = m_get,
                        .create = m_create,
                        .update = m_update,
                        .update_status = m_update_status,
                        .del = m_del,
                        .evict = m_evict,
                        .leading = m_leading,
                        .leading_ud = m};
    return a;
}

/* ---- the cache ---- */

static void snap_free(struct model *m)
{
    for (int i = 0; i < m->nsnap; i++)
        cJSON_Delete(m->snap[i].obj);
    m->nsnap = 0;
}

static void snap_take(struct model *m)
{
    snap_free(m);
    for (int i = 0; i < m->f.n; i++) {
        m->snap[m->nsnap] = m->f.objs[i];
        m->snap[m->nsnap].obj = cJSON_Duplicate(m->f.objs[i].obj, true);
        m->nsnap++;
    }
}

static int view_list(struct model *m, const struct kube_res *res, const cJSON **out, int max)
{
    if (!m->view_stale)
        return fa_list(&m->f, res, out, max);
    int n = 0;
    for (int i = 0; i < m->nsnap && n < max; i++)
        if (m->snap[i].res == res)
            out[n++] = m->snap[i].obj;
    return n;
}

/* ---- what the last pass wrote, until the view shows it ---- */

static void m_wrote(void *ud, const struct act_wrote *w)
{
    struct model *m = ud;
    if (expect_add(&m->exp, w->psc ? -1 : (int)w->kind, w, m->now) != 0)
        violation(m, "out of memory keeping a write");
}

static int m_look(void *ud, int kind, const char *ns, const char *name, struct expect_seen *out)
{
    struct model *m = ud;
    const struct kube_res *res = kind < 0 ? &KUBE_PSCS : act_resource((enum plan_kind)kind);
    const cJSON *o = NULL;
    if (!m->view_stale) {
        o = fa_get_obj(&m->f, res, ns, name);
    } else {
        for (int i = 0; i < m->nsnap && o == NULL; i++)
            if (m->snap[i].res == res && strcmp(m->snap[i].ns, ns) == 0 &&
                strcmp(m->snap[i].name, name) == 0)
                o = m->snap[i].obj;
    }
    expect_seen_of(o, out);
    return 0;
}

/* ---- one reconcile pass ---- */

static void run_pass(struct model *m)
{
    const cJSON *pods[FA_MAX], *pvcs[FA_MAX], *svcs[FA_MAX], *cms[FA_MAX], *pdbs[FA_MAX], *pscs[2];
    bool lag_now = m->lag_armed && m->nsnap > 0;
    m->lag_armed = false;
    m->view_stale = lag_now || (m->stale_next && m->nsnap > 0);
    m->stale_next = false;
    /* the world before this pass, for a view of the next one that lags this pass */
    bool arm = !m->view_stale && m->lag_next;
    if (arm) {
        snap_take(m);
        m->lag_next = false;
    }
    char what[300];
    enum expect_verdict vd =
        expect_check(&m->exp, m_look, m, m->now, EXPECT_MAX_WAIT_SECONDS, what, sizeof what);
    if (vd == EXPECT_WAIT) {
        tr(m, "| pass waits: the view does not show %s", what);
        stats.lag_waits++;
        m->lag_armed = arm;
        return;
    }
    if (vd == EXPECT_LATE)
        tr(m, "| the view never showed %s: planning anyway", what);
    int npods = view_list(m, &KUBE_PODS, pods, FA_MAX);
    int ncms = view_list(m, &KUBE_CONFIGMAPS, cms, FA_MAX);
    if (view_list(m, &KUBE_PSCS, pscs, 2) != 1)
        return;
    cJSON *psc = cJSON_Duplicate(pscs[0], true);
    memset(m->view, 0, sizeof m->view);
    for (int k = 0; k < npods; k++) {
        int i = ordinal_of(jget_str(pods[k], "metadata", "name"), "orders-");
        if (i < 0)
            continue;
        m->view[i] = (struct vfacts){.pod = true,
                                     .ready = obj_ready(pods[k]),
                                     .terminating = obj_terminating(pods[k]),
                                     .dead = obj_dead(pods[k])};
    }
    m->view_wanted = wanted_of(psc, cms, ncms);
    struct ctl_view v = {.psc = psc,
                         .observed = {.pods = pods,
                                      .npods = npods,
                                      .pvcs = pvcs,
                                      .npvcs = view_list(m, &KUBE_PVCS, pvcs, FA_MAX),
                                      .services = svcs,
                                      .nservices = view_list(m, &KUBE_SERVICES, svcs, FA_MAX),
                                      .configmaps = cms,
                                      .nconfigmaps = ncms,
                                      .pdbs = pdbs,
                                      .npdbs = view_list(m, &KUBE_PDBS, pdbs, FA_MAX),
                                      .nodes = m->nodes,
                                      .nnodes = NNODES}};
    read_health(m);
    struct act_api api = model_api(m);
    api.wrote = m_wrote;
    api.wrote_ud = m;
    struct ctl_outcome out;
    struct err e = {0};
    m->in_pass = true;
    m->lost = false;
    m->pass_status_writes = 0;
    int rc = ctl_reconcile_pass(&api, &v, m->h, m->nh, m->now, &out, &e);
    m->in_pass = false;
    cJSON_Delete(psc);
    tr(m, "| pass%s rc=%d actions=%d writes=%d failed=%d refused=%d%s",
       lag_now         ? "(lagging)"
       : m->view_stale ? "(stale)"
                       : "",
       rc, out.actions, out.writes, out.failed, out.refused, out.not_leading ? " not-leading" : "");
    if (m->pass_status_writes > STATUS_WRITES_PER_PASS)
        violation(m, "%d status writes in one pass", m->pass_status_writes);
    if (rc != 0 && rc != ERR_API && rc != ERR_CANCELLED && rc != ERR_TIMEOUT && rc != ERR_CONFLICT)
        violation(m, "reconcile pass failed: %s (rc %d)", e.msg, rc);
    /* the lease: leadership lost mid-pass hands over to the other replica */
    if (m->f.not_leading) {
        m->f.not_leading = false;
        m->f.leading_after = 0;
        m->no_leader = rint_(m, 3);
        snap_free(m);
        expect_clear(&m->exp); /* the other replica has its own caches and nothing kept */
        m->lag_armed = false;
        return;
    }
    m->lag_armed = arm;
}

/* ---- the kubelets, the scheduler, the admin ---- */

static void set_pod_status(struct model *m, cJSON *pod, const char *phase_in, bool ready, int i)
{
    struct truth *t = &m->t[i];
    char phase[16];
    snprintf(phase, sizeof phase, "%s", phase_in); /* may point into the status replaced */
    if (ready != t->ready) {
        t->ready = ready;
        t->ready_since = m->now;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(pod, "status");
    cJSON *st = cJSON_AddObjectToObject(pod, "status");
    cJSON_AddStringToObject(st, "phase", phase);
    if (strcmp(phase, "Running") == 0) {
        char ip[32];
        snprintf(ip, sizeof ip, "10.0.0.%d", 10 + i);
        cJSON_AddStringToObject(st, "podIP", ip);
    }
    char ts[32];
    struct tm tm;
    gmtime_r(&t->ready_since, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    cJSON *k = cJSON_CreateObject();
    cJSON_AddStringToObject(k, "type", "Ready");
    cJSON_AddStringToObject(k, "status", ready ? "True" : "False");
    cJSON_AddStringToObject(k, "lastTransitionTime", ts);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(st, "conditions"), k);
}

static int pod_node(const cJSON *pod)
{
    const char *n = jget_str(pod, "spec", "nodeName");
    if (n == NULL)
        return -1;
    for (int k = 0; k < NNODES; k++)
        if (strncmp(n, "node-", 5) == 0 && atoi(n + 5) == k)
            return k;
    return -1;
}

static void kubelets(struct model *m)
{
    for (int i = 0; i < MAXM; i++) {
        struct truth *t = &m->t[i];
        cJSON *pod = world_pod(m, i);
        if (pod == NULL) {
            t->state = 0;
            t->uid[0] = '\0';
            t->ready = false;
            continue;
        }
        const char *uid = fa_mstr(pod, "uid");
        if (strcmp(t->uid, uid ? uid : "") != 0) {
            snprintf(t->uid, sizeof t->uid, "%s", uid ? uid : "");
            t->state = 0;
            t->term_left = 0;
            t->flap = 0;
            t->had_pod = true;
            t->ready = false;
        }
        const char *phase = jget_str(pod, "status", "phase");
        if (obj_terminating(pod)) {
            if (t->term_left == 0)
                t->term_left = 1 + rint_(m, 3);
            t->state = t->state == 0 ? 0 : 6;
            if (--t->term_left == 0) {
                char name[32];
                snprintf(name, sizeof name, "orders-%d", i);
                int k = fa_find(&m->f, &KUBE_PODS, NS, name);
                if (k >= 0)
                    fa_drop(&m->f, k);
                t->state = 0;
                t->uid[0] = '\0';
                t->ready = false;
                continue;
            }
            set_pod_status(m, pod, phase ? phase : "Running", false, i);
            continue;
        }
        if (phase != NULL && strcmp(phase, "Failed") == 0)
            continue;
        if (pod_node(pod) < 0) {
            /* schedule in the zone of its volume, on a node not cordoned */
            char pvc[32];
            snprintf(pvc, sizeof pvc, "data-orders-%d", i);
            cJSON *v = fa_get_obj(&m->f, &KUBE_PVCS, NS, pvc);
            const char *zone = fa_label(v, PSC_LABEL_ZONE);
            int node = -1;
            for (int k = 0; k < NNODES && zone != NULL; k++)
                if (m->nodes[k].schedulable && strcmp(m->nodes[k].zone, zone) == 0 &&
                    (node < 0 || rint_(m, 2) == 0))
                    node = k;
            if (node >= 0) {
                cJSON *spec = cJSON_GetObjectItemCaseSensitive(pod, "spec");
                if (spec == NULL)
                    spec = cJSON_AddObjectToObject(pod, "spec");
                fa_set(spec, "nodeName", m->node_names[node]);
                t->sched_wait = rint_(m, 2);
            }
            set_pod_status(m, pod, "Pending", false, i);
            continue;
        }
        if (phase == NULL || strcmp(phase, "Pending") == 0) {
            if (t->sched_wait-- > 0) {
                set_pod_status(m, pod, "Pending", false, i);
                continue;
            }
            t->state = 2;
            t->recover_left = 1 + rint_(m, 4);
        } else if (t->state == 2 && --t->recover_left <= 0) {
            t->state = 3;
            t->catchup = 1 + rint_(m, 3);
        } else if (t->state == 3 && t->catchup > 0) {
            t->catchup--;
        }
        if (t->flap > 0)
            t->flap--;
        set_pod_status(m, pod, "Running", t->state == 3 && t->flap == 0, i);
    }
}

/* The person who moves partitions: onto a new member once it runs, away from a member
 * that is leaving (spec.replicas below it). */
static void admin(struct model *m)
{
    int wanted = world_wanted(m);
    for (int i = 0; i < MAXM; i++) {
        struct truth *t = &m->t[i];
        char pvc[32];
        snprintf(pvc, sizeof pvc, "data-orders-%d", i);
        if (fa_get_obj(&m->f, &KUBE_PVCS, NS, pvc) == NULL) {
            t->partitions = 0;
            continue;
        }
        if (i < wanted) {
            t->drain_in = 0;
            if (t->partitions == 0 && t->state == 3) {
                if (t->assign_in == 0)
                    t->assign_in = 4 + rint_(m, 4);
                else if (--t->assign_in == 0)
                    t->partitions = 10;
            }
        } else if (t->partitions > 0) { /* reassigned away, even from a broker that is gone */
            t->assign_in = 0;
            if (t->drain_in == 0)
                t->drain_in = 2 + rint_(m, 6);
            else if (--t->drain_in == 0)
                t->partitions = 0;
        }
        if (t->unreadable > 0)
            t->unreadable--;
        if (t->lag > 0)
            t->lag--;
        if (t->urp_spike > 0)
            t->urp_spike--;
        if (t->offline_spike > 0)
            t->offline_spike--;
    }
}

/* A drain (kubectl drain): cordon, then evict every pod on the node through the PDB. */
static void drain(struct model *m)
{
    if (m->drain_node < 0)
        return;
    int k = m->drain_node;
    bool left = false;
    for (int i = 0; i < MAXM; i++) {
        cJSON *pod = world_pod(m, i);
        if (pod == NULL || pod_node(pod) != k || obj_terminating(pod))
            continue;
        left = true;
        if (fa_pdb_allows(&m->f, pod))
            check_removal_world(m, i, "a drain", false);
        struct kube_resp r = {0};
        char name[32];
        snprintf(name, sizeof name, "orders-%d", i);
        int rc = fa_api_evict(&m->f, NS, name, NULL, &r);
        tr(m, "drain evicts orders-%d=%d;", i, rc);
        stats.drain_evictions += rc == 0;
        kube_resp_free(&r);
    }
    if (!left && --m->drain_left <= 0) {
        m->nodes[k].schedulable = true;
        tr(m, "uncordon %s;", m->node_names[k]);
        m->drain_node = -1;
    }
}

/* ---- random events ---- */

static int random_pod(struct model *m)
{
    int have[MAXM], n = 0;
    for (int i = 0; i < MAXM; i++)
        if (world_pod(m, i) != NULL)
            have[n++] = i;
    return n > 0 ? have[rint_(m, n)] : -1;
}

static void events(struct model *m)
{
    int i;
    if (chance(m, 0.04) && (i = random_pod(m)) >= 0 && m->t[i].state == 3) {
        m->t[i].flap = 1 + rint_(m, 2);
        tr(m, "flap orders-%d;", i);
    }
    if (chance(m, 0.015) && (i = random_pod(m)) >= 0 && m->t[i].state == 3) {
        m->t[i].state = 2; /* the broker crashed; the kubelet restarts the container */
        m->t[i].recover_left = 2 + rint_(m, 4);
        tr(m, "crash orders-%d;", i);
    }
    if (chance(m, 0.006) && (i = random_pod(m)) >= 0) {
        cJSON *pod = world_pod(m, i);
        if (!obj_terminating(pod)) {
            set_pod_status(m, pod, "Failed", false, i);
            m->t[i].state = 0;
            tr(m, "pod orders-%d Failed;", i);
        }
    }
    if (chance(m, 0.006) && (i = random_pod(m)) >= 0) {
        char name[32];
        snprintf(name, sizeof name, "orders-%d", i);
        fa_drop(&m->f, fa_find(&m->f, &KUBE_PODS, NS,
                               name)); /* node lost: the pod object is force-deleted */
        m->t[i].state = 0;
        m->t[i].uid[0] = '\0';
        tr(m, "pod orders-%d vanished;", i);
    }
    if (chance(m, 0.05) && (i = random_pod(m)) >= 0 && m->t[i].state == 2) {
        m->t[i].recover_left = 0; /* recovery done early */
        m->t[i].state = 3;
        m->t[i].catchup = 1;
        tr(m, "orders-%d recovered;", i);
    }
    if (chance(m, 0.03) && (i = random_pod(m)) >= 0) {
        m->t[i].unreadable = 1 + rint_(m, 3);
        tr(m, "metrics of orders-%d unreadable;", i);
    }
    if (chance(m, 0.03) && (i = random_pod(m)) >= 0) {
        m->t[i].lag = 1 + rint_(m, 3);
        tr(m, "metrics of orders-%d lag;", i);
    }
    if (chance(m, 0.02) && (i = random_pod(m)) >= 0) {
        m->t[i].urp_spike = 1 + rint_(m, 2);
        tr(m, "urp spike orders-%d;", i);
    }
    if (chance(m, 0.008) && (i = random_pod(m)) >= 0) {
        m->t[i].offline_spike = 1 + rint_(m, 2);
        tr(m, "offline spike orders-%d;", i);
    }
    if (chance(m, 0.04) && !m->lag_armed) {
        m->stale_next = true;
        snap_take(m);
    }
    if (chance(m, 0.04))
        m->lag_next = true;
    if (chance(m, 0.01) && m->no_leader == 0) {
        m->no_leader = 1 + rint_(m, 2); /* the operator restarts: no pass, caches dropped */
        snap_free(m);
        expect_clear(&m->exp);
        m->lag_armed = false;
        tr(m, "operator restart;");
    }
    if (chance(m, 0.01) && m->no_leader == 0) {
        m->f.leading_after = 1 + rint_(m, 8); /* the lease moves during the next pass */
        tr(m, "leader change after %d checks;", m->f.leading_after);
    }
    if (m->drain_node < 0 && chance(m, 0.01)) {
        m->drain_node = rint_(m, NNODES);
        m->drain_left = 2 + rint_(m, 5);
        m->nodes[m->drain_node].schedulable = false;
        tr(m, "drain %s;", m->node_names[m->drain_node]);
    }
    /* people */
    if (chance(m, 0.02)) {
        struct mspec s = m->spec;
        int what = rint_(m, 8);
        if (s.invalid != 0 || s.paused) {
            s.invalid = 0; /* fixed again */
            s.paused = false;
        } else if (what == 0)
            s.image = (s.image + 1 + rint_(m, 2)) % 3;
        else if (what == 1)
            s.config = (s.config + 1) % 4;
        else if (what == 2)
            s.restart++;
        else if (what == 3 && s.replicas < 6)
            s.replicas++;
        else if (what == 4 && s.replicas > 3)
            s.replicas--;
        else if (what == 5)
            s.invalid = 1 + rint_(m, 2);
        else if (what == 6)
            s.paused = chance(m, 0.3);
        else
            s.delete_claim = !s.delete_claim;
        if (memcmp(&s, &m->spec, sizeof s) != 0) {
            stats.edits++;
            m->spec = s;
            write_spec(m);
            tr(m,
               "spec: replicas %d image %d config %d restart %d invalid %d paused %d "
               "deleteClaim %d;",
               s.replicas, s.image, s.config, s.restart, s.invalid, s.paused, s.delete_claim);
        }
    }
}

/* ---- per-step checks ---- */

static void check_missing(struct model *m, bool passed)
{
    int wanted = world_wanted(m);
    bool acting = passed && !m->spec.paused;
    for (int i = 0; i < MAXM; i++) {
        struct truth *t = &m->t[i];
        if (i >= wanted || world_pod(m, i) != NULL) {
            t->missing = 0;
            continue;
        }
        if (acting && ++t->missing > MISS_BOUND)
            violation(m, "wanted member orders-%d has had no pod for %d leader passes", i,
                      t->missing);
    }
}

/* Everything as the spec asks: every wanted member's pod Ready on the spec's revision,
 * nothing more, and the last pass changed nothing. */
static bool converged(struct model *m, int actions_writes, char *why, size_t n)
{
    struct psc *p = NULL;
    struct err e = {0};
    if (psc_parse(world_psc(m), &p, &e) != 0) {
        snprintf(why, n, "spec does not parse: %s", e.msg);
        return false;
    }
    char rev[11], tok[64];
    plan_revision(p, rev);
    plan_restart_label(p->restart_token, tok);
    int wanted = p->spec.replicas;
    psc_free(p);
    for (int i = 0; i < MAXM; i++) {
        cJSON *pod = world_pod(m, i);
        if (i >= wanted) {
            char svc[32];
            snprintf(svc, sizeof svc, "orders-%d", i);
            if (pod != NULL || fa_get_obj(&m->f, &KUBE_SERVICES, NS, svc) != NULL) {
                snprintf(why, n, "orders-%d is not removed", i);
                return false;
            }
            continue;
        }
        if (pod == NULL || !obj_ready(pod)) {
            snprintf(why, n, "orders-%d is %s", i, pod ? "not Ready" : "missing");
            return false;
        }
        const char *r = fa_label(pod, PSC_LABEL_REVISION);
        const char *k = fa_label(pod, PSC_LABEL_RESTART);
        if (r == NULL || strcmp(r, rev) != 0 || strcmp(k ? k : "", tok) != 0) {
            snprintf(why, n, "orders-%d runs revision %s, not %s", i, r ? r : "-", rev);
            return false;
        }
    }
    const cJSON *k;
    bool ready = false;
    cJSON_ArrayForEach(k,
                       cJSON_GetObjectItemCaseSensitive(
                           cJSON_GetObjectItemCaseSensitive(world_psc(m), "status"), "conditions"))
    {
        const char *ty = jget_str(k, "type", NULL), *st = jget_str(k, "status", NULL);
        if (ty && st && strcmp(ty, "Ready") == 0)
            ready = strcmp(st, "True") == 0;
    }
    if (!ready) {
        snprintf(why, n, "status does not say Ready=True");
        return false;
    }
    if (actions_writes > 0) {
        snprintf(why, n, "the last pass still wrote %d times", actions_writes);
        return false;
    }
    return true;
}

/* ---- one seed ---- */

static void model_init(struct model *m, unsigned seed)
{
    memset(m, 0, sizeof *m);
    m->seed = seed;
    m->rng = seed * 2654435761u + 1;
    m->now = 1790000000;
    m->f.instance = "orders";
    m->f.pods_linger = true; /* a removed pod terminates first; the kubelet removes it */
    m->drain_node = -1;
    for (int k = 0; k < NNODES; k++) {
        snprintf(m->node_names[k], sizeof m->node_names[k], "node-%d", k);
        m->nodes[k] = (struct plan_node){m->node_names[k], ZONE[k % 3], true};
    }
    m->p_fault = 0.02 + 0.13 * (double)rint_(m, 100) / 100.0;
    m->spec = (struct mspec){.replicas = 3 + rint_(m, 3), .image = rint_(m, 3)};
    write_spec(m);
}

static void model_step(struct model *m)
{
    m->trace[m->step % TRACE][0] = '\0';
    if (m->faults)
        events(m);
    /* the PDB counts the members that should exist (a scale subresource's replicas) */
    int wanted = world_wanted(m), present = 0;
    for (int i = 0; i < MAXM; i++)
        present += world_pod(m, i) != NULL;
    m->f.expected_members = wanted > present ? wanted : present;
    drain(m);
    bool passed = false;
    if (m->no_leader > 0) {
        m->no_leader--;
        tr(m, "| no leader");
    } else {
        int writes0 = m->f.writes;
        run_pass(m);
        stats.passes++;
        passed = true;
        (void)writes0;
    }
    check_missing(m, passed);
    m->now += STEP_SECS;
    kubelets(m);
    admin(m);
}

static int env_int(const char *name, int dflt)
{
    const char *s = getenv(name);
    return s != NULL && atoi(s) > 0 ? atoi(s) : dflt;
}

/* Runs one seed: `steps` with faults, then calm until converged. Returns 0 or fails. */
static int run_seed(unsigned seed, int steps)
{
    struct model *m = calloc(1, sizeof *m);
    ck_assert_ptr_nonnull(m);
    M = m;
    model_init(m, seed);
    m->faults = true;
    for (m->step = 0; m->step < steps && m->failure[0] == '\0'; m->step++)
        model_step(m);
    stats.steps += m->step;
    /* calm: faults stop, the spec is made valid, drains end */
    if (m->failure[0] == '\0') {
        m->faults = false;
        m->f.leading_after = 0;
        if (m->spec.invalid != 0 || m->spec.paused) {
            m->spec = m->good;
            if (m->spec.replicas == 0)
                m->spec.replicas = 3;
            write_spec(m);
        }
        int calm0 = m->step, quiet = 0;
        char why[256] = "";
        for (; m->step < calm0 + CONVERGE_BOUND && m->failure[0] == '\0'; m->step++) {
            int w0 = m->f.writes + m->f.events;
            model_step(m);
            int w = m->f.writes + m->f.events - w0;
            if (converged(m, w, why, sizeof why)) {
                if (++quiet >= 3)
                    break;
            } else {
                quiet = 0;
            }
        }
        stats.calm_steps += m->step - calm0;
        if (m->step - calm0 > stats.calm_max)
            stats.calm_max = m->step - calm0;
        if (m->failure[0] == '\0' && quiet < 3)
            violation(m, "no convergence within %d steps after the faults stopped: %s",
                      CONVERGE_BOUND, why);
    }
    int failed = m->failure[0] != '\0';
    if (failed)
        print_trace(m);
    char msg[1024];
    snprintf(msg, sizeof msg, "seed %u step %d: %s", m->seed, m->step, m->failure);
    snap_free(m);
    expect_clear(&m->exp);
    fa_free(&m->f);
    free(m);
    M = NULL;
    ck_assert_msg(!failed, "%s", msg);
    return 0;
}

#define CHUNKS 8

/* A step costs about 0.1 ms natively, 1 ms under ASan and 5 ms under valgrind (nearly
 * all of it the reconcile pass), so the normal run is 200 seeds of DEFAULT_STEPS steps
 * with faults (plus the calm phase) and valgrind (BALLAST_TEST_TIME_SCALE > 1) runs a
 * tenth of the seeds. Long mode: BALLAST_MODEL_SEEDS=1000 BALLAST_MODEL_STEPS=5000. */
#define DEFAULT_SEEDS 200
#define DEFAULT_STEPS 1000

static int model_steps(void)
{
    return env_int("BALLAST_MODEL_STEPS", DEFAULT_STEPS);
}

static int model_seeds(void)
{
    int seeds = env_int("BALLAST_MODEL_SEEDS", DEFAULT_SEEDS);
    double scale = test_time_scale();
    if (scale > 1.0 && getenv("BALLAST_MODEL_SEEDS") == NULL)
        seeds = (int)(seeds / scale);
    return seeds < CHUNKS ? CHUNKS : seeds;
}

START_TEST(test_model_seeds)
{
    const char *one = getenv("BALLAST_MODEL_SEED");
    int steps = model_steps();
    if (one != NULL) {
        if (_i == 0)
            run_seed((unsigned)strtoul(one, NULL, 10), steps);
        return;
    }
    int seeds = model_seeds();
    for (int s = _i; s < seeds; s += CHUNKS)
        run_seed((unsigned)s + 1, steps);
    fprintf(stderr,
            "model chunk %d: %d seeds x %d steps; %ld steps, %ld passes, %ld restarts, %ld "
            "removals, %ld evictions refused, %ld drain evictions, %ld spec edits, %ld API faults, "
            "calm phase %ld steps (max %d), %ld passes waited for a lagging view\n",
            _i, (seeds - _i + CHUNKS - 1) / CHUNKS, steps, stats.steps, stats.passes,
            stats.restarts, stats.removals, stats.refused, stats.drain_evictions, stats.edits,
            stats.faults, stats.calm_steps, stats.calm_max, stats.lag_waits);
}
END_TEST

int main(void)
{
    log_setup(getenv("BALLAST_MODEL_LOG") ? LV_INFO : LV_ERROR, LOG_FMT_TEXT);
    Suite *s = suite_create("model_safety");
    TCase *tc = tcase_create("model");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_model_seeds, 0, CHUNKS);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
