/* test_plan_status.c — the status a person reads: steady state writes nothing,
 * lastTransitionTime moves only on a flip, lastProbeTime alone is no change, the
 * current revision is the one most members run, and conditions explain themselves. */
#include <check.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "plan/testkit.h"

static const char *const ZONES3[] = {"zone-a", "zone-b", "zone-c", NULL};

static void setup(struct tk *t, int n)
{
    tk_init(t, n, ZONES3);
    tk_health_all(t, n, 0, 0);
    ck_assert_int_le(tk_converge(t, 8), 8);
}

/* Steady state: zero actions, status unchanged (old lastProbeTime kept), pass after pass. */
START_TEST(test_steady_state)
{
    struct tk t;
    setup(&t, 3);
    for (int pass = 0; pass < 5; pass++) {
        t.now += 60;
        ck_assert_int_eq(tk_plan(&t), 0);
        ck_assert_int_eq(t.plan->nactions, 0);
        ck_assert_int_eq(t.plan->restart.set, 0);
        ck_assert_int_eq(t.plan->nevents, 0);
        ck_assert_int_eq(t.plan->status_changed, 0);
        ck_assert(cJSON_Compare(t.plan->status, t.psc.status, true));
        ck_assert_int_eq(t.plan->requeue_after, PLAN_RESYNC_SECONDS);
        tk_apply(&t);
    }
    tk_free(&t);
}
END_TEST

static void expect_cond(const cJSON *s, const char *type, const char *status, const char *ltt,
                        const char *probe)
{
    ck_assert_str_eq(tk_cond(s, type, "status"), status);
    if (ltt != NULL)
        ck_assert_str_eq(tk_cond(s, type, "lastTransitionTime"), ltt);
    if (probe != NULL)
        ck_assert_str_eq(tk_cond(s, type, "lastProbeTime"), probe);
}

START_TEST(test_transition_times)
{
    struct tk t;
    setup(&t, 3);
    char t1[32], t2[32], t3[32], t4[32];
    snprintf(t1, sizeof t1, "2026-09-21T14:30:00Z");
    snprintf(t2, sizeof t2, "2026-09-21T14:31:00Z");
    snprintf(t3, sizeof t3, "2026-09-21T14:32:00Z");
    snprintf(t4, sizeof t4, "2026-09-21T14:33:00Z");
    const char *ready_ltt = tk_cond(t.psc.status, "Ready", "lastTransitionTime");
    char before[32], rolling_probe[32], resizing_probe[32];
    snprintf(before, sizeof before, "%s", ready_ltt);
    snprintf(rolling_probe, sizeof rolling_probe, "%s",
             tk_cond(t.psc.status, "Rolling", "lastProbeTime"));
    snprintf(resizing_probe, sizeof resizing_probe, "%s",
             tk_cond(t.psc.status, "Resizing", "lastProbeTime"));
    ck_assert_str_ne(rolling_probe, t1);

    /* T1: a member goes not Ready: Ready and Degraded flip, both stamped T1 */
    t.now = 1790001000;
    tk_pod_ready(&t, "orders-1", false);
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_int_eq(t.plan->status_changed, 1);
    expect_cond(t.plan->status, "Ready", "False", t1, t1);
    expect_cond(t.plan->status, "Degraded", "True", t1, t1);
    ck_assert_str_eq(tk_cond(t.plan->status, "Degraded", "reason"), "MemberNotReady");
    /* Rolling did not flip: its transition time is the old one */
    ck_assert_str_ne(tk_cond(t.plan->status, "Rolling", "lastTransitionTime"), t1);
    tk_apply(&t);

    /* T2: same state: nothing to write, T1 kept everywhere */
    t.now += 60;
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_int_eq(t.plan->status_changed, 0);
    expect_cond(t.plan->status, "Ready", "False", t1, t1);
    tk_apply(&t);

    /* T3: another member down too: messages change, status does not flip */
    t.now += 60;
    tk_pod_ready(&t, "orders-0", false);
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_int_eq(t.plan->status_changed, 1);
    expect_cond(t.plan->status, "Ready", "False", t1, t3);
    expect_cond(t.plan->status, "Degraded", "True", t1, t3);
    /* lastProbeTime is per condition: Rolling says what it said, so it keeps its time */
    ck_assert_str_eq(tk_cond(t.plan->status, "Rolling", "lastProbeTime"), rolling_probe);
    ck_assert_str_eq(tk_cond(t.plan->status, "Resizing", "lastProbeTime"), resizing_probe);
    tk_apply(&t);

    /* T4: all Ready again: flips back, stamped T4 */
    t.now += 60;
    tk_all_ready(&t);
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_int_eq(t.plan->status_changed, 1);
    expect_cond(t.plan->status, "Ready", "True", t4, t4);
    expect_cond(t.plan->status, "Degraded", "False", t4, t4);
    ck_assert_str_ne(tk_cond(t.plan->status, "Ready", "lastTransitionTime"), before);
    (void)t2;
    tk_free(&t);
}
END_TEST

/* Every condition has every field; times are RFC3339 UTC; order is fixed. */
START_TEST(test_condition_shape)
{
    struct tk t;
    setup(&t, 3);
    t.psc.generation = 9;
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_int_eq(t.plan->status_changed, 1); /* observedGeneration moved */
    const cJSON *s = t.plan->status;
    ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(s, "observedGeneration")->valueint, 9);
    ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(s, "replicas")->valueint, 3);
    ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(s, "readyReplicas")->valueint, 3);
    static const char *const types[] = {"Ready", "Resizing", "Rolling", "Degraded"};
    regex_t re;
    ck_assert_int_eq(
        regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$", REG_EXTENDED), 0);
    const cJSON *conds = cJSON_GetObjectItemCaseSensitive(s, "conditions");
    ck_assert_int_eq(cJSON_GetArraySize(conds), 4);
    for (int i = 0; i < 4; i++) {
        const cJSON *k = cJSON_GetArrayItem(conds, i);
        ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(k, "type")->valuestring, types[i]);
        const char *reason = cJSON_GetObjectItemCaseSensitive(k, "reason")->valuestring;
        ck_assert(reason[0] >= 'A' && reason[0] <= 'Z' && strchr(reason, ' ') == NULL);
        const char *msg = cJSON_GetObjectItemCaseSensitive(k, "message")->valuestring;
        ck_assert_int_gt((int)strlen(msg), 10);
        ck_assert_int_eq(msg[strlen(msg) - 1], '.');
        ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(k, "observedGeneration")->valueint, 9);
        ck_assert_int_eq(regexec(&re, tk_cond(s, types[i], "lastProbeTime"), 0, NULL, 0), 0);
        ck_assert_int_eq(regexec(&re, tk_cond(s, types[i], "lastTransitionTime"), 0, NULL, 0), 0);
    }
    regfree(&re);
    tk_free(&t);
}
END_TEST

/* currentRevision is what most members run; updateRevision what the spec asks. */
START_TEST(test_current_revision)
{
    struct tk t;
    setup(&t, 3);
    char old[11];
    plan_revision(&t.psc, old);
    tk_set_image(&t, "apache/kafka:3.9.1");
    char upd[11];
    plan_revision(&t.psc, upd);
    int seen_old = 0, seen_new = 0;
    for (int pass = 0; pass < 30; pass++) {
        ck_assert_int_eq(tk_plan(&t), 0);
        const char *cur =
            cJSON_GetObjectItemCaseSensitive(t.plan->status, "currentRevision")->valuestring;
        ck_assert_str_eq(
            cJSON_GetObjectItemCaseSensitive(t.plan->status, "updateRevision")->valuestring, upd);
        int on_new = 0;
        for (int i = 0; i < t.pods.n; i++) {
            cJSON *l = cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(t.pods.items[i], "metadata"), "labels");
            on_new += strcmp(cJSON_GetObjectItemCaseSensitive(l, PSC_LABEL_REVISION)->valuestring,
                             upd) == 0;
        }
        int on_old = t.pods.n - on_new;
        ck_assert_str_eq(cur, on_new >= on_old ? upd : old);
        seen_old += strcmp(cur, old) == 0;
        seen_new += strcmp(cur, upd) == 0;
        tk_apply(&t);
        tk_all_ready(&t);
    }
    ck_assert_int_gt(seen_old, 0);
    ck_assert_int_gt(seen_new, 0);
    tk_free(&t);
}
END_TEST

/* Table of health states -> Ready/Degraded reasons. */
START_TEST(test_ready_degraded_reasons)
{
    enum { OK, GATE, NOT_READY, MISSING, UNSCRAPED, BROKER_STARTING, NO_BROKER_STATE };
    static const struct {
        int kind;
        const char *ready, *ready_reason, *degraded, *degraded_reason, *needle;
    } cases[] = {
        {OK, "True", "AllMembersReady", "False", "Healthy", "3 of 3"},
        {GATE, "False", "GateFailing", "True", "GateFailing",
         "orders-2 reports kafka_controller_kafkacontroller_offlinepartitionscount above its "
         "max 0"},
        {NOT_READY, "False", "MembersNotReady", "True", "MemberNotReady", "orders-1"},
        {MISSING, "False", "MembersNotReady", "True", "MemberMissing", "orders-0"},
        {UNSCRAPED, "False", "GateFailing", "True", "GateFailing", "could not be read"},
        /* a Ready pod whose broker is not RUNNING is not a Ready member */
        {BROKER_STARTING, "False", "MembersNotReady", "True", "MemberNotReady",
         "Member orders-1 is Ready but its broker is not serving "
         "(kafka_server_kafkaserver_brokerstate=1, 3 is running)"},
        /* an engine that exports no broker state is judged by its pods and gates */
        {NO_BROKER_STATE, "True", "AllMembersReady", "False", "Healthy", "Every member is Ready"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct tk t;
        setup(&t, 3);
        t.psc.paused = true; /* observe only, so MISSING stays missing */
        switch (cases[k].kind) {
        case GATE:
            t.gates[2][1].value = 4;
            break;
        case NOT_READY:
            tk_pod_ready(&t, "orders-1", false);
            break;
        case MISSING:
            tk_remove(&t, PLAN_POD, "orders-0");
            break;
        case UNSCRAPED:
            t.health[1].scraped = false;
            break;
        case BROKER_STARTING:
            t.health[1].broker_state.value = 1;
            break;
        case NO_BROKER_STATE:
            for (int i = 0; i < 3; i++)
                t.health[i].broker_state.present = false;
            break;
        }
        ck_assert_int_eq(tk_plan(&t), 0);
        ck_assert_int_eq(t.plan->nactions, 0);
        const cJSON *s = t.plan->status;
        ck_assert_str_eq(tk_cond(s, "Ready", "status"), cases[k].ready);
        ck_assert_str_eq(tk_cond(s, "Ready", "reason"), cases[k].ready_reason);
        ck_assert_str_eq(tk_cond(s, "Degraded", "status"), cases[k].degraded);
        ck_assert_str_eq(tk_cond(s, "Degraded", "reason"), cases[k].degraded_reason);
        const char *msg = cases[k].kind == OK ? tk_cond(s, "Ready", "message")
                                              : tk_cond(s, "Degraded", "message");
        ck_assert_msg(strstr(msg, cases[k].needle) != NULL, "case %zu: %s", k, msg);
        if (cases[k].kind == BROKER_STARTING)
            ck_assert_str_eq(tk_cond(s, "Ready", "message"),
                             "2 of 3 members are Ready; orders-1 is Ready but its broker is not "
                             "serving yet.");
        if (strcmp(cases[k].degraded, "True") == 0) {
            ck_assert_int_eq(t.plan->requeue_after, 30);
            ck_assert_int_ge(t.plan->nevents, 1);
        }
        tk_free(&t);
    }
}
END_TEST

/* Table: states that last while numbers under them move (a gate's count, a partition
 * count while a member drains, seconds passing while a roll is blocked, stuck or a member
 * settles): after the pass that reports the state, status is not written again and no
 * Event is repeated. */
START_TEST(test_status_stable_while_state_stays)
{
    enum { GATE, ROLL_BLOCKED, ROLL_STUCK, DRAIN, SETTLE, BROKER_STARTING };
    static const char *const names[] = {"gate",  "roll blocked", "roll stuck",
                                        "drain", "settle",       "broker starting"};
    for (int k = GATE; k <= BROKER_STARTING; k++) {
        struct tk t;
        setup(&t, 4);
        int step = 60;
        switch (k) {
        case GATE:
            t.gates[2][0].value = 3;
            break;
        case ROLL_BLOCKED:
        case ROLL_STUCK:
            tk_roll_to(&t, "apache/kafka:3.9.1");
            t.gates[2][0].value = 3;
            if (k == ROLL_STUCK) {
                ck_assert_int_eq(tk_plan(&t), 0);
                tk_apply(&t);
                t.now += t.psc.spec.roll_timeout_seconds + 1;
            }
            step = 15;
            break;
        case DRAIN:
            t.psc.spec.replicas = 3;
            t.psc.generation++;
            t.health[3].drained.value = 12;
            step = 15;
            break;
        case SETTLE: {
            tk_roll_to(&t, "apache/kafka:3.9.1");
            cJSON *cond = cJSON_GetArrayItem(
                cJSON_GetObjectItemCaseSensitive(
                    cJSON_GetObjectItemCaseSensitive(tk_get(&t, PLAN_POD, "orders-3"), "status"),
                    "conditions"),
                0);
            char ts[32];
            struct tm tm;
            gmtime_r(&t.now, &tm);
            strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
            cJSON_AddStringToObject(cond, "lastTransitionTime", ts);
            step = 2;
            break;
        }
        case BROKER_STARTING:
            t.health[1].broker_state.value = 1;
            break;
        }
        ck_assert_int_eq(tk_plan(&t), 0);
        ck_assert_int_eq(t.plan->restart.set, 0);
        ck_assert_int_eq(t.plan->nactions, 0);
        tk_apply(&t);
        for (int pass = 1; pass <= 3; pass++) {
            t.now += step;
            if (k == GATE || k == ROLL_BLOCKED || k == ROLL_STUCK)
                t.gates[2][0].value = 3 + pass;
            if (k == DRAIN)
                t.health[3].drained.value = 12 - pass;
            ck_assert_int_eq(tk_plan(&t), 0);
            ck_assert_msg(t.plan->status_changed == 0, "%s, pass %d: status rewritten: %s",
                          names[k], pass, cJSON_PrintUnformatted(t.plan->status));
            ck_assert_msg(t.plan->nevents == 0, "%s, pass %d: event %s", names[k], pass,
                          t.plan->events[0].reason);
            ck_assert_int_eq(t.plan->restart.set, 0);
            tk_apply(&t);
        }
        tk_free(&t);
    }
}
END_TEST

/* A status written by someone else, or mangled, is read without crashing. */
START_TEST(test_garbage_previous_status)
{
    static const char *const junk[] = {
        "{}",
        "[]",
        "{\"conditions\":5}",
        "{\"conditions\":[1,\"x\",{\"type\":3},{\"type\":\"Ready\",\"status\":\"True\","
        "\"lastTransitionTime\":\"yesterday\"}]}",
        "{\"conditions\":[{\"type\":\"Degraded\",\"status\":\"True\",\"lastTransitionTime\":"
        "\"2999-01-01T00:00:00Z\"}],\"placement\":{\"zone-a\":{\"pods\":[1]}}}",
    };
    for (size_t k = 0; k < sizeof junk / sizeof junk[0]; k++) {
        struct tk t;
        tk_init(&t, 3, ZONES3);
        tk_health_all(&t, 3, 0, 0);
        t.psc.status = cJSON_Parse(junk[k]);
        ck_assert_int_eq(tk_plan(&t), 0);
        ck_assert_int_eq(t.plan->status_changed, 1);
        ck_assert_str_eq(tk_cond(t.plan->status, "Ready", "lastTransitionTime"),
                         "2026-09-21T14:13:20Z");
        tk_free(&t);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("plan_status");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_steady_state);
    tcase_add_test(tc, test_transition_times);
    tcase_add_test(tc, test_condition_shape);
    tcase_add_test(tc, test_current_revision);
    tcase_add_test(tc, test_ready_degraded_reasons);
    tcase_add_test(tc, test_status_stable_while_state_stays);
    tcase_add_test(tc, test_garbage_previous_status);
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
