/* test_kube_path.c — REST paths for any group/version/resource, namespaced or not, and the
 * refusal of names that would escape the path (slashes, dots, query characters), plus argument
 * checks of the verbs that must fail before any network I/O. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "kube/client.h"

static const struct kube_res WIDGETS = {"test.ballast.dev", "v1", "widgets", 1};
static const struct kube_res BAD_GROUP = {"a/b", "v1", "x", 1};
static const struct kube_res NO_VERSION = {"", "", "pods", 1};

struct pcase {
    const struct kube_res *res;
    const char *ns, *name, *sub;
    int rc;
    const char *want;
};

static const struct pcase cases[] = {
    {&KUBE_PODS, "ns", "p-0", "status", 0, "/api/v1/namespaces/ns/pods/p-0/status"},
    {&KUBE_PODS, "ns", NULL, NULL, 0, "/api/v1/namespaces/ns/pods"},
    {&KUBE_PODS, NULL, NULL, NULL, 0, "/api/v1/pods"},
    {&KUBE_NODES, NULL, "node-1", NULL, 0, "/api/v1/nodes/node-1"},
    {&KUBE_NAMESPACES, NULL, "team-a", NULL, 0, "/api/v1/namespaces/team-a"},
    {&KUBE_LEASES, "kube-system", "ballast", NULL, 0,
     "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/ballast"},
    {&KUBE_PSCS, "streaming", "orders", "status", 0,
     "/apis/ballast.dev/v1alpha1/namespaces/streaming/physicalstatefulclusters/orders/status"},
    {&KUBE_CRDS, NULL, "physicalstatefulclusters.ballast.dev", NULL, 0,
     "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
     "physicalstatefulclusters.ballast.dev"},
    {&KUBE_PDBS, "a", NULL, NULL, 0, "/apis/policy/v1/namespaces/a/poddisruptionbudgets"},
    {&KUBE_PVCS, "a", "data-x-0", NULL, 0, "/api/v1/namespaces/a/persistentvolumeclaims/data-x-0"},
    {&KUBE_SERVICES, "a", "svc", NULL, 0, "/api/v1/namespaces/a/services/svc"},
    {&KUBE_CONFIGMAPS, "a", "cm", NULL, 0, "/api/v1/namespaces/a/configmaps/cm"},
    {&KUBE_EVENTS, "a", NULL, NULL, 0, "/api/v1/namespaces/a/events"},
    {&KUBE_SECRETS, "a", "s", NULL, 0, "/api/v1/namespaces/a/secrets/s"},
    {&KUBE_ENDPOINTS, "a", "e", NULL, 0, "/api/v1/namespaces/a/endpoints/e"},
    {&KUBE_SERVICES, "a", "sa", "token", 0, "/api/v1/namespaces/a/services/sa/token"},
    {&WIDGETS, "n", "w:1", NULL, 0, "/apis/test.ballast.dev/v1/namespaces/n/widgets/w:1"},
    /* refused */
    {&KUBE_PODS, "ns", "a/b", NULL, ERR_INVALID, NULL},
    {&KUBE_PODS, "ns", "..", NULL, ERR_INVALID, NULL},
    {&KUBE_PODS, "ns", ".", NULL, ERR_INVALID, NULL},
    {&KUBE_PODS, "ns", "", NULL, ERR_INVALID, NULL},
    {&KUBE_PODS, "", "x", NULL, ERR_INVALID, NULL},
    {&KUBE_PODS, "n/s", "x", NULL, ERR_INVALID, NULL},
    {&KUBE_PODS, "ns", "x?watch=1", NULL, ERR_INVALID, NULL},
    {&KUBE_PODS, "ns", "x#y", NULL, ERR_INVALID, NULL},
    {&KUBE_PODS, "ns", "x%2F", NULL, ERR_INVALID, NULL},
    {&KUBE_PODS, "ns", "with space", NULL, ERR_INVALID, NULL},
    {&KUBE_PODS, "ns", "new\nline", NULL, ERR_INVALID, NULL},
    {&KUBE_PODS, "ns", "\xc3\xa9", NULL, ERR_INVALID, NULL},
    {&KUBE_PODS, "ns", NULL, "status", ERR_INVALID, NULL},
    {&KUBE_PODS, "ns", "p", "../../secrets", ERR_INVALID, NULL},
    {&KUBE_PODS, "ns", "p", "/status", ERR_INVALID, NULL},
    {&KUBE_PODS, "ns", "p", "../secrets", ERR_INVALID, NULL},
    {&KUBE_PODS, "ns", "p", "status/..", ERR_INVALID, NULL},
    {&KUBE_PODS, "ns", "p", "status//x", ERR_INVALID, NULL},
    {&KUBE_PODS, "ns", "p", "status/", ERR_INVALID, NULL},
    {&KUBE_NODES, "ns", "node-1", NULL, ERR_INVALID, NULL},
    {&BAD_GROUP, "ns", NULL, NULL, ERR_INVALID, NULL},
    {&NO_VERSION, "ns", NULL, NULL, ERR_INVALID, NULL},
    {NULL, "ns", NULL, NULL, ERR_INVALID, NULL},
};

START_TEST(test_paths)
{
    const struct pcase *c = &cases[_i];
    struct buf b = {0};
    buf_puts(&b, "prefix");
    int rc = kube_path(&b, c->res, c->ns, c->name, c->sub);
    ck_assert_msg(rc == c->rc, "case %d: rc %d want %d", _i, rc, c->rc);
    if (c->want) {
        ck_assert_str_eq(b.data + strlen("prefix"), c->want);
    } else {
        /* A refused path leaves the buffer as it was. */
        ck_assert_str_eq(b.data, "prefix");
    }
    buf_free(&b);
}
END_TEST

START_TEST(test_long_name_refused)
{
    char name[300];
    memset(name, 'a', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    struct buf b = {0};
    ck_assert_int_eq(kube_path(&b, &KUBE_PODS, "ns", name, NULL), ERR_INVALID);
    name[253] = '\0';
    ck_assert_int_eq(kube_path(&b, &KUBE_PODS, "ns", name, NULL), 0);
    buf_free(&b);
}
END_TEST

/* A client for a server nobody listens on: argument errors must come before any I/O. */
START_TEST(test_verbs_refuse_bad_args)
{
    struct err e = {0};
    struct kube_config *cfg = kube_config_new();
    ck_assert_ptr_nonnull(cfg);
    cfg->server = strdup("http://127.0.0.1:1");
    struct kube_client *c = kube_client_new(cfg, &e);
    ck_assert_msg(c != NULL, "%s", e.msg);
    struct kube_resp r = {0};
    cJSON *obj = cJSON_Parse("{\"metadata\":{\"name\":\"x\"}}");

    ck_assert_int_eq(kube_get(c, &KUBE_PODS, "ns", NULL, &r), ERR_INVALID);
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.message, "invalid arguments"));
    kube_resp_free(&r);
    ck_assert_int_eq(kube_get(c, &KUBE_PODS, "ns", "../x", &r), ERR_INVALID);
    kube_resp_free(&r);
    ck_assert_int_eq(kube_create(c, &KUBE_PODS, "ns", NULL, &r), ERR_INVALID);
    kube_resp_free(&r);
    ck_assert_int_eq(kube_update(c, &KUBE_PODS, "ns", NULL, obj, &r), ERR_INVALID);
    kube_resp_free(&r);
    ck_assert_int_eq(kube_update_status(c, &KUBE_NODES, "ns", "n", obj, &r), ERR_INVALID);
    kube_resp_free(&r);
    ck_assert_int_eq(kube_patch_merge(c, &KUBE_PODS, "ns", NULL, NULL, obj, &r), ERR_INVALID);
    kube_resp_free(&r);
    ck_assert_int_eq(kube_apply(c, &KUBE_PODS, "ns", "x", NULL, obj, "", 1, &r), ERR_INVALID);
    kube_resp_free(&r);
    ck_assert_int_eq(kube_delete(c, &KUBE_PODS, "ns", NULL, NULL, &r), ERR_INVALID);
    kube_resp_free(&r);
    ck_assert_int_eq(kube_list(c, &KUBE_NODES, "ns", NULL, &r), ERR_INVALID);
    kube_resp_free(&r);
    cJSON *items = (cJSON *)0x1;
    ck_assert_int_eq(kube_list_all(c, &KUBE_PODS, "a/b", NULL, &items, NULL, 0, &r), ERR_INVALID);
    ck_assert_ptr_null(items);
    kube_resp_free(&r);
    ck_assert_int_eq(kube_request(c, "GET", "no-slash", NULL, NULL, NULL, &r), ERR_INVALID);
    kube_resp_free(&r);
    ck_assert_int_eq(kube_request(c, NULL, "/api", NULL, NULL, NULL, &r), ERR_INVALID);
    kube_resp_free(&r);

    /* Nobody listens on port 1: a transport error, reported, not a crash; r.status 0. */
    kube_set_backoff_scale(0.01);
    ck_assert_int_eq(kube_get(c, &KUBE_PODS, "ns", "x", &r), ERR_IO);
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.message, "/api/v1/namespaces/ns/pods/x"));
    ck_assert_int_eq(kube_resp_err(&e, ERR_IO, &r, "get pod %s", "x"), ERR_IO);
    ck_assert_ptr_nonnull(strstr(e.msg, "get pod x: GET /api/v1/namespaces/ns/pods/x"));
    kube_resp_free(&r);
    kube_resp_free(&r); /* twice is fine */

    cJSON_Delete(obj);
    kube_client_free(c);
    kube_config_free(cfg);
    ck_assert_ptr_null(kube_client_new(NULL, &e));
    ck_assert_int_eq(e.code, ERR_INVALID);
}
END_TEST

START_TEST(test_resp_err_formats_status)
{
    struct kube_resp r = {.status = 409};
    snprintf(r.reason, sizeof r.reason, "Conflict");
    snprintf(r.message, sizeof r.message, "the object has been modified");
    struct err e = {0};
    ck_assert_int_eq(kube_resp_err(&e, ERR_CONFLICT, &r, "update %s/%s", "ns", "x"), ERR_CONFLICT);
    ck_assert_str_eq(e.msg, "update ns/x: 409 Conflict: the object has been modified");
    struct kube_resp z = {0};
    kube_resp_err(&e, ERR_IO, &z, "list");
    ck_assert_str_eq(e.msg, "list: failed");
    ck_assert_int_eq(kube_resp_err(NULL, ERR_API, &r, "x"), ERR_API);
}
END_TEST

int main(void)
{
    struct err e = {0};
    if (kube_global_init(&e) != 0)
        return 1;
    Suite *s = suite_create("kube_path");
    TCase *tc = tcase_create("path");
    tcase_add_loop_test(tc, test_paths, 0, (int)(sizeof cases / sizeof cases[0]));
    tcase_add_test(tc, test_long_name_refused);
    tcase_add_test(tc, test_verbs_refuse_bad_args);
    tcase_add_test(tc, test_resp_err_formats_status);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    kube_global_cleanup();
    return failed ? 1 : 0;
}
