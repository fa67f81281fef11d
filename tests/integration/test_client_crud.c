/* test_client_crud.c — the REST client against the real API server: ConfigMap CRUD, 409 on a
 * stale resourceVersion, merge patch, server-side apply with conflicts, delete with
 * preconditions, list pagination over >500 objects, metadata-only lists, API Status errors. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kube/client.h"
#include "kubetest.h"

static struct kt_fixture fx;

static void setup(void)
{
    kt_fixture_setup(&fx, "crud");
}

static void teardown(void)
{
    kt_fixture_teardown(&fx);
}

static cJSON *configmap(const char *name, const char *key, const char *val)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "apiVersion", "v1");
    cJSON_AddStringToObject(o, "kind", "ConfigMap");
    cJSON *md = cJSON_AddObjectToObject(o, "metadata");
    cJSON_AddStringToObject(md, "name", name);
    cJSON *labels = cJSON_AddObjectToObject(md, "labels");
    cJSON_AddStringToObject(labels, "test", "crud");
    cJSON *data = cJSON_AddObjectToObject(o, "data");
    if (key)
        cJSON_AddStringToObject(data, key, val);
    return o;
}

static const char *str_at(const cJSON *o, const char *a, const char *b)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
    if (b)
        x = cJSON_GetObjectItemCaseSensitive(x, b);
    return cJSON_IsString(x) ? x->valuestring : NULL;
}

#define CK_OK(rc, r)                                                                               \
    do {                                                                                           \
        int rc_ = (rc);                                                                            \
        ck_assert_msg(rc_ == 0, "line %d: rc %d status %ld %s: %s", __LINE__, rc_, (r).status,     \
                      (r).reason, (r).message);                                                    \
    } while (0)

START_TEST(test_configmap_crud)
{
    struct kube_resp r = {0};
    cJSON *cm = configmap("one", "k", "v1");
    CK_OK(kube_create(fx.kc, &KUBE_CONFIGMAPS, fx.ns, cm, &r), r);
    ck_assert_int_eq(r.status, 201);
    char uid[64], rv1[32];
    snprintf(uid, sizeof uid, "%s", str_at(r.body, "metadata", "uid"));
    snprintf(rv1, sizeof rv1, "%s", str_at(r.body, "metadata", "resourceVersion"));
    kube_resp_free(&r);

    /* Creating it again: 409 AlreadyExists, as the API's Status. */
    ck_assert_int_eq(kube_create(fx.kc, &KUBE_CONFIGMAPS, fx.ns, cm, &r), ERR_CONFLICT);
    ck_assert_int_eq(r.status, 409);
    ck_assert_str_eq(r.reason, "AlreadyExists");
    ck_assert_ptr_nonnull(strstr(r.message, "\"one\" already exists"));
    kube_resp_free(&r);

    CK_OK(kube_get(fx.kc, &KUBE_CONFIGMAPS, fx.ns, "one", &r), r);
    ck_assert_str_eq(str_at(r.body, "data", "k"), "v1");
    kube_resp_free(&r);

    /* Update with the current resourceVersion succeeds, and bumps it. */
    cJSON *md = cJSON_GetObjectItem(cm, "metadata");
    cJSON_AddStringToObject(md, "resourceVersion", rv1);
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(cm, "data"), "k", cJSON_CreateString("v2"));
    CK_OK(kube_update(fx.kc, &KUBE_CONFIGMAPS, fx.ns, "one", cm, &r), r);
    ck_assert_str_ne(str_at(r.body, "metadata", "resourceVersion"), rv1);
    char rv2[32];
    snprintf(rv2, sizeof rv2, "%s", str_at(r.body, "metadata", "resourceVersion"));
    kube_resp_free(&r);

    /* The same update again carries a stale resourceVersion: 409 Conflict. */
    ck_assert_int_eq(kube_update(fx.kc, &KUBE_CONFIGMAPS, fx.ns, "one", cm, &r), ERR_CONFLICT);
    ck_assert_int_eq(r.status, 409);
    ck_assert_str_eq(r.reason, "Conflict");
    ck_assert_ptr_nonnull(strstr(r.message, "the object has been modified"));
    kube_resp_free(&r);

    /* Merge patch adds a key and keeps the other. */
    cJSON *patch = cJSON_Parse("{\"data\":{\"added\":\"yes\"}}");
    CK_OK(kube_patch_merge(fx.kc, &KUBE_CONFIGMAPS, fx.ns, "one", NULL, patch, &r), r);
    ck_assert_str_eq(str_at(r.body, "data", "added"), "yes");
    ck_assert_str_eq(str_at(r.body, "data", "k"), "v2");
    kube_resp_free(&r);
    cJSON_Delete(patch);

    /* Delete with a wrong uid precondition: 409, the object stays. */
    struct kube_delete_opts bad = {.precondition_uid = "00000000-0000-0000-0000-000000000000",
                                   .grace_seconds = -1};
    ck_assert_int_eq(kube_delete(fx.kc, &KUBE_CONFIGMAPS, fx.ns, "one", &bad, &r), ERR_CONFLICT);
    ck_assert_msg(strstr(r.message, "recondition") != NULL, "%s", r.message);
    kube_resp_free(&r);
    /* A stale resourceVersion precondition fails the same way. */
    struct kube_delete_opts stale = {.precondition_rv = rv1, .grace_seconds = -1};
    ck_assert_int_eq(kube_delete(fx.kc, &KUBE_CONFIGMAPS, fx.ns, "one", &stale, &r), ERR_CONFLICT);
    kube_resp_free(&r);
    CK_OK(kube_get(fx.kc, &KUBE_CONFIGMAPS, fx.ns, "one", &r), r);
    kube_resp_free(&r);

    struct kube_delete_opts good = {
        .precondition_uid = uid, .propagation = "Background", .grace_seconds = 0};
    CK_OK(kube_delete(fx.kc, &KUBE_CONFIGMAPS, fx.ns, "one", &good, &r), r);
    kube_resp_free(&r);
    ck_assert_int_eq(kube_get(fx.kc, &KUBE_CONFIGMAPS, fx.ns, "one", &r), ERR_NOTFOUND);
    ck_assert_int_eq(r.status, 404);
    ck_assert_str_eq(r.reason, "NotFound");
    kube_resp_free(&r);
    ck_assert_int_eq(kube_delete(fx.kc, &KUBE_CONFIGMAPS, fx.ns, "one", NULL, &r), ERR_NOTFOUND);
    kube_resp_free(&r);
    cJSON_Delete(cm);
}
END_TEST

START_TEST(test_server_side_apply)
{
    struct kube_resp r = {0};
    cJSON *cm = configmap("applied", "owner", "ballast");
    CK_OK(kube_apply(fx.kc, &KUBE_CONFIGMAPS, fx.ns, "applied", NULL, cm, "ballast", 0, &r), r);
    ck_assert_str_eq(str_at(r.body, "data", "owner"), "ballast");
    const cJSON *mf = cJSON_GetObjectItem(cJSON_GetObjectItem(r.body, "metadata"), "managedFields");
    ck_assert_str_eq(str_at(cJSON_GetArrayItem(mf, 0), "manager", NULL), "ballast");
    kube_resp_free(&r);

    /* Applying it again is idempotent. */
    CK_OK(kube_apply(fx.kc, &KUBE_CONFIGMAPS, fx.ns, "applied", NULL, cm, "ballast", 0, &r), r);
    kube_resp_free(&r);

    /* Another manager taking the same field: 409 Conflict without force, success with it. */
    cJSON *other = configmap("applied", "owner", "someone-else");
    ck_assert_int_eq(
        kube_apply(fx.kc, &KUBE_CONFIGMAPS, fx.ns, "applied", NULL, other, "intruder", 0, &r),
        ERR_CONFLICT);
    ck_assert_str_eq(r.reason, "Conflict");
    ck_assert_ptr_nonnull(strstr(r.message, "conflict"));
    kube_resp_free(&r);
    CK_OK(kube_apply(fx.kc, &KUBE_CONFIGMAPS, fx.ns, "applied", NULL, other, "intruder", 1, &r), r);
    ck_assert_str_eq(str_at(r.body, "data", "owner"), "someone-else");
    kube_resp_free(&r);
    cJSON_Delete(other);
    cJSON_Delete(cm);
}
END_TEST

START_TEST(test_list_pagination)
{
    enum { N = 520 };
    struct kube_resp r = {0};
    double t0 = kt_now();
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof name, "page-%03d", i);
        cJSON *cm = configmap(name, "i", name);
        cJSON_AddStringToObject(cJSON_GetObjectItem(cJSON_GetObjectItem(cm, "metadata"), "labels"),
                                "batch", "page");
        CK_OK(kube_create(fx.kc, &KUBE_CONFIGMAPS, fx.ns, cm, &r), r);
        kube_resp_free(&r);
        cJSON_Delete(cm);
    }
    long conns = kube_client_connects(fx.kc);
    fprintf(stderr, "created %d configmaps in %.1fs over %ld connection(s)\n", N, kt_now() - t0,
            conns);
    ck_assert_int_le(conns, 3); /* one handle per client: the connection is reused */

    /* One page by hand: 100 items and a continue token. */
    struct kube_list_opts o = {.label_selector = "batch=page", .limit = 100};
    CK_OK(kube_list(fx.kc, &KUBE_CONFIGMAPS, fx.ns, &o, &r), r);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(r.body, "items")), 100);
    ck_assert_ptr_nonnull(str_at(r.body, "metadata", "continue"));
    kube_resp_free(&r);

    /* All pages: every object once, in name order, with the list's resourceVersion. */
    cJSON *items = NULL;
    char rv[64];
    CK_OK(kube_list_all(fx.kc, &KUBE_CONFIGMAPS, fx.ns, &o, &items, rv, sizeof rv, &r), r);
    ck_assert_int_eq(cJSON_GetArraySize(items), N);
    ck_assert_int_gt(atol(rv), 0);
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof name, "page-%03d", i);
        ck_assert_str_eq(str_at(cJSON_GetArrayItem(items, i), "metadata", "name"), name);
    }
    cJSON_Delete(items);
    kube_resp_free(&r);

    /* Metadata only: PartialObjectMetadataList, no data. */
    struct kube_list_opts mo = {.label_selector = "batch=page", .limit = 600, .metadata_only = 1};
    CK_OK(kube_list(fx.kc, &KUBE_CONFIGMAPS, fx.ns, &mo, &r), r);
    ck_assert_str_eq(str_at(r.body, "kind", NULL), "PartialObjectMetadataList");
    cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItem(r.body, "items"), 0);
    ck_assert_ptr_null(cJSON_GetObjectItem(first, "data"));
    ck_assert_str_eq(str_at(first, "metadata", "name"), "page-000");
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(r.body, "items")), N);
    kube_resp_free(&r);

    /* Field selector, and an empty result is a list, not an error. */
    struct kube_list_opts fo = {.field_selector = "metadata.name=page-007"};
    CK_OK(kube_list_all(fx.kc, &KUBE_CONFIGMAPS, fx.ns, &fo, &items, NULL, 0, &r), r);
    ck_assert_int_eq(cJSON_GetArraySize(items), 1);
    cJSON_Delete(items);
    kube_resp_free(&r);
    struct kube_list_opts none = {.label_selector = "batch=none"};
    CK_OK(kube_list_all(fx.kc, &KUBE_CONFIGMAPS, fx.ns, &none, &items, NULL, 0, &r), r);
    ck_assert_int_eq(cJSON_GetArraySize(items), 0);
    cJSON_Delete(items);
    kube_resp_free(&r);
}
END_TEST

START_TEST(test_api_errors)
{
    struct kube_resp r = {0};
    /* Invalid object: 422 Invalid with the server's explanation. */
    cJSON *bad = configmap("Not_A_Valid_Name", NULL, NULL);
    ck_assert_int_eq(kube_create(fx.kc, &KUBE_CONFIGMAPS, fx.ns, bad, &r), ERR_API);
    ck_assert_int_eq(r.status, 422);
    ck_assert_str_eq(r.reason, "Invalid");
    ck_assert_ptr_nonnull(strstr(r.message, "Not_A_Valid_Name"));
    ck_assert_ptr_nonnull(r.body);
    kube_resp_free(&r);
    cJSON_Delete(bad);

    /* A resource the server does not serve: 404, not a crash. */
    static const struct kube_res nothing = {"nothing.ballast.dev", "v1", "things", 1};
    ck_assert_int_eq(kube_get(fx.kc, &nothing, fx.ns, "x", &r), ERR_NOTFOUND);
    ck_assert_int_eq(r.status, 404);
    kube_resp_free(&r);

    /* Raw requests: /version is JSON; a bad query is a 400 Status. */
    CK_OK(kube_request(fx.kc, "GET", "/version", NULL, NULL, NULL, &r), r);
    ck_assert_ptr_nonnull(str_at(r.body, "gitVersion", NULL));
    kube_resp_free(&r);
    ck_assert_int_eq(kube_request(fx.kc, "GET", "/api/v1/namespaces/default/configmaps",
                                  "labelSelector=%3D%3D%3D", NULL, NULL, &r),
                     ERR_API);
    ck_assert_int_eq(r.status, 400);
    ck_assert_str_eq(r.reason, "BadRequest");
    kube_resp_free(&r);

    /* A cluster-scoped resource: namespaces list, nodes exist (kwok). */
    cJSON *items = NULL;
    CK_OK(kube_list_all(fx.kc, &KUBE_NODES, NULL, NULL, &items, NULL, 0, &r), r);
    ck_assert_int_ge(cJSON_GetArraySize(items), 6);
    cJSON_Delete(items);
    kube_resp_free(&r);
}
END_TEST

static const struct kube_res GADGETS = {"test.ballast.dev", "v1", "gadgets", 1};

START_TEST(test_custom_resource)
{
    struct kube_resp r = {0};
    cJSON *crd = cJSON_Parse(
        "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
        "\"metadata\":{\"name\":\"gadgets.test.ballast.dev\"},\"spec\":{\"group\":"
        "\"test.ballast.dev\",\"scope\":\"Namespaced\",\"names\":{\"plural\":\"gadgets\","
        "\"singular\":\"gadget\",\"kind\":\"Gadget\"},\"versions\":[{\"name\":\"v1\","
        "\"served\":true,\"storage\":true,\"subresources\":{\"status\":{}},\"schema\":{"
        "\"openAPIV3Schema\":{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":"
        "\"object\",\"properties\":{\"size\":{\"type\":\"integer\",\"minimum\":1}}},"
        "\"status\":{\"type\":\"object\",\"properties\":{\"phase\":{\"type\":\"string\"}}}"
        "}}}}]}}");
    ck_assert_ptr_nonnull(crd);
    /* Apply is idempotent, so a CRD left by an earlier run is fine. */
    CK_OK(kube_apply(fx.kc, &KUBE_CRDS, NULL, "gadgets.test.ballast.dev", NULL, crd, "ballast-test",
                     1, &r),
          r);
    kube_resp_free(&r);
    cJSON_Delete(crd);

    /* Wait until it is served: the first create may 404 for a moment after Established. */
    cJSON *g = cJSON_Parse("{\"apiVersion\":\"test.ballast.dev/v1\",\"kind\":\"Gadget\","
                           "\"metadata\":{\"name\":\"g1\"},\"spec\":{\"size\":2}}");
    int rc = ERR_NOTFOUND;
    for (int i = 0; i < 150 && rc == ERR_NOTFOUND; i++) {
        kube_resp_free(&r);
        rc = kube_create(fx.kc, &GADGETS, fx.ns, g, &r);
        if (rc == ERR_NOTFOUND)
            usleep(200 * 1000);
    }
    CK_OK(rc, r);
    kube_resp_free(&r);
    cJSON_Delete(g);

    /* Status through the /status subresource: spec is not touched by it. */
    CK_OK(kube_get(fx.kc, &GADGETS, fx.ns, "g1", &r), r);
    cJSON *obj = r.body;
    r.body = NULL;
    kube_resp_free(&r);
    cJSON_AddItemToObject(obj, "status", cJSON_Parse("{\"phase\":\"Ready\"}"));
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(obj, "spec"), "size", cJSON_CreateNumber(9));
    CK_OK(kube_update_status(fx.kc, &GADGETS, fx.ns, "g1", obj, &r), r);
    ck_assert_str_eq(str_at(r.body, "status", "phase"), "Ready");
    ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(r.body, "spec"), "size")->valueint, 2);
    kube_resp_free(&r);
    /* The same (now stale) object again: 409. */
    ck_assert_int_eq(kube_update_status(fx.kc, &GADGETS, fx.ns, "g1", obj, &r), ERR_CONFLICT);
    kube_resp_free(&r);
    cJSON_Delete(obj);

    /* The schema is enforced by the server, and its message comes back. */
    cJSON *bad = cJSON_Parse("{\"spec\":{\"size\":0}}");
    ck_assert_int_eq(kube_patch_merge(fx.kc, &GADGETS, fx.ns, "g1", NULL, bad, &r), ERR_API);
    ck_assert_int_eq(r.status, 422);
    ck_assert_msg(strstr(r.message, "greater than or equal to 1") != NULL, "%s", r.message);
    kube_resp_free(&r);
    cJSON_Delete(bad);
    /* Merge patch on the status subresource. */
    cJSON *sp = cJSON_Parse("{\"status\":{\"phase\":\"Degraded\"}}");
    CK_OK(kube_patch_merge(fx.kc, &GADGETS, fx.ns, "g1", "status", sp, &r), r);
    ck_assert_str_eq(str_at(r.body, "status", "phase"), "Degraded");
    kube_resp_free(&r);
    cJSON_Delete(sp);

    cJSON *items = NULL;
    CK_OK(kube_list_all(fx.kc, &GADGETS, fx.ns, NULL, &items, NULL, 0, &r), r);
    ck_assert_int_eq(cJSON_GetArraySize(items), 1);
    cJSON_Delete(items);
    kube_resp_free(&r);
    CK_OK(kube_delete(fx.kc, &GADGETS, fx.ns, "g1", NULL, &r), r);
    kube_resp_free(&r);
}
END_TEST

static int observed[8];
static void observe(const char *verb, long status, void *ud)
{
    (void)ud;
    if (strcmp(verb, "POST") == 0 && status == 201)
        observed[0]++;
    else if (strcmp(verb, "GET") == 0)
        observed[1]++;
}

START_TEST(test_observer)
{
    memset(observed, 0, sizeof observed);
    kube_set_request_observer(observe, NULL);
    struct kube_resp r = {0};
    cJSON *cm = configmap("observed", "a", "b");
    CK_OK(kube_create(fx.kc, &KUBE_CONFIGMAPS, fx.ns, cm, &r), r);
    kube_resp_free(&r);
    CK_OK(kube_get(fx.kc, &KUBE_CONFIGMAPS, fx.ns, "observed", &r), r);
    kube_resp_free(&r);
    kube_set_request_observer(NULL, NULL);
    ck_assert_int_eq(observed[0], 1);
    ck_assert_int_eq(observed[1], 1);
    cJSON_Delete(cm);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("client_crud");
    TCase *tc = kt_tcase(s, "crud", 120, setup, teardown);
    tcase_add_test(tc, test_configmap_crud);
    tcase_add_test(tc, test_server_side_apply);
    tcase_add_test(tc, test_list_pagination);
    tcase_add_test(tc, test_api_errors);
    tcase_add_test(tc, test_custom_resource);
    tcase_add_test(tc, test_observer);
    return kt_run_suite(s);
}
