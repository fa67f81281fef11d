/* test_act_execute.c — the executor against an in-memory API server (fakeapi.h): actions
 * are independent (a refused PVC resize never stops a missing pod from being recreated),
 * a failure shows as Degraded=True ActionFailed naming the object and the API's message
 * plus one Warning Event; a name taken by an object ballast does not own is NameConflict,
 * never adopted, and the member is not placed; restarts and removals are evictions, a
 * refused one (429) is a wait with a reason; leadership is asked before every write; and
 * status is written only when it changes. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "fakeapi.h"
#include "plan/testkit.h"

static const char *const ZONES3[] = {"zone-a", "zone-b", "zone-c", NULL};

static void converged(struct tk *t, int n)
{
    tk_init(t, n, ZONES3);
    tk_health_all(t, n, 0, 0);
    ck_assert_int_le(tk_converge(t, 8), 8);
}

/* The fake API server holds what the test kit's cluster holds, and the PSC. */
static void load_world(struct fa *f, struct tk *t)
{
    memset(f, 0, sizeof *f);
    struct tk_list *lists[] = {&t->pods, &t->pvcs, &t->svcs, &t->cms, &t->pdbs};
    const struct kube_res *res[] = {&KUBE_PODS, &KUBE_PVCS, &KUBE_SERVICES, &KUBE_CONFIGMAPS,
                                    &KUBE_PDBS};
    for (int l = 0; l < 5; l++)
        for (int i = 0; i < lists[l]->n; i++)
            fa_load(f, res[l], "streaming", lists[l]->items[i]);
    cJSON *psc = cJSON_Parse("{\"metadata\":{\"name\":\"orders\",\"namespace\":\"streaming\","
                             "\"generation\":1,\"resourceVersion\":\"7\"}}");
    if (t->psc.status != NULL)
        cJSON_AddItemToObject(psc, "status", cJSON_Duplicate(t->psc.status, true));
    fa_load(f, &KUBE_PSCS, "streaming", psc);
    cJSON_Delete(psc);
    free(t->psc.resource_version);
    t->psc.resource_version = strdup("7");
    t->psc.generation = 1;
}

/* The status the fake holds for the PSC becomes the PSC's status, as the next read. */
static void reread_status(struct fa *f, struct tk *t)
{
    cJSON *psc = fa_get_obj(f, &KUBE_PSCS, "streaming", "orders");
    cJSON_Delete(t->psc.status);
    t->psc.status = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(psc, "status"), true);
    free(t->psc.resource_version);
    t->psc.resource_version = strdup(fa_mstr(psc, "resourceVersion"));
}

static int refuse_pvc_update(struct fa *f, const char *verb, const struct kube_res *res,
                             const char *name, struct kube_resp *r)
{
    (void)f;
    if (strcmp(verb, "update") == 0 && res == &KUBE_PVCS) {
        fa_resp(r, 403, "Forbidden",
                "only dynamically provisioned pvc can be resized and the storageclass that "
                "provisions the pvc must support resize");
        (void)name;
        return ERR_API;
    }
    return 0;
}

/* Issue 11 #4: the PVC resize is refused, the missing pod is still recreated, status says
 * ActionFailed naming the object and the API's message, one Warning Event; the next pass
 * with the same failure writes neither status nor Event again. */
START_TEST(test_failed_action_does_not_stop_the_others)
{
    struct tk t;
    converged(&t, 3);
    struct fa f;
    t.psc.spec.storage_size = (free(t.psc.spec.storage_size), strdup("200Gi"));
    t.psc.spec.storage_bytes = 200LL << 30;
    tk_remove(&t, PLAN_POD, "orders-1");
    load_world(&f, &t);
    f.fault = refuse_pvc_update;
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_int_eq(tk_count(t.plan, PLAN_UPDATE, PLAN_PVC), 3);
    ck_assert_ptr_nonnull(tk_action(t.plan, PLAN_CREATE, PLAN_POD, "orders-1"));
    struct act_api api = fa_api(&f);
    struct act_result res;
    struct err e = {0};
    ck_assert_int_eq(act_execute(&api, &t.psc, t.plan, t.now, &res, &e), 0);
    ck_assert_int_eq(res.failed, 3);
    ck_assert_ptr_nonnull(fa_get_obj(&f, &KUBE_PODS, "streaming", "orders-1"));
    ck_assert(res.status_written);
    cJSON *st = cJSON_GetObjectItemCaseSensitive(fa_get_obj(&f, &KUBE_PSCS, "streaming", "orders"),
                                                 "status");
    ck_assert_str_eq(tk_cond(st, "Degraded", "status"), "True");
    ck_assert_str_eq(tk_cond(st, "Degraded", "reason"), "ActionFailed");
    const char *msg = tk_cond(st, "Degraded", "message");
    ck_assert_ptr_nonnull(strstr(msg, "PersistentVolumeClaim streaming/data-orders-0"));
    ck_assert_ptr_nonnull(strstr(msg, "only dynamically provisioned pvc"));
    ck_assert_int_ge(f.warnings, 1);
    ck_assert_ptr_nonnull(strstr(f.last_warning, "ActionFailed"));
    ck_assert_ptr_nonnull(strstr(res.failure, "data-orders-0"));
    /* next pass: same failure, nothing new to say */
    reread_status(&f, &t);
    tk_store(&t, PLAN_POD,
             cJSON_Duplicate(fa_get_obj(&f, &KUBE_PODS, "streaming", "orders-1"), true));
    tk_all_ready(&t);
    t.now += 30;
    int warnings = f.warnings;
    for (int pass = 0; pass < 3; pass++) {
        ck_assert_int_eq(tk_plan(&t), 0);
        int status_writes = f.status_writes;
        ck_assert_int_eq(act_execute(&api, &t.psc, t.plan, t.now, &res, &e), 0);
        ck_assert_int_eq(res.failed, 3);
        ck_assert_msg(f.warnings == warnings, "%s", f.last_warning);
        ck_assert_str_eq(tk_cond(cJSON_GetObjectItemCaseSensitive(
                                     fa_get_obj(&f, &KUBE_PSCS, "streaming", "orders"), "status"),
                                 "Degraded", "reason"),
                         "ActionFailed");
        if (pass > 0) /* once the pod's readiness is written, nothing changes any more */
            ck_assert_int_eq(f.status_writes, status_writes);
        reread_status(&f, &t);
        t.now += 30;
    }
    fa_free(&f);
    tk_free(&t);
}
END_TEST

/* Issue 11 #5: an unlabelled PVC has the member's volume name. ballast reports
 * NameConflict, never adopts it, never creates the pod (it would mount that volume in
 * whatever zone it is), asks for no hot requeue, and says it once. An object that is
 * ours in a stale cache is a plain conflict, and the pod goes ahead. */
START_TEST(test_name_conflict)
{
    struct tk t;
    converged(&t, 3);
    tk_remove(&t, PLAN_POD, "orders-1");
    tk_remove(&t, PLAN_PVC, "data-orders-1");
    struct fa f;
    load_world(&f, &t);
    cJSON *alien = cJSON_Parse("{\"metadata\":{\"name\":\"data-orders-1\",\"uid\":\"u-alien\","
                               "\"resourceVersion\":\"3\"},\"spec\":{}}");
    fa_load(&f, &KUBE_PVCS, "streaming", alien);
    struct act_api api = fa_api(&f);
    struct act_result res;
    struct err e = {0};
    for (int pass = 0; pass < 3; pass++) {
        ck_assert_int_eq(tk_plan(&t), 0);
        const struct plan_action *pod = tk_action(t.plan, PLAN_CREATE, PLAN_POD, "orders-1");
        ck_assert_ptr_nonnull(pod);
        ck_assert_int_gt(pod->needs, 0);
        ck_assert_int_eq(act_execute(&api, &t.psc, t.plan, t.now, &res, &e), 0);
        ck_assert_int_eq(res.name_conflicts, 1);
        ck_assert(!res.conflict);
        ck_assert(res.requeue_after == 0 || res.requeue_after >= 10);
        ck_assert_int_eq(fa_count(&f, "create", &KUBE_PODS, "orders-1"), 0);
        ck_assert_ptr_null(fa_label(fa_get_obj(&f, &KUBE_PVCS, "streaming", "data-orders-1"),
                                    PSC_LABEL_MANAGED_BY));
        reread_status(&f, &t);
        ck_assert_str_eq(tk_cond(t.psc.status, "Degraded", "reason"), "NameConflict");
        ck_assert_ptr_nonnull(
            strstr(tk_cond(t.psc.status, "Degraded", "message"), "data-orders-1"));
        t.now += 30;
    }
    ck_assert_int_eq(f.warnings, 1);
    ck_assert_int_eq(f.status_writes, 1);
    /* now ours (labelled), but not in the cache yet: the pod goes ahead */
    cJSON *ours = tk_get(&t, PLAN_PVC, "data-orders-0");
    cJSON *copy = cJSON_Duplicate(ours, true);
    cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(copy, "metadata"),
                                           "name", cJSON_CreateString("data-orders-1"));
    fa_load(&f, &KUBE_PVCS, "streaming", copy);
    cJSON_Delete(copy);
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_int_eq(act_execute(&api, &t.psc, t.plan, t.now, &res, &e), 0);
    ck_assert_int_eq(res.name_conflicts, 0);
    ck_assert(res.conflict);
    ck_assert_int_eq(fa_count(&f, "create", &KUBE_PODS, "orders-1"), 1);
    cJSON_Delete(alien);
    fa_free(&f);
    tk_free(&t);
}
END_TEST

/* Issue 11 #3: a restart is an eviction; a refused one (429) is a wait with a reason:
 * Rolling says EvictionRefused, no "MemberRestarting" Event, a requeue, nothing deleted. */
START_TEST(test_restart_is_an_eviction)
{
    struct tk t;
    converged(&t, 3);
    tk_set_image(&t, "apache/kafka:3.9.1");
    struct fa f;
    load_world(&f, &t);
    f.expected_members = 3;
    f.instance = "orders";
    /* someone else's drain holds the budget: orders-2 is not Ready in the API's eyes */
    cJSON *p2 = fa_get_obj(&f, &KUBE_PODS, "streaming", "orders-2");
    cJSON_DeleteItemFromObjectCaseSensitive(p2, "status");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(p2, "status"), "phase", "Pending");
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert(t.plan->restart.set);
    ck_assert_str_eq(t.plan->restart.pod, "orders-0");
    struct act_api api = fa_api(&f);
    struct act_result res;
    struct err e = {0};
    ck_assert_int_eq(act_execute(&api, &t.psc, t.plan, t.now, &res, &e), 0);
    ck_assert_int_eq(res.refused, 1);
    ck_assert_int_eq(fa_count(&f, "delete", &KUBE_PODS, NULL), 0);
    ck_assert_int_eq(fa_count(&f, "evict", &KUBE_PODS, "orders-0"), 1);
    ck_assert_ptr_nonnull(fa_get_obj(&f, &KUBE_PODS, "streaming", "orders-0"));
    ck_assert_int_gt(res.requeue_after, 0);
    ck_assert_int_le(res.requeue_after, 10);
    reread_status(&f, &t);
    ck_assert_str_eq(tk_cond(t.psc.status, "Rolling", "reason"), "EvictionRefused");
    ck_assert_ptr_nonnull(strstr(tk_cond(t.psc.status, "Rolling", "message"), "disruption"));
    ck_assert_str_ne(f.last_event_reason, "MemberRestarting");
    /* the budget frees up: the eviction goes through */
    tk_pod_ready(&t, "orders-2", true);
    fa_load(&f, &KUBE_PODS, "streaming", tk_get(&t, PLAN_POD, "orders-2"));
    t.now += 10;
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert(t.plan->restart.set);
    ck_assert_int_eq(act_execute(&api, &t.psc, t.plan, t.now, &res, &e), 0);
    ck_assert_int_eq(res.refused, 0);
    ck_assert_ptr_null(fa_get_obj(&f, &KUBE_PODS, "streaming", "orders-0"));
    ck_assert_int_eq(f.evictions, 1);
    fa_free(&f);
    tk_free(&t);
}
END_TEST

/* Leadership is asked before every write: lost after the first, nothing more is written,
 * and the pass says so. */
START_TEST(test_leadership_checked_before_every_write)
{
    struct tk t;
    converged(&t, 3);
    tk_remove(&t, PLAN_POD, "orders-0");
    tk_remove(&t, PLAN_POD, "orders-2");
    struct fa f;
    load_world(&f, &t);
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_int_eq(tk_count(t.plan, PLAN_CREATE, PLAN_POD), 2);
    f.leading_after = 1;
    struct act_api api = fa_api(&f);
    struct act_result res;
    struct err e = {0};
    ck_assert_int_eq(act_execute(&api, &t.psc, t.plan, t.now, &res, &e), ERR_CANCELLED);
    ck_assert(res.not_leading);
    ck_assert_int_eq(fa_count(&f, "create", &KUBE_PODS, NULL), 1);
    ck_assert_int_eq(f.status_writes, 0);
    ck_assert_int_eq(f.events, 0);
    fa_free(&f);
    tk_free(&t);
}
END_TEST

/* Issue 11 #6: the destructive call is asked for too. A roll's eviction when leadership went
 * away during the pass (the Lease's renew deadline passed): no eviction, no delete, no status. */
START_TEST(test_no_eviction_after_leadership_lost)
{
    struct tk t;
    converged(&t, 3);
    tk_set_image(&t, "apache/kafka:3.9.1");
    struct fa f;
    load_world(&f, &t);
    f.expected_members = 3;
    f.instance = "orders";
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert(t.plan->restart.set);
    /* every action before the restart may go out; the check right before it says no */
    if (t.plan->nactions > 0)
        f.leading_after = t.plan->nactions; /* yes that often, then no */
    else
        f.not_leading = true;
    struct act_api api = fa_api(&f);
    struct act_result res;
    struct err e = {0};
    ck_assert_int_eq(act_execute(&api, &t.psc, t.plan, t.now, &res, &e), ERR_CANCELLED);
    ck_assert(res.not_leading);
    ck_assert_int_eq(fa_count(&f, "evict", &KUBE_PODS, NULL), 0);
    ck_assert_int_eq(fa_count(&f, "delete", NULL, NULL), 0);
    ck_assert_int_eq(f.status_writes, 0);
    ck_assert_int_eq(f.leading_asked, t.plan->nactions + 1);
    fa_free(&f);
    tk_free(&t);
}
END_TEST

/* A status write that meets 409: retried on the new resourceVersion when only the
 * metadata moved, but never over a status written meanwhile (the previous pass's, which
 * a lagging cache did not show this one): that is newer knowledge (e.g. that a scale-up
 * is in progress), so the write stops, and the pass asks to be run again. */
START_TEST(test_status_conflict_keeps_newer_status)
{
    for (int newer = 0; newer <= 1; newer++) {
        struct tk t;
        converged(&t, 3);
        struct fa f;
        load_world(&f, &t);
        t.psc.spec.replicas = 5; /* the plan's status changes: Resizing ScalingUp */
        ck_assert_int_eq(tk_plan(&t), 0);
        ck_assert(t.plan->status_changed);
        cJSON *psc = fa_get_obj(&f, &KUBE_PSCS, "streaming", "orders");
        fa_set(fa_md(psc), "resourceVersion", "8"); /* the cache's "7" is stale */
        cJSON *there = cJSON_GetObjectItemCaseSensitive(psc, "status");
        if (newer)
            fa_set(there, "updateRevision", "written-meanwhile");
        struct act_api api = fa_api(&f);
        struct act_result res;
        struct err e = {0};
        ck_assert_int_eq(act_execute(&api, &t.psc, t.plan, t.now, &res, &e), 0);
        there = cJSON_GetObjectItemCaseSensitive(fa_get_obj(&f, &KUBE_PSCS, "streaming", "orders"),
                                                 "status");
        if (newer) {
            ck_assert_int_eq(f.status_writes, 1); /* the 409, then no retry */
            ck_assert(res.conflict);
            ck_assert_int_le(res.requeue_after, 1);
            ck_assert(!res.status_written);
            ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(there, "updateRevision")->valuestring,
                             "written-meanwhile");
        } else {
            ck_assert_int_eq(f.status_writes, 2); /* the 409, then the retry */
            ck_assert(res.status_written);
            ck_assert(!res.conflict);
            ck_assert(!act_status_differs(there, t.plan->status));
        }
        fa_free(&f);
        tk_free(&t);
    }
}
END_TEST

/* A steady cluster: no action, no status write, no Event. */
START_TEST(test_steady_writes_nothing)
{
    struct tk t;
    converged(&t, 3);
    struct fa f;
    load_world(&f, &t);
    t.now += 60;
    ck_assert_int_eq(tk_plan(&t), 0);
    struct act_api api = fa_api(&f);
    struct act_result res;
    struct err e = {0};
    ck_assert_int_eq(act_execute(&api, &t.psc, t.plan, t.now, &res, &e), 0);
    ck_assert_int_eq(res.writes, 0);
    ck_assert_int_eq(f.ncalls, 0);
    fa_free(&f);
    tk_free(&t);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("act_execute");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_failed_action_does_not_stop_the_others);
    tcase_add_test(tc, test_name_conflict);
    tcase_add_test(tc, test_restart_is_an_eviction);
    tcase_add_test(tc, test_no_eviction_after_leadership_lost);
    tcase_add_test(tc, test_leadership_checked_before_every_write);
    tcase_add_test(tc, test_steady_writes_nothing);
    tcase_add_test(tc, test_status_conflict_keeps_newer_status);
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
