/* test_ctl_compact.c — what the caches drop (ctl/compact.c) changes no plan: children as the API
 * server sends them (managedFields, container statuses, host IPs ...) and the same children
 * compacted give the same actions, bodies, restart, status and events, in several states of a
 * cluster; and a node keeps only its name, zone and schedulability. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/compact.h"
#include "plan/testkit.h"

/* What the API server adds that ballast never reads. */
static void bloat(cJSON *obj, bool pod)
{
    cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    cJSON *mf = cJSON_Parse("[{\"manager\":\"kube-controller-manager\",\"operation\":\"Update\","
                            "\"apiVersion\":\"v1\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":"
                            "{\"f:metadata\":{\"f:labels\":{\".\":{}}},\"f:spec\":{}}}]");
    cJSON_AddItemToObject(md, "managedFields", mf);
    if (!pod)
        return;
    cJSON *st = cJSON_GetObjectItemCaseSensitive(obj, "status");
    if (st == NULL)
        st = cJSON_AddObjectToObject(obj, "status");
    cJSON_AddStringToObject(md, "generateName", "orders-");
    cJSON_AddStringToObject(md, "creationTimestamp", "2026-12-04T09:59:58Z");
    cJSON_AddItemToObject(md, "annotations",
                          cJSON_Parse("{\"kubectl.kubernetes.io/restartedAt\":\"x\"}"));
    cJSON *ref;
    cJSON_ArrayForEach(ref, cJSON_GetObjectItemCaseSensitive(md, "ownerReferences"))
    {
        cJSON_AddStringToObject(ref, "apiVersion", "ballast.dev/v1alpha1");
        cJSON_AddTrueToObject(ref, "blockOwnerDeletion");
    }
    cJSON *conds = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(obj, "status"),
                                                    "conditions");
    cJSON *k;
    cJSON_ArrayForEach(k, conds)
    {
        cJSON_AddNullToObject(k, "lastProbeTime");
        cJSON_AddStringToObject(k, "reason", "ContainersNotReady");
    }
    if (cJSON_IsArray(conds))
        cJSON_AddItemToArray(conds, cJSON_Parse("{\"type\":\"PodScheduled\",\"status\":"
                                                "\"True\",\"lastTransitionTime\":"
                                                "\"2026-12-04T09:59:58Z\"}"));
    cJSON_AddStringToObject(st, "hostIP", "10.0.0.7");
    cJSON_AddStringToObject(st, "qosClass", "Burstable");
    cJSON_AddStringToObject(st, "startTime", "2026-12-04T10:00:00Z");
    cJSON_AddItemToObject(st, "containerStatuses",
                          cJSON_Parse("[{\"name\":\"kafka\",\"ready\":true,\"restartCount\":2,"
                                      "\"image\":\"apache/kafka:3.9.0\",\"state\":{\"running\":"
                                      "{\"startedAt\":\"2026-12-04T10:00:01Z\"}}}]"));
}

/* The plan's outputs as one string, so two plans compare with strcmp. */
static char *plan_text(const struct plan *p)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *acts = cJSON_AddArrayToObject(o, "actions");
    for (int i = 0; i < p->nactions; i++) {
        const struct plan_action *a = &p->actions[i];
        cJSON *x = cJSON_CreateObject();
        cJSON_AddNumberToObject(x, "verb", a->verb);
        cJSON_AddNumberToObject(x, "kind", a->kind);
        cJSON_AddStringToObject(x, "name", a->name ? a->name : "");
        cJSON_AddStringToObject(x, "uid", a->uid ? a->uid : "");
        cJSON_AddStringToObject(x, "why", a->why ? a->why : "");
        cJSON_AddNumberToObject(x, "needs", a->needs);
        if (a->object)
            cJSON_AddItemToObject(x, "object", cJSON_Duplicate(a->object, true));
        cJSON_AddItemToArray(acts, x);
    }
    cJSON_AddBoolToObject(o, "restart", p->restart.set);
    if (p->restart.set) {
        cJSON_AddStringToObject(o, "restart_pod", p->restart.pod);
        cJSON_AddStringToObject(o, "restart_reason", p->restart.reason ? p->restart.reason : "");
    }
    cJSON_AddItemToObject(o, "status", cJSON_Duplicate(p->status, true));
    cJSON_AddBoolToObject(o, "status_changed", p->status_changed);
    cJSON_AddNumberToObject(o, "requeue_after", p->requeue_after);
    cJSON *ev = cJSON_AddArrayToObject(o, "events");
    for (int i = 0; i < p->nevents; i++)
        cJSON_AddItemToArray(ev, cJSON_CreateString(p->events[i].reason));
    cJSON_AddStringToObject(o, "invalid", p->invalid);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* Deep copies of one list, bloated, then compacted when asked. */
static void copy_list(const struct tk_list *from, cJSON **to, bool pod, void (*compact)(cJSON *))
{
    for (int i = 0; i < from->n; i++) {
        to[i] = cJSON_Duplicate(from->items[i], true);
        bloat(to[i], pod);
        if (compact)
            compact(to[i]);
    }
}

static char *plan_of(struct tk *t, bool compact)
{
    cJSON *pods[TK_MAX], *pvcs[TK_MAX], *svcs[TK_MAX], *cms[TK_MAX], *pdbs[TK_MAX];
    copy_list(&t->pods, pods, true, compact ? ctl_compact_pod : NULL);
    copy_list(&t->pvcs, pvcs, false, compact ? ctl_compact_child : NULL);
    copy_list(&t->svcs, svcs, false, compact ? ctl_compact_child : NULL);
    copy_list(&t->cms, cms, false, compact ? ctl_compact_configmap : NULL);
    copy_list(&t->pdbs, pdbs, false, compact ? ctl_compact_child : NULL);
    struct plan_input in = tk_input(t);
    in.pods = (const cJSON *const *)pods;
    in.pvcs = (const cJSON *const *)pvcs;
    in.services = (const cJSON *const *)svcs;
    in.configmaps = (const cJSON *const *)cms;
    in.pdbs = (const cJSON *const *)pdbs;
    struct plan *p = NULL;
    struct err e = {0};
    ck_assert_msg(plan_compute(&in, &p, &e) == 0, "plan_compute: %s", e.msg);
    char *s = plan_text(p);
    plan_free(p);
    for (int i = 0; i < t->pods.n; i++)
        cJSON_Delete(pods[i]);
    for (int i = 0; i < t->pvcs.n; i++)
        cJSON_Delete(pvcs[i]);
    for (int i = 0; i < t->svcs.n; i++)
        cJSON_Delete(svcs[i]);
    for (int i = 0; i < t->cms.n; i++)
        cJSON_Delete(cms[i]);
    for (int i = 0; i < t->pdbs.n; i++)
        cJSON_Delete(pdbs[i]);
    return s;
}

/* The update bodies of a plan from bloated children still carry the pods' spec, and
 * merged() drops managedFields and status: so full and compacted must be equal. */
static void expect_same_plan(struct tk *t, const char *state)
{
    char *full = plan_of(t, false), *compact = plan_of(t, true);
    ck_assert_msg(strcmp(full, compact) == 0, "%s: plans differ\nfull:    %s\ncompact: %s", state,
                  full, compact);
    free(full);
    free(compact);
}

static const char *const zones3[] = {"a", "b", "c", NULL};

START_TEST(test_same_plan_in_every_state)
{
    struct tk t;
    tk_init(&t, 3, zones3);
    tk_health_all(&t, 3, 0, 0);
    expect_same_plan(&t, "empty cluster");
    ck_assert_int_le(tk_converge(&t, 8), 8);
    expect_same_plan(&t, "converged");
    tk_pod_ready(&t, "orders-1", false);
    expect_same_plan(&t, "one member not Ready");
    tk_all_ready(&t);
    tk_roll_to(&t, "apache/kafka:3.9.1");
    expect_same_plan(&t, "roll starting");
    tk_health_all(&t, 3, 5, 0);
    expect_same_plan(&t, "roll blocked by a gate");
    tk_health_all(&t, 3, 0, 0);
    tk_remove(&t, PLAN_POD, "orders-2");
    expect_same_plan(&t, "a member missing");
    /* a Service drifted: the update body is built from the observed object */
    cJSON *svc = t.svcs.n > 0 ? t.svcs.items[0] : NULL;
    ck_assert_ptr_nonnull(svc);
    cJSON *md = cJSON_GetObjectItemCaseSensitive(svc, "metadata");
    cJSON_DeleteItemFromObjectCaseSensitive(md, "labels");
    cJSON_AddItemToObject(md, "labels", cJSON_Parse("{\"someone\":\"else\"}"));
    expect_same_plan(&t, "a Service lost its labels");
    t.psc.spec.replicas = 5;
    expect_same_plan(&t, "scaling up");
    tk_free(&t);
}
END_TEST

START_TEST(test_pod_keeps_what_is_read)
{
    cJSON *pod = cJSON_Parse(
        "{\"metadata\":{\"name\":\"orders-0\",\"namespace\":\"k\",\"uid\":\"u1\","
        "\"resourceVersion\":\"7\",\"generateName\":\"orders-\",\"annotations\":{\"a\":\"b\"},"
        "\"creationTimestamp\":\"2026-12-04T09:00:00Z\",\"ownerReferences\":[{\"apiVersion\":"
        "\"ballast.dev/v1alpha1\",\"kind\":\"PhysicalStatefulCluster\",\"name\":\"orders\","
        "\"uid\":\"p1\",\"controller\":true,\"blockOwnerDeletion\":true}],"
        "\"labels\":{\"x\":\"y\"},\"deletionTimestamp\":"
        "\"2026-12-04T10:00:00Z\",\"managedFields\":[{}]},\"spec\":{\"nodeName\":\"n1\","
        "\"containers\":[{\"name\":"
        "\"kafka\",\"image\":\"i\"}],\"affinity\":{\"nodeAffinity\":{\"x\":1},\"podAntiAffinity\":"
        "{}},\"volumes\":[{\"name\":\"data\",\"persistentVolumeClaim\":{\"claimName\":\"d\"}},"
        "{\"name\":\"config\",\"configMap\":{\"name\":\"c\",\"items\":[]}}]},"
        "\"status\":{\"phase\":\"Running\",\"podIP\":\"10.1.0.4\",\"hostIP\":\"10.0.0.1\","
        "\"conditions\":[{\"type\":\"Initialized\",\"status\":\"True\"},{\"type\":\"Ready\","
        "\"status\":\"True\",\"lastProbeTime\":null,\"lastTransitionTime\":\"2026-12-04T10:00:"
        "01Z\","
        "\"reason\":\"r\",\"message\":\"m\"},{\"type\":\"PodScheduled\",\"status\":\"True\"},"
        "{\"status\":\"True\"}],\"containerStatuses\":[{}]}}");
    ctl_compact_pod(pod);
    char *s = cJSON_PrintUnformatted(pod);
    ck_assert_str_eq(s, "{\"metadata\":{\"name\":\"orders-0\",\"namespace\":\"k\",\"uid\":"
                        "\"u1\",\"resourceVersion\":\"7\",\"ownerReferences\":[{\"kind\":"
                        "\"PhysicalStatefulCluster\",\"name\":\"orders\",\"uid\":\"p1\","
                        "\"controller\":true}],\"labels\":{\"x\":\"y\"},"
                        "\"deletionTimestamp\":\"2026-12-04T10:00:00Z\"},\"spec\":{\"affinity\":"
                        "{\"nodeAffinity\":{\"x\":1}},\"volumes\":[{\"name\":\"data\"},"
                        "{\"name\":\"config\",\"configMap\":{\"name\":\"c\"}}]},\"status\":{"
                        "\"phase\":\"Running\",\"podIP\":\"10.1.0.4\","
                        "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\","
                        "\"lastTransitionTime\":\"2026-12-04T10:00:01Z\"}]}}");
    free(s);
    cJSON_Delete(pod);
    /* anything odd is left alone, never a crash */
    ctl_compact_pod(NULL);
    ctl_compact_child(NULL);
    ctl_compact_node(NULL);
    ctl_compact_psc(NULL);
    cJSON *odd = cJSON_Parse("{\"metadata\":7,\"status\":[1]}");
    ctl_compact_pod(odd);
    ctl_compact_node(odd);
    cJSON_Delete(odd);
}
END_TEST

START_TEST(test_immutable_configmap_drops_data)
{
    cJSON *engine = cJSON_Parse("{\"metadata\":{\"name\":\"orders-config-1\",\"managedFields\":"
                                "[{}]},\"immutable\":true,\"data\":{\"server.properties\":\"x\"},"
                                "\"binaryData\":{\"b\":\"eA==\"}}");
    cJSON *accepted = cJSON_Parse("{\"metadata\":{\"name\":\"orders-accepted\"},\"data\":"
                                  "{\"spec\":\"{}\"}}");
    cJSON *mutable = cJSON_Parse("{\"metadata\":{\"name\":\"m\"},\"immutable\":false,\"data\":"
                                 "{\"k\":\"v\"}}");
    ctl_compact_configmap(engine);
    ctl_compact_configmap(accepted);
    ctl_compact_configmap(mutable);
    char *s[3] = {cJSON_PrintUnformatted(engine), cJSON_PrintUnformatted(accepted),
                  cJSON_PrintUnformatted(mutable)};
    ck_assert_str_eq(s[0], "{\"metadata\":{\"name\":\"orders-config-1\"},\"immutable\":true}");
    ck_assert_str_eq(s[1], "{\"metadata\":{\"name\":\"orders-accepted\"},\"data\":{\"spec\":"
                           "\"{}\"}}");
    ck_assert_str_eq(s[2], "{\"metadata\":{\"name\":\"m\"},\"immutable\":false,\"data\":{\"k\":"
                           "\"v\"}}");
    for (int i = 0; i < 3; i++)
        free(s[i]);
    cJSON_Delete(engine);
    cJSON_Delete(accepted);
    cJSON_Delete(mutable);
    ctl_compact_configmap(NULL);
}
END_TEST

START_TEST(test_node_is_name_and_zone)
{
    cJSON *node = cJSON_Parse(
        "{\"kind\":\"PartialObjectMetadata\",\"apiVersion\":\"meta.k8s.io/v1\",\"metadata\":"
        "{\"name\":\"n1\",\"uid\":\"u\",\"resourceVersion\":\"42\",\"creationTimestamp\":\"t\","
        "\"labels\":{\"topology.kubernetes.io/zone\":\"zone-a\",\"kubernetes.io/os\":\"linux\","
        "\"kubernetes.io/hostname\":\"n1\"},\"annotations\":{\"node.alpha/ttl\":\"0\"},"
        "\"managedFields\":[{}]},\"spec\":{\"unschedulable\":true,\"podCIDR\":\"10.0.0.0/24\"},"
        "\"status\":{\"capacity\":{}}}");
    ctl_compact_node(node);
    char *s = cJSON_PrintUnformatted(node);
    ck_assert_str_eq(s, "{\"kind\":\"PartialObjectMetadata\",\"apiVersion\":\"meta.k8s.io/v1\","
                        "\"metadata\":{\"name\":\"n1\",\"resourceVersion\":\"42\",\"labels\":"
                        "{\"topology.kubernetes.io/zone\":\"zone-a\"}},\"spec\":"
                        "{\"unschedulable\":true}}");
    free(s);
    cJSON_Delete(node);
}
END_TEST

START_TEST(test_psc_drops_managed_fields_and_last_applied)
{
    cJSON *psc = cJSON_Parse(
        "{\"metadata\":{\"name\":\"orders\",\"managedFields\":[{}],\"annotations\":{"
        "\"kubectl.kubernetes.io/last-applied-configuration\":\"{}\",\"ballast.dev/restart\":"
        "\"1\"}},\"spec\":{\"replicas\":3},\"status\":{\"replicas\":3}}");
    ctl_compact_psc(psc);
    char *s = cJSON_PrintUnformatted(psc);
    ck_assert_str_eq(s, "{\"metadata\":{\"name\":\"orders\",\"annotations\":{"
                        "\"ballast.dev/restart\":\"1\"}},\"spec\":{\"replicas\":3},\"status\":"
                        "{\"replicas\":3}}");
    free(s);
    cJSON_Delete(psc);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ctl_compact");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_same_plan_in_every_state);
    tcase_add_test(tc, test_pod_keeps_what_is_read);
    tcase_add_test(tc, test_immutable_configmap_drops_data);
    tcase_add_test(tc, test_node_is_name_and_zone);
    tcase_add_test(tc, test_psc_drops_managed_fields_and_last_applied);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
