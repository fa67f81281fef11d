/* test_health_gate.c — tables for gate evaluation: all hold, a member with
 * under-replicated partitions, an unscrapable member, a missing metric, NaN, series
 * summed; plus the single-metric readings the planner uses. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "health/gate.h"

#define URP     "kafka_server_replicamanager_underreplicatedpartitions"
#define OFFLINE "kafka_controller_kafkacontroller_offlinepartitionscount"

static const struct gate_def kafka_gates[] = {{URP, 0}, {OFFLINE, 0}};

#define HEALTHY URP " 0.0\n" OFFLINE " 0.0\nkafka_server_kafkaserver_brokerstate 3.0\n"

/* One member as the table writes it: text == NULL means the scrape failed with error. */
struct member_spec {
    const char *name;
    const char *text;
    const char *error;
};

struct gate_case {
    const char *what;
    const struct gate_def *gates;
    int ngates;
    struct member_spec members[4];
    int nmembers;
    bool all_hold;
    int first_member, first_gate;
    enum gate_state first_state;
    double first_value;  /* when first_state == GATE_FAILS; NAN: expect NaN */
    const char *message; /* exact, or "" */
};

static const struct gate_def limit5[] = {{URP, 5}};
static const struct gate_def limit_neg[] = {{URP, -1}};

/* One row per case; kept by hand, since the formatter would put every field on a line. */
// clang-format off
static const struct gate_case cases[] = {
    {"all hold", kafka_gates, 2,
     {{"orders-0", HEALTHY, NULL}, {"orders-1", HEALTHY, NULL}, {"orders-2", HEALTHY, NULL}}, 3,
     true, -1, -1, GATE_HOLDS, 0, ""},
    {"one member has URP", kafka_gates, 2,
     {{"orders-0", HEALTHY, NULL}, {"orders-1", HEALTHY, NULL},
      {"orders-2", URP " 3.0\n" OFFLINE " 0.0\n", NULL}},
     3, false, 2, 0, GATE_FAILS, 3, "orders-2: " URP " is 3 (max 0)"},
    {"second gate fails", kafka_gates, 2, {{"orders-0", URP " 0\n" OFFLINE " 2\n", NULL}}, 1, false,
     0, 1, GATE_FAILS, 2, "orders-0: " OFFLINE " is 2 (max 0)"},
    {"unscrapable member", kafka_gates, 2,
     {{"orders-0", HEALTHY, NULL},
      {"orders-1", NULL, "GET http://10.0.0.5:9404/metrics failed: Connection refused"}},
     2, false, 1, 0, GATE_UNSCRAPABLE, 0,
     "orders-1: metrics could not be read (GET http://10.0.0.5:9404/metrics failed: "
     "Connection refused), so " URP " is unknown"},
    {"unscrapable without reason", kafka_gates, 2, {{"orders-0", NULL, NULL}}, 1, false, 0, 0,
     GATE_UNSCRAPABLE, 0,
     "orders-0: metrics could not be read (no reason given), so " URP " is unknown"},
    {"missing metric", kafka_gates, 2, {{"orders-0", URP " 0\n", NULL}}, 1, false, 0, 1,
     GATE_MISSING, 0, "orders-0: does not export " OFFLINE ", so it is not known to be healthy"},
    {"empty scrape", kafka_gates, 2, {{"orders-0", "", NULL}}, 1, false, 0, 0, GATE_MISSING, 0,
     "orders-0: does not export " URP ", so it is not known to be healthy"},
    {"NaN fails", kafka_gates, 2, {{"orders-0", URP " NaN\n" OFFLINE " 0\n", NULL}}, 1, false, 0, 0,
     GATE_FAILS, NAN, "orders-0: " URP " is NaN (max 0)"},
    {"+Inf fails", kafka_gates, 2, {{"orders-0", URP " +Inf\n" OFFLINE " 0\n", NULL}}, 1, false, 0,
     0, GATE_FAILS, INFINITY, "orders-0: " URP " is +Inf (max 0)"},
    {"-Inf holds", kafka_gates, 2, {{"orders-0", URP " -Inf\n" OFFLINE " 0\n", NULL}}, 1, true, -1,
     -1, GATE_HOLDS, 0, ""},
    {"series summed over the max", limit5, 1,
     {{"orders-0", URP "{topic=\"a\"} 2\n" URP "{topic=\"b\"} 2\n" URP "{topic=\"c\"} 2\n", NULL}},
     1, false, 0, 0, GATE_FAILS, 6, "orders-0: " URP " is 6 (max 5)"},
    {"series summed within the max", limit5, 1,
     {{"orders-0", URP "{topic=\"a\"} 2\n" URP "{topic=\"b\"} 3\n", NULL}}, 1, true, -1, -1,
     GATE_HOLDS, 0, ""},
    {"value equal to max holds", limit5, 1, {{"orders-0", URP " 5\n", NULL}}, 1, true, -1, -1,
     GATE_HOLDS, 0, ""},
    {"fractional values", limit_neg, 1, {{"orders-0", URP " -0.5\n", NULL}}, 1, false, 0, 0,
     GATE_FAILS, -0.5, "orders-0: " URP " is -0.5 (max -1)"},
    {"suffix is not the metric", kafka_gates, 1, {{"orders-0", URP "_total 0\n", NULL}}, 1, false,
     0, 0, GATE_MISSING, 0, "orders-0: does not export " URP ", so it is not known to be healthy"},
    {"first failure is in member order", kafka_gates, 2,
     {{"orders-0", HEALTHY, NULL}, {"orders-1", NULL, "timed out"}, {"orders-2", URP " 9\n", NULL}},
     3, false, 1, 0, GATE_UNSCRAPABLE, 0,
     "orders-1: metrics could not be read (timed out), so " URP " is unknown"},
    {"no gates", NULL, 0, {{"orders-0", NULL, "down"}}, 1, true, -1, -1, GATE_HOLDS, 0, ""},
    {"no members", kafka_gates, 2, {{0}}, 0, true, -1, -1, GATE_HOLDS, 0, ""},
};
// clang-format on

START_TEST(test_gate_table)
{
    const struct gate_case *c = &cases[_i];
    struct prom_samples *parsed[4] = {0};
    struct gate_member members[4] = {{0}};
    for (int i = 0; i < c->nmembers; i++) {
        members[i].name = c->members[i].name;
        members[i].scraped = c->members[i].text != NULL;
        members[i].error = c->members[i].error;
        if (c->members[i].text) {
            struct err pe = {0};
            ck_assert_msg(prom_parse(c->members[i].text, strlen(c->members[i].text), NULL,
                                     &parsed[i], &pe) == 0,
                          "%s: %s", c->what, pe.msg);
            members[i].samples = parsed[i];
        }
    }
    struct gate_report r;
    struct err e = {0};
    ck_assert_msg(gate_eval(c->gates, c->ngates, members, c->nmembers, &r, &e) == 0, "%s: %s",
                  c->what, e.msg);
    ck_assert_msg(r.all_hold == c->all_hold, "%s", c->what);
    ck_assert_int_eq(r.first_member, c->first_member);
    ck_assert_int_eq(r.first_gate, c->first_gate);
    ck_assert_str_eq(r.message, c->message);
    if (c->first_member >= 0) {
        const struct gate_result *res = gate_result_at(&r, c->first_member, c->first_gate);
        ck_assert_ptr_nonnull(res);
        ck_assert_msg(res->state == c->first_state, "%s: state %s", c->what,
                      gate_state_name(res->state));
        if (c->first_state == GATE_FAILS) {
            if (isnan(c->first_value))
                ck_assert(isnan(res->value));
            else
                ck_assert(res->value == c->first_value);
        }
    }
    /* an unscrapable member fails every gate, and every other verdict is consistent */
    for (int m = 0; m < c->nmembers && c->ngates > 0; m++) {
        for (int g = 0; g < c->ngates; g++) {
            const struct gate_result *res = gate_result_at(&r, m, g);
            ck_assert_ptr_nonnull(res);
            if (!members[m].scraped)
                ck_assert_int_eq(res->state, GATE_UNSCRAPABLE);
            if (c->all_hold)
                ck_assert_int_eq(res->state, GATE_HOLDS);
        }
    }
    ck_assert_ptr_null(gate_result_at(&r, c->nmembers, 0));
    ck_assert_ptr_null(gate_result_at(&r, 0, c->ngates));
    ck_assert_ptr_null(gate_result_at(&r, -1, 0));
    gate_report_free(&r);
    for (int i = 0; i < 4; i++)
        prom_samples_free(parsed[i]);
}
END_TEST

START_TEST(test_gate_invalid)
{
    struct gate_report r;
    struct err e = {0};
    struct gate_def nometric[] = {{NULL, 0}};
    struct gate_member m = {.name = "orders-0", .scraped = false};
    ck_assert_int_eq(gate_eval(nometric, 1, &m, 1, &r, &e), ERR_INVALID);
    ck_assert_msg(strstr(e.msg, "gate 0 has no metric name") != NULL, "%s", e.msg);
    gate_report_free(&r);
    struct gate_def empty[] = {{"", 0}};
    ck_assert_int_eq(gate_eval(empty, 1, &m, 1, &r, &e), ERR_INVALID);
    gate_report_free(&r);
    ck_assert_int_eq(gate_eval(NULL, 2, &m, 1, &r, &e), ERR_INVALID);
    gate_report_free(&r);
    ck_assert_int_eq(gate_eval(kafka_gates, 2, NULL, 1, &r, &e), ERR_INVALID);
    gate_report_free(&r);
    ck_assert_int_eq(gate_eval(kafka_gates, -1, &m, 1, &r, &e), ERR_INVALID);
    gate_report_free(&r);
    ck_assert_int_eq(gate_eval(kafka_gates, 2, &m, 1, NULL, &e), ERR_INVALID);
    gate_report_free(NULL);
}
END_TEST

struct value_case {
    const char *text; /* NULL: not scraped */
    const char *metric;
    bool found;
    double v;
};

static const struct value_case values[] = {
    {HEALTHY, "kafka_server_kafkaserver_brokerstate", true, 3},
    {"kafka_server_kafkaserver_brokerstate 2.0\n", "kafka_server_kafkaserver_brokerstate", true, 2},
    {"kafka_server_replicamanager_partitioncount 0.0\n",
     "kafka_server_replicamanager_partitioncount", true, 0},
    {"p{a=\"1\"} 4\np{a=\"2\"} 5\n", "p", true, 9},
    {HEALTHY, "kafka_server_replicamanager_partitioncount", false, 0},
    {NULL, "kafka_server_kafkaserver_brokerstate", false, 0},
    {HEALTHY, NULL, false, 0},
};

START_TEST(test_member_value)
{
    const struct value_case *c = &values[_i];
    struct prom_samples *s = NULL;
    struct err e = {0};
    if (c->text)
        ck_assert_msg(prom_parse(c->text, strlen(c->text), NULL, &s, &e) == 0, "%s", e.msg);
    struct gate_member m = {.name = "orders-0", .scraped = c->text != NULL, .samples = s};
    double v = -42;
    ck_assert_int_eq(health_member_value(&m, c->metric, &v), c->found);
    ck_assert(v == (c->found ? c->v : -42));
    ck_assert(!health_member_value(NULL, "x", &v));
    prom_samples_free(s);
}
END_TEST

START_TEST(test_state_names)
{
    ck_assert_str_eq(gate_state_name(GATE_HOLDS), "holds");
    ck_assert_str_eq(gate_state_name(GATE_FAILS), "fails");
    ck_assert_str_eq(gate_state_name(GATE_MISSING), "missing");
    ck_assert_str_eq(gate_state_name(GATE_UNSCRAPABLE), "unscrapable");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("health_gate");
    TCase *tc = tcase_create("gate");
    tcase_add_loop_test(tc, test_gate_table, 0, sizeof cases / sizeof cases[0]);
    tcase_add_loop_test(tc, test_member_value, 0, sizeof values / sizeof values[0]);
    tcase_add_test(tc, test_gate_invalid);
    tcase_add_test(tc, test_state_names);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
