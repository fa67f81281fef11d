/* test_informer.c — the informer against the real API server: ADDED/MODIFIED/DELETED for labelled
 * ConfigMaps in a fresh namespace (and nothing for unlabelled ones), the owner index, events across
 * an API server restart, a dropped watch resumed from its resourceVersion, a relist after 410 Gone
 * (through the fault proxy) that synthesizes DELETED for an object deleted while the watch was
 * down, metadata-only Nodes, and a prompt stop. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kube/informer.h"
#include "kubetest.h"

#define SEL "app.kubernetes.io/managed-by=ballast"

static struct kt_fixture fx;

static void setup(void)
{
    kt_fixture_setup(&fx, "inf");
}

static void teardown(void)
{
    kt_fixture_teardown(&fx);
}

/* What the handler saw, as "TYPE name" lines. */
struct seen {
    pthread_mutex_t mu;
    struct buf log;
};

static void record(enum kube_event_type t, const cJSON *obj, void *ud)
{
    static const char *names[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"};
    struct seen *s = ud;
    const cJSON *md = cJSON_GetObjectItem(obj, "metadata");
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(md, "name"));
    pthread_mutex_lock(&s->mu);
    buf_printf(&s->log, "%s %s\n", names[t], name ? name : "-");
    pthread_mutex_unlock(&s->mu);
}

static int seen_has(struct seen *s, const char *line)
{
    char want[256];
    snprintf(want, sizeof want, "%s\n", line);
    pthread_mutex_lock(&s->mu);
    int has = s->log.data && strstr(s->log.data, want) != NULL;
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
    pthread_mutex_lock(&s->mu);
    fprintf(stderr, "waited %.0fs for '%s'; saw:\n%s", secs, line, s->log.data ? s->log.data : "");
    pthread_mutex_unlock(&s->mu);
    return 0;
}

/* Creates a ConfigMap; labelled ones match SEL. owner_uid (may be NULL) names an owner ConfigMap
 * owner_name. The new object's uid goes to uid (may be NULL). */
static void create_cm(const char *name, int labelled, const char *owner_name, const char *owner_uid,
                      char *uid, size_t n)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "apiVersion", "v1");
    cJSON_AddStringToObject(o, "kind", "ConfigMap");
    cJSON *md = cJSON_AddObjectToObject(o, "metadata");
    cJSON_AddStringToObject(md, "name", name);
    if (labelled)
        cJSON_AddStringToObject(cJSON_AddObjectToObject(md, "labels"),
                                "app.kubernetes.io/managed-by", "ballast");
    if (owner_uid) {
        cJSON *ref = cJSON_CreateObject();
        cJSON_AddStringToObject(ref, "apiVersion", "v1");
        cJSON_AddStringToObject(ref, "kind", "ConfigMap");
        cJSON_AddStringToObject(ref, "name", owner_name);
        cJSON_AddStringToObject(ref, "uid", owner_uid);
        cJSON_AddItemToArray(cJSON_AddArrayToObject(md, "ownerReferences"), ref);
    }
    cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "data"), "v", "1");
    struct kube_resp r = {0};
    int rc = kube_create(fx.kc, &KUBE_CONFIGMAPS, fx.ns, o, &r);
    ck_assert_msg(rc == 0, "create %s: %d %s", name, rc, r.message);
    if (uid) {
        const char *u = cJSON_GetStringValue(
            cJSON_GetObjectItem(cJSON_GetObjectItem(r.body, "metadata"), "uid"));
        snprintf(uid, n, "%s", u ? u : "");
    }
    kube_resp_free(&r);
    cJSON_Delete(o);
}

static void patch_cm(const char *name, const char *value)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(cJSON_AddObjectToObject(p, "data"), "v", value);
    struct kube_resp r = {0};
    int rc = kube_patch_merge(fx.kc, &KUBE_CONFIGMAPS, fx.ns, name, NULL, p, &r);
    ck_assert_msg(rc == 0, "patch %s: %d %s", name, rc, r.message);
    kube_resp_free(&r);
    cJSON_Delete(p);
}

static void delete_cm(const char *name)
{
    struct kube_resp r = {0};
    int rc = kube_delete(fx.kc, &KUBE_CONFIGMAPS, fx.ns, name, NULL, &r);
    ck_assert_msg(rc == 0, "delete %s: %d %s", name, rc, r.message);
    kube_resp_free(&r);
}

static struct kube_informer *start_informer(struct kube_config *c, struct seen *s, double bmin,
                                            double bmax)
{
    struct err e = {0};
    struct kube_informer_opts o = {.res = &KUBE_CONFIGMAPS,
                                   .ns = fx.ns,
                                   .label_selector = SEL,
                                   .handler = record,
                                   .ud = s,
                                   .backoff_min = bmin,
                                   .backoff_max = bmax};
    struct kube_informer *inf = kube_informer_new(c, &o, &e);
    ck_assert_msg(inf != NULL, "%s", e.msg);
    ck_assert_int_eq(kube_informer_start(inf, &e), 0);
    ck_assert_msg(kube_informer_wait_synced(inf, 30, NULL), "informer did not sync in 30s");
    return inf;
}

static const char *data_v(const cJSON *obj)
{
    return cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "data"), "v"));
}

START_TEST(test_events_and_cache)
{
    struct seen s = {.mu = PTHREAD_MUTEX_INITIALIZER};
    char owner_uid[64];
    create_cm("pre", 1, NULL, NULL, owner_uid, sizeof owner_uid);
    create_cm("unlabelled", 0, NULL, NULL, NULL, 0);
    struct kube_informer *inf = start_informer(fx.cfg, &s, 0, 0);
    struct kube_cache *cache = kube_informer_cache(inf);
    ck_assert_int_eq(kube_informer_synced(inf), 1);
    ck_assert(seen_has(&s, "ADDED pre")); /* from the initial list */
    ck_assert_uint_eq(kube_cache_count(cache), 1);

    create_cm("child", 1, "pre", owner_uid, NULL, 0);
    ck_assert(wait_seen(&s, "ADDED child", 15));
    cJSON *kids = kube_cache_list_owner(cache, owner_uid);
    ck_assert_int_eq(cJSON_GetArraySize(kids), 1);
    cJSON_Delete(kids);

    patch_cm("child", "2");
    ck_assert(wait_seen(&s, "MODIFIED child", 15));
    cJSON *got = kube_cache_get(cache, fx.ns, "child");
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(data_v(got), "2");
    cJSON_Delete(got);

    delete_cm("child");
    ck_assert(wait_seen(&s, "DELETED child", 15));
    ck_assert_ptr_null(kube_cache_get(cache, fx.ns, "child"));
    kids = kube_cache_list_owner(cache, owner_uid);
    ck_assert_int_eq(cJSON_GetArraySize(kids), 0);
    cJSON_Delete(kids);

    patch_cm("unlabelled", "9");
    usleep(500 * 1000);
    ck_assert(!seen_has(&s, "ADDED unlabelled") && !seen_has(&s, "MODIFIED unlabelled"));

    struct kube_informer_stats st;
    kube_informer_get_stats(inf, &st);
    ck_assert_uint_eq(st.lists, 1);
    ck_assert_uint_eq(st.relists, 0);
    ck_assert_uint_ge(st.events, 4);

    double t0 = kt_now();
    kube_informer_free(inf);
    ck_assert_msg(kt_now() - t0 < 3, "stop took %.1fs", kt_now() - t0);
    buf_free(&s.log);
}
END_TEST

START_TEST(test_survives_apiserver_restart)
{
    struct seen s = {.mu = PTHREAD_MUTEX_INITIALIZER};
    struct kube_informer *inf = start_informer(fx.cfg, &s, 0.2, 2);
    struct kube_cache *cache = kube_informer_cache(inf);
    create_cm("before", 1, NULL, NULL, NULL, 0);
    ck_assert(wait_seen(&s, "ADDED before", 15));

    double t0 = kt_now();
    int src = kt_sh(NULL, "bash '%s/hack/local-cluster.sh' restart-apiserver >&2",
                    kt_env("BALLAST_SOURCE_DIR"));
    ck_assert_int_eq(src, 0);
    fprintf(stderr, "apiserver restarted in %.1fs\n", kt_now() - t0);

    create_cm("after", 1, NULL, NULL, NULL, 0);
    ck_assert(wait_seen(&s, "ADDED after", 60));
    patch_cm("before", "2");
    ck_assert(wait_seen(&s, "MODIFIED before", 30));
    delete_cm("before");
    ck_assert(wait_seen(&s, "DELETED before", 30));
    ck_assert_uint_eq(kube_cache_count(cache), 1);

    struct kube_informer_stats st;
    kube_informer_get_stats(inf, &st);
    fprintf(stderr, "after restart: lists %lu relists %lu watch restarts %lu errors %lu\n",
            st.lists, st.relists, st.watch_restarts, st.errors);
    ck_assert_uint_ge(st.watch_restarts, 1);
    kube_informer_free(inf);
    buf_free(&s.log);
}
END_TEST

START_TEST(test_relist_after_gone_synthesizes_deleted)
{
    struct kt_proxy p;
    kt_proxy_start(&p, fx.cfg);
    struct seen s = {.mu = PTHREAD_MUTEX_INITIALIZER};
    create_cm("stay", 1, NULL, NULL, NULL, 0);
    create_cm("doomed", 1, NULL, NULL, NULL, 0);
    struct kube_informer *inf = start_informer(p.cfg, &s, 0.2, 0.5);
    ck_assert(seen_has(&s, "ADDED stay") && seen_has(&s, "ADDED doomed"));

    /* the next watch is told its resourceVersion is gone, and the lists that follow fail, so the
     * world can change behind the informer's back */
    kt_proxy_reset(&p); /* count only the lists that come after the cut */
    kt_proxy_fault(&p, "watch410", 1, NULL, "watch=");
    kt_proxy_fault(&p, "503", 100000, NULL, "configmaps?labelSelector");
    kt_proxy_kill(&p);
    /* Change the world only once the informer is cut off: its watch has ended and it has
     * started (failing) lists. A fixed sleep here let a loaded machine's still-open watch
     * deliver the delete itself. */
    for (int i = 0; i < 200 && kt_proxy_count(&p, "GET", "configmaps?labelSelector") < 1; i++)
        usleep(50 * 1000);
    ck_assert_int_ge(kt_proxy_count(&p, "GET", "configmaps?labelSelector"), 1);
    delete_cm("doomed");
    patch_cm("stay", "2");
    create_cm("born", 1, NULL, NULL, NULL, 0);
    usleep(1500 * 1000);
    ck_assert(!seen_has(&s, "DELETED doomed"));
    ck_assert_int_ge(kt_proxy_count(&p, "GET", "configmaps?labelSelector"), 1);

    /* lists work again: the relist finds doomed gone and must say so */
    kt_proxy_reset(&p);
    ck_assert(wait_seen(&s, "DELETED doomed", 20));
    ck_assert(wait_seen(&s, "ADDED born", 20));
    ck_assert(wait_seen(&s, "MODIFIED stay", 20));
    struct kube_cache *cache = kube_informer_cache(inf);
    ck_assert_uint_eq(kube_cache_count(cache), 2);
    cJSON *got = kube_cache_get(cache, fx.ns, "stay");
    ck_assert_str_eq(data_v(got), "2");
    cJSON_Delete(got);

    struct kube_informer_stats st;
    kube_informer_get_stats(inf, &st);
    ck_assert_uint_ge(st.relists, 1);
    ck_assert_uint_ge(st.errors, 1);

    /* and it keeps watching afterwards */
    create_cm("later", 1, NULL, NULL, NULL, 0);
    ck_assert(wait_seen(&s, "ADDED later", 20));
    kube_informer_free(inf);
    kt_proxy_stop(&p);
    buf_free(&s.log);
}
END_TEST

START_TEST(test_dropped_watch_resumes_without_relist)
{
    struct kt_proxy p;
    kt_proxy_start(&p, fx.cfg);
    struct seen s = {.mu = PTHREAD_MUTEX_INITIALIZER};
    struct kube_informer *inf = start_informer(p.cfg, &s, 0.2, 0.5);
    create_cm("one", 1, NULL, NULL, NULL, 0);
    ck_assert(wait_seen(&s, "ADDED one", 15));
    /* the stream breaks; the next two watch attempts fail too */
    kt_proxy_fault(&p, "drop", 2, NULL, "watch=");
    kt_proxy_kill(&p);
    create_cm("two", 1, NULL, NULL, NULL, 0);
    ck_assert(wait_seen(&s, "ADDED two", 20));
    struct kube_informer_stats st;
    kube_informer_get_stats(inf, &st);
    fprintf(stderr, "after drops: lists %lu relists %lu watch restarts %lu errors %lu\n", st.lists,
            st.relists, st.watch_restarts, st.errors);
    ck_assert_uint_eq(st.relists, 0); /* resumed from last_rv */
    ck_assert_uint_ge(st.watch_restarts, 2);
    ck_assert_uint_eq(kube_cache_count(kube_informer_cache(inf)), 2);
    kube_informer_free(inf);
    kt_proxy_stop(&p);
    buf_free(&s.log);
}
END_TEST

START_TEST(test_nodes_metadata_only)
{
    struct err e = {0};
    struct kube_informer_opts o = {.res = &KUBE_NODES, .metadata_only = 1};
    struct kube_informer *inf = kube_informer_new(fx.cfg, &o, &e);
    ck_assert_msg(inf != NULL, "%s", e.msg);
    ck_assert_int_eq(kube_informer_start(inf, &e), 0);
    ck_assert_int_eq(kube_informer_start(inf, &e), ERR_INVALID);
    ck_assert(kube_informer_wait_synced(inf, 30, NULL));
    struct kube_cache *cache = kube_informer_cache(inf);
    ck_assert_uint_ge(kube_cache_count(cache), 6);
    cJSON *all = kube_cache_list_ns(cache, NULL);
    const cJSON *n;
    cJSON_ArrayForEach(n, all)
    {
        ck_assert_ptr_null(cJSON_GetObjectItem(n, "spec"));
        ck_assert_ptr_null(cJSON_GetObjectItem(n, "status"));
        const cJSON *labels = cJSON_GetObjectItem(cJSON_GetObjectItem(n, "metadata"), "labels");
        ck_assert_ptr_nonnull(cJSON_GetObjectItem(labels, "topology.kubernetes.io/zone"));
    }
    cJSON_Delete(all);
    kube_informer_free(inf);
}
END_TEST

START_TEST(test_unreachable_server_backs_off_and_stops)
{
    /* a server nobody listens on: list fails, the informer backs off, never syncs, stops fast */
    struct kube_config *bad = kt_config();
    free(bad->server);
    bad->server = strdup("https://127.0.0.1:1");
    struct err e = {0};
    struct kube_informer_opts o = {
        .res = &KUBE_CONFIGMAPS, .ns = fx.ns, .backoff_min = 0.1, .backoff_max = 0.2};
    struct kube_informer *inf = kube_informer_new(bad, &o, &e);
    ck_assert_msg(inf != NULL, "%s", e.msg);
    ck_assert_int_eq(kube_informer_start(inf, &e), 0);
    volatile int give_up = 0;
    ck_assert_int_eq(kube_informer_wait_synced(inf, 1.5, &give_up), 0);
    char last[512];
    kube_informer_last_error(inf, last, sizeof last);
    ck_assert_msg(last[0] != '\0', "no error recorded");
    fprintf(stderr, "last error: %s\n", last);
    struct kube_informer_stats st;
    kube_informer_get_stats(inf, &st);
    ck_assert_uint_ge(st.errors, 1);
    double t0 = kt_now();
    kube_informer_free(inf);
    ck_assert_msg(kt_now() - t0 < 5, "stop took %.1fs", kt_now() - t0);
    kube_config_free(bad);
}
END_TEST

int main(void)
{
    kube_set_backoff_scale(0.05);
    Suite *s = suite_create("informer");
    TCase *tc = kt_tcase(s, "informer", 240, setup, teardown);
    tcase_add_test(tc, test_events_and_cache);
    tcase_add_test(tc, test_relist_after_gone_synthesizes_deleted);
    tcase_add_test(tc, test_dropped_watch_resumes_without_relist);
    tcase_add_test(tc, test_nodes_metadata_only);
    tcase_add_test(tc, test_unreachable_server_backs_off_and_stops);
    tcase_add_test(tc, test_survives_apiserver_restart);
    return kt_run_suite(s);
}
