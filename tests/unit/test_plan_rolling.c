/* test_plan_rolling.c — the restart decision: one member at a time, only while every
 * member is Ready and every gate holds; not-ready members first unless they are
 * recovering their logs; missing pods always recreated; stuck rolls reported, never
 * forced; progress read back from pod labels after an operator restart. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plan/testkit.h"

static const char *const ZONES3[] = {"zone-a", "zone-b", "zone-c", NULL};
#define URP "kafka_server_replicamanager_underreplicatedpartitions"

/* A healthy converged cluster of n members, then the image changed (a roll is due). */
static void setup_roll(struct tk *t, int n)
{
    tk_init(t, n, ZONES3);
    tk_health_all(t, n, 0, 0);
    ck_assert_int_le(tk_converge(t, 8), 8);
    tk_roll_to(t, "apache/kafka:3.9.1");
}

static const char *pod_rev(struct tk *t, const char *pod)
{
    cJSON *p = tk_get(t, PLAN_POD, pod);
    cJSON *l =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(p, "metadata"), "labels");
    cJSON *r = cJSON_GetObjectItemCaseSensitive(l, PSC_LABEL_REVISION);
    return cJSON_IsString(r) ? r->valuestring : NULL;
}

static int members_down(struct tk *t, int n)
{
    int down = 0;
    for (int i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "orders-%d", i);
        cJSON *p = tk_get(t, PLAN_POD, name);
        const char *ready = NULL;
        cJSON *k;
        cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(
                                  cJSON_GetObjectItemCaseSensitive(p, "status"), "conditions"))
        {
            ready = cJSON_GetObjectItemCaseSensitive(k, "status")->valuestring;
        }
        down += p == NULL || ready == NULL || strcmp(ready, "True") != 0;
    }
    return down;
}

/* A whole roll, pass by pass, with pods coming back not-ready for one pass: members go in
 * ordinal order, never two down at once, and the roll ends on the new revision. */
START_TEST(test_full_roll_one_at_a_time)
{
    struct tk t;
    setup_roll(&t, 5);
    int restarts = 0, order[8];
    for (int pass = 0; pass < 60; pass++) {
        ck_assert_int_eq(tk_plan(&t), 0);
        ck_assert_int_le(tk_count(t.plan, PLAN_CREATE, PLAN_POD), 1);
        if (t.plan->restart.set) {
            ck_assert_int_eq(members_down(&t, 5), 0); /* nobody else is down */
            ck_assert_int_lt(restarts, 8);
            order[restarts++] = t.plan->restart.ordinal;
            ck_assert_str_eq(tk_cond(t.plan->status, "Rolling", "reason"), "RollInProgress");
            ck_assert_ptr_nonnull(strstr(t.plan->restart.reason, "->"));
            ck_assert_ptr_nonnull(t.plan->restart.uid);
        }
        bool idle = t.plan->nactions == 0 && !t.plan->restart.set;
        tk_apply(&t);
        ck_assert_int_le(members_down(&t, 5), 1);
        /* new pods are not Ready on the pass they appear: only on the next one */
        tk_all_ready(&t);
        for (int a = 0; a < t.plan->nactions; a++)
            if (t.plan->actions[a].kind == PLAN_POD && t.plan->actions[a].verb == PLAN_CREATE)
                tk_pod_ready(&t, t.plan->actions[a].name, false);
        t.now += 10;
        if (idle && strcmp(tk_cond(t.plan->status, "Rolling", "status"), "False") == 0)
            break;
    }
    ck_assert_int_eq(restarts, 5);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(order[i], i);
    for (int i = 0; i < 5; i++) {
        char name[32];
        snprintf(name, sizeof name, "orders-%d", i);
        ck_assert_str_eq(pod_rev(&t, name), t.plan->update_revision);
    }
    cJSON *cur = cJSON_GetObjectItemCaseSensitive(t.psc.status, "currentRevision");
    ck_assert_str_eq(cur->valuestring, t.plan->update_revision);
    ck_assert_str_eq(tk_cond(t.psc.status, "Rolling", "reason"), "UpToDate");
    tk_free(&t);
}
END_TEST

/* A failing gate blocks the roll; the message names member, metric and value; once the
 * gate holds the roll proceeds. */
START_TEST(test_gate_blocks_then_proceeds)
{
    struct tk t;
    setup_roll(&t, 3);
    t.gates[2][0].value = 3;
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_int_eq(t.plan->restart.set, 0);
    ck_assert_int_eq(t.plan->nactions, 0);
    ck_assert_str_eq(tk_cond(t.plan->status, "Rolling", "status"), "True");
    ck_assert_str_eq(tk_cond(t.plan->status, "Rolling", "reason"), "RollBlocked");
    const char *msg = tk_cond(t.plan->status, "Rolling", "message");
    ck_assert_ptr_nonnull(strstr(msg, "orders-2"));
    ck_assert_ptr_nonnull(strstr(msg, URP " above its max 0"));
    ck_assert_ptr_null(strstr(msg, "=3")); /* no live count in a condition */
    ck_assert_int_gt(t.plan->requeue_after, 0);
    ck_assert_int_le(t.plan->requeue_after, 30);
    ck_assert_int_ge(t.plan->nevents, 1);
    bool warned = false;
    for (int i = 0; i < t.plan->nevents; i++)
        warned |= strcmp(t.plan->events[i].reason, "RollBlocked") == 0 &&
                  t.plan->events[i].type == PLAN_EVENT_WARNING;
    ck_assert(warned);
    tk_apply(&t);
    /* still blocked: no second Warning event for the same reason */
    t.now += 15;
    ck_assert_int_eq(tk_plan(&t), 0);
    for (int i = 0; i < t.plan->nevents; i++)
        ck_assert_str_ne(t.plan->events[i].reason, "RollBlocked");
    tk_apply(&t);
    t.gates[2][0].value = 0;
    t.now += 15;
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_int_eq(t.plan->restart.set, 1);
    ck_assert_str_eq(t.plan->restart.pod, "orders-0");
    tk_free(&t);
}
END_TEST

/* Table: what blocks a restart of a Ready member, and what the message says. */
START_TEST(test_block_reasons)
{
    enum {
        UNSCRAPED,
        ABSENT,
        ABSENT_ONE,
        ABSENT_OPTIONAL,
        NAN_VALUE,
        INF_VALUE,
        OTHER_NOT_READY,
        OFFLINE
    };
    static const struct {
        int kind;
        const char *needle;
    } cases[] = {
        {UNSCRAPED, "metrics of member orders-1 could not be read (GET "
                    "http://10.0.0.2:9404/metrics answered HTTP 500, expected 200)"},
        {ABSENT, "member orders-0 does not report metric " URP ", and every member must"},
        {ABSENT_ONE, "member orders-2 does not report metric " URP ", and every member must"},
        {ABSENT_OPTIONAL, "no member reports metric " URP},
        {NAN_VALUE, "orders-1 reports " URP "=NaN"},
        {INF_VALUE, "orders-1 reports " URP " above its max 0"},
        {OTHER_NOT_READY, "member orders-1 is not Ready"},
        {OFFLINE, "kafka_controller_kafkacontroller_offlinepartitionscount above its max 0"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct tk t;
        setup_roll(&t, 3);
        switch (cases[k].kind) {
        case UNSCRAPED:
            /* the cause reaches the person reading the condition */
            t.health[1].scraped = false;
            t.health[1].error = "GET http://10.0.0.2:9404/metrics answered HTTP 500, expected 200";
            break;
        case ABSENT:
            for (int i = 0; i < 3; i++)
                t.gates[i][0].present = false;
            break;
        case ABSENT_ONE:
            /* the others report it: a gate that is not optional still fails on orders-2 */
            t.gates[2][0].present = false;
            break;
        case ABSENT_OPTIONAL:
            t.psc.spec.gates[0].optional = true;
            for (int i = 0; i < 3; i++)
                t.gates[i][0].present = false;
            break;
        case NAN_VALUE:
            t.gates[1][0].value = NAN;
            break;
        case INF_VALUE:
            t.gates[1][0].value = INFINITY;
            break;
        case OTHER_NOT_READY:
            /* orders-1 is down but already on the new revision: not a restart candidate */
            ck_assert_int_eq(tk_plan(&t), 0);
            tk_apply(&t); /* orders-0 restarted */
            tk_remove(&t, PLAN_POD, "orders-0");
            ck_assert_int_eq(tk_plan(&t), 0);
            tk_apply(&t); /* orders-0 recreated, new revision */
            tk_all_ready(&t);
            tk_remove(&t, PLAN_POD, "orders-1");
            ck_assert_int_eq(tk_plan(&t), 0); /* orders-1 recreated on the new revision */
            tk_apply(&t);
            tk_pod_ready(&t, "orders-1", false);
            break;
        case OFFLINE:
            t.gates[1][1].value = 1;
            break;
        }
        ck_assert_int_eq(tk_plan(&t), 0);
        ck_assert_msg(!t.plan->restart.set, "case %zu restarted %s", k, t.plan->restart.pod);
        const char *msg = tk_cond(t.plan->status, "Rolling", "message");
        ck_assert_msg(strstr(msg, cases[k].needle) != NULL, "case %zu: %s", k, msg);
        ck_assert_str_eq(tk_cond(t.plan->status, "Rolling", "reason"), "RollBlocked");
        tk_free(&t);
    }
}
END_TEST

/* A member that is not Ready and needs a restart goes first, but only while every other
 * member is Ready and the gates hold there. */
START_TEST(test_not_ready_member_first)
{
    struct tk t;
    setup_roll(&t, 3);
    tk_pod_ready(&t, "orders-2", false);
    t.health[2].scraped = false;
    t.gates[0][0].value = 7; /* a gate fails on another member: nothing restarts */
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_int_eq(t.plan->restart.set, 0);
    ck_assert_str_eq(tk_cond(t.plan->status, "Rolling", "reason"), "RollBlocked");
    ck_assert_ptr_nonnull(strstr(tk_cond(t.plan->status, "Rolling", "message"), "orders-0"));
    t.gates[0][0].value = 0;
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_int_eq(t.plan->restart.set, 1);
    ck_assert_str_eq(t.plan->restart.pod, "orders-2");
    ck_assert_int_eq(t.plan->restart.ordinal, 2);
    ck_assert_ptr_nonnull(strstr(t.plan->restart.reason, "not Ready"));
    tk_free(&t);
}
END_TEST

/* Issue 11 #1: a roll restarts orders-0; while it is still starting, orders-2 (pending a
 * restart) blinks not Ready. Nothing more is restarted until orders-0 is back: never two
 * members down by ballast's hand. */
START_TEST(test_blip_while_another_restarts)
{
    struct tk t;
    setup_roll(&t, 5);
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_str_eq(t.plan->restart.pod, "orders-0");
    tk_apply(&t); /* orders-0 deleted */
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_ptr_nonnull(tk_action(t.plan, PLAN_CREATE, PLAN_POD, "orders-0"));
    ck_assert_int_eq(t.plan->restart.set, 0);
    tk_apply(&t); /* orders-0 recreated, Pending */
    t.health[0].scraped = false;
    tk_pod_ready(&t, "orders-2", false);
    for (int pass = 0; pass < 3; pass++) {
        ck_assert_int_eq(tk_plan(&t), 0);
        ck_assert_int_eq(t.plan->restart.set, 0);
        ck_assert_int_eq(tk_count(t.plan, PLAN_DELETE, PLAN_POD), 0);
        tk_apply(&t);
        t.now += 10;
    }
    /* orders-0 is back and settled: now orders-2, still not Ready, goes first */
    tk_pod_ready(&t, "orders-0", true);
    t.health[0].scraped = true;
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_int_eq(t.plan->restart.set, 1);
    ck_assert_str_eq(t.plan->restart.pod, "orders-2");
    tk_free(&t);
}
END_TEST

/* A broker recovering its logs (brokerstate 2) is waited for, never restarted, and
 * nothing else is restarted meanwhile. */
START_TEST(test_recovering_broker_waits)
{
    struct tk t;
    setup_roll(&t, 3);
    tk_pod_ready(&t, "orders-1", false);
    t.health[1].broker_state.value = PLAN_BROKER_STATE_RECOVERY;
    for (int pass = 0; pass < 3; pass++) {
        ck_assert_int_eq(tk_plan(&t), 0);
        ck_assert_int_eq(t.plan->restart.set, 0);
        ck_assert_int_eq(t.plan->nactions, 0);
        const char *msg = tk_cond(t.plan->status, "Rolling", "message");
        ck_assert_ptr_nonnull(strstr(msg, "orders-1"));
        ck_assert_ptr_nonnull(strstr(msg, "recovering its logs"));
        tk_apply(&t);
        t.now += 3600; /* even past rollTimeoutSeconds it is never restarted */
    }
    ck_assert_str_eq(tk_cond(t.plan->status, "Rolling", "reason"), "RollStuck");
    /* recovery done, Ready again: the roll goes on */
    t.health[1].broker_state.value = 3;
    tk_pod_ready(&t, "orders-1", true);
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_int_eq(t.plan->restart.set, 1);
    ck_assert_str_eq(t.plan->restart.pod, "orders-0");
    tk_free(&t);
}
END_TEST

/* The member the roll took down never came back (pod deleted): it is recreated at
 * once, even though every gate fails, and no other member is restarted. */
START_TEST(test_missing_pod_recreated_during_blocked_roll)
{
    struct tk t;
    setup_roll(&t, 3);
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_str_eq(t.plan->restart.pod, "orders-0");
    tk_apply(&t); /* orders-0 deleted */
    tk_health_all(&t, 3, 9, 0);
    t.health[0].scraped = false;
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_int_eq(t.plan->restart.set, 0);
    const struct plan_action *a = tk_action(t.plan, PLAN_CREATE, PLAN_POD, "orders-0");
    ck_assert_ptr_nonnull(a);
    ck_assert_str_eq(tk_cond(t.plan->status, "Rolling", "status"), "True");
    tk_free(&t);
}
END_TEST

/* Blocked longer than rollTimeoutSeconds: reported stuck, still never proceeds. */
START_TEST(test_stuck_roll_never_proceeds)
{
    struct tk t;
    setup_roll(&t, 3);
    t.gates[1][0].value = 2;
    ck_assert_int_eq(tk_plan(&t), 0);
    tk_apply(&t);
    ck_assert_str_eq(tk_cond(t.psc.status, "Degraded", "status"), "True");
    t.now += 899;
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_str_eq(tk_cond(t.plan->status, "Rolling", "reason"), "RollBlocked");
    tk_apply(&t);
    t.now += 2;
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_int_eq(t.plan->restart.set, 0);
    ck_assert_int_eq(t.plan->nactions, 0);
    ck_assert_str_eq(tk_cond(t.plan->status, "Rolling", "reason"), "RollStuck");
    const char *msg = tk_cond(t.plan->status, "Rolling", "message");
    ck_assert_ptr_nonnull(strstr(msg, "stuck"));
    ck_assert_ptr_nonnull(strstr(msg, "orders-1"));
    ck_assert_ptr_nonnull(strstr(msg, URP " above its max 0"));
    /* the moment it blocked, read back from status, not a running count of seconds */
    const char *since =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t.plan->status, "rollBlockedSince"));
    ck_assert_ptr_nonnull(since);
    char want[96];
    snprintf(want, sizeof want, "blocked since %s, longer than rollTimeoutSeconds 900", since);
    ck_assert_msg(strstr(msg, want) != NULL, "%s", msg);
    ck_assert_int_eq(t.plan->status_changed, 1);
    bool warned = false;
    for (int i = 0; i < t.plan->nevents; i++)
        warned |= strcmp(t.plan->events[i].reason, "RollStuck") == 0;
    ck_assert(warned);
    tk_apply(&t);
    /* stuck and staying so, the count under the gate moving: nothing to write, no event */
    for (int pass = 0; pass < 3; pass++) {
        t.now += 30;
        t.gates[1][0].value = 3 + pass;
        ck_assert_int_eq(tk_plan(&t), 0);
        ck_assert_str_eq(tk_cond(t.plan->status, "Rolling", "reason"), "RollStuck");
        ck_assert_int_eq(t.plan->status_changed, 0);
        ck_assert_int_eq(t.plan->nevents, 0);
        tk_apply(&t);
    }
    tk_free(&t);
}
END_TEST

static void fmt_time(time_t when, char out[32])
{
    struct tm tm;
    gmtime_r(&when, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Rewrites the last written status: Rolling True with `reason`, rollBlockedSince `since`
 * (NULL: none). */
static void set_rolling(struct tk *t, const char *reason, const char *since)
{
    cJSON *k;
    cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(t->psc.status, "conditions"))
    {
        if (strcmp(cJSON_GetObjectItemCaseSensitive(k, "type")->valuestring, "Rolling") == 0) {
            cJSON_ReplaceItemInObjectCaseSensitive(k, "status", cJSON_CreateString("True"));
            cJSON_ReplaceItemInObjectCaseSensitive(k, "reason", cJSON_CreateString(reason));
        }
    }
    cJSON_DeleteItemFromObjectCaseSensitive(t->psc.status, "rollBlockedSince");
    if (since != NULL)
        cJSON_AddStringToObject(t->psc.status, "rollBlockedSince", since);
}

/* RollStuck is timed from the moment the roll blocked, as recorded in status, whatever
 * else the cluster said before; a roll blocked by a Ready member whose broker never
 * reaches RUNNING becomes stuck. */
START_TEST(test_stuck_timed_from_block)
{
    enum { NONE, T0, GARBAGE, FUTURE };
    static const struct {
        int since;          /* rollBlockedSince in the last written status */
        const char *reason; /* the last written Rolling reason */
        long after;         /* seconds after T0 the pass runs */
        const char *want;
        int want_since; /* T0, or NONE: the pass's own now */
    } cases[] = {
        {T0, "RollBlocked", 900, "RollBlocked", T0},
        {T0, "RollBlocked", 901, "RollStuck", T0},
        {T0, "RollStuck", 5000, "RollStuck", T0},
        /* a recorded moment counts only while the roll is still blocked */
        {T0, "RollInProgress", 5000, "RollBlocked", NONE},
        {T0, "RollFinishing", 5000, "RollBlocked", NONE},
        /* no moment (an older operator wrote status), garbage, or the future: from now */
        {NONE, "RollBlocked", 5000, "RollBlocked", NONE},
        {GARBAGE, "RollBlocked", 5000, "RollBlocked", NONE},
        {FUTURE, "RollBlocked", 5000, "RollBlocked", NONE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tk t;
        setup_roll(&t, 3);
        time_t t0 = t.now;
        char t0s[32], nows[32];
        fmt_time(t0, t0s);
        t.health[1].broker_state.value = 1; /* a Ready pod whose broker is starting */
        ck_assert_int_eq(tk_plan(&t), 0);
        ck_assert_str_eq(tk_cond(t.plan->status, "Rolling", "reason"), "RollBlocked");
        tk_apply(&t);
        const char *since = cases[i].since == T0        ? t0s
                            : cases[i].since == GARBAGE ? "yesterday"
                            : cases[i].since == FUTURE  ? "2999-01-01T00:00:00Z"
                                                        : NULL;
        set_rolling(&t, cases[i].reason, since);
        t.now = t0 + cases[i].after;
        fmt_time(t.now, nows);
        ck_assert_int_eq(tk_plan(&t), 0);
        ck_assert_int_eq(t.plan->restart.set, 0);
        ck_assert_msg(strcmp(tk_cond(t.plan->status, "Rolling", "reason"), cases[i].want) == 0,
                      "case %zu: %s: %s", i, tk_cond(t.plan->status, "Rolling", "reason"),
                      tk_cond(t.plan->status, "Rolling", "message"));
        /* the moment is recorded for the next pass, or the next operator, to read */
        const char *got = cJSON_GetStringValue(
            cJSON_GetObjectItemCaseSensitive(t.plan->status, "rollBlockedSince"));
        ck_assert_ptr_nonnull(got);
        ck_assert_msg(strcmp(got, cases[i].want_since == T0 ? t0s : nows) == 0,
                      "case %zu: rollBlockedSince %s", i, got);
        tk_free(&t);
    }
}
END_TEST

/* Once the roll proceeds, rollBlockedSince goes: the next block starts a new clock. */
START_TEST(test_block_moment_cleared_on_progress)
{
    struct tk t;
    setup_roll(&t, 3);
    t.gates[1][0].value = 2;
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_ptr_nonnull(cJSON_GetObjectItemCaseSensitive(t.plan->status, "rollBlockedSince"));
    tk_apply(&t);
    t.gates[1][0].value = 0;
    t.now += 30;
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert(t.plan->restart.set);
    ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(t.plan->status, "rollBlockedSince"));
    tk_free(&t);
}
END_TEST

/* A new operator (no status, no memory) resumes from pod labels: orders-0 is done, so
 * orders-1 is next; a pod being deleted means "wait", never a second restart. */
START_TEST(test_operator_restart_resumes)
{
    struct tk t;
    setup_roll(&t, 3);
    ck_assert_int_eq(tk_plan(&t), 0);
    tk_apply(&t);
    ck_assert_int_eq(tk_plan(&t), 0);
    tk_apply(&t);
    tk_all_ready(&t);
    cJSON_Delete(t.psc.status);
    t.psc.status = NULL;
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_int_eq(t.plan->restart.set, 1);
    ck_assert_str_eq(t.plan->restart.pod, "orders-1");
    /* the executor's delete is in flight: the pod is terminating */
    cJSON *md = cJSON_GetObjectItemCaseSensitive(tk_get(&t, PLAN_POD, "orders-1"), "metadata");
    cJSON_AddStringToObject(md, "deletionTimestamp", "2026-09-21T14:13:40Z");
    cJSON_Delete(t.psc.status);
    t.psc.status = NULL;
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_int_eq(t.plan->restart.set, 0);
    ck_assert_int_eq(t.plan->nactions, 0);
    ck_assert_ptr_nonnull(strstr(tk_cond(t.plan->status, "Rolling", "message"), "terminate"));
    tk_free(&t);
}
END_TEST

/* Paused: no action, no restart, the status says what waits. */
START_TEST(test_paused)
{
    struct tk t;
    setup_roll(&t, 3);
    t.psc.paused = true;
    tk_remove(&t, PLAN_POD, "orders-2");
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_int_eq(t.plan->nactions, 0);
    ck_assert_int_eq(t.plan->restart.set, 0);
    ck_assert_str_eq(tk_cond(t.plan->status, "Rolling", "reason"), "Paused");
    ck_assert_ptr_nonnull(strstr(tk_cond(t.plan->status, "Degraded", "message"), "paused"));
    tk_free(&t);
}
END_TEST

/* The restart annotation rolls every member once; a value that is not a valid label
 * value (kubectl's RFC3339 timestamps) is stored hashed. */
START_TEST(test_restart_annotation)
{
    char out[64];
    plan_restart_label(NULL, out);
    ck_assert_str_eq(out, "");
    plan_restart_label("7", out);
    ck_assert_str_eq(out, "7");
    plan_restart_label("2026-09-21T14:13:40Z", out);
    ck_assert_int_eq(out[0], 'h');
    ck_assert_int_eq((int)strlen(out), 11);
    char again[64];
    plan_restart_label("2026-09-21T14:13:40Z", again);
    ck_assert_str_eq(out, again);

    struct tk t;
    tk_init(&t, 3, ZONES3);
    tk_health_all(&t, 3, 0, 0);
    ck_assert_int_le(tk_converge(&t, 8), 8);
    char rev[11];
    plan_revision(&t.psc, rev);
    t.psc.restart_token = strdup("2026-09-21T14:13:40Z");
    int restarts = 0;
    for (int pass = 0; pass < 20; pass++) {
        ck_assert_int_eq(tk_plan(&t), 0);
        restarts += t.plan->restart.set;
        if (t.plan->restart.set)
            ck_assert_ptr_nonnull(strstr(t.plan->restart.reason, "annotation"));
        ck_assert_str_eq(t.plan->update_revision, rev); /* the template did not change */
        tk_apply(&t);
        tk_all_ready(&t);
    }
    ck_assert_int_eq(restarts, 3);
    cJSON *l = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(tk_get(&t, PLAN_POD, "orders-2"), "metadata"), "labels");
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(l, PSC_LABEL_RESTART)->valuestring, out);
    tk_free(&t);
}
END_TEST

/* A pod that failed for good (evicted) is deleted through the restart slot. */
START_TEST(test_failed_pod_replaced)
{
    struct tk t;
    tk_init(&t, 3, ZONES3);
    tk_health_all(&t, 3, 0, 0);
    ck_assert_int_le(tk_converge(&t, 8), 8);
    cJSON *st = cJSON_GetObjectItemCaseSensitive(tk_get(&t, PLAN_POD, "orders-1"), "status");
    cJSON_ReplaceItemInObjectCaseSensitive(st, "phase", cJSON_CreateString("Failed"));
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_int_eq(t.plan->restart.set, 1);
    ck_assert_str_eq(t.plan->restart.pod, "orders-1");
    ck_assert_ptr_nonnull(strstr(t.plan->restart.reason, "Failed"));
    tk_free(&t);
}
END_TEST

/* The revision hashes the member template only: replicas, gates and storage size
 * do not change it; image, config, resources, listeners and class do. */
START_TEST(test_revision)
{
    struct tk t;
    tk_init(&t, 3, ZONES3);
    char base[11], r[11];
    plan_revision(&t.psc, base);
    ck_assert_int_eq((int)strlen(base), 10);
    t.psc.spec.replicas = 7;
    t.psc.spec.gates[0].max = 5;
    t.psc.spec.storage_bytes *= 2;
    plan_revision(&t.psc, r);
    ck_assert_str_eq(r, base);
    /* key order of resources does not matter */
    cJSON_Delete(t.psc.spec.resources);
    t.psc.spec.resources = cJSON_Parse("{\"requests\":{\"memory\":\"8Gi\",\"cpu\":\"2\"}}");
    plan_revision(&t.psc, r);
    ck_assert_str_eq(r, base);
    free(t.psc.spec.config[0].value);
    t.psc.spec.config[0].value = strdup("12");
    plan_revision(&t.psc, r);
    ck_assert_str_ne(r, base);
    free(t.psc.spec.config[0].value);
    t.psc.spec.config[0].value = strdup("6");
    t.psc.spec.listeners[0].port = 9093;
    plan_revision(&t.psc, r);
    ck_assert_str_ne(r, base);
    t.psc.spec.listeners[0].port = 9092;
    t.psc.spec.storage_class = strdup("zonal-ssd");
    plan_revision(&t.psc, r);
    ck_assert_str_ne(r, base);
    tk_free(&t);
}
END_TEST

/* The roll ends only once the last restarted member is Ready and the gates hold. */
START_TEST(test_roll_finishes_after_gates)
{
    struct tk t;
    setup_roll(&t, 1);
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_int_eq(t.plan->restart.set, 1);
    tk_apply(&t);
    ck_assert_int_eq(tk_plan(&t), 0); /* recreated on the new revision */
    ck_assert_int_eq(tk_count(t.plan, PLAN_CREATE, PLAN_POD), 1);
    tk_apply(&t);
    tk_pod_ready(&t, "orders-0", false);
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_str_eq(tk_cond(t.plan->status, "Rolling", "status"), "True");
    ck_assert_str_eq(tk_cond(t.plan->status, "Rolling", "reason"), "RollFinishing");
    tk_apply(&t);
    tk_pod_ready(&t, "orders-0", true);
    t.gates[0][0].value = 1;
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_str_eq(tk_cond(t.plan->status, "Rolling", "reason"), "RollFinishing");
    ck_assert_ptr_nonnull(strstr(tk_cond(t.plan->status, "Rolling", "message"), URP " above"));
    tk_apply(&t);
    t.gates[0][0].value = 0;
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_str_eq(tk_cond(t.plan->status, "Rolling", "status"), "False");
    ck_assert_str_eq(tk_cond(t.plan->status, "Rolling", "reason"), "UpToDate");
    tk_free(&t);
}
END_TEST

/* An optional gate's metric only some members report (controller metrics on a KRaft
 * broker-only node) does not block; the members that report it still must hold it. */
START_TEST(test_metric_owned_by_some_members)
{
    struct tk t;
    setup_roll(&t, 3);
    t.psc.spec.gates[1].optional = true;
    t.gates[0][1].present = false;
    t.gates[1][1].present = false;
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_int_eq(t.plan->restart.set, 1);
    t.gates[2][1].value = 1;
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_int_eq(t.plan->restart.set, 0);
    ck_assert_ptr_nonnull(strstr(tk_cond(t.plan->status, "Rolling", "message"),
                                 "orders-2 reports "
                                 "kafka_controller_kafkacontroller_offlinepartitionscount above"));
    /* the same readings with the gate not optional (the default): the members that do
     * not report it fail it, by name, in Rolling and in Degraded */
    t.gates[2][1].value = 0;
    t.psc.spec.gates[1].optional = false;
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_int_eq(t.plan->restart.set, 0);
    ck_assert_str_eq(tk_cond(t.plan->status, "Rolling", "reason"), "RollBlocked");
    static const char want[] = "member orders-0 does not report metric "
                               "kafka_controller_kafkacontroller_offlinepartitionscount";
    ck_assert_ptr_nonnull(strstr(tk_cond(t.plan->status, "Rolling", "message"), want));
    ck_assert_str_eq(tk_cond(t.plan->status, "Degraded", "reason"), "GateFailing");
    ck_assert_ptr_nonnull(strstr(tk_cond(t.plan->status, "Degraded", "message"), want));
    ck_assert_str_eq(tk_cond(t.plan->status, "Ready", "status"), "False");
    tk_free(&t);
}
END_TEST

/* Sets the Ready condition of pod `name` True with lastTransitionTime `t`. */
static void ready_at(struct tk *t, const char *name, time_t when)
{
    tk_pod_ready(t, name, true);
    cJSON *k = cJSON_GetArrayItem(
        cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(tk_get(t, PLAN_POD, name), "status"), "conditions"),
        0);
    char ts[32];
    struct tm tm;
    gmtime_r(&when, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    cJSON_AddStringToObject(k, "lastTransitionTime", ts);
}

/* A member that became Ready moments ago holds the next restart back until it has stayed
 * Ready PLAN_SETTLE_SECONDS (its pod may be Ready before the engine behind it is), without
 * calling that a blocked roll; the timer is set for the moment it has settled. */
START_TEST(test_restarted_member_settles_first)
{
    static const struct {
        int ago;
        bool restarts;
    } cases[] = {{0, false},
                 {3, false},
                 {PLAN_SETTLE_SECONDS - 1, false},
                 {PLAN_SETTLE_SECONDS, true},
                 {600, true}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tk t;
        setup_roll(&t, 3);
        ready_at(&t, "orders-2", t.now - cases[i].ago);
        ck_assert_int_eq(tk_plan(&t), 0);
        ck_assert_msg(t.plan->restart.set == cases[i].restarts, "Ready %ds ago", cases[i].ago);
        if (!cases[i].restarts) {
            ck_assert_str_eq(tk_cond(t.plan->status, "Rolling", "reason"), "RollInProgress");
            const char *msg = tk_cond(t.plan->status, "Rolling", "message");
            ck_assert_ptr_nonnull(strstr(msg, "orders-2 became Ready"));
            ck_assert_int_eq(t.plan->requeue_after, PLAN_SETTLE_SECONDS - cases[i].ago + 1);
            for (int e = 0; e < t.plan->nevents; e++)
                ck_assert_str_ne(t.plan->events[e].reason, "RollBlocked");
        }
        tk_free(&t);
    }
}
END_TEST

/* Table: a broker that reports any state but running (3) blocks the roll, even when its
 * other gates hold — they may be the last readings of a process shutting down. */
START_TEST(test_broker_not_running_blocks)
{
    static const double states[] = {0, 1, 6, 7, 127};
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++) {
        struct tk t;
        setup_roll(&t, 3);
        t.health[1].broker_state.value = states[i];
        ck_assert_int_eq(tk_plan(&t), 0);
        ck_assert_msg(!t.plan->restart.set, "brokerstate %g", states[i]);
        ck_assert_str_eq(tk_cond(t.plan->status, "Rolling", "reason"), "RollBlocked");
        ck_assert_ptr_nonnull(strstr(tk_cond(t.plan->status, "Rolling", "message"),
                                     "orders-1 reports kafka_server_kafkaserver_brokerstate"));
        t.health[1].broker_state.value = 3;
        t.now += 15;
        tk_apply(&t);
        ck_assert_int_eq(tk_plan(&t), 0);
        ck_assert(t.plan->restart.set);
        tk_free(&t);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("plan_rolling");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_full_roll_one_at_a_time);
    tcase_add_test(tc, test_gate_blocks_then_proceeds);
    tcase_add_test(tc, test_block_reasons);
    tcase_add_test(tc, test_not_ready_member_first);
    tcase_add_test(tc, test_blip_while_another_restarts);
    tcase_add_test(tc, test_recovering_broker_waits);
    tcase_add_test(tc, test_missing_pod_recreated_during_blocked_roll);
    tcase_add_test(tc, test_stuck_roll_never_proceeds);
    tcase_add_test(tc, test_stuck_timed_from_block);
    tcase_add_test(tc, test_block_moment_cleared_on_progress);
    tcase_add_test(tc, test_operator_restart_resumes);
    tcase_add_test(tc, test_paused);
    tcase_add_test(tc, test_restart_annotation);
    tcase_add_test(tc, test_failed_pod_replaced);
    tcase_add_test(tc, test_revision);
    tcase_add_test(tc, test_roll_finishes_after_gates);
    tcase_add_test(tc, test_metric_owned_by_some_members);
    tcase_add_test(tc, test_restarted_member_settles_first);
    tcase_add_test(tc, test_broker_not_running_blocks);
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
