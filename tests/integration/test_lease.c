/* test_lease.c — leader election against the real API server with two contenders (two election
 * threads, each with its own client): never two leaders at once; a released lease is taken over at
 * once, a crashed leader's after the lease expires; a leader cut off from the API server (fault
 * proxy) stops leading by its renew deadline; simultaneous attempts have exactly one winner. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kube/lease.h"
#include "kubetest.h"

#define DUR      3.0
#define DEADLINE 2.0
#define RETRY    0.4

static struct kt_fixture fx;

static void setup(void)
{
    kt_fixture_setup(&fx, "lease");
}

static void teardown(void)
{
    kt_fixture_teardown(&fx);
}

struct counts {
    int started, stopped;
};

static void on_started(void *ud)
{
    __atomic_fetch_add(&((struct counts *)ud)->started, 1, __ATOMIC_SEQ_CST);
}

static void on_stopped(void *ud)
{
    __atomic_fetch_add(&((struct counts *)ud)->stopped, 1, __ATOMIC_SEQ_CST);
}

static int cnt(int *p)
{
    return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

static struct kube_lease *contender(struct kube_config *c, const char *id, struct counts *n,
                                    int no_release)
{
    struct err e = {0};
    struct kube_lease_opts o = {.ns = fx.ns,
                                .name = "ballast-leader",
                                .identity = id,
                                .lease_duration = DUR,
                                .renew_deadline = DEADLINE,
                                .retry_period = RETRY,
                                .no_release = no_release,
                                .on_started_leading = on_started,
                                .on_stopped_leading = on_stopped,
                                .ud = n};
    struct kube_lease *l = kube_lease_new(c, &o, &e);
    ck_assert_msg(l != NULL, "%s", e.msg);
    return l;
}

/* Samples both every 10 ms for up to secs: fails the test if both lead at once; returns the time
 * (since the call) at which want (if non-NULL) became leader, or -1. */
static double watch_pair(struct kube_lease *a, struct kube_lease *b, double secs,
                         struct kube_lease *want)
{
    double t0 = kt_now();
    while (kt_now() - t0 < secs) {
        int la = kube_lease_is_leader(a), lb = kube_lease_is_leader(b);
        ck_assert_msg(!(la && lb), "two leaders at %.2fs", kt_now() - t0);
        if (want && kube_lease_is_leader(want))
            return kt_now() - t0;
        usleep(10 * 1000);
    }
    return -1;
}

static cJSON *get_lease(void)
{
    struct kube_resp r = {0};
    int rc = kube_get(fx.kc, &KUBE_LEASES, fx.ns, "ballast-leader", &r);
    ck_assert_msg(rc == 0, "get lease: %d %s", rc, r.message);
    cJSON *b = r.body;
    r.body = NULL;
    kube_resp_free(&r);
    return b;
}

static const char *spec_str(const cJSON *l, const char *k)
{
    return cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(l, "spec"), k));
}

static double spec_num(const cJSON *l, const char *k)
{
    return cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(l, "spec"), k));
}

START_TEST(test_release_hands_over)
{
    struct counts na = {0}, nb = {0};
    struct err e = {0};
    struct kube_lease *a = contender(fx.cfg, "replica-a", &na, 0);
    struct kube_lease *b = contender(fx.cfg, "replica-b", &nb, 0);
    ck_assert_int_eq(kube_lease_start(a, &e), 0);
    ck_assert_msg(watch_pair(a, b, 10, a) >= 0, "a never led");
    ck_assert_int_eq(kube_lease_start(b, &e), 0);
    /* several lease durations: a keeps renewing, b stands by */
    watch_pair(a, b, 2.5 * DUR, NULL);
    ck_assert(kube_lease_is_leader(a));
    ck_assert(!kube_lease_is_leader(b));
    char holder[64];
    kube_lease_holder(b, holder, sizeof holder);
    ck_assert_str_eq(holder, "replica-a");
    ck_assert_int_eq(cnt(&na.started), 1);
    ck_assert_int_eq(cnt(&nb.started), 0);

    double t0 = kt_now();
    kube_lease_stop(a); /* releases */
    ck_assert(!kube_lease_is_leader(a));
    ck_assert_int_eq(cnt(&na.stopped), 1);
    double took = watch_pair(a, b, DUR + 3, b);
    took = took < 0 ? -1 : kt_now() - t0;
    fprintf(stderr, "released lease taken over in %.2fs\n", took);
    ck_assert_msg(took >= 0 && took <= DUR, "takeover after release took %.2fs", took);
    ck_assert_int_eq(cnt(&nb.started), 1);

    cJSON *l = get_lease();
    ck_assert_str_eq(spec_str(l, "holderIdentity"), "replica-b");
    ck_assert_int_eq((int)spec_num(l, "leaseDurationSeconds"), (int)DUR);
    ck_assert_int_ge((int)spec_num(l, "leaseTransitions"), 1);
    cJSON_Delete(l);

    kube_lease_free(b);
    ck_assert_int_eq(cnt(&nb.stopped), 1);
    l = get_lease();
    ck_assert_str_eq(spec_str(l, "holderIdentity"), "");
    ck_assert_int_eq((int)spec_num(l, "leaseDurationSeconds"), 1);
    cJSON_Delete(l);
    kube_lease_free(a);
}
END_TEST

START_TEST(test_crashed_leader_expires)
{
    struct counts na = {0}, nb = {0};
    struct err e = {0};
    struct kube_lease *a = contender(fx.cfg, "replica-a", &na, 1);
    struct kube_lease *b = contender(fx.cfg, "replica-b", &nb, 0);
    ck_assert_int_eq(kube_lease_start(a, &e), 0);
    ck_assert_msg(watch_pair(a, b, 10, a) >= 0, "a never led");
    ck_assert_int_eq(kube_lease_start(b, &e), 0);
    watch_pair(a, b, 1.5, NULL);
    double t0 = kt_now();
    kube_lease_stop(a); /* no release: as if the process died */
    double took = watch_pair(a, b, DUR + 4, b);
    took = took < 0 ? -1 : kt_now() - t0;
    fprintf(stderr, "expired lease taken over in %.2fs\n", took);
    /* not before the lease could have expired (a renewed at most RETRY before stopping) ... */
    ck_assert_msg(took >= DUR - RETRY - 0.2, "took over too early: %.2fs", took);
    /* ... and within the lease duration plus one (jittered) retry and a request */
    ck_assert_msg(took >= 0 && took <= DUR + 1.2 * RETRY + 1.0, "takeover took %.2fs", took);
    kube_lease_free(a);
    kube_lease_free(b);
}
END_TEST

START_TEST(test_cut_off_leader_stops_by_deadline)
{
    struct kt_proxy p;
    kt_proxy_start(&p, fx.cfg);
    struct counts na = {0}, nb = {0};
    struct err e = {0};
    struct kube_lease *a = contender(p.cfg, "replica-a", &na, 0);
    struct kube_lease *b = contender(fx.cfg, "replica-b", &nb, 0);
    ck_assert_int_eq(kube_lease_start(a, &e), 0);
    ck_assert_msg(watch_pair(a, b, 10, a) >= 0, "a never led");
    ck_assert_int_eq(kube_lease_start(b, &e), 0);
    watch_pair(a, b, 1.0, NULL);

    /* a can no longer reach the API server */
    kt_proxy_fault(&p, "drop", 100000, NULL, "leases");
    double t0 = kt_now();
    while (kube_lease_is_leader(a) && kt_now() - t0 < DEADLINE + 2)
        usleep(10 * 1000);
    double lost = kt_now() - t0;
    fprintf(stderr, "cut-off leader stopped leading after %.2fs\n", lost);
    ck_assert_msg(!kube_lease_is_leader(a), "a still leads after %.2fs", lost);
    ck_assert_msg(lost <= DEADLINE + 0.1, "a stopped only after %.2fs", lost);
    double took = watch_pair(a, b, DUR + 4, b);
    ck_assert_msg(took >= 0, "b never took over");
    /* the callback comes from the election thread, after its failed attempt */
    for (int i = 0; i < 300 && cnt(&na.stopped) == 0; i++)
        usleep(10 * 1000);
    ck_assert_int_eq(cnt(&na.stopped), 1);
    watch_pair(a, b, 1.0, NULL);

    kt_proxy_reset(&p);
    kube_lease_free(b);
    kube_lease_free(a);
    kt_proxy_stop(&p);
}
END_TEST

START_TEST(test_try_and_release)
{
    struct counts na = {0}, nb = {0};
    struct err e = {0};
    struct kube_lease *a = contender(fx.cfg, "replica-a", &na, 0);
    struct kube_lease *b = contender(fx.cfg, "replica-b", &nb, 0);
    ck_assert_int_eq(kube_lease_try(a, &e), 1); /* creates it */
    ck_assert_int_eq(kube_lease_try(b, &e), 0);
    ck_assert_int_eq(kube_lease_try(a, &e), 1); /* renews */
    cJSON *l = get_lease();
    ck_assert_str_eq(spec_str(l, "holderIdentity"), "replica-a");
    ck_assert_int_eq((int)spec_num(l, "leaseTransitions"), 0);
    cJSON_Delete(l);
    ck_assert_int_eq(kube_lease_release(b, &e), 0); /* not b's: untouched */
    ck_assert_int_eq(kube_lease_try(b, &e), 0);
    ck_assert_int_eq(kube_lease_release(a, &e), 0);
    ck_assert_int_eq(kube_lease_try(b, &e), 1);
    ck_assert(kube_lease_is_leader(b));
    l = get_lease();
    ck_assert_str_eq(spec_str(l, "holderIdentity"), "replica-b");
    ck_assert_int_eq((int)spec_num(l, "leaseTransitions"), 1); /* counted as client-go does */
    cJSON_Delete(l);
    kube_lease_free(a);
    kube_lease_free(b);
}
END_TEST

struct racer {
    struct kube_lease *l;
    pthread_barrier_t *bar;
    int rc;
    struct err e;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    pthread_barrier_wait(r->bar);
    r->rc = kube_lease_try(r->l, &r->e);
    return NULL;
}

START_TEST(test_simultaneous_attempts_one_winner)
{
    struct counts n = {0};
    struct kube_lease *ls[2] = {contender(fx.cfg, "replica-a", &n, 0),
                                contender(fx.cfg, "replica-b", &n, 0)};
    for (int round = 0; round < 4; round++) {
        pthread_barrier_t bar;
        pthread_barrier_init(&bar, NULL, 2);
        struct racer rs[2] = {{.l = ls[0], .bar = &bar}, {.l = ls[1], .bar = &bar}};
        pthread_t th[2];
        for (int i = 0; i < 2; i++)
            pthread_create(&th[i], NULL, race, &rs[i]);
        for (int i = 0; i < 2; i++)
            pthread_join(th[i], NULL);
        pthread_barrier_destroy(&bar);
        ck_assert_msg(rs[0].rc >= 0 && rs[1].rc >= 0, "round %d: %s / %s", round, rs[0].e.msg,
                      rs[1].e.msg);
        ck_assert_msg(rs[0].rc + rs[1].rc == 1, "round %d: a=%d b=%d", round, rs[0].rc, rs[1].rc);
        struct err e = {0};
        /* odd rounds start from a released lease, even ones from none at all */
        for (int i = 0; i < 2; i++)
            ck_assert_int_eq(kube_lease_release(ls[i], &e), 0);
        if (round % 2 == 0) {
            struct kube_resp r = {0};
            ck_assert_int_eq(kube_delete(fx.kc, &KUBE_LEASES, fx.ns, "ballast-leader", NULL, &r),
                             0);
            kube_resp_free(&r);
        }
    }
    kube_lease_free(ls[0]);
    kube_lease_free(ls[1]);
}
END_TEST

int main(void)
{
    kube_set_backoff_scale(0.05);
    Suite *s = suite_create("lease");
    TCase *tc = kt_tcase(s, "lease", 120, setup, teardown);
    tcase_add_test(tc, test_try_and_release);
    tcase_add_test(tc, test_simultaneous_attempts_one_winner);
    tcase_add_test(tc, test_release_hands_over);
    tcase_add_test(tc, test_crashed_leader_expires);
    tcase_add_test(tc, test_cut_off_leader_stops_by_deadline);
    return kt_run_suite(s);
}
