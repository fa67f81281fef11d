/* test_client_token.c — bearer tokens against the real API server: service-account tokens from
 * the TokenRequest API, written to a file the client re-reads when it changes (rotation), the
 * identity seen through SelfSubjectReview changing with the file, the one reload after a 401,
 * and a bad static token giving a 401 Status without a retry loop. */
#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kube/client.h"
#include "kubetest.h"

static const struct kube_res SAS = {"", "v1", "serviceaccounts", 1};
static const struct kube_res ROLEBINDINGS = {"rbac.authorization.k8s.io", "v1", "rolebindings", 1};

static struct kt_fixture fx;
static char dir[PATH_MAX];
static char token_path[PATH_MAX + 16];

static void setup(void)
{
    kt_fixture_setup(&fx, "token");
    snprintf(dir, sizeof dir, "/tmp/ballast-token-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(token_path, sizeof token_path, "%s/token", dir);
}

static void teardown(void)
{
    kt_sh(NULL, "rm -rf '%s'", dir);
    kt_fixture_teardown(&fx);
}

static void create_json(const struct kube_res *res, const char *json)
{
    cJSON *o = cJSON_Parse(json);
    ck_assert_ptr_nonnull(o);
    struct kube_resp r = {0};
    int rc = kube_create(fx.kc, res, fx.ns, o, &r);
    ck_assert_msg(rc == 0, "create: %d %s", rc, r.message);
    kube_resp_free(&r);
    cJSON_Delete(o);
}

/* A fresh token of service account sa (caller frees). */
static char *token_for(const char *sa)
{
    struct buf p = {0};
    ck_assert_int_eq(kube_path(&p, &SAS, fx.ns, sa, "token"), 0);
    struct kube_resp r = {0};
    int rc = kube_request(fx.kc, "POST", p.data, NULL, NULL,
                          "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenRequest\","
                          "\"spec\":{\"expirationSeconds\":3600}}",
                          &r);
    ck_assert_msg(rc == 0, "TokenRequest %s: %d %s", sa, rc, r.message);
    const char *tok =
        cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(r.body, "status"), "token"));
    ck_assert_ptr_nonnull(tok);
    char *out = strdup(tok);
    kube_resp_free(&r);
    buf_free(&p);
    return out;
}

/* Replace the token file the way kubelet does: a new file renamed over the old. */
static void rotate_to(const char *tok)
{
    char tmp[PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s.new", token_path);
    FILE *f = fopen(tmp, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "%s\n", tok);
    fclose(f);
    ck_assert_int_eq(rename(tmp, token_path), 0);
}

/* Who the API server thinks c is; caller frees. On failure NULL and *rc set. */
static char *whoami(struct kube_client *c, int *rc, long *status)
{
    struct kube_resp r = {0};
    *rc = kube_request(
        c, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", NULL, NULL,
        "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"SelfSubjectReview\"}", &r);
    *status = r.status;
    char *out = NULL;
    if (*rc == 0) {
        const char *u = cJSON_GetStringValue(cJSON_GetObjectItem(
            cJSON_GetObjectItem(cJSON_GetObjectItem(r.body, "status"), "userInfo"), "username"));
        out = u ? strdup(u) : NULL;
    }
    kube_resp_free(&r);
    return out;
}

static int n401, nreq;
static void observe(const char *verb, long status, void *ud)
{
    (void)verb;
    (void)ud;
    nreq++;
    if (status == 401)
        n401++;
}

static struct kube_config *token_file_config(void)
{
    struct kube_config *c = kube_config_new();
    c->server = strdup(fx.cfg->server);
    c->ca_pem = malloc(fx.cfg->ca_len);
    memcpy(c->ca_pem, fx.cfg->ca_pem, fx.cfg->ca_len);
    c->ca_len = fx.cfg->ca_len;
    c->token_file = strdup(token_path);
    c->source = strdup("test token file");
    return c;
}

START_TEST(test_token_rotation)
{
    create_json(&SAS, "{\"metadata\":{\"name\":\"sa-a\"}}");
    create_json(&SAS, "{\"metadata\":{\"name\":\"sa-b\"}}");
    create_json(&ROLEBINDINGS,
                "{\"metadata\":{\"name\":\"view\"},\"roleRef\":{\"apiGroup\":"
                "\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":\"view\"},"
                "\"subjects\":[{\"kind\":\"ServiceAccount\",\"name\":\"sa-a\"},"
                "{\"kind\":\"ServiceAccount\",\"name\":\"sa-b\"}]}");
    char *ta = token_for("sa-a");
    char *tb = token_for("sa-b");
    char want_a[128], want_b[128];
    snprintf(want_a, sizeof want_a, "system:serviceaccount:%s:sa-a", fx.ns);
    snprintf(want_b, sizeof want_b, "system:serviceaccount:%s:sa-b", fx.ns);

    rotate_to(ta);
    struct kube_config *tc = token_file_config();
    struct err e = {0};
    struct kube_client *c = kube_client_new(tc, &e);
    ck_assert_msg(c != NULL, "%s", e.msg);
    int rc;
    long status;
    char *who = whoami(c, &rc, &status);
    ck_assert_msg(rc == 0, "whoami: %d (%ld)", rc, status);
    ck_assert_str_eq(who, want_a);
    free(who);

    /* The RoleBinding lets the service account read configmaps in the namespace. */
    struct kube_resp r = {0};
    struct kube_list_opts lo = {.limit = 10};
    ck_assert_int_eq(kube_list(c, &KUBE_CONFIGMAPS, fx.ns, &lo, &r), 0);
    kube_resp_free(&r);
    ck_assert_int_eq(kube_list(c, &KUBE_CONFIGMAPS, "default", &lo, &r), ERR_API);
    ck_assert_int_eq(r.status, 403);
    ck_assert_str_eq(r.reason, "Forbidden");
    kube_resp_free(&r);

    /* Rotation: the same client, the next request, the new identity. */
    rotate_to(tb);
    who = whoami(c, &rc, &status);
    ck_assert_str_eq(who, want_b);
    free(who);
    rotate_to(ta);
    who = whoami(c, &rc, &status);
    ck_assert_str_eq(who, want_a);
    free(who);

    /* A change the stat check cannot see (same inode, size and mtime), and the old token
     * revoked: the 401 makes the client read the file again, once, and succeed. */
    size_t la = strlen(ta), lb = strlen(tb), width = (la > lb ? la : lb) + 1;
    struct stat before;
    ck_assert_int_eq(stat(token_path, &before), 0);
    if ((size_t)before.st_size != width) { /* pad A to the common width, in place */
        FILE *f = fopen(token_path, "r+");
        fprintf(f, "%s%*s\n", ta, (int)(width - 1 - la), "");
        fclose(f);
        ck_assert_int_eq(stat(token_path, &before), 0);
        who = whoami(c, &rc, &status);
        ck_assert_str_eq(who, want_a);
        free(who);
    }
    ck_assert_uint_eq((size_t)before.st_size, width);
    FILE *f = fopen(token_path, "r+");
    fprintf(f, "%s%*s\n", tb, (int)(width - 1 - lb), "");
    fclose(f);
    struct timespec times[2] = {before.st_atim, before.st_mtim};
    ck_assert_int_eq(utimensat(AT_FDCWD, token_path, times, 0), 0);
    ck_assert_int_eq(kube_delete(fx.kc, &SAS, fx.ns, "sa-a", NULL, &r), 0);
    kube_resp_free(&r);
    /* Token A dies with its service account; poll the server until it says so (its token
     * authentication cache keeps a good answer for about 10 s). */
    struct kube_config *probe_cfg = kube_config_new();
    probe_cfg->server = strdup(fx.cfg->server);
    probe_cfg->ca_pem = malloc(fx.cfg->ca_len);
    memcpy(probe_cfg->ca_pem, fx.cfg->ca_pem, fx.cfg->ca_len);
    probe_cfg->ca_len = fx.cfg->ca_len;
    probe_cfg->token = strdup(ta);
    struct kube_client *probe = kube_client_new(probe_cfg, &e);
    double t_rev = kt_now();
    for (int i = 0; i < 150; i++) {
        free(whoami(probe, &rc, &status));
        if (status == 401)
            break;
        usleep(200 * 1000);
    }
    ck_assert_int_eq(status, 401);
    fprintf(stderr, "token revoked after %.1fs\n", kt_now() - t_rev);
    kube_client_free(probe);
    kube_config_free(probe_cfg);

    n401 = nreq = 0;
    kube_set_request_observer(observe, NULL);
    who = whoami(c, &rc, &status);
    kube_set_request_observer(NULL, NULL);
    ck_assert_msg(rc == 0, "whoami after revocation: %d (%ld)", rc, status);
    ck_assert_str_eq(who, want_b);
    ck_assert_int_eq(n401, 1); /* the stale token was tried once, then the file re-read */
    ck_assert_int_eq(nreq, 2);
    free(who);

    kube_client_free(c);
    kube_config_free(tc);
    free(ta);
    free(tb);
}
END_TEST

START_TEST(test_bad_tokens)
{
    struct kube_config *tc = kube_config_new();
    tc->server = strdup(fx.cfg->server);
    tc->ca_pem = malloc(fx.cfg->ca_len);
    memcpy(tc->ca_pem, fx.cfg->ca_pem, fx.cfg->ca_len);
    tc->ca_len = fx.cfg->ca_len;
    tc->token = strdup("not-a-real-token");
    struct err e = {0};
    struct kube_client *c = kube_client_new(tc, &e);
    ck_assert_ptr_nonnull(c);

    /* A static token cannot be reloaded: one 401, reported as the API's Status. */
    n401 = nreq = 0;
    kube_set_request_observer(observe, NULL);
    struct kube_resp r = {0};
    ck_assert_int_eq(kube_get(c, &KUBE_CONFIGMAPS, "default", "x", &r), ERR_API);
    kube_set_request_observer(NULL, NULL);
    ck_assert_int_eq(r.status, 401);
    ck_assert_str_eq(r.reason, "Unauthorized");
    ck_assert_int_eq(nreq, 1);
    kube_resp_free(&r);
    kube_client_free(c);

    /* A token file that does not exist: ERR_IO naming it, before anything is sent. */
    free(tc->token);
    tc->token = NULL;
    tc->token_file = strdup(token_path);
    c = kube_client_new(tc, &e);
    nreq = 0;
    kube_set_request_observer(observe, NULL);
    ck_assert_int_eq(kube_get(c, &KUBE_CONFIGMAPS, "default", "x", &r), ERR_IO);
    kube_set_request_observer(NULL, NULL);
    ck_assert_int_eq(nreq, 0);
    ck_assert_ptr_nonnull(strstr(r.message, token_path));
    kube_resp_free(&r);
    kube_client_free(c);
    kube_config_free(tc);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("client_token");
    TCase *tc = kt_tcase(s, "token", 120, setup, teardown);
    tcase_add_test(tc, test_token_rotation);
    tcase_add_test(tc, test_bad_tokens);
    return kt_run_suite(s);
}
