/* test_client_watch.c — kube_watch against the real API server: events in order with last_rv,
 * prompt cancel, a normal end at timeoutSeconds, metadata-only events, the line bound, and a
 * watch that survives an API server restart by re-watching from last_rv (or relisting on 410).
 * A 410 on demand is not something this API server gives (its watch cache replays a young
 * cluster's history from revision 1 as ADDED events): test_client_faults.c injects one. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/flag.h"
#include "kube/watch.h"
#include "kubetest.h"

static struct kt_fixture fx;

static void setup(void)
{
    kt_fixture_setup(&fx, "watch");
}

static void teardown(void)
{
    kt_fixture_teardown(&fx);
}

/* What the watch thread saw, as "TYPE name" lines. */
struct seen {
    pthread_mutex_t mu;
    struct buf log;
    int n;
    int bookmarks; /* counted, not logged: the server sends them when it likes */
    char kind[64]; /* kind of the last object */
};

static int record(enum kube_event_type t, const cJSON *obj, void *ud)
{
    static const char *names[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"};
    struct seen *s = ud;
    const cJSON *md = cJSON_GetObjectItem(obj, "metadata");
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(md, "name"));
    const char *kind = cJSON_GetStringValue(cJSON_GetObjectItem(obj, "kind"));
    if (name && strcmp(name, "kube-root-ca.crt") == 0)
        return 0; /* written by the controller manager whenever it likes */
    pthread_mutex_lock(&s->mu);
    if (t == KUBE_BOOKMARK) {
        s->bookmarks++;
        pthread_mutex_unlock(&s->mu);
        return 0;
    }
    buf_printf(&s->log, "%s %s\n", names[t], name ? name : "-");
    s->n++;
    snprintf(s->kind, sizeof s->kind, "%s", kind ? kind : "");
    pthread_mutex_unlock(&s->mu);
    return 0;
}

static int seen_has(struct seen *s, const char *line)
{
    pthread_mutex_lock(&s->mu);
    int has = s->log.data && strstr(s->log.data, line) != NULL;
    pthread_mutex_unlock(&s->mu);
    return has;
}

static int wait_seen(struct seen *s, const char *line, double secs)
{
    double end = kt_now() + secs;
    while (kt_now() < end) {
        if (seen_has(s, line))
            return 1;
        usleep(50 * 1000);
    }
    return 0;
}

struct watcher {
    pthread_t th;
    struct kube_client *c; /* its own: one client per thread */
    struct kube_watch_opts o;
    struct seen seen;
    volatile int stop;
    char rv[64];
    int rc;
    struct err e;
    double ended;
    int joined;
};

static void *watch_main(void *arg)
{
    struct watcher *w = arg;
    w->rc = kube_watch(w->c, &KUBE_CONFIGMAPS, fx.ns, &w->o, record, &w->seen, w->rv, sizeof w->rv,
                       &w->e);
    w->ended = kt_now();
    return NULL;
}

static void watcher_start(struct watcher *w, const char *rv)
{
    struct err e = {0};
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->seen.mu, NULL);
    w->c = kube_client_new(fx.cfg, &e);
    ck_assert_msg(w->c != NULL, "%s", e.msg);
    w->o.resource_version = NULL; /* from w->rv */
    w->o.stop = &w->stop;
    snprintf(w->rv, sizeof w->rv, "%s", rv ? rv : "");
}

static void watcher_run(struct watcher *w)
{
    ck_assert_int_eq(pthread_create(&w->th, NULL, watch_main, w), 0);
}

static void watcher_join(struct watcher *w)
{
    if (!w->joined)
        pthread_join(w->th, NULL);
    w->joined = 1;
    kube_client_free(w->c);
    buf_free(&w->seen.log);
    pthread_mutex_destroy(&w->seen.mu);
}

static cJSON *configmap(const char *name, const char *val)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "apiVersion", "v1");
    cJSON_AddStringToObject(o, "kind", "ConfigMap");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "metadata"), "name", name);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "data"), "v", val);
    return o;
}

static void create_cm(struct kube_client *c, const char *name, const char *val)
{
    struct kube_resp r = {0};
    cJSON *cm = configmap(name, val);
    int rc = kube_create(c, &KUBE_CONFIGMAPS, fx.ns, cm, &r);
    ck_assert_msg(rc == 0, "create %s: %d %s", name, rc, r.message);
    kube_resp_free(&r);
    cJSON_Delete(cm);
}

/* The list's resourceVersion: where a correct informer starts its watch. */
static void list_rv(char *rv, size_t n)
{
    struct kube_resp r = {0};
    cJSON *items = NULL;
    ck_assert_int_eq(kube_list_all(fx.kc, &KUBE_CONFIGMAPS, fx.ns, NULL, &items, rv, n, &r), 0);
    cJSON_Delete(items);
    kube_resp_free(&r);
}

START_TEST(test_events_in_order_and_cancel)
{
    create_cm(fx.kc, "before", "0"); /* before the list: must not be seen by the watch */
    char rv[64];
    list_rv(rv, sizeof rv);
    struct watcher w;
    watcher_start(&w, rv);
    watcher_run(&w);
    create_cm(fx.kc, "w1", "1");
    struct kube_resp r = {0};
    cJSON *patch = cJSON_Parse("{\"data\":{\"v\":\"2\"}}");
    ck_assert_int_eq(kube_patch_merge(fx.kc, &KUBE_CONFIGMAPS, fx.ns, "w1", NULL, patch, &r), 0);
    kube_resp_free(&r);
    cJSON_Delete(patch);
    ck_assert_int_eq(kube_delete(fx.kc, &KUBE_CONFIGMAPS, fx.ns, "w1", NULL, &r), 0);
    kube_resp_free(&r);
    ck_assert_msg(wait_seen(&w.seen, "DELETED w1", 10), "no DELETED event");
    ck_assert_str_eq(w.seen.log.data, "ADDED w1\nMODIFIED w1\nDELETED w1\n");
    ck_assert_str_eq(w.seen.kind, "ConfigMap");
    ck_assert_int_gt(atol(w.rv), atol(rv)); /* last_rv moved on */

    /* Cancel: the stop flag ends an idle watch within about a second. */
    double t0 = kt_now();
    flag_set(&w.stop, 1);
    pthread_join(w.th, NULL);
    w.joined = 1;
    ck_assert_int_eq(w.rc, ERR_CANCELLED);
    ck_assert_msg(w.ended - t0 < 2.0, "cancel took %.2fs", w.ended - t0);
    watcher_join(&w);
}
END_TEST

static int stop_after_first(enum kube_event_type t, const cJSON *obj, void *ud)
{
    int *n = ud;
    const char *name =
        cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "metadata"), "name"));
    /* Not ours: bookmarks, and the CA ConfigMap the controller manager adds to every new
     * namespace whenever it gets to it (a race with the list: this test's old flake). */
    if (t == KUBE_BOOKMARK || (name && strcmp(name, "kube-root-ca.crt") == 0))
        return 0;
    (*n)++;
    return 1; /* the handler ends the watch */
}

START_TEST(test_server_timeout_and_handler_stop)
{
    char rv[64];
    list_rv(rv, sizeof rv);
    /* The server ends the stream at timeoutSeconds: 0, re-watch from last_rv. */
    struct kube_watch_opts o = {.resource_version = rv, .timeout_seconds = 2};
    struct err e = {0};
    char last[64] = "";
    int n = 0;
    double t0 = kt_now();
    ck_assert_int_eq(
        kube_watch(fx.kc, &KUBE_CONFIGMAPS, fx.ns, &o, stop_after_first, &n, last, sizeof last, &e),
        0);
    ck_assert_msg(kt_now() - t0 > 1.5 && kt_now() - t0 < 10, "took %.1fs", kt_now() - t0);
    ck_assert_int_eq(n, 0);

    /* A handler returning non-zero ends the watch with ERR_CANCELLED. */
    create_cm(fx.kc, "h1", "1");
    o.timeout_seconds = 30;
    ck_assert_int_eq(
        kube_watch(fx.kc, &KUBE_CONFIGMAPS, fx.ns, &o, stop_after_first, &n, last, sizeof last, &e),
        ERR_CANCELLED);
    ck_assert_int_eq(n, 1);
    ck_assert_int_gt(atol(last), atol(rv));
}
END_TEST

START_TEST(test_metadata_only_and_line_bound)
{
    char rv[64];
    list_rv(rv, sizeof rv);
    char big[8192];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    create_cm(fx.kc, "big", big);

    struct seen s = {.mu = PTHREAD_MUTEX_INITIALIZER};
    struct kube_watch_opts o = {.resource_version = rv, .timeout_seconds = 2, .metadata_only = 1};
    struct err e = {0};
    char last[64] = "";
    ck_assert_int_eq(
        kube_watch(fx.kc, &KUBE_CONFIGMAPS, fx.ns, &o, record, &s, last, sizeof last, &e), 0);
    ck_assert_str_eq(s.log.data, "ADDED big\n");
    ck_assert_str_eq(s.kind, "PartialObjectMetadata");
    buf_free(&s.log);

    /* The full object does not fit a 4 KiB line: ERR_INVALID, not a crash or a huge buffer. */
    struct kube_watch_opts small = {.resource_version = rv, .timeout_seconds = 5, .max_line = 4096};
    ck_assert_int_eq(
        kube_watch(fx.kc, &KUBE_CONFIGMAPS, fx.ns, &small, record, &s, last, sizeof last, &e),
        ERR_INVALID);
    ck_assert_msg(strstr(e.msg, "longer than 4096") != NULL, "%s", e.msg);
    buf_free(&s.log);

    /* A resource the server does not serve: an API error, with its status. */
    static const struct kube_res nothing = {"nothing.ballast.dev", "v1", "things", 1};
    ck_assert_int_eq(kube_watch(fx.kc, &nothing, fx.ns, &o, record, &s, last, sizeof last, &e),
                     ERR_API);
    ck_assert_msg(strstr(e.msg, "404") != NULL, "%s", e.msg);
    buf_free(&s.log);
}
END_TEST

START_TEST(test_survives_apiserver_restart)
{
    char rv[64];
    list_rv(rv, sizeof rv);
    struct watcher w;
    watcher_start(&w, rv);
    watcher_run(&w);
    create_cm(fx.kc, "pre-restart", "1");
    ck_assert(wait_seen(&w.seen, "ADDED pre-restart", 10));

    double t0 = kt_now();
    int src = kt_sh(NULL, "bash '%s/hack/local-cluster.sh' restart-apiserver >&2",
                    kt_env("BALLAST_SOURCE_DIR"));
    ck_assert_int_eq(src, 0);
    fprintf(stderr, "apiserver restarted in %.1fs\n", kt_now() - t0);

    /* The stream broke (ERR_IO) or was closed by the server on shutdown (0). */
    pthread_join(w.th, NULL);
    w.joined = 1;
    ck_assert_msg(w.rc == ERR_IO || w.rc == 0, "watch ended with %d: %s", w.rc, w.e.msg);
    fprintf(stderr, "watch ended with %d (%s), last_rv %s\n", w.rc, w.e.msg, w.rv);
    char last[64];
    snprintf(last, sizeof last, "%s", w.rv);
    ck_assert_int_gt(atol(last), atol(rv));

    /* Created after the restart. The re-watch from last_rv either sees it, or -- because the
     * new API server's watch cache starts at the etcd revision of its start, after its own
     * lease write -- answers 410, and then a relist has it and a watch from the list's rv sees
     * what comes next. Both are the informer's protocol; whichever the server chose must work. */
    create_cm(fx.kc, "post-restart", "2");
    struct seen s = {.mu = PTHREAD_MUTEX_INITIALIZER};
    struct kube_watch_opts o = {.resource_version = last, .timeout_seconds = 3};
    struct err e = {0};
    int rc = kube_watch(w.c, &KUBE_CONFIGMAPS, fx.ns, &o, record, &s, last, sizeof last, &e);
    if (rc == 0) {
        fprintf(stderr, "re-watch from last_rv continued after the restart\n");
        ck_assert_str_eq(s.log.data, "ADDED post-restart\n");
    } else {
        ck_assert_msg(rc == ERR_GONE, "re-watch: %d %s", rc, e.msg);
        fprintf(stderr, "re-watch from last_rv: %s; relisting\n", e.msg);
        struct kube_resp r = {0};
        cJSON *items = NULL;
        char rv2[64];
        ck_assert_int_eq(
            kube_list_all(w.c, &KUBE_CONFIGMAPS, fx.ns, NULL, &items, rv2, sizeof rv2, &r), 0);
        int found = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, items)
        {
            const char *name = cJSON_GetStringValue(
                cJSON_GetObjectItem(cJSON_GetObjectItem(it, "metadata"), "name"));
            found += name && strcmp(name, "post-restart") == 0;
        }
        ck_assert_int_eq(found, 1);
        cJSON_Delete(items);
        kube_resp_free(&r);
        create_cm(fx.kc, "post-relist", "3");
        buf_free(&s.log);
        o.resource_version = rv2;
        rc = kube_watch(w.c, &KUBE_CONFIGMAPS, fx.ns, &o, record, &s, last, sizeof last, &e);
        ck_assert_msg(rc == 0, "watch after relist: %d %s", rc, e.msg);
        ck_assert_str_eq(s.log.data, "ADDED post-relist\n");
    }
    buf_free(&s.log);
    watcher_join(&w);
}
END_TEST

START_TEST(test_bad_args)
{
    struct err e = {0};
    char last[8] = "";
    struct seen s = {.mu = PTHREAD_MUTEX_INITIALIZER};
    ck_assert_int_eq(
        kube_watch(fx.kc, &KUBE_CONFIGMAPS, "bad/ns", NULL, record, &s, last, sizeof last, &e),
        ERR_INVALID);
    ck_assert_int_eq(
        kube_watch(fx.kc, &KUBE_CONFIGMAPS, fx.ns, NULL, NULL, NULL, last, sizeof last, &e),
        ERR_INVALID);
    ck_assert_int_eq(
        kube_watch(NULL, &KUBE_CONFIGMAPS, fx.ns, NULL, record, &s, last, sizeof last, &e),
        ERR_INVALID);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("client_watch");
    TCase *tc = kt_tcase(s, "watch", 180, setup, teardown);
    tcase_add_test(tc, test_events_in_order_and_cancel);
    tcase_add_test(tc, test_server_timeout_and_handler_stop);
    tcase_add_test(tc, test_metadata_only_and_line_bound);
    tcase_add_test(tc, test_bad_args);
    tcase_add_test(tc, test_survives_apiserver_restart);
    return kt_run_suite(s);
}
