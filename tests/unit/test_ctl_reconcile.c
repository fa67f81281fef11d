/* test_ctl_reconcile.c — one reconcile pass end to end (parse, plan, act) against the
 * in-memory API server (fakeapi.h). The spec ballast acts on is recorded in the cluster
 * (ConfigMap <psc>-accepted-spec); a later invalid spec — one that does not parse, or
 * one the planner refuses — still lets a missing member be recreated from that record,
 * and only that, while status reports InvalidSpec. Every pass starts from what the fake
 * cluster holds, as a restarted operator would: nothing is kept in memory between them.
 * A PSC that was never valid gets its status and nothing else. What a pass wrote is kept
 * (ctl/expect.h) until a view shows it: a view from before the pass — a cache whose watch
 * lags — does not, and the next pass waits rather than restart the same member again. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/expect.h"
#include "ctl/reconcile.h"
#include "fakeapi.h"

#define NS "streaming"
#define N  3

static const struct plan_node NODES[] = {
    {"node-a", "zone-a", true}, {"node-b", "zone-b", true}, {"node-c", "zone-c", true}};

static const char PSC_JSON[] =
    "{\"apiVersion\":\"ballast.dev/v1alpha1\",\"kind\":\"PhysicalStatefulCluster\","
    "\"metadata\":{\"name\":\"orders\",\"namespace\":\"streaming\",\"uid\":\"uid-psc-1\","
    "\"generation\":1},"
    "\"spec\":{\"replicas\":3,\"image\":\"apache/kafka:3.9.0\",\"storage\":{\"size\":\"1Gi\"}}}";

struct world {
    struct fa f;
    struct plan_member_health h[N];
    struct plan_reading g[N][2];
    time_t now;
};

static void world_init(struct world *w, const char *psc_json)
{
    memset(w, 0, sizeof *w);
    w->now = 1790000000;
    w->f.instance = "orders";
    for (int i = 0; i < N; i++) {
        w->h[i] = (struct plan_member_health){.ordinal = i, .scraped = true, .gates = w->g[i]};
        w->g[i][0] = w->g[i][1] = (struct plan_reading){.present = true, .value = 0};
        w->h[i].drained = (struct plan_reading){.present = true, .value = 0};
        w->h[i].broker_state = (struct plan_reading){.present = true, .value = 3};
    }
    fa_put(&w->f, &KUBE_PSCS, NS, cJSON_Parse(psc_json));
}

static cJSON *psc_obj(struct world *w)
{
    return fa_get_obj(&w->f, &KUBE_PSCS, NS, "orders");
}

/* What a kubelet would do by the next pass: every pod Running and Ready. */
static void pods_ready(struct world *w)
{
    for (int i = 0; i < w->f.n; i++) {
        cJSON *pod = w->f.objs[i].obj;
        if (w->f.objs[i].res != &KUBE_PODS)
            continue;
        cJSON_DeleteItemFromObjectCaseSensitive(pod, "status");
        cJSON *st = cJSON_AddObjectToObject(pod, "status");
        cJSON_AddStringToObject(st, "phase", "Running");
        cJSON *k = cJSON_CreateObject();
        cJSON_AddStringToObject(k, "type", "Ready");
        cJSON_AddStringToObject(k, "status", "True");
        cJSON_AddItemToArray(cJSON_AddArrayToObject(st, "conditions"), k);
    }
}

/* One pass over what the fake cluster holds now (a fresh view, as from the caches); wrote
 * (may be NULL) is told of each write that took effect. */
static int pass_with(struct world *w, struct ctl_outcome *out,
                     void (*wrote)(void *, const struct act_wrote *), void *wrote_ud)
{
    const cJSON *pods[64], *pvcs[64], *svcs[64], *cms[64], *pdbs[64];
    cJSON *psc = cJSON_Duplicate(psc_obj(w), true);
    struct ctl_view v = {.psc = psc,
                         .observed = {.pods = pods,
                                      .npods = fa_list(&w->f, &KUBE_PODS, pods, 64),
                                      .pvcs = pvcs,
                                      .npvcs = fa_list(&w->f, &KUBE_PVCS, pvcs, 64),
                                      .services = svcs,
                                      .nservices = fa_list(&w->f, &KUBE_SERVICES, svcs, 64),
                                      .configmaps = cms,
                                      .nconfigmaps = fa_list(&w->f, &KUBE_CONFIGMAPS, cms, 64),
                                      .pdbs = pdbs,
                                      .npdbs = fa_list(&w->f, &KUBE_PDBS, pdbs, 64),
                                      .nodes = NODES,
                                      .nnodes = 3}};
    struct act_api api = fa_api(&w->f);
    api.wrote = wrote;
    api.wrote_ud = wrote_ud;
    struct err e = {0};
    int rc = ctl_reconcile_pass(&api, &v, w->h, N, w->now, out, &e);
    cJSON_Delete(psc);
    w->now += 10;
    pods_ready(w);
    return rc;
}

static int pass(struct world *w, struct ctl_outcome *out)
{
    return pass_with(w, out, NULL, NULL);
}

/* Calls of `verb` (any resource when res is NULL) since call number `from`. */
static int calls_since(const struct world *w, int from, const char *verb,
                       const struct kube_res *res)
{
    int n = 0;
    for (int i = from; i < w->f.ncalls; i++)
        n += strcmp(w->f.calls[i].verb, verb) == 0 && (res == NULL || w->f.calls[i].res == res);
    return n;
}

static void converge(struct world *w)
{
    struct ctl_outcome out;
    for (int i = 0; i < 8; i++) {
        ck_assert_int_eq(pass(w, &out), 0);
        if (out.actions == 0 && out.writes == 0)
            return;
    }
    ck_abort_msg("no steady state after 8 passes");
}

static const char *cond(const cJSON *psc, const char *type, const char *field)
{
    const cJSON *k;
    cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(
                              cJSON_GetObjectItemCaseSensitive(psc, "status"), "conditions"))
    {
        if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(k, "type")), type) == 0)
            return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(k, field));
    }
    return NULL;
}

static const char *image_of(struct world *w, const char *pod)
{
    const cJSON *c = cJSON_GetArrayItem(
        cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(fa_get_obj(&w->f, &KUBE_PODS, NS, pod), "spec"),
            "containers"),
        0);
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "image"));
}

static const char *recorded_spec(struct world *w)
{
    cJSON *cm = fa_get_obj(&w->f, &KUBE_CONFIGMAPS, NS, "orders" PLAN_ACCEPTED_SUFFIX);
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cm, "data"), PLAN_ACCEPTED_KEY));
}

/* Replaces spec field `key` with the JSON `value`, as a user's edit: generation + 1. */
static void edit_spec(struct world *w, const char *key, const char *value)
{
    cJSON *psc = psc_obj(w);
    cJSON *spec = cJSON_GetObjectItemCaseSensitive(psc, "spec");
    cJSON_DeleteItemFromObjectCaseSensitive(spec, key);
    cJSON_AddItemToObject(spec, key, cJSON_Parse(value));
    cJSON *gen = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(psc, "metadata"),
                                                  "generation");
    cJSON_SetNumberValue(gen, gen->valuedouble + 1);
}

/* A valid spec acted on is recorded, owned by the PSC; a steady cluster writes nothing. */
START_TEST(test_accepted_spec_recorded)
{
    struct world w;
    world_init(&w, PSC_JSON);
    converge(&w);
    const char *rec = recorded_spec(&w);
    ck_assert_ptr_nonnull(rec);
    cJSON *spec = cJSON_Parse(rec);
    ck_assert(cJSON_Compare(spec, cJSON_GetObjectItemCaseSensitive(psc_obj(&w), "spec"), true));
    cJSON_Delete(spec);
    cJSON *cm = fa_get_obj(&w.f, &KUBE_CONFIGMAPS, NS, "orders" PLAN_ACCEPTED_SUFFIX);
    const cJSON *ref =
        cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(
                               cJSON_GetObjectItemCaseSensitive(cm, "metadata"), "ownerReferences"),
                           0);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ref, "uid")),
                     "uid-psc-1");
    ck_assert_str_eq(fa_label(cm, PSC_LABEL_MANAGED_BY), "ballast");
    /* a valid edit is recorded too, once */
    edit_spec(&w, "image", "\"apache/kafka:3.9.1\"");
    struct ctl_outcome out;
    ck_assert_int_eq(pass(&w, &out), 0);
    ck_assert_int_eq(fa_count(&w.f, "update", &KUBE_CONFIGMAPS, "orders" PLAN_ACCEPTED_SUFFIX), 1);
    ck_assert_ptr_nonnull(strstr(recorded_spec(&w), "3.9.1"));
    fa_free(&w.f);
}
END_TEST

/* Table: the spec turns invalid, then a member's pod goes missing. From the record, the
 * member is recreated as the accepted spec has it (not the invalid edit's image), and
 * nothing else is changed; status names the problem; the record stays as it was. */
START_TEST(test_invalid_spec_recreates_missing_member)
{
    static const struct {
        const char *what, *key, *value, *cause;
        bool paused; /* the invalid spec also says paused: true */
    } cases[] = {
        {"unparsable", "storage", "{\"size\":\"lots\"}", "spec.storage.size", false},
        {"refused by the planner", "zones", "[\"zone-a\",\"zone-b\",\"zone-c\",\"zone-x\"]",
         "zone-x", false},
        {"unparsable, paused", "storage", "{\"size\":\"lots\"}", "spec.storage.size", true},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct world w;
        world_init(&w, PSC_JSON);
        converge(&w);
        char rec_before[1024], uid0[64], uid2[64];
        snprintf(rec_before, sizeof rec_before, "%s", recorded_spec(&w));
        snprintf(uid0, sizeof uid0, "%s",
                 fa_mstr(fa_get_obj(&w.f, &KUBE_PODS, NS, "orders-0"), "uid"));
        snprintf(uid2, sizeof uid2, "%s",
                 fa_mstr(fa_get_obj(&w.f, &KUBE_PODS, NS, "orders-2"), "uid"));

        edit_spec(&w, "image", "\"apache/kafka:4.0.0\"");
        edit_spec(&w, cases[k].key, cases[k].value);
        if (cases[k].paused)
            edit_spec(&w, "paused", "true");
        fa_drop(&w.f, fa_find(&w.f, &KUBE_PODS, NS, "orders-1"));
        int writes = w.f.writes, c0 = w.f.ncalls;
        struct ctl_outcome out;
        pass(&w, &out); /* an invalid spec may be reported as an error to retry: either way */
        cJSON *pod = fa_get_obj(&w.f, &KUBE_PODS, NS, "orders-1");
        if (cases[k].paused) {
            ck_assert_msg(pod == NULL, "%s: recreated while paused", cases[k].what);
        } else {
            ck_assert_msg(pod != NULL, "%s: orders-1 not recreated", cases[k].what);
            ck_assert_str_eq(image_of(&w, "orders-1"), "apache/kafka:3.9.0");
            ck_assert_int_eq(out.actions, 1);
        }
        /* nothing else changed: the others untouched, no update, no eviction, same record */
        ck_assert_str_eq(fa_mstr(fa_get_obj(&w.f, &KUBE_PODS, NS, "orders-0"), "uid"), uid0);
        ck_assert_str_eq(fa_mstr(fa_get_obj(&w.f, &KUBE_PODS, NS, "orders-2"), "uid"), uid2);
        ck_assert_int_eq(calls_since(&w, c0, "update", NULL), 0);
        ck_assert_int_eq(calls_since(&w, c0, "evict", NULL) + calls_since(&w, c0, "delete", NULL),
                         0);
        ck_assert_str_eq(recorded_spec(&w), rec_before);
        ck_assert_int_le(w.f.writes - writes, 2); /* the pod and the status */
        /* status: the spec is wrong, and says what ballast still does */
        ck_assert_str_eq(cond(psc_obj(&w), "Degraded", "status"), "True");
        ck_assert_str_eq(cond(psc_obj(&w), "Degraded", "reason"), "InvalidSpec");
        const char *msg = cond(psc_obj(&w), "Degraded", "message");
        ck_assert_msg(strstr(msg, cases[k].cause) != NULL, "%s: %s", cases[k].what, msg);
        if (!cases[k].paused)
            ck_assert_msg(strstr(msg, "last spec it accepted") != NULL, "%s", msg);
        ck_assert_str_eq(cond(psc_obj(&w), "Ready", "reason"), "InvalidSpec");
        const cJSON *og = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(psc_obj(&w), "status"), "observedGeneration");
        ck_assert_int_eq((int)og->valuedouble, cases[k].paused ? 4 : 3);
        /* once the new pod is Ready and that is written, nothing more is written */
        pass(&w, &out);
        writes = w.f.writes;
        pass(&w, &out);
        ck_assert_msg(w.f.writes == writes, "%s: %d writes in a steady invalid state",
                      cases[k].what, w.f.writes - writes);
        fa_free(&w.f);
    }
}
END_TEST

/* A PSC that was never valid has no record: its status says why, nothing is created. */
START_TEST(test_never_valid_creates_nothing)
{
    struct world w;
    world_init(&w, PSC_JSON);
    edit_spec(&w, "storage", "{\"size\":\"lots\"}");
    struct ctl_outcome out;
    pass(&w, &out);
    pass(&w, &out);
    for (int i = 0; i < w.f.n; i++)
        ck_assert_msg(w.f.objs[i].res == &KUBE_PSCS, "%s %s created", w.f.objs[i].res->resource,
                      w.f.objs[i].name);
    ck_assert_str_eq(cond(psc_obj(&w), "Degraded", "reason"), "InvalidSpec");
    ck_assert_ptr_nonnull(strstr(cond(psc_obj(&w), "Degraded", "message"), "spec.storage.size"));
    fa_free(&w.f);
}
END_TEST

/* ---- a pass's writes until a view shows them ---- */

static const struct kube_res *wrote_res(int kind)
{
    return kind < 0 ? &KUBE_PSCS : act_resource((enum plan_kind)kind);
}

static void keep_write(void *ud, const struct act_wrote *w)
{
    ck_assert_int_eq(expect_add(ud, w->psc ? -1 : (int)w->kind, w, 0), 0);
}

/* A view of the objects in a struct fa: the fake itself (fresh), or a copy from before. */
static int look_fa(void *ud, int kind, const char *ns, const char *name, struct expect_seen *out)
{
    expect_seen_of(fa_get_obj(ud, wrote_res(kind), ns, name), out);
    return 0;
}

static void snapshot(struct fa *dst, const struct fa *src)
{
    memset(dst, 0, sizeof *dst);
    for (int i = 0; i < src->n; i++) {
        dst->objs[i] = src->objs[i];
        dst->objs[i].obj = cJSON_Duplicate(src->objs[i].obj, true);
    }
    dst->n = src->n;
}

static struct fa before; /* static: a struct fa is large */

START_TEST(test_a_lagging_view_does_not_show_the_pass)
{
    struct world w;
    world_init(&w, PSC_JSON);
    struct expect_list l = {0};
    char what[300];

    /* creation: every object the pass created is missing from the view it planned from */
    snapshot(&before, &w.f);
    struct ctl_outcome out;
    ck_assert_int_eq(pass_with(&w, &out, keep_write, &l), 0);
    ck_assert_int_gt(out.writes, 0);
    int kept = l.n;
    ck_assert_int_ge(kept, 3 * 2 + 1); /* pods and volumes of 3 members, and more */
    ck_assert_int_eq(expect_prune(&l, look_fa, &before, what, sizeof what), kept);
    ck_assert_str_eq(what, "PhysicalStatefulCluster streaming/orders updated"); /* the last */
    fa_load(&before, &KUBE_PSCS, NS, psc_obj(&w));
    ck_assert_int_eq(expect_prune(&l, look_fa, &before, what, sizeof what), kept - 1);
    ck_assert_msg(strstr(what, " created") != NULL, "%s", what);
    fa_free(&before);
    ck_assert_int_eq(expect_prune(&l, look_fa, &w.f, what, sizeof what), 0);
    ck_assert_str_eq(what, "");
    converge(&w);

    /* a restart: the evicted pod still stands unrestarted in the old view; the PSC there
     * has the status from before the pass */
    w.f.pods_linger = true;
    cJSON *md = cJSON_GetObjectItemCaseSensitive(psc_obj(&w), "metadata");
    cJSON_AddItemToObject(cJSON_AddObjectToObject(md, "annotations"), "ballast.dev/restart",
                          cJSON_CreateString("r1"));
    snapshot(&before, &w.f);
    int evictions = w.f.evictions;
    ck_assert_int_eq(pass_with(&w, &out, keep_write, &l), 0);
    ck_assert_int_eq(w.f.evictions, evictions + 1);
    ck_assert_int_eq(l.n, 2); /* the eviction and the status (Rolling) */
    ck_assert_int_eq(expect_prune(&l, look_fa, &before, what, sizeof what), 2);
    /* only the status has come back: the pod still does not look evicted */
    fa_load(&before, &KUBE_PSCS, NS, psc_obj(&w));
    ck_assert_int_eq(expect_prune(&l, look_fa, &before, what, sizeof what), 1);
    ck_assert_str_eq(what, "Pod streaming/orders-0 deleted");
    fa_free(&before);
    /* the pod terminating (pods_linger), or gone, or replaced by a new uid shows it */
    ck_assert_int_eq(expect_prune(&l, look_fa, &w.f, what, sizeof what), 0);
    expect_clear(&l);
    fa_free(&w.f);
}
END_TEST

/* Each kind of write against what a view may hold under its name. */
START_TEST(test_shown_table)
{
    const char *olds[] = {"7", "9"};
    struct act_wrote cr = {.op = ACT_WROTE_CREATED, .ns = NS, .name = "x"};
    struct act_wrote up = {
        .op = ACT_WROTE_UPDATED, .ns = NS, .name = "x", .old_rv = {olds[0], olds[1]}, .nold = 2};
    struct act_wrote up0 = {.op = ACT_WROTE_UPDATED, .ns = NS, .name = "x"};
    struct act_wrote del = {.op = ACT_WROTE_DELETED, .ns = NS, .name = "x", .uid = "u1"};
    struct act_wrote delany = {.op = ACT_WROTE_DELETED, .ns = NS, .name = "x"};
    struct {
        const struct act_wrote *w;
        struct expect_seen s;
        bool shown;
    } t[] = {
        {&cr, {.present = false}, false},
        {&cr, {.present = true, .uid = "u1", .rv = "3"}, true},
        {&up, {.present = true, .rv = "7"}, false},
        {&up, {.present = true, .rv = "9"}, false}, /* written over after a 409 re-read */
        {&up, {.present = true, .rv = "10"}, true},
        {&up, {.present = true, .rv = ""}, true},
        {&up, {.present = false}, true},            /* deleted since */
        {&up0, {.present = true, .rv = "7"}, true}, /* nothing known to wait for */
        {&del, {.present = true, .uid = "u1"}, false},
        {&del, {.present = true, .uid = "u1", .terminating = true}, true},
        {&del, {.present = true, .uid = "u2"}, true}, /* replaced */
        {&del, {.present = false}, true},
        {&delany, {.present = true, .uid = "u2"}, false},
        {&delany, {.present = true, .uid = "u2", .terminating = true}, true},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        ck_assert_msg(expect_shown(t[i].w, &t[i].s) == t[i].shown, "row %zu", i);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ctl_reconcile");
    TCase *tc = tcase_create("accepted_spec");
    tcase_add_test(tc, test_accepted_spec_recorded);
    tcase_add_test(tc, test_invalid_spec_recreates_missing_member);
    tcase_add_test(tc, test_never_valid_creates_nothing);
    suite_add_tcase(s, tc);
    TCase *tx = tcase_create("expect");
    tcase_add_test(tx, test_a_lagging_view_does_not_show_the_pass);
    tcase_add_test(tx, test_shown_table);
    suite_add_tcase(s, tx);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
