/* test_server_metrics.c — the metrics registry: golden exposition text for the
 * ballast families, label-value and HELP escaping, number formatting, the series cap,
 * bad names and values, removal, and concurrent updates from several threads. */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/metrics.h"

static char *render(struct metrics *m)
{
    struct buf b = {0};
    struct err e = {0};
    ck_assert_int_eq(metrics_render(m, &b, &e), 0);
    return b.data ? buf_steal(&b) : strdup("");
}

START_TEST(test_golden_ballast)
{
    struct metrics *m = metrics_new(0);
    struct metrics_ballast mb;
    struct err e = {0};
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(metrics_register_ballast(m, &mb, &e), 0);

    ck_assert_int_eq(metrics_counter_add(mb.reconciles, METRICS_LABELS("ok"), 1), 0);
    ck_assert_int_eq(metrics_counter_add(mb.reconciles, METRICS_LABELS("ok"), 2), 0);
    ck_assert_int_eq(metrics_counter_add(mb.reconciles, METRICS_LABELS("error"), 1), 0);
    ck_assert_int_eq(metrics_counter_add(mb.reconcile_errors, NULL, 1), 0);
    ck_assert_int_eq(metrics_gauge_set(mb.workqueue_depth, NULL, 4), 0);
    ck_assert_int_eq(metrics_gauge_add(mb.workqueue_depth, NULL, -1), 0);
    ck_assert_int_eq(metrics_counter_add(mb.api_requests, METRICS_LABELS("GET", "200"), 10), 0);
    ck_assert_int_eq(metrics_counter_add(mb.api_requests, METRICS_LABELS("PATCH", "409"), 1), 0);
    ck_assert_int_eq(metrics_counter_add(mb.watch_restarts, METRICS_LABELS("pods"), 1), 0);
    ck_assert_int_eq(metrics_gauge_set(mb.roll_state, METRICS_LABELS("kafka/orders", "rolling"), 1),
                     0);
    ck_assert_int_eq(metrics_counter_add(mb.psc_reconciles, METRICS_LABELS("kafka/orders"), 1), 0);
    ck_assert_int_eq(metrics_counter_add(mb.psc_reconciles, METRICS_LABELS("kafka/orders"), 1), 0);
    ck_assert_int_eq(metrics_counter_add(mb.psc_reconciles, METRICS_LABELS("kafka/gone"), 1), 0);
    /* a deleted PSC's series goes, as its roll state does (ctl.c) */
    ck_assert_int_eq(metrics_remove(mb.psc_reconciles, METRICS_LABELS("kafka/gone")), 0);
    ck_assert_int_eq(metrics_gauge_set(mb.leader, NULL, 1), 0);
    ck_assert_int_eq(metrics_gauge_set(mb.cache_objects, METRICS_LABELS("pods"), 6000), 0);
    ck_assert_int_eq(metrics_gauge_set(mb.cache_bytes, METRICS_LABELS("pods"), 4.5e6), 0);

    static const char want[] =
        "# HELP ballast_reconciles_total Reconcile passes, by result.\n"
        "# TYPE ballast_reconciles_total counter\n"
        "ballast_reconciles_total{result=\"ok\"} 3\n"
        "ballast_reconciles_total{result=\"error\"} 1\n"
        "# HELP ballast_reconcile_errors_total Reconcile passes that ended in an error.\n"
        "# TYPE ballast_reconcile_errors_total counter\n"
        "ballast_reconcile_errors_total 1\n"
        "# HELP ballast_workqueue_depth PSC keys waiting in the work queue.\n"
        "# TYPE ballast_workqueue_depth gauge\n"
        "ballast_workqueue_depth 3\n"
        "# HELP ballast_api_requests_total Kubernetes API requests, by verb and HTTP status "
        "code.\n"
        "# TYPE ballast_api_requests_total counter\n"
        "ballast_api_requests_total{verb=\"GET\",code=\"200\"} 10\n"
        "ballast_api_requests_total{verb=\"PATCH\",code=\"409\"} 1\n"
        "# HELP ballast_watch_restarts_total Watches re-opened (timeout, 410 Gone, error), by "
        "resource.\n"
        "# TYPE ballast_watch_restarts_total counter\n"
        "ballast_watch_restarts_total{resource=\"pods\"} 1\n"
        "# HELP ballast_roll_state 1 for the state each PSC's roll is in (idle, rolling, "
        "blocked, stuck), by PSC.\n"
        "# TYPE ballast_roll_state gauge\n"
        "ballast_roll_state{psc=\"kafka/orders\",state=\"rolling\"} 1\n"
        "# HELP ballast_psc_reconciles_total Reconcile passes that read the PSC and planned "
        "(whether or not anything was to do, ok or error), by PSC.\n"
        "# TYPE ballast_psc_reconciles_total counter\n"
        "ballast_psc_reconciles_total{psc=\"kafka/orders\"} 2\n"
        "# HELP ballast_leader 1 while this replica holds the leader Lease.\n"
        "# TYPE ballast_leader gauge\n"
        "ballast_leader 1\n"
        "# HELP ballast_cache_objects Objects in the watch caches, by resource.\n"
        "# TYPE ballast_cache_objects gauge\n"
        "ballast_cache_objects{resource=\"pods\"} 6000\n"
        "# HELP ballast_cache_bytes Bytes the watch caches' entries hold (compacted JSON text, "
        "keys, owner uids; not the allocator's overhead), by resource.\n"
        "# TYPE ballast_cache_bytes gauge\n"
        "ballast_cache_bytes{resource=\"pods\"} 4500000\n";
    char *got = render(m);
    ck_assert_str_eq(got, want);
    free(got);
    metrics_free(m);
}
END_TEST

/* A fresh registry shows label-less families at 0 and labelled ones with no samples. */
START_TEST(test_golden_fresh)
{
    struct metrics *m = metrics_new(0);
    struct metrics_family *a, *b;
    static const char *const l[] = {"x"};
    ck_assert_int_eq(metrics_register(m, METRICS_GAUGE, "a", "", 0, NULL, &a, NULL), 0);
    ck_assert_int_eq(metrics_register(m, METRICS_COUNTER, "b_total", "B.", 1, l, &b, NULL), 0);
    char *got = render(m);
    ck_assert_str_eq(got, "# HELP a \n# TYPE a gauge\na 0\n"
                          "# HELP b_total B.\n# TYPE b_total counter\n");
    free(got);
    metrics_free(m);
}
END_TEST

struct esc_case {
    const char *value;
    const char *rendered;
};

static const struct esc_case escapes[] = {
    {"plain", "plain"},
    {"", ""},
    {"back\\slash", "back\\\\slash"},
    {"say \"hi\"", "say \\\"hi\\\""},
    {"two\nlines", "two\\nlines"},
    {"\\\"\n", "\\\\\\\"\\n"},
    {"tab\tstays", "tab\tstays"},
    {"utf8 zone-ä", "utf8 zone-ä"},
    {"{braces}=,", "{braces}=,"},
};

START_TEST(test_escaping)
{
    const struct esc_case *c = &escapes[_i];
    struct metrics *m = metrics_new(0);
    struct metrics_family *f;
    static const char *const l[] = {"v"};
    ck_assert_int_eq(
        metrics_register(m, METRICS_GAUGE, "g", "help with \\ and\nnewline \"q\"", 1, l, &f, NULL),
        0);
    ck_assert_int_eq(metrics_gauge_set(f, METRICS_LABELS(c->value), 2), 0);
    char want[256];
    snprintf(want, sizeof(want),
             "# HELP g help with \\\\ and\\nnewline \"q\"\n# TYPE g gauge\ng{v=\"%s\"} 2\n",
             c->rendered);
    char *got = render(m);
    ck_assert_str_eq(got, want);
    free(got);
    metrics_free(m);
}
END_TEST

struct num_case {
    double v;
    const char *text;
};

static const struct num_case nums[] = {
    {0, "0"},
    {1, "1"},
    {-2.5, "-2.5"},
    {0.1, "0.1"},
    {1e21, "1e+21"},
    {123456789012, "123456789012"},
    {1.0 / 3, "0.3333333333333333"},
    {INFINITY, "+Inf"},
    {-INFINITY, "-Inf"},
    {NAN, "NaN"},
};

START_TEST(test_numbers)
{
    const struct num_case *c = &nums[_i];
    struct metrics *m = metrics_new(0);
    struct metrics_family *f;
    ck_assert_int_eq(metrics_register(m, METRICS_GAUGE, "n", "h", 0, NULL, &f, NULL), 0);
    ck_assert_int_eq(metrics_gauge_set(f, NULL, c->v), 0);
    char want[128];
    snprintf(want, sizeof(want), "# HELP n h\n# TYPE n gauge\nn %s\n", c->text);
    char *got = render(m);
    ck_assert_str_eq(got, want);
    free(got);
    metrics_free(m);
}
END_TEST

START_TEST(test_series_cap)
{
    struct metrics *m = metrics_new(100);
    struct metrics_family *f;
    static const char *const l[] = {"pod"};
    ck_assert_int_eq(metrics_register(m, METRICS_COUNTER, "c_total", "h", 1, l, &f, NULL), 0);
    char v[32];
    for (int i = 0; i < 100; i++) {
        snprintf(v, sizeof(v), "p-%d", i);
        ck_assert_int_eq(metrics_counter_add(f, METRICS_LABELS(v), 1), 0);
    }
    /* The 101st series is refused, many times over; existing series keep counting. */
    for (int i = 100; i < 5000; i++) {
        snprintf(v, sizeof(v), "p-%d", i);
        ck_assert_int_eq(metrics_counter_add(f, METRICS_LABELS(v), 1), ERR_NOMEM);
    }
    ck_assert_int_eq(metrics_counter_add(f, METRICS_LABELS("p-7"), 1), 0);
    double got = 0;
    ck_assert_int_eq(metrics_get(f, METRICS_LABELS("p-7"), &got), 0);
    ck_assert(got == 2);
    ck_assert_int_eq(metrics_get(f, METRICS_LABELS("p-100"), &got), ERR_NOTFOUND);
    /* Removing one frees a slot. */
    ck_assert_int_eq(metrics_remove(f, METRICS_LABELS("p-0")), 0);
    ck_assert_int_eq(metrics_counter_add(f, METRICS_LABELS("p-4000"), 1), 0);
    char *text = render(m);
    int lines = 0;
    for (char *p = text; *p; p++)
        lines += *p == '\n';
    ck_assert_int_eq(lines, 102);
    ck_assert_ptr_null(strstr(text, "\"p-0\""));
    ck_assert_ptr_nonnull(strstr(text, "c_total{pod=\"p-4000\"} 1\n"));
    free(text);
    metrics_free(m);
}
END_TEST

/* The default cap (10k) holds, and lookups stay right after the index grows. */
START_TEST(test_default_cap)
{
    struct metrics *m = metrics_new(0);
    struct metrics_family *f;
    static const char *const l[] = {"a", "b"};
    ck_assert_int_eq(metrics_register(m, METRICS_GAUGE, "g", "h", 2, l, &f, NULL), 0);
    char a[16], b[16];
    int ok = 0;
    for (int i = 0; i < METRICS_DEFAULT_MAX_SERIES + 50; i++) {
        snprintf(a, sizeof(a), "%d", i / 10);
        snprintf(b, sizeof(b), "%d", i % 10);
        ok += metrics_gauge_set(f, METRICS_LABELS(a, b), i) == 0;
    }
    ck_assert_int_eq(ok, METRICS_DEFAULT_MAX_SERIES);
    double v = 0;
    ck_assert_int_eq(metrics_get(f, METRICS_LABELS("123", "4"), &v), 0);
    ck_assert(v == 1234);
    /* ("1","23") and ("12","3") are different series. */
    ck_assert_int_eq(metrics_get(f, METRICS_LABELS("12", "3"), &v), 0);
    ck_assert(v == 123);
    metrics_free(m);
}
END_TEST

struct bad_reg {
    const char *what;
    enum metrics_type type;
    const char *name;
    int nlabels;
    const char *labels[METRICS_MAX_LABELS + 1];
    int rc;
};

static const struct bad_reg bad_regs[] = {
    {"empty name", METRICS_GAUGE, "", 0, {NULL}, ERR_INVALID},
    {"NULL name", METRICS_GAUGE, NULL, 0, {NULL}, ERR_INVALID},
    {"digit first", METRICS_GAUGE, "1abc", 0, {NULL}, ERR_INVALID},
    {"dash", METRICS_GAUGE, "a-b", 0, {NULL}, ERR_INVALID},
    {"space", METRICS_GAUGE, "a b", 0, {NULL}, ERR_INVALID},
    {"bad type", (enum metrics_type)7, "a", 0, {NULL}, ERR_INVALID},
    {"too many labels", METRICS_GAUGE, "a", 5, {"a", "b", "c", "d", "e"}, ERR_INVALID},
    {"negative labels", METRICS_GAUGE, "a", -1, {NULL}, ERR_INVALID},
    {"reserved label", METRICS_GAUGE, "a", 1, {"__name__"}, ERR_INVALID},
    {"colon in label", METRICS_GAUGE, "a", 1, {"a:b"}, ERR_INVALID},
    {"NULL label", METRICS_GAUGE, "a", 1, {NULL}, ERR_INVALID},
    {"duplicate label", METRICS_GAUGE, "a", 2, {"x", "x"}, ERR_INVALID},
    {"duplicate name", METRICS_GAUGE, "taken", 0, {NULL}, ERR_CONFLICT},
};

START_TEST(test_bad_register)
{
    const struct bad_reg *c = &bad_regs[_i];
    struct metrics *m = metrics_new(0);
    struct metrics_family *f = (void *)1, *t;
    struct err e = {0};
    ck_assert_int_eq(metrics_register(m, METRICS_GAUGE, "taken", "h", 0, NULL, &t, NULL), 0);
    int rc = metrics_register(m, c->type, c->name, "h", c->nlabels, c->labels, &f, &e);
    ck_assert_msg(rc == c->rc, "%s: rc %d", c->what, rc);
    ck_assert_ptr_null(f);
    ck_assert_msg(e.msg[0] != '\0', "%s: no message", c->what);
    /* Name with a colon is valid for metrics. */
    ck_assert_int_eq(metrics_register(m, METRICS_GAUGE, "ns:rule", "h", 0, NULL, &t, NULL), 0);
    metrics_free(m);
}
END_TEST

START_TEST(test_bad_updates)
{
    struct metrics *m = metrics_new(0);
    struct metrics_family *c, *g;
    static const char *const l[] = {"x"};
    ck_assert_int_eq(metrics_register(m, METRICS_COUNTER, "c", "h", 1, l, &c, NULL), 0);
    ck_assert_int_eq(metrics_register(m, METRICS_GAUGE, "g", "h", 0, NULL, &g, NULL), 0);
    ck_assert_int_eq(metrics_counter_add(c, METRICS_LABELS("a"), -1), ERR_INVALID);
    ck_assert_int_eq(metrics_counter_add(c, METRICS_LABELS("a"), NAN), ERR_INVALID);
    ck_assert_int_eq(metrics_counter_add(c, NULL, 1), ERR_INVALID);
    ck_assert_int_eq(metrics_counter_add(c, METRICS_LABELS(NULL), 1), ERR_INVALID);
    ck_assert_int_eq(metrics_gauge_set(c, METRICS_LABELS("a"), 1), ERR_INVALID);
    ck_assert_int_eq(metrics_counter_add(g, NULL, 1), ERR_INVALID);
    ck_assert_int_eq(metrics_counter_add(NULL, NULL, 1), ERR_INVALID);
    char *huge = malloc(METRICS_MAX_VALUE_LEN + 2);
    memset(huge, 'x', METRICS_MAX_VALUE_LEN + 1);
    huge[METRICS_MAX_VALUE_LEN + 1] = '\0';
    ck_assert_int_eq(metrics_counter_add(c, METRICS_LABELS(huge), 1), ERR_INVALID);
    huge[METRICS_MAX_VALUE_LEN] = '\0';
    ck_assert_int_eq(metrics_counter_add(c, METRICS_LABELS(huge), 1), 0);
    free(huge);
    ck_assert_int_eq(metrics_remove(c, METRICS_LABELS("never")), 0);
    double v;
    ck_assert_int_eq(metrics_get(c, METRICS_LABELS("never"), &v), ERR_NOTFOUND);
    metrics_free(m);
    metrics_free(NULL);
}
END_TEST

/* A capped output buffer makes render fail cleanly. */
START_TEST(test_render_cap)
{
    struct metrics *m = metrics_new(0);
    struct metrics_ballast mb;
    ck_assert_int_eq(metrics_register_ballast(m, &mb, NULL), 0);
    struct buf b = {.max = 64};
    struct err e = {0};
    ck_assert_int_eq(metrics_render(m, &b, &e), ERR_NOMEM);
    ck_assert(e.msg[0] != '\0');
    buf_free(&b);
    metrics_free(m);
}
END_TEST

struct worker_arg {
    struct metrics_family *c, *g;
    int id;
};

static void *worker(void *p)
{
    struct worker_arg *a = p;
    char v[16];
    snprintf(v, sizeof(v), "w%d", a->id % 2);
    for (int i = 0; i < 20000; i++) {
        metrics_counter_add(a->c, METRICS_LABELS(v), 1);
        metrics_gauge_add(a->g, NULL, 1);
    }
    return NULL;
}

START_TEST(test_threads)
{
    struct metrics *m = metrics_new(0);
    struct metrics_family *c, *g;
    static const char *const l[] = {"w"};
    ck_assert_int_eq(metrics_register(m, METRICS_COUNTER, "c_total", "h", 1, l, &c, NULL), 0);
    ck_assert_int_eq(metrics_register(m, METRICS_GAUGE, "g", "h", 0, NULL, &g, NULL), 0);
    pthread_t t[4];
    struct worker_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct worker_arg){c, g, i};
        ck_assert_int_eq(pthread_create(&t[i], NULL, worker, &args[i]), 0);
    }
    for (int i = 0; i < 20; i++) {
        char *text = render(m);
        free(text);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    double v;
    ck_assert_int_eq(metrics_get(c, METRICS_LABELS("w0"), &v), 0);
    ck_assert(v == 40000);
    ck_assert_int_eq(metrics_get(g, NULL, &v), 0);
    ck_assert(v == 80000);
    metrics_free(m);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("server_metrics");
    TCase *tc = tcase_create("metrics");
    tcase_add_test(tc, test_golden_ballast);
    tcase_add_test(tc, test_golden_fresh);
    tcase_add_loop_test(tc, test_escaping, 0, sizeof escapes / sizeof escapes[0]);
    tcase_add_loop_test(tc, test_numbers, 0, sizeof nums / sizeof nums[0]);
    tcase_add_test(tc, test_series_cap);
    tcase_add_test(tc, test_default_cap);
    tcase_add_loop_test(tc, test_bad_register, 0, sizeof bad_regs / sizeof bad_regs[0]);
    tcase_add_test(tc, test_bad_updates);
    tcase_add_test(tc, test_render_cap);
    tcase_add_test(tc, test_threads);
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
