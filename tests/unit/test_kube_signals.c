/* test_kube_signals.c — SIGTERM and SIGINT set the stop flag, count, and make the self-pipe
 * readable; a programmatic stop does the same; SIGPIPE no longer kills the process. Each test runs
 * in its own forked process (Check's default), so process-wide state does not leak between them. */
#include <check.h>
#include <poll.h>
#include <signal.h>
#include <time.h>

#include "kube/signals.h"

START_TEST(test_sigterm_sets_flag_and_pipe)
{
    struct err e = {0};
    ck_assert_int_eq(kube_sig_setup(&e), 0);
    ck_assert_int_eq(kube_sig_setup(&e), 0); /* idempotent */
    ck_assert_int_eq(kube_sig_stopping(), 0);
    ck_assert_int_eq(kube_sig_wait(0.05), 0);
    ck_assert_int_ge(kube_sig_fd(), 0);
    raise(SIGTERM);
    ck_assert_int_eq(kube_sig_stopping(), 1);
    ck_assert_int_eq(*kube_sig_stop_flag(), 1);
    ck_assert_int_eq(kube_sig_count(), 1);
    struct pollfd p = {.fd = kube_sig_fd(), .events = POLLIN};
    ck_assert_int_eq(poll(&p, 1, 0), 1);
    ck_assert_int_eq(kube_sig_wait(-1), 1);
    raise(SIGINT);
    ck_assert_int_eq(kube_sig_count(), 2);
    kube_sig_teardown();
    ck_assert_int_eq(kube_sig_stopping(), 0);
    ck_assert_int_eq(kube_sig_fd(), -1);
}
END_TEST

START_TEST(test_sigpipe_ignored)
{
    ck_assert_int_eq(kube_sig_setup(NULL), 0);
    raise(SIGPIPE); /* would end the test process with the default disposition */
    ck_assert_int_eq(kube_sig_stopping(), 0);
    kube_sig_teardown();
}
END_TEST

START_TEST(test_request_stop)
{
    ck_assert_int_eq(kube_sig_setup(NULL), 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_int_eq(kube_sig_wait(0.1), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    ck_assert_msg(took >= 0.09 && took < 2, "wait took %g", took);
    kube_sig_request_stop();
    ck_assert_int_eq(kube_sig_wait(5), 1);
    ck_assert_int_eq(kube_sig_count(), 0); /* not a signal */
    kube_sig_teardown();
}
END_TEST

START_TEST(test_request_stop_without_setup)
{
    ck_assert_int_eq(kube_sig_fd(), -1);
    ck_assert_int_eq(kube_sig_wait(0.06), 0);
    kube_sig_request_stop();
    ck_assert_int_eq(kube_sig_wait(1), 1);
    kube_sig_teardown(); /* not installed: harmless */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kube_signals");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_sigterm_sets_flag_and_pipe);
    tcase_add_test(tc, test_sigpipe_ignored);
    tcase_add_test(tc, test_request_stop);
    tcase_add_test(tc, test_request_stop_without_setup);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
