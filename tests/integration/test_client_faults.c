/* test_client_faults.c — the client through tests/support/faultproxy.py in front of the real API
 * server: GETs and idempotent writes retried through 500/503/429 (Retry-After honoured) and
 * dropped connections, a POST never repeated after it may have reached the server, a bounded
 * number of attempts, and watches that end promptly when dropped, stalled, cancelled or told 410.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/flag.h"
#include "kube/watch.h"
#include "kubetest.h"

static struct kt_fixture fx;   /* fx.kc goes straight to the API server */
static struct kube_client *pc; /* through the proxy */
static struct kt_proxy proxy;

static void setup(void)
{
    struct err e = {0};
    kt_fixture_setup(&fx, "faults");
    kt_proxy_start(&proxy, fx.cfg);
    pc = kube_client_new(proxy.cfg, &e);
    ck_assert_msg(pc != NULL, "%s", e.msg);
    kube_set_backoff_scale(0.05); /* keep the suite fast; Retry-After is still honoured */
}

static void teardown(void)
{
    kube_client_free(pc);
    kt_proxy_stop(&proxy);
    kt_fixture_teardown(&fx);
}

static cJSON *configmap(const char *name)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "apiVersion", "v1");
    cJSON_AddStringToObject(o, "kind", "ConfigMap");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "metadata"), "name", name);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "data"), "k", "v");
    return o;
}

static void create_cm(const char *name)
{
    struct kube_resp r = {0};
    cJSON *cm = configmap(name);
    ck_assert_int_eq(kube_create(fx.kc, &KUBE_CONFIGMAPS, fx.ns, cm, &r), 0);
    kube_resp_free(&r);
    cJSON_Delete(cm);
}

static char path_of[256];
static const char *cm_path(const char *name)
{
    snprintf(path_of, sizeof path_of, "/namespaces/%s/configmaps/%s", fx.ns, name);
    return path_of;
}

START_TEST(test_proxy_passes_through)
{
    create_cm("plain");
    struct kube_resp r = {0};
    ck_assert_int_eq(kube_get(pc, &KUBE_CONFIGMAPS, fx.ns, "plain", &r), 0);
    ck_assert_int_eq(r.status, 200);
    kube_resp_free(&r);
    ck_assert_int_eq(kt_proxy_count(&proxy, "GET", cm_path("plain")), 1);
}
END_TEST

START_TEST(test_get_retried_through_500_and_drop)
{
    create_cm("x");
    struct kube_resp r = {0};
    kt_proxy_fault(&proxy, "500", 2, "GET", cm_path("x"));
    ck_assert_int_eq(kube_get(pc, &KUBE_CONFIGMAPS, fx.ns, "x", &r), 0);
    ck_assert_int_eq(r.status, 200);
    kube_resp_free(&r);
    ck_assert_int_eq(kt_proxy_count(&proxy, "GET", cm_path("x")), 3);

    kt_proxy_reset(&proxy);
    kt_proxy_fault(&proxy, "drop", 2, "GET", cm_path("x"));
    ck_assert_int_eq(kube_get(pc, &KUBE_CONFIGMAPS, fx.ns, "x", &r), 0);
    kube_resp_free(&r);
    ck_assert_int_eq(kt_proxy_count(&proxy, "GET", cm_path("x")), 3);

    /* A LIST too. */
    kt_proxy_reset(&proxy);
    kt_proxy_fault(&proxy, "503", 1, "GET", "/configmaps?");
    struct kube_list_opts o = {.limit = 5};
    ck_assert_int_eq(kube_list(pc, &KUBE_CONFIGMAPS, fx.ns, &o, &r), 0);
    kube_resp_free(&r);
    ck_assert_int_eq(kt_proxy_count(&proxy, "GET", "/configmaps?"), 2);
}
END_TEST

START_TEST(test_429_honours_retry_after)
{
    create_cm("t");
    struct kube_resp r = {0};
    kt_proxy_fault(&proxy, "429", 1, "GET", cm_path("t"));
    double t0 = kt_now();
    ck_assert_int_eq(kube_get(pc, &KUBE_CONFIGMAPS, fx.ns, "t", &r), 0);
    double took = kt_now() - t0;
    kube_resp_free(&r);
    ck_assert_msg(took >= 0.95 && took < 5, "Retry-After: 1 but retried after %.2fs", took);
    ck_assert_int_eq(kt_proxy_count(&proxy, "GET", cm_path("t")), 2);

    /* 429 means the server did not run it: even a POST is sent again. */
    kt_proxy_reset(&proxy);
    kt_proxy_fault(&proxy, "429", 1, "POST", "/configmaps");
    cJSON *cm = configmap("after-429");
    ck_assert_int_eq(kube_create(pc, &KUBE_CONFIGMAPS, fx.ns, cm, &r), 0);
    ck_assert_int_eq(r.status, 201);
    kube_resp_free(&r);
    cJSON_Delete(cm);
    ck_assert_int_eq(kt_proxy_count(&proxy, "POST", "/configmaps"), 2);
}
END_TEST

START_TEST(test_post_not_retried)
{
    struct kube_resp r = {0};
    cJSON *cm = configmap("once");
    kt_proxy_fault(&proxy, "500", 1, "POST", "/configmaps");
    ck_assert_int_eq(kube_create(pc, &KUBE_CONFIGMAPS, fx.ns, cm, &r), ERR_API);
    ck_assert_int_eq(r.status, 500);
    ck_assert_str_eq(r.reason, "InternalError");
    ck_assert_str_eq(r.message, "injected fault");
    kube_resp_free(&r);
    ck_assert_int_eq(kt_proxy_count(&proxy, "POST", "/configmaps"), 1);

    /* Dropped after the request went out: it may have been done, so it is not repeated. */
    kt_proxy_reset(&proxy);
    kt_proxy_fault(&proxy, "drop", 1, "POST", "/configmaps");
    ck_assert_int_eq(kube_create(pc, &KUBE_CONFIGMAPS, fx.ns, cm, &r), ERR_IO);
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.message, "POST"));
    kube_resp_free(&r);
    ck_assert_int_eq(kt_proxy_count(&proxy, "POST", "/configmaps"), 1);

    /* A merge patch is idempotent, so it is retried; a plain PUT without resourceVersion not. */
    create_cm("p");
    kt_proxy_reset(&proxy);
    kt_proxy_fault(&proxy, "500", 1, "PATCH", cm_path("p"));
    cJSON *patch = cJSON_Parse("{\"data\":{\"k\":\"patched\"}}");
    ck_assert_int_eq(kube_patch_merge(pc, &KUBE_CONFIGMAPS, fx.ns, "p", NULL, patch, &r), 0);
    kube_resp_free(&r);
    cJSON_Delete(patch);
    ck_assert_int_eq(kt_proxy_count(&proxy, "PATCH", cm_path("p")), 2);
    kt_proxy_fault(&proxy, "500", 1, "PUT", cm_path("p"));
    cJSON *put = configmap("p");
    ck_assert_int_eq(kube_update(pc, &KUBE_CONFIGMAPS, fx.ns, "p", put, &r), ERR_API);
    kube_resp_free(&r);
    ck_assert_int_eq(kt_proxy_count(&proxy, "PUT", cm_path("p")), 1);
    cJSON_Delete(put);
    cJSON_Delete(cm);
}
END_TEST

START_TEST(test_idempotent_writes_retried)
{
    create_cm("u");
    struct kube_resp r = {0};
    ck_assert_int_eq(kube_get(fx.kc, &KUBE_CONFIGMAPS, fx.ns, "u", &r), 0);
    cJSON *obj = cJSON_Duplicate(r.body, 1);
    kube_resp_free(&r);
    /* PUT carrying resourceVersion: a repeat can only conflict, never double-apply. */
    kt_proxy_fault(&proxy, "503", 1, "PUT", cm_path("u"));
    ck_assert_int_eq(kube_update(pc, &KUBE_CONFIGMAPS, fx.ns, "u", obj, &r), 0);
    kube_resp_free(&r);
    ck_assert_int_eq(kt_proxy_count(&proxy, "PUT", cm_path("u")), 2);
    /* Server-side apply. */
    cJSON *ap = configmap("u");
    kt_proxy_fault(&proxy, "500", 1, "PATCH", cm_path("u"));
    ck_assert_int_eq(kube_apply(pc, &KUBE_CONFIGMAPS, fx.ns, "u", NULL, ap, "ballast", 1, &r), 0);
    kube_resp_free(&r);
    ck_assert_int_eq(kt_proxy_count(&proxy, "PATCH", cm_path("u")), 2);
    /* DELETE with a precondition. */
    const char *uid =
        cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "metadata"), "uid"));
    struct kube_delete_opts d = {.precondition_uid = uid, .grace_seconds = -1};
    kt_proxy_fault(&proxy, "500", 1, "DELETE", cm_path("u"));
    ck_assert_int_eq(kube_delete(pc, &KUBE_CONFIGMAPS, fx.ns, "u", &d, &r), 0);
    kube_resp_free(&r);
    ck_assert_int_eq(kt_proxy_count(&proxy, "DELETE", cm_path("u")), 2);
    /* DELETE without one is not repeated. */
    create_cm("v");
    kt_proxy_fault(&proxy, "500", 1, "DELETE", cm_path("v"));
    ck_assert_int_eq(kube_delete(pc, &KUBE_CONFIGMAPS, fx.ns, "v", NULL, &r), ERR_API);
    kube_resp_free(&r);
    ck_assert_int_eq(kt_proxy_count(&proxy, "DELETE", cm_path("v")), 1);
    cJSON_Delete(ap);
    cJSON_Delete(obj);
}
END_TEST

START_TEST(test_retries_are_bounded)
{
    create_cm("b");
    struct kube_resp r = {0};
    kt_proxy_fault(&proxy, "500", 50, "GET", cm_path("b"));
    double t0 = kt_now();
    ck_assert_int_eq(kube_get(pc, &KUBE_CONFIGMAPS, fx.ns, "b", &r), ERR_API);
    ck_assert_int_eq(r.status, 500);
    kube_resp_free(&r);
    int n = kt_proxy_count(&proxy, "GET", cm_path("b"));
    ck_assert_msg(n == 5, "%d attempts", n);
    ck_assert_msg(kt_now() - t0 < 10, "gave up after %.1fs", kt_now() - t0);
}
END_TEST

static int attempts;
static void count_attempts(const char *verb, long status, void *ud)
{
    (void)verb;
    (void)status;
    (void)ud;
    attempts++;
}

START_TEST(test_untrusted_server_not_retried)
{
    /* The system store does not trust the cluster CA: a verification error, reported at once. */
    struct kube_config *c2 = kube_config_new();
    c2->server = strdup(fx.cfg->server);
    c2->cert_pem = malloc(fx.cfg->cert_len);
    memcpy(c2->cert_pem, fx.cfg->cert_pem, fx.cfg->cert_len);
    c2->cert_len = fx.cfg->cert_len;
    c2->key_pem = malloc(fx.cfg->key_len);
    memcpy(c2->key_pem, fx.cfg->key_pem, fx.cfg->key_len);
    c2->key_len = fx.cfg->key_len;
    struct err e = {0};
    struct kube_client *c = kube_client_new(c2, &e);
    ck_assert_ptr_nonnull(c);
    attempts = 0;
    kube_set_request_observer(count_attempts, NULL);
    struct kube_resp r = {0};
    ck_assert_int_eq(kube_get(c, &KUBE_CONFIGMAPS, fx.ns, "x", &r), ERR_IO);
    kube_set_request_observer(NULL, NULL);
    ck_assert_int_eq(attempts, 1);
    ck_assert_msg(strstr(r.message, "certificate") != NULL, "%s", r.message);
    kube_resp_free(&r);
    kube_client_free(c);

    /* insecure-skip-tls-verify gets through (and still authenticates with the client cert). */
    c2->insecure = 1;
    c = kube_client_new(c2, &e);
    ck_assert_int_eq(kube_list(c, &KUBE_CONFIGMAPS, fx.ns, NULL, &r), 0);
    kube_resp_free(&r);
    kube_client_free(c);
    kube_config_free(c2);
}
END_TEST

/* ---- watches through the proxy ---- */

struct wctx {
    pthread_t th;
    struct kube_client *c;
    struct kube_watch_opts o;
    volatile int stop;
    volatile int events;
    char rv[64];
    int rc;
    struct err e;
    double ended;
};

static int count_events(enum kube_event_type t, const cJSON *obj, void *ud)
{
    (void)obj;
    struct wctx *w = ud;
    if (t != KUBE_BOOKMARK)
        w->events++;
    return 0;
}

static void *watch_main(void *arg)
{
    struct wctx *w = arg;
    w->rc = kube_watch(w->c, &KUBE_CONFIGMAPS, fx.ns, &w->o, count_events, w, w->rv, sizeof w->rv,
                       &w->e);
    w->ended = kt_now();
    return NULL;
}

static void watch_start(struct wctx *w)
{
    struct err e = {0};
    memset(w, 0, sizeof *w);
    w->c = kube_client_new(proxy.cfg, &e);
    ck_assert_ptr_nonnull(w->c);
    w->o.stop = &w->stop;
    w->o.timeout_seconds = 60;
    snprintf(w->rv, sizeof w->rv, "0"); /* any: start with synthetic ADDEDs */
    ck_assert_int_eq(pthread_create(&w->th, NULL, watch_main, w), 0);
}

static void watch_join(struct wctx *w)
{
    pthread_join(w->th, NULL);
    kube_client_free(w->c);
}

START_TEST(test_dropped_watch_returns_promptly)
{
    create_cm("w0");
    struct wctx w;
    watch_start(&w);
    for (int i = 0; i < 100 && w.events == 0; i++)
        usleep(50 * 1000);
    ck_assert_int_gt(w.events, 0);
    double t0 = kt_now();
    kt_proxy_kill(&proxy);
    watch_join(&w);
    ck_assert_msg(w.rc == ERR_IO, "rc %d: %s", w.rc, w.e.msg);
    ck_assert_msg(w.ended - t0 < 2.0, "took %.2fs", w.ended - t0);
    /* A dropped watch is the caller's to resume: it was not retried under the hood. */
    ck_assert_int_eq(kt_proxy_count(&proxy, "GET", "watch=true"), 1);
}
END_TEST

START_TEST(test_stalled_watch_detected)
{
    kube_watch_set_stall_seconds(2);
    kt_proxy_fault(&proxy, "stall", 1, "GET", "watch=true");
    struct wctx w;
    double t0 = kt_now();
    watch_start(&w);
    watch_join(&w);
    kube_watch_set_stall_seconds(0);
    ck_assert_msg(w.rc == ERR_IO, "rc %d: %s", w.rc, w.e.msg);
    ck_assert_msg(w.ended - t0 > 1.5 && w.ended - t0 < 6, "took %.2fs", w.ended - t0);
}
END_TEST

START_TEST(test_cancel_while_stalled)
{
    kt_proxy_fault(&proxy, "stall", 1, "GET", "watch=true");
    struct wctx w;
    watch_start(&w);
    usleep(500 * 1000);
    double t0 = kt_now();
    flag_set(&w.stop, 1);
    watch_join(&w);
    ck_assert_msg(w.rc == ERR_CANCELLED, "rc %d: %s", w.rc, w.e.msg);
    ck_assert_msg(w.ended - t0 < 1.5, "cancel took %.2fs", w.ended - t0);
}
END_TEST

START_TEST(test_injected_410)
{
    kt_proxy_fault(&proxy, "watch410", 1, "GET", "watch=true");
    struct wctx w;
    watch_start(&w);
    watch_join(&w);
    ck_assert_msg(w.rc == ERR_GONE, "rc %d: %s", w.rc, w.e.msg);
    ck_assert_ptr_nonnull(strstr(w.e.msg, "too old resource version"));

    /* A watch answered 503 first is retried (nothing was streamed yet). */
    kt_proxy_fault(&proxy, "503", 1, "GET", "watch=true");
    create_cm("after");
    watch_start(&w);
    for (int i = 0; i < 100 && w.events == 0; i++)
        usleep(50 * 1000);
    flag_set(&w.stop, 1);
    watch_join(&w);
    ck_assert_int_eq(w.rc, ERR_CANCELLED);
    ck_assert_int_gt(w.events, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("client_faults");
    TCase *tc = kt_tcase(s, "faults", 120, setup, teardown);
    tcase_add_test(tc, test_proxy_passes_through);
    tcase_add_test(tc, test_get_retried_through_500_and_drop);
    tcase_add_test(tc, test_429_honours_retry_after);
    tcase_add_test(tc, test_post_not_retried);
    tcase_add_test(tc, test_idempotent_writes_retried);
    tcase_add_test(tc, test_retries_are_bounded);
    tcase_add_test(tc, test_untrusted_server_not_retried);
    tcase_add_test(tc, test_dropped_watch_returns_promptly);
    tcase_add_test(tc, test_stalled_watch_detected);
    tcase_add_test(tc, test_cancel_while_stalled);
    tcase_add_test(tc, test_injected_410);
    return kt_run_suite(s);
}
