/* test_kube_workqueue.c — the work queue: de-duplication, a key never handed to two workers at once
 * (also with real threads), back-off growth, cap and forget, add_after ordering on a fake clock,
 * timeouts, shutdown waking waiters, bad arguments; and against a reference model (plain arrays and
 * linear scans) over random operations, and 10,000 waiting keys coming out in deadline order. */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kube/workqueue.h"

struct fake_clock {
    double now;
};

static double fake_now(void *ud)
{
    return ((struct fake_clock *)ud)->now;
}

static struct kube_wq *fake_queue(struct fake_clock *fc, double base, double max)
{
    struct err e = {0};
    struct kube_wq_opts o = {
        .base_delay = base, .max_delay = max, .clock = fake_now, .clock_ud = fc};
    struct kube_wq *q = kube_wq_new(&o, &e);
    ck_assert_msg(q != NULL, "%s", e.msg);
    return q;
}

/* get without waiting; "" when nothing is ready. The key is marked done at once unless keep. */
static void expect_get(struct kube_wq *q, const char *want, int keep)
{
    char *k = kube_wq_get(q, 0);
    if (!want) {
        ck_assert_msg(k == NULL, "expected nothing, got %s", k ? k : "");
        return;
    }
    ck_assert_msg(k != NULL, "expected %s, got nothing", want);
    ck_assert_str_eq(k, want);
    if (!keep)
        kube_wq_done(q, k);
    free(k);
}

START_TEST(test_dedup)
{
    struct fake_clock fc = {100};
    struct kube_wq *q = fake_queue(&fc, 0, 0);
    ck_assert_int_eq(kube_wq_add(q, "ns/a"), 0);
    ck_assert_int_eq(kube_wq_add(q, "ns/b"), 0);
    ck_assert_int_eq(kube_wq_add(q, "ns/a"), 0);
    ck_assert_int_eq(kube_wq_add(q, "ns/a"), 0);
    ck_assert_uint_eq(kube_wq_len(q), 2);
    expect_get(q, "ns/a", 0);
    expect_get(q, "ns/b", 0);
    expect_get(q, NULL, 0);
    ck_assert_uint_eq(kube_wq_len(q), 0);
    kube_wq_free(q);
}
END_TEST

START_TEST(test_processing_not_handed_twice)
{
    struct fake_clock fc = {0};
    struct kube_wq *q = fake_queue(&fc, 0, 0);
    kube_wq_add(q, "k");
    char *k = kube_wq_get(q, 0);
    ck_assert_ptr_nonnull(k);
    /* re-added while a worker holds it: queued only after done, and only once */
    kube_wq_add(q, "k");
    kube_wq_add(q, "k");
    ck_assert_uint_eq(kube_wq_len(q), 0);
    expect_get(q, NULL, 0);
    kube_wq_add(q, "other");
    expect_get(q, "other", 0);
    kube_wq_done(q, k);
    free(k);
    ck_assert_uint_eq(kube_wq_len(q), 1);
    expect_get(q, "k", 0);
    expect_get(q, NULL, 0);
    /* done without a re-add: gone for good; done twice or for an unknown key is harmless */
    kube_wq_done(q, "k");
    kube_wq_done(q, "never");
    expect_get(q, NULL, 0);
    kube_wq_free(q);
}
END_TEST

struct par {
    struct kube_wq *q;
    pthread_mutex_t mu;
    int busy[8];
    int overlap;
    int processed;
};

static void *worker(void *arg)
{
    struct par *p = arg;
    char *k;
    while ((k = kube_wq_get(p->q, 5)) != NULL) {
        int i = k[1] - '0';
        pthread_mutex_lock(&p->mu);
        if (p->busy[i])
            p->overlap++;
        p->busy[i] = 1;
        pthread_mutex_unlock(&p->mu);
        usleep(200); /* hold it, so re-adds land while processing */
        pthread_mutex_lock(&p->mu);
        p->busy[i] = 0;
        p->processed++;
        pthread_mutex_unlock(&p->mu);
        kube_wq_done(p->q, k);
        free(k);
    }
    return NULL;
}

START_TEST(test_no_concurrent_processing_threads)
{
    struct par p = {.q = kube_wq_new(NULL, NULL)};
    pthread_mutex_init(&p.mu, NULL);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, worker, &p);
    char key[3] = "k0";
    for (int round = 0; round < 2000; round++) {
        key[1] = (char)('0' + round % 8);
        kube_wq_add(p.q, key);
        if (round % 50 == 0)
            usleep(100);
    }
    /* let the workers drain, then stop them */
    for (int i = 0; i < 200 && (kube_wq_len(p.q) > 0); i++)
        usleep(10 * 1000);
    usleep(20 * 1000);
    kube_wq_shutdown(p.q);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    ck_assert_int_eq(p.overlap, 0);
    ck_assert_int_ge(p.processed, 8);
    ck_assert_int_le(p.processed, 2000);
    pthread_mutex_destroy(&p.mu);
    kube_wq_free(p.q);
}
END_TEST

START_TEST(test_backoff_growth_cap_forget)
{
    struct fake_clock fc = {0};
    struct kube_wq *q = fake_queue(&fc, 0.5, 5);
    static const double want[] = {0.5, 1, 2, 4, 5, 5, 5};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        double d = -1;
        ck_assert_int_eq(kube_wq_add_rate_limited(q, "x", &d), 0);
        ck_assert_msg(fabs(d - want[i]) < 1e-9, "retry %zu: delay %g, want %g", i, d, want[i]);
        ck_assert_int_eq(kube_wq_requeues(q, "x"), (int)i + 1);
        /* not ready before its delay, ready after */
        fc.now += d - 0.01;
        expect_get(q, NULL, 0);
        fc.now += 0.02;
        expect_get(q, "x", 0);
    }
    kube_wq_forget(q, "x");
    ck_assert_int_eq(kube_wq_requeues(q, "x"), 0);
    double d = -1;
    kube_wq_add_rate_limited(q, "x", &d);
    ck_assert_msg(fabs(d - 0.5) < 1e-9, "after forget: %g", d);
    /* back-off is per key */
    kube_wq_add_rate_limited(q, "y", &d);
    ck_assert_msg(fabs(d - 0.5) < 1e-9, "other key: %g", d);
    kube_wq_forget(q, "x");
    kube_wq_forget(q, "y");
    kube_wq_forget(q, "unknown");
    kube_wq_free(q);
}
END_TEST

START_TEST(test_backoff_defaults_and_huge_counts)
{
    struct fake_clock fc = {0};
    struct kube_wq *q = fake_queue(&fc, 0, 0); /* 0.5 s .. 300 s */
    double d = 0;
    for (int i = 0; i < 200; i++)
        kube_wq_add_rate_limited(q, "x", &d);
    ck_assert_msg(fabs(d - 300) < 1e-9, "cap: %g", d);
    ck_assert_int_eq(kube_wq_requeues(q, "x"), 200);
    ck_assert_uint_eq(kube_wq_waiting(q), 1);
    /* the first rate-limited add set the deadline at 0.5 s; later ones keep the earlier one */
    fc.now = 0.6;
    expect_get(q, "x", 0);
    kube_wq_free(q);
}
END_TEST

START_TEST(test_add_after_ordering)
{
    struct fake_clock fc = {10};
    struct kube_wq *q = fake_queue(&fc, 0, 0);
    kube_wq_add_after(q, "c", 3);
    kube_wq_add_after(q, "a", 1);
    kube_wq_add_after(q, "b", 2);
    kube_wq_add_after(q, "b2", 2); /* same deadline: first added first */
    ck_assert_uint_eq(kube_wq_len(q), 0);
    ck_assert_uint_eq(kube_wq_waiting(q), 4);
    expect_get(q, NULL, 0);
    fc.now = 11.5;
    expect_get(q, "a", 0);
    expect_get(q, NULL, 0);
    fc.now = 20;
    expect_get(q, "b", 0);
    expect_get(q, "b2", 0);
    expect_get(q, "c", 0);
    expect_get(q, NULL, 0);

    /* the earlier of two deadlines wins, either way round */
    kube_wq_add_after(q, "x", 10);
    kube_wq_add_after(q, "x", 1);
    kube_wq_add_after(q, "y", 1);
    kube_wq_add_after(q, "y", 10);
    ck_assert_uint_eq(kube_wq_waiting(q), 2);
    fc.now = 21.5;
    expect_get(q, "x", 0);
    expect_get(q, "y", 0);
    expect_get(q, NULL, 0);
    fc.now = 40;
    expect_get(q, NULL, 0); /* no second delivery from the later deadline */

    /* <= 0 is an immediate add; it overrides a pending delay */
    kube_wq_add_after(q, "z", 100);
    kube_wq_add_after(q, "z", 0);
    ck_assert_uint_eq(kube_wq_waiting(q), 0);
    expect_get(q, "z", 0);
    kube_wq_add_after(q, "n", -5);
    expect_get(q, "n", 0);

    /* a delayed add of a key that is already queued does not duplicate it */
    kube_wq_add(q, "d");
    kube_wq_add_after(q, "d", 1);
    fc.now = 50;
    expect_get(q, "d", 0);
    expect_get(q, NULL, 0);

    /* a delayed key that comes due while processing is queued after done */
    kube_wq_add(q, "p");
    char *k = kube_wq_get(q, 0);
    ck_assert_str_eq(k, "p");
    kube_wq_add_after(q, "p", 1);
    fc.now = 60;
    expect_get(q, NULL, 0);
    kube_wq_done(q, k);
    free(k);
    expect_get(q, "p", 0);
    kube_wq_free(q);
}
END_TEST

START_TEST(test_get_timeout_and_real_clock)
{
    struct kube_wq *q = kube_wq_new(NULL, NULL);
    double t0 = kube_wq_monotonic(NULL);
    ck_assert_ptr_null(kube_wq_get(q, 0.15));
    double took = kube_wq_monotonic(NULL) - t0;
    ck_assert_msg(took >= 0.14 && took < 2, "timeout took %g s", took);

    /* a waiter sleeping in get wakes when a delayed key comes due */
    kube_wq_add_after(q, "later", 0.2);
    t0 = kube_wq_monotonic(NULL);
    char *k = kube_wq_get(q, 5);
    took = kube_wq_monotonic(NULL) - t0;
    ck_assert_ptr_nonnull(k);
    ck_assert_str_eq(k, "later");
    ck_assert_msg(took >= 0.15 && took < 2, "delayed key after %g s", took);
    kube_wq_done(q, k);
    free(k);
    kube_wq_free(q);
}
END_TEST

static void *blocked_get(void *arg)
{
    return kube_wq_get(arg, -1);
}

START_TEST(test_shutdown_wakes_waiters)
{
    struct kube_wq *q = kube_wq_new(NULL, NULL);
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&th[i], NULL, blocked_get, q);
    usleep(50 * 1000);
    ck_assert_int_eq(kube_wq_shutting_down(q), 0);
    double t0 = kube_wq_monotonic(NULL);
    kube_wq_shutdown(q);
    for (int i = 0; i < 3; i++) {
        void *ret = (void *)1;
        pthread_join(th[i], &ret);
        ck_assert_ptr_null(ret);
    }
    ck_assert_msg(kube_wq_monotonic(NULL) - t0 < 2, "waiters were slow to wake");
    ck_assert_int_eq(kube_wq_shutting_down(q), 1);
    /* after shutdown: adds are ignored, get returns NULL at once */
    ck_assert_int_eq(kube_wq_add(q, "x"), 0);
    ck_assert_int_eq(kube_wq_add_after(q, "y", 1), 0);
    ck_assert_int_eq(kube_wq_add_rate_limited(q, "z", NULL), 0);
    ck_assert_uint_eq(kube_wq_len(q), 0);
    ck_assert_ptr_null(kube_wq_get(q, -1));
    kube_wq_free(q);
}
END_TEST

START_TEST(test_shutdown_with_work_in_flight)
{
    struct fake_clock fc = {0};
    struct kube_wq *q = fake_queue(&fc, 0, 0);
    kube_wq_add(q, "a");
    kube_wq_add(q, "b");
    kube_wq_add_after(q, "c", 5);
    kube_wq_add_rate_limited(q, "d", NULL);
    char *k = kube_wq_get(q, 0);
    kube_wq_add(q, k); /* dirty while processing */
    kube_wq_shutdown(q);
    kube_wq_done(q, k); /* not re-queued after shutdown */
    free(k);
    ck_assert_ptr_null(kube_wq_get(q, 0));
    kube_wq_free(q); /* frees every record left (valgrind checks) */
}
END_TEST

START_TEST(test_bad_arguments)
{
    struct fake_clock fc = {0};
    struct kube_wq *q = fake_queue(&fc, 0, 0);
    ck_assert_int_eq(kube_wq_add(q, NULL), ERR_INVALID);
    ck_assert_int_eq(kube_wq_add(q, ""), ERR_INVALID);
    ck_assert_int_eq(kube_wq_add_after(q, "x", NAN), ERR_INVALID);
    ck_assert_int_eq(kube_wq_add_rate_limited(q, "", NULL), ERR_INVALID);
    ck_assert_int_eq(kube_wq_add(NULL, "x"), ERR_INVALID);
    ck_assert_ptr_null(kube_wq_get(NULL, 0));
    kube_wq_done(NULL, "x");
    kube_wq_done(q, NULL);
    kube_wq_forget(NULL, "x");
    kube_wq_shutdown(NULL);
    ck_assert_uint_eq(kube_wq_len(NULL), 0);
    ck_assert_int_eq(kube_wq_requeues(q, NULL), 0);
    kube_wq_free(NULL);
    /* an infinite delay is accepted and simply never comes due */
    ck_assert_int_eq(kube_wq_add_after(q, "inf", INFINITY), 0);
    fc.now = 1e12;
    expect_get(q, NULL, 0);
    /* long and odd keys are just strings */
    char big[5000];
    memset(big, 'k', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ck_assert_int_eq(kube_wq_add(q, big), 0);
    ck_assert_int_eq(kube_wq_add(q, "ns/\xff\n"), 0);
    expect_get(q, big, 0);
    expect_get(q, "ns/\xff\n", 0);
    kube_wq_free(q);
}
END_TEST

START_TEST(test_many_keys)
{
    struct fake_clock fc = {0};
    struct kube_wq *q = fake_queue(&fc, 0, 0);
    char key[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "ns/k%d", i);
        kube_wq_add(q, key);
        kube_wq_add(q, key);
    }
    ck_assert_uint_eq(kube_wq_len(q), 5000);
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "ns/k%d", i);
        expect_get(q, key, 0); /* FIFO order */
    }
    expect_get(q, NULL, 0);
    kube_wq_free(q);
}
END_TEST

/* The reference model: what workqueue.h promises, written the slow and obvious way. */
#define M_KEYS 24
struct model {
    int dirty[M_KEYS], processing[M_KEYS], waiting[M_KEYS], failures[M_KEYS];
    double due[M_KEYS];
    long seq[M_KEYS]; /* when the deadline was set: equal deadlines come out first set first */
    long nseq;
    int fifo[M_KEYS * 2]; /* ready keys, in order */
    int nfifo;
    double base, max;
};

static void m_add(struct model *m, int k)
{
    if (m->dirty[k])
        return;
    m->dirty[k] = 1;
    if (!m->processing[k])
        m->fifo[m->nfifo++] = k;
}

static void m_wait(struct model *m, int k, double due)
{
    if (m->waiting[k] && m->due[k] <= due)
        return;
    m->waiting[k] = 1;
    m->due[k] = due;
    m->seq[k] = m->nseq++;
}

static void m_promote(struct model *m, double now)
{
    for (;;) {
        int best = -1;
        for (int k = 0; k < M_KEYS; k++)
            if (m->waiting[k] && m->due[k] <= now &&
                (best < 0 || m->due[k] < m->due[best] ||
                 (m->due[k] == m->due[best] && m->seq[k] < m->seq[best])))
                best = k;
        if (best < 0)
            return;
        m->waiting[best] = 0;
        m_add(m, best);
    }
}

static size_t m_waiting(const struct model *m)
{
    size_t n = 0;
    for (int k = 0; k < M_KEYS; k++)
        n += (size_t)m->waiting[k];
    return n;
}

static void m_key(char *buf, size_t n, int k)
{
    snprintf(buf, n, "ns/k%d", k);
}

START_TEST(test_against_model)
{
    unsigned seed = 12345u + (unsigned)_i;
    struct fake_clock fc = {1000};
    struct kube_wq *q = fake_queue(&fc, 0.5, 8);
    struct model m = {.base = 0.5, .max = 8};
    int held[M_KEYS], nheld = 0; /* keys handed out by get, done not yet called */
    char key[32];
    for (int step = 0; step < 4000; step++) {
        int op = rand_r(&seed) % 100;
        int k = rand_r(&seed) % M_KEYS;
        m_key(key, sizeof key, k);
        if (op < 15) {
            ck_assert_int_eq(kube_wq_add(q, key), 0);
            if (m.waiting[k])
                m.waiting[k] = 0;
            m_add(&m, k);
        } else if (op < 40) {
            /* whole and half seconds, so that deadlines tie often */
            double s = (double)(rand_r(&seed) % 13 - 2) / 2;
            ck_assert_int_eq(kube_wq_add_after(q, key, s), 0);
            if (s <= 0) {
                m.waiting[k] = 0;
                m_add(&m, k);
            } else {
                m_wait(&m, k, fc.now + s);
            }
        } else if (op < 52) {
            double d = -1;
            ck_assert_int_eq(kube_wq_add_rate_limited(q, key, &d), 0);
            double want = m.base * ldexp(1.0, m.failures[k] < 60 ? m.failures[k] : 60);
            if (want > m.max)
                want = m.max;
            m.failures[k]++;
            ck_assert_msg(d == want, "step %d: delay %g, want %g", step, d, want);
            m_wait(&m, k, fc.now + want);
        } else if (op < 57) {
            kube_wq_forget(q, key);
            m.failures[k] = 0;
        } else if (op < 77) {
            char *got = kube_wq_get(q, 0);
            m_promote(&m, fc.now);
            if (m.nfifo == 0) {
                ck_assert_msg(got == NULL, "step %d: got %s, model has nothing", step, got);
                continue;
            }
            int w = m.fifo[0];
            memmove(m.fifo, m.fifo + 1, (size_t)--m.nfifo * sizeof m.fifo[0]);
            m.dirty[w] = 0;
            m.processing[w] = 1;
            m_key(key, sizeof key, w);
            ck_assert_msg(got != NULL, "step %d: got nothing, model has %s", step, key);
            ck_assert_str_eq(got, key);
            free(got);
            held[nheld++] = w;
        } else if (op < 92) {
            if (nheld == 0)
                continue;
            int i = rand_r(&seed) % nheld;
            int w = held[i];
            held[i] = held[--nheld];
            m_key(key, sizeof key, w);
            kube_wq_done(q, key);
            m.processing[w] = 0;
            if (m.dirty[w])
                m.fifo[m.nfifo++] = w;
        } else {
            fc.now += (double)(rand_r(&seed) % 5) / 2;
        }
        m_promote(&m, fc.now);
        ck_assert_uint_eq(kube_wq_len(q), (size_t)m.nfifo);
        ck_assert_uint_eq(kube_wq_waiting(q), m_waiting(&m));
        m_key(key, sizeof key, k); /* get and done reused the buffer */
        ck_assert_int_eq(kube_wq_requeues(q, key), m.failures[k]);
    }
    kube_wq_free(q);
}
END_TEST

START_TEST(test_10000_waiting_in_deadline_order)
{
    enum { N = 10000 };
    struct fake_clock fc = {0};
    struct kube_wq *q = fake_queue(&fc, 0, 0);
    static double due[N];
    static long order[N]; /* when key i's deadline was last set */
    unsigned seed = 7;
    char key[32];
    long t = 0;
    for (int i = 0; i < N; i++) {
        due[i] = 1 + rand_r(&seed) % 3000; /* about 3 keys a deadline: ties */
        order[i] = t++;
        snprintf(key, sizeof key, "ns/k%d", i);
        ck_assert_int_eq(kube_wq_add_after(q, key, due[i]), 0);
    }
    /* every fourth key again: an earlier deadline wins (and counts as set now), a later one not */
    for (int i = 0; i < N; i += 4) {
        double d = 1 + rand_r(&seed) % 3000;
        snprintf(key, sizeof key, "ns/k%d", i);
        ck_assert_int_eq(kube_wq_add_after(q, key, d), 0);
        if (d < due[i]) {
            due[i] = d;
            order[i] = t++;
        }
    }
    ck_assert_uint_eq(kube_wq_waiting(q), N);
    fc.now = 0.5;
    expect_get(q, NULL, 0);
    double last_due = 0;
    long last_order = -1;
    int n = 0;
    for (double now = 1; now <= 3000; now += 1) {
        fc.now = now;
        char *k;
        while ((k = kube_wq_get(q, 0)) != NULL) {
            int i = atoi(k + 4);
            ck_assert_msg(due[i] == now, "%s due %g came out at %g", k, due[i], now);
            ck_assert_msg(due[i] > last_due || order[i] > last_order,
                          "%s out of order among deadline %g", k, now);
            last_due = due[i];
            last_order = order[i];
            kube_wq_done(q, k);
            free(k);
            n++;
        }
    }
    ck_assert_int_eq(n, N);
    ck_assert_uint_eq(kube_wq_waiting(q), 0);
    kube_wq_free(q);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kube_workqueue");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_dedup);
    tcase_add_test(tc, test_processing_not_handed_twice);
    tcase_add_test(tc, test_no_concurrent_processing_threads);
    tcase_add_test(tc, test_backoff_growth_cap_forget);
    tcase_add_test(tc, test_backoff_defaults_and_huge_counts);
    tcase_add_test(tc, test_add_after_ordering);
    tcase_add_test(tc, test_get_timeout_and_real_clock);
    tcase_add_test(tc, test_shutdown_wakes_waiters);
    tcase_add_test(tc, test_shutdown_with_work_in_flight);
    tcase_add_test(tc, test_bad_arguments);
    tcase_add_test(tc, test_many_keys);
    tcase_add_loop_test(tc, test_against_model, 0, 8);
    tcase_add_test(tc, test_10000_waiting_in_deadline_order);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
