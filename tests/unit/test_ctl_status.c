/* test_ctl_status.c — the status ballast writes when a PSC cannot even be parsed
 * (ctl_invalid_status): Ready=False and Degraded=True with reason InvalidSpec, the
 * transition time kept while nothing flips, and "changed" false when only the probe
 * time would move, so a broken spec is not rewritten on every pass. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/reconcile.h"

static const cJSON *cond(const cJSON *st, const char *type)
{
    const cJSON *k;
    cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(st, "conditions"))
    {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(k, "type");
        if (cJSON_IsString(t) && strcmp(t->valuestring, type) == 0)
            return k;
    }
    return NULL;
}

static const char *field(const cJSON *k, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(k, name);
    return cJSON_IsString(v) ? v->valuestring : "";
}

START_TEST(test_first_report_sets_every_condition)
{
    bool changed = false;
    cJSON *st = ctl_invalid_status(NULL, 3, "spec.replicas: must be a number", 1000, &changed);
    ck_assert_ptr_nonnull(st);
    ck_assert(changed);
    ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(st, "observedGeneration")->valueint, 3);
    static const char *const want[][2] = {
        {"Ready", "False"}, {"Resizing", "False"}, {"Rolling", "False"}, {"Degraded", "True"}};
    for (size_t i = 0; i < 4; i++) {
        const cJSON *k = cond(st, want[i][0]);
        ck_assert_ptr_nonnull(k);
        ck_assert_str_eq(field(k, "status"), want[i][1]);
        ck_assert_str_eq(field(k, "reason"), "InvalidSpec");
        ck_assert_str_eq(field(k, "message"), "spec.replicas: must be a number");
        ck_assert_str_eq(field(k, "lastTransitionTime"), "1970-01-01T00:16:40Z");
        ck_assert_str_eq(field(k, "lastProbeTime"), "1970-01-01T00:16:40Z");
    }
    cJSON_Delete(st);
}
END_TEST

START_TEST(test_same_problem_later_is_not_a_change)
{
    bool changed = false;
    cJSON *first = ctl_invalid_status(NULL, 3, "bad", 1000, &changed);
    cJSON *again = ctl_invalid_status(first, 3, "bad", 2000, &changed);
    ck_assert(!changed);
    /* both times stay: the probe at 2000 found what the one at 1000 did */
    ck_assert_str_eq(field(cond(again, "Degraded"), "lastTransitionTime"), "1970-01-01T00:16:40Z");
    ck_assert_str_eq(field(cond(again, "Degraded"), "lastProbeTime"), "1970-01-01T00:16:40Z");
    ck_assert(cJSON_Compare(first, again, true));
    cJSON_Delete(again);
    cJSON_Delete(first);
}
END_TEST

START_TEST(test_new_message_or_generation_is_a_change)
{
    bool changed = false;
    cJSON *first = ctl_invalid_status(NULL, 3, "bad", 1000, &changed);
    cJSON *msg = ctl_invalid_status(first, 3, "worse", 2000, &changed);
    ck_assert(changed);
    /* still Degraded=True: no flip, so the transition time is kept; the news is stamped */
    ck_assert_str_eq(field(cond(msg, "Degraded"), "lastTransitionTime"), "1970-01-01T00:16:40Z");
    ck_assert_str_eq(field(cond(msg, "Degraded"), "lastProbeTime"), "1970-01-01T00:33:20Z");
    cJSON *gen = ctl_invalid_status(msg, 4, "worse", 3000, &changed);
    ck_assert(changed);
    ck_assert_str_eq(field(cond(gen, "Degraded"), "lastProbeTime"), "1970-01-01T00:50:00Z");
    cJSON_Delete(gen);
    cJSON_Delete(msg);
    cJSON_Delete(first);
}
END_TEST

START_TEST(test_flip_from_healthy_moves_transition_time)
{
    cJSON *prev = cJSON_Parse(
        "{\"observedGeneration\":2,\"replicas\":3,\"placement\":{\"zone-a\":{\"pods\":[\"x-0\"]}},"
        "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"AllMembersReady\","
        "\"message\":\"ok\",\"lastTransitionTime\":\"2026-01-01T00:00:00Z\"},"
        "{\"type\":\"Degraded\",\"status\":\"False\",\"reason\":\"Healthy\",\"message\":\"ok\","
        "\"lastTransitionTime\":\"2026-01-01T00:00:00Z\"}]}");
    bool changed = false;
    cJSON *st = ctl_invalid_status(prev, 3, "bad", 1000, &changed);
    ck_assert(changed);
    ck_assert_str_eq(field(cond(st, "Ready"), "status"), "False");
    ck_assert_str_eq(field(cond(st, "Ready"), "lastTransitionTime"), "1970-01-01T00:16:40Z");
    /* what the status said about members stays: the spec is wrong, the cluster is not gone */
    ck_assert_ptr_nonnull(cJSON_GetObjectItemCaseSensitive(st, "placement"));
    ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(st, "replicas")->valueint, 3);
    cJSON_Delete(st);
    cJSON_Delete(prev);
}
END_TEST

START_TEST(test_garbage_previous_status)
{
    static const char *const bad[] = {"[]", "{\"conditions\":5}", "{\"conditions\":[1,null,{}]}",
                                      "{\"conditions\":[{\"type\":7,\"status\":[]}]}", "\"x\"",
                                      /* numbers no int64 holds: compared, never cast */
                                      "{\"observedGeneration\":1e300}",
                                      "{\"observedGeneration\":9223372036854775808}",
                                      "{\"observedGeneration\":-1e300,\"conditions\":[{\"type\":"
                                      "\"Degraded\",\"status\":\"True\",\"reason\":\"InvalidSpec\","
                                      "\"message\":\"bad\",\"observedGeneration\":1e300}]}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cJSON *prev = cJSON_Parse(bad[i]);
        bool changed = false;
        cJSON *st = ctl_invalid_status(prev, 1, "bad", 1000, &changed);
        ck_assert_msg(changed, "case %zu", i);
        ck_assert_ptr_nonnull(st);
        ck_assert(cJSON_IsObject(st));
        ck_assert_str_eq(field(cond(st, "Degraded"), "status"), "True");
        cJSON_Delete(st);
        cJSON_Delete(prev);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ctl_status");
    TCase *tc = tcase_create("invalid_status");
    tcase_add_test(tc, test_first_report_sets_every_condition);
    tcase_add_test(tc, test_same_problem_later_is_not_a_change);
    tcase_add_test(tc, test_new_message_or_generation_is_a_change);
    tcase_add_test(tc, test_flip_from_healthy_moves_transition_time);
    tcase_add_test(tc, test_garbage_previous_status);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
