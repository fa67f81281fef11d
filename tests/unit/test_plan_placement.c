/* test_plan_placement.c — where members live: round-robin for new members, the zone
 * read back from the PVC for life (operator restart, zone list edit), missing pods
 * and PVCs recreated in place, and specs only the observed world can refuse. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "plan/testkit.h"

static const char *const ZONES3[] = {"zone-a", "zone-b", "zone-c", NULL};
static const char *const ZONES4[] = {"zone-a", "zone-b", "zone-c", "zone-d", NULL};

/* Member i of a fresh cluster lands in zone i mod nzones, for 1..12 members, 1..4 zones. */
START_TEST(test_place_new_round_robin)
{
    static const char *const all[] = {"z1", "z2", "z3", "z4"};
    for (int nz = 1; nz <= 4; nz++) {
        for (int n = 1; n <= 12; n++) {
            const char *mz[12] = {0};
            struct err e = {0};
            ck_assert_int_eq(plan_place_new(mz, n, all, nz, &e), 0);
            for (int i = 0; i < n; i++)
                ck_assert_msg(strcmp(mz[i], all[i % nz]) == 0, "n=%d nz=%d member %d in %s", n, nz,
                              i, mz[i]);
        }
    }
}
END_TEST

/* Members that already have a zone count toward it; new ones fill the emptiest zone. */
START_TEST(test_place_new_fills_emptiest)
{
    static const char *const zones[] = {"a", "b", "c"};
    static const struct {
        const char *in[6];
        const char *want[6];
        int n;
    } cases[] = {
        {{"c", "c", NULL, NULL}, {"c", "c", "a", "b"}, 4},
        {{NULL, "a", "a", NULL, NULL}, {"b", "a", "a", "c", "b"}, 5},
        {{"x", NULL, NULL}, {"x", "a", "b"}, 3}, /* a zone no longer listed keeps its member */
        {{"b", "b", "b", NULL, NULL, NULL}, {"b", "b", "b", "a", "c", "a"}, 6},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const char *mz[6];
        memcpy(mz, cases[k].in, sizeof mz);
        struct err e = {0};
        ck_assert_int_eq(plan_place_new(mz, cases[k].n, zones, 3, &e), 0);
        for (int i = 0; i < cases[k].n; i++)
            ck_assert_msg(strcmp(mz[i], cases[k].want[i]) == 0, "case %zu member %d: %s", k, i,
                          mz[i]);
    }
    const char *mz[1] = {NULL};
    struct err e = {0};
    ck_assert_int_eq(plan_place_new(mz, 1, zones, 0, &e), ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(e.msg, "spec.zones"));
}
END_TEST

/* Zone order: spec.zones as written, else the sorted unique zones of schedulable nodes. */
START_TEST(test_zone_order)
{
    struct tk t;
    tk_init(&t, 3, NULL);
    struct plan_node nodes[] = {{"n1", "zone-c", true}, {"n2", "zone-a", true},
                                {"n3", "zone-c", true}, {"n4", "zone-b", false},
                                {"n5", NULL, true},     {"n6", "zone-b", true}};
    const char **z = NULL;
    int nz = 0;
    struct err e = {0};
    ck_assert_int_eq(plan_zone_order(&t.psc, nodes, 6, NULL, 0, &z, &nz, NULL, 0, &e), 0);
    ck_assert_int_eq(nz, 3);
    ck_assert_str_eq(z[0], "zone-a");
    ck_assert_str_eq(z[1], "zone-b");
    ck_assert_str_eq(z[2], "zone-c");
    free(z);
    static const char *const want[] = {"zone-c", "zone-a", NULL};
    tk_set_zones(&t, want);
    ck_assert_int_eq(plan_zone_order(&t.psc, nodes, 6, NULL, 0, &z, &nz, NULL, 0, &e), 0);
    ck_assert_int_eq(nz, 2);
    ck_assert_str_eq(z[0], "zone-c");
    ck_assert_str_eq(z[1], "zone-a");
    free(z);
    static const char *const bad[] = {"zone-a", "zone-x", NULL};
    tk_set_zones(&t, bad);
    ck_assert_int_eq(plan_zone_order(&t.psc, nodes, 6, NULL, 0, &z, &nz, NULL, 0, &e), ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(e.msg, "zone-x"));
    ck_assert_ptr_null(z);
    tk_free(&t);
}
END_TEST

/* End to end through plan_compute: 1..12 members over 1..4 zones converge to
 * round-robin PVC labels, pod affinities and status placement. */
START_TEST(test_placement_end_to_end)
{
    static const char *const names[] = {"zone-a", "zone-b", "zone-c", "zone-d"};
    for (int nz = 1; nz <= 4; nz++) {
        for (int n = 1; n <= 12; n++) {
            const char *zones[5] = {0};
            for (int z = 0; z < nz; z++)
                zones[z] = names[z];
            struct tk t;
            tk_init(&t, n, zones);
            tk_health_all(&t, n, 0, 0);
            int passes = tk_converge(&t, 8);
            ck_assert_msg(passes > 0 && passes <= 8, "n=%d nz=%d did not converge", n, nz);
            ck_assert_int_eq(t.pods.n, n);
            for (int i = 0; i < n; i++) {
                const char *z = tk_pvc_zone(&t, i);
                ck_assert_msg(z && strcmp(z, names[i % nz]) == 0, "n=%d nz=%d member %d", n, nz, i);
                char pod[32];
                snprintf(pod, sizeof pod, "orders-%d", i);
                cJSON *p = tk_get(&t, PLAN_POD, pod);
                cJSON *v = cJSON_GetArrayItem(
                    cJSON_GetObjectItemCaseSensitive(
                        cJSON_GetArrayItem(
                            cJSON_GetObjectItemCaseSensitive(
                                cJSON_GetArrayItem(
                                    cJSON_GetObjectItemCaseSensitive(
                                        cJSON_GetObjectItemCaseSensitive(
                                            cJSON_GetObjectItemCaseSensitive(
                                                cJSON_GetObjectItemCaseSensitive(
                                                    cJSON_GetObjectItemCaseSensitive(p, "spec"),
                                                    "affinity"),
                                                "nodeAffinity"),
                                            "requiredDuringSchedulingIgnoredDuringExecution"),
                                        "nodeSelectorTerms"),
                                    0),
                                "matchExpressions"),
                            0),
                        "values"),
                    0);
                ck_assert_str_eq(v->valuestring, names[i % nz]);
            }
            /* status placement: zone -> pods in ordinal order */
            cJSON *pl = cJSON_GetObjectItemCaseSensitive(t.psc.status, "placement");
            ck_assert_int_eq(cJSON_GetArraySize(pl), n < nz ? n : nz);
            cJSON *a = cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(pl, "zone-a"), "pods");
            for (int k = 0; k < cJSON_GetArraySize(a); k++) {
                char want[32];
                snprintf(want, sizeof want, "orders-%d", k * nz);
                ck_assert_str_eq(cJSON_GetArrayItem(a, k)->valuestring, want);
            }
            tk_free(&t);
        }
    }
}
END_TEST

/* A new operator with no memory sees PVCs in an uneven layout: every member keeps the
 * zone on its PVC, and the one new member goes to the emptiest zone. */
START_TEST(test_operator_restart_reads_zones_back)
{
    struct tk t;
    tk_init(&t, 4, ZONES3);
    static const char *const layout[] = {"zone-c", "zone-c", "zone-a"};
    for (int i = 0; i < 3; i++) {
        char buf[512];
        snprintf(buf, sizeof buf,
                 "{\"apiVersion\":\"v1\",\"kind\":\"PersistentVolumeClaim\",\"metadata\":{\"name\":"
                 "\"data-orders-%d\",\"namespace\":\"streaming\",\"labels\":{\"topology."
                 "kubernetes.io/zone\":\"%s\"}},\"spec\":{\"resources\":{\"requests\":{"
                 "\"storage\":\"100Gi\"}}}}",
                 i, layout[i]);
        tk_store(&t, PLAN_PVC, cJSON_Parse(buf));
    }
    tk_health_all(&t, 4, 0, 0);
    ck_assert_int_eq(tk_plan(&t), 0);
    /* PVCs are updated (ballast's labels) but keep their zone label */
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "data-orders-%d", i);
        const struct plan_action *a = tk_action(t.plan, PLAN_UPDATE, PLAN_PVC, name);
        ck_assert_ptr_nonnull(a);
        cJSON *z = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(a->object, "metadata"), "labels"),
            PSC_LABEL_ZONE);
        ck_assert_str_eq(z->valuestring, layout[i]);
    }
    const struct plan_action *a = tk_action(t.plan, PLAN_CREATE, PLAN_PVC, "data-orders-3");
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(tk_converge(&t, 8) <= 8, 1);
    ck_assert_str_eq(tk_pvc_zone(&t, 0), "zone-c");
    ck_assert_str_eq(tk_pvc_zone(&t, 1), "zone-c");
    ck_assert_str_eq(tk_pvc_zone(&t, 2), "zone-a");
    ck_assert_str_eq(tk_pvc_zone(&t, 3), "zone-b");
    tk_free(&t);
}
END_TEST

/* Editing the zone list moves nobody; new members use the new list. */
START_TEST(test_zone_list_edit_keeps_members)
{
    struct tk t;
    tk_init(&t, 3, ZONES4);
    static const char *const abc[] = {"zone-a", "zone-b", "zone-c", NULL};
    tk_set_zones(&t, abc);
    tk_health_all(&t, 5, 0, 0);
    ck_assert_int_le(tk_converge(&t, 8), 8);
    static const char *const bcd[] = {"zone-b", "zone-c", "zone-d", NULL};
    tk_set_zones(&t, bcd);
    t.psc.spec.replicas = 5;
    t.psc.generation++;
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_int_eq(t.plan->restart.set, 0);
    ck_assert_int_eq(tk_count(t.plan, PLAN_DELETE, PLAN_POD), 0);
    ck_assert_int_le(tk_converge(&t, 8), 8);
    ck_assert_str_eq(tk_pvc_zone(&t, 0), "zone-a");
    ck_assert_str_eq(tk_pvc_zone(&t, 1), "zone-b");
    ck_assert_str_eq(tk_pvc_zone(&t, 2), "zone-c");
    ck_assert_str_eq(tk_pvc_zone(&t, 3), "zone-d"); /* the only empty listed zone */
    ck_assert_str_eq(tk_pvc_zone(&t, 4), "zone-b"); /* ties: list order */
    ck_assert_int_eq(t.pods.n, 5);
    tk_free(&t);
}
END_TEST

/* A member's pod vanished: recreated in its zone on its PVC, whatever the gates say. */
START_TEST(test_missing_pod_recreated_in_place)
{
    struct tk t;
    tk_init(&t, 3, ZONES3);
    tk_health_all(&t, 3, 0, 0);
    ck_assert_int_le(tk_converge(&t, 8), 8);
    tk_remove(&t, PLAN_POD, "orders-1");
    tk_health_all(&t, 3, 5, 0); /* every gate fails */
    t.health[1].scraped = false;
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_int_eq(t.plan->nactions, 1);
    const struct plan_action *a = tk_action(t.plan, PLAN_CREATE, PLAN_POD, "orders-1");
    ck_assert_ptr_nonnull(a);
    char *txt = cJSON_PrintUnformatted(a->object);
    ck_assert_ptr_nonnull(strstr(txt, "\"values\":[\"zone-b\"]"));
    ck_assert_ptr_nonnull(strstr(txt, "\"claimName\":\"data-orders-1\""));
    free(txt);
    ck_assert_int_ge(t.plan->nevents, 1);
    ck_assert_str_eq(t.plan->events[0].reason, "MemberRecreated");
    ck_assert_str_eq(tk_cond(t.plan->status, "Degraded", "reason"), "GateFailing");
    tk_free(&t);
}
END_TEST

/* A PVC vanished under a running pod: recreated with the zone the pod is pinned to. */
START_TEST(test_missing_pvc_recreated_in_zone)
{
    struct tk t;
    tk_init(&t, 3, ZONES3);
    tk_health_all(&t, 3, 0, 0);
    ck_assert_int_le(tk_converge(&t, 8), 8);
    tk_remove(&t, PLAN_PVC, "data-orders-0");
    static const char *const bc[] = {"zone-b", "zone-c", NULL};
    tk_set_zones(&t, bc); /* zone-a left the list: the pod's zone still wins */
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_int_eq(t.plan->nactions, 1);
    const struct plan_action *a = tk_action(t.plan, PLAN_CREATE, PLAN_PVC, "data-orders-0");
    ck_assert_ptr_nonnull(a);
    tk_apply(&t);
    ck_assert_str_eq(tk_pvc_zone(&t, 0), "zone-a");
    tk_free(&t);
}
END_TEST

enum bad { BAD_ZONE, BAD_TOO_MANY_ZONES, BAD_SHRINK, BAD_NO_ZONES, BAD_REPLICAS, BAD_NAME };

/* Specs the schema cannot refuse give Degraded=InvalidSpec, an actionable message and
 * not a single action, on a fresh and on a running cluster. */
START_TEST(test_invalid_specs)
{
    static const struct {
        enum bad kind;
        const char *needle;
    } cases[] = {
        {BAD_ZONE, "zone-x"},
        {BAD_TOO_MANY_ZONES, "zone-d"},
        {BAD_SHRINK, "cannot shrink"},
        {BAD_NO_ZONES, "label the nodes or set spec.zones"},
        {BAD_REPLICAS, "spec.replicas"},
        {BAD_NAME, "54 characters"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        for (int running = 0; running <= 1; running++) {
            struct tk t;
            tk_init(&t, 3, ZONES3);
            tk_health_all(&t, 3, 0, 0);
            if (running)
                ck_assert_int_le(tk_converge(&t, 8), 8);
            static const char *const badz[] = {"zone-a", "zone-x", NULL};
            static const char *const four[] = {"zone-a", "zone-b", "zone-c", "zone-d", NULL};
            switch (cases[k].kind) {
            case BAD_ZONE:
                tk_set_zones(&t, badz);
                break;
            case BAD_TOO_MANY_ZONES:
                tk_set_zones(&t, four);
                break;
            case BAD_SHRINK:
                if (!running)
                    tk_store(&t, PLAN_PVC,
                             cJSON_Parse("{\"metadata\":{\"name\":\"data-orders-0\"},\"spec\":{"
                                         "\"resources\":{\"requests\":{\"storage\":\"100Gi\"}}}}"));
                free(t.psc.spec.storage_size);
                t.psc.spec.storage_size = strdup("50Gi");
                t.psc.spec.storage_bytes = 50LL << 30;
                break;
            case BAD_NO_ZONES:
                if (running)
                    t.psc.spec.replicas = 4; /* only a new member needs a zone */
                for (int i = 0; i < t.nnodes; i++)
                    t.nodes[i].zone = NULL;
                break;
            case BAD_REPLICAS:
                t.psc.spec.replicas = running ? PLAN_MAX_REPLICAS + 1 : 0;
                break;
            case BAD_NAME:
                free(t.psc.name);
                t.psc.name = strdup("a-very-long-cluster-name-that-does-not-fit-in-a-dns-lbl");
                break;
            }
            t.psc.generation++;
            ck_assert_int_eq(tk_plan(&t), 0);
            ck_assert_msg(t.plan->nactions == 0, "case %zu running=%d: %d actions", k, running,
                          t.plan->nactions);
            ck_assert_int_eq(t.plan->restart.set, 0);
            ck_assert_str_eq(tk_cond(t.plan->status, "Degraded", "status"), "True");
            ck_assert_str_eq(tk_cond(t.plan->status, "Degraded", "reason"), "InvalidSpec");
            const char *msg = tk_cond(t.plan->status, "Degraded", "message");
            ck_assert_msg(strstr(msg, cases[k].needle) != NULL, "case %zu: %s", k, msg);
            ck_assert_str_eq(tk_cond(t.plan->status, "Ready", "status"), "False");
            ck_assert_int_eq(t.plan->status_changed, 1);
            ck_assert_int_ge(t.plan->nevents, 1);
            ck_assert_int_eq(t.plan->events[t.plan->nevents - 1].type, PLAN_EVENT_WARNING);
            tk_free(&t);
        }
    }
}
END_TEST

/* A spec.zones entry whose nodes are all cordoned is not invalid: only "no node at all". */
START_TEST(test_cordoned_zone_is_valid)
{
    struct tk t;
    tk_init(&t, 3, ZONES3);
    tk_set_zones(&t, ZONES3);
    tk_health_all(&t, 3, 0, 0);
    t.nodes[2].schedulable = false;
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_int_gt(t.plan->nactions, 0);
    ck_assert_str_eq(tk_cond(t.plan->status, "Degraded", "status"), "False");
    tk_free(&t);
}
END_TEST

/* A requested zone that loses its nodes while members live there is an outage, not a
 * typo: Degraded says ZoneUnavailable, the other zones are still tended (a pod lost in a
 * healthy zone is recreated), and the members of the lost zone keep their zone. */
START_TEST(test_zone_outage_keeps_acting)
{
    struct tk t;
    tk_init(&t, 6, ZONES3);
    tk_set_zones(&t, ZONES3);
    tk_health_all(&t, 6, 0, 0);
    ck_assert_int_le(tk_converge(&t, 8), 8);
    /* zone-c's only node goes away; a pod in zone-a is lost too */
    t.nnodes = 2;
    tk_remove(&t, PLAN_POD, "orders-0");
    tk_remove(&t, PLAN_POD, "orders-2");
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_str_eq(tk_cond(t.plan->status, "Degraded", "status"), "True");
    ck_assert_str_eq(tk_cond(t.plan->status, "Degraded", "reason"), "ZoneUnavailable");
    ck_assert_ptr_nonnull(strstr(tk_cond(t.plan->status, "Degraded", "message"), "zone-c"));
    ck_assert_ptr_nonnull(tk_action(t.plan, PLAN_CREATE, PLAN_POD, "orders-0"));
    /* orders-2's pod is recreated pinned to zone-c, where its volume is: it waits there */
    const struct plan_action *a = tk_action(t.plan, PLAN_CREATE, PLAN_POD, "orders-2");
    ck_assert_ptr_nonnull(a);
    char *pod = cJSON_PrintUnformatted(a->object);
    ck_assert_ptr_nonnull(strstr(pod, "\"values\":[\"zone-c\"]"));
    free(pod);
    ck_assert_str_eq(tk_pvc_zone(&t, 2), "zone-c");
    /* a new member goes to the zones that have nodes */
    tk_apply(&t);
    t.psc.spec.replicas = 7;
    ck_assert_int_eq(tk_plan(&t), 0);
    const struct plan_action *pvc = tk_action(t.plan, PLAN_CREATE, PLAN_PVC, "data-orders-6");
    ck_assert_ptr_nonnull(pvc);
    const cJSON *zl = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(pvc->object, "metadata"),
                                         "labels"),
        PSC_LABEL_ZONE);
    ck_assert_str_ne(zl->valuestring, "zone-c");
    /* a zone nobody lives in and no node carries is still a typo */
    static const char *const typo[] = {"zone-a", "zone-b", "zone-c", "zone-x", NULL};
    tk_set_zones(&t, typo);
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_str_eq(tk_cond(t.plan->status, "Degraded", "reason"), "InvalidSpec");
    ck_assert_int_eq(t.plan->nactions, 0);
    tk_free(&t);
}
END_TEST

/* Garbage children never crash the planner: they are ignored or treated as absent. */
START_TEST(test_garbage_children)
{
    static const char *const junk[] = {
        "{}",
        "[]",
        "null",
        "{\"metadata\":5}",
        "{\"metadata\":{\"name\":7}}",
        "{\"metadata\":{\"name\":\"orders-\"}}",
        "{\"metadata\":{\"name\":\"orders-01\"}}",
        "{\"metadata\":{\"name\":\"orders-99999999\"}}",
        "{\"metadata\":{\"name\":\"orders-1\",\"labels\":[1]},\"spec\":\"x\",\"status\":3}",
        "{\"metadata\":{\"name\":\"data-orders-0\",\"labels\":{\"topology.kubernetes.io/"
        "zone\":5}},\"spec\":{\"resources\":{\"requests\":{\"storage\":\"lots\"}}}}",
    };
    for (size_t k = 0; k < sizeof junk / sizeof junk[0]; k++) {
        struct tk t;
        tk_init(&t, 3, ZONES3);
        for (enum plan_kind kind = PLAN_CONFIGMAP; kind <= PLAN_POD; kind++) {
            struct tk_list *l = tk_list_for(&t, kind);
            l->items[l->n++] = cJSON_Parse(junk[k]);
        }
        ck_assert_int_eq(tk_plan(&t), 0);
        ck_assert_ptr_nonnull(t.plan->status);
        tk_free(&t);
    }
    struct plan *p = NULL;
    struct err e = {0};
    ck_assert_int_eq(plan_compute(NULL, &p, &e), ERR_INVALID);
    struct plan_input in = {0};
    ck_assert_int_eq(plan_compute(&in, &p, &e), ERR_INVALID);
    ck_assert_ptr_null(p);
    /* a scraped member without gate readings is the caller's bug: refused, named */
    struct tk t;
    tk_init(&t, 3, ZONES3);
    tk_health_all(&t, 3, 0, 0);
    t.health[1].gates = NULL;
    in = tk_input(&t);
    ck_assert_int_eq(plan_compute(&in, &p, &e), ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(e.msg, "member 1"));
    in.npods = 2; /* a count without an array */
    in.pods = NULL;
    t.health[1].gates = t.gates[1];
    in = tk_input(&t);
    in.npods = 2;
    in.pods = NULL;
    ck_assert_int_eq(plan_compute(&in, &p, &e), ERR_INVALID);
    ck_assert_ptr_null(p);
    tk_free(&t);
}
END_TEST

/* Pick a random non-root node of a tree and its parent, so any field can be damaged. */
static cJSON *random_node(cJSON *root, cJSON **parent, unsigned *seed)
{
    cJSON *pick = NULL;
    int seen = 0;
    cJSON *stack[256];
    int sp = 0;
    stack[sp++] = root;
    while (sp > 0) {
        cJSON *n = stack[--sp];
        for (cJSON *c = n->child; c != NULL && sp < 256; c = c->next) {
            if (rand_r(seed) % ++seen == 0) {
                pick = c;
                *parent = n;
            }
            stack[sp++] = c;
        }
    }
    return pick;
}

/* Observed objects damaged at random (any field replaced by any type) never crash the
 * planner, and it still returns a status. Fixed seed: reproducible. */
START_TEST(test_fuzz_observed_objects)
{
    unsigned seed = 12345;
    for (int iter = 0; iter < 150; iter++) {
        struct tk t;
        tk_init(&t, 3, ZONES3);
        tk_health_all(&t, 3, 0, 0);
        ck_assert_int_le(tk_converge(&t, 8), 8);
        if (iter % 3 == 0)
            tk_set_image(&t, "apache/kafka:9");
        for (int damage = 0; damage < 4; damage++) {
            struct tk_list *lists[] = {&t.pods, &t.pvcs, &t.svcs, &t.cms, &t.pdbs};
            struct tk_list *l = lists[rand_r(&seed) % 5];
            if (l->n == 0)
                continue;
            cJSON *root = l->items[rand_r(&seed) % l->n];
            cJSON *parent = NULL;
            cJSON *n = random_node(root, &parent, &seed);
            if (n == NULL)
                continue;
            cJSON *repl;
            switch (rand_r(&seed) % 5) {
            case 0:
                repl = cJSON_CreateNumber(-1);
                break;
            case 1:
                repl = cJSON_CreateString("");
                break;
            case 2:
                repl = cJSON_CreateArray();
                break;
            case 3:
                repl = cJSON_CreateNull();
                break;
            default:
                repl = cJSON_CreateObject();
                break;
            }
            if (n->string != NULL)
                repl->string = strdup(n->string);
            ck_assert(cJSON_ReplaceItemViaPointer(parent, n, repl));
        }
        if (iter % 2 == 0)
            t.health[iter % 3].scraped = false;
        ck_assert_int_eq(tk_plan(&t), 0);
        ck_assert_ptr_nonnull(t.plan->status);
        ck_assert_int_le(t.plan->restart.set, 1);
        tk_apply(&t);
        ck_assert_int_eq(tk_plan(&t), 0);
        tk_free(&t);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("plan_placement");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_place_new_round_robin);
    tcase_add_test(tc, test_place_new_fills_emptiest);
    tcase_add_test(tc, test_zone_order);
    tcase_add_test(tc, test_placement_end_to_end);
    tcase_add_test(tc, test_operator_restart_reads_zones_back);
    tcase_add_test(tc, test_zone_list_edit_keeps_members);
    tcase_add_test(tc, test_missing_pod_recreated_in_place);
    tcase_add_test(tc, test_missing_pvc_recreated_in_zone);
    tcase_add_test(tc, test_invalid_specs);
    tcase_add_test(tc, test_cordoned_zone_is_valid);
    tcase_add_test(tc, test_zone_outage_keeps_acting);
    tcase_add_test(tc, test_garbage_children);
    tcase_add_test(tc, test_fuzz_observed_objects);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
