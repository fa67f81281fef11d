/* test_kube_config.c — kubeconfig and in-cluster loading: a table of good and bad kubeconfigs
 * written to a temp dir, the precedence of the sources, and the token file re-read on rotation.
 * Every bad case must give ERR_INVALID/ERR_IO and one line naming the problem. */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kube/config.h"

static char tmpdir[PATH_MAX];

static void write_file(const char *name, const char *text)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ballast-kcfg-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    char sub[PATH_MAX];
    snprintf(sub, sizeof sub, "%s/sub", tmpdir);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    write_file("ca.crt", "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n");
    write_file("sub/client.crt", "CERT-PEM\n");
    write_file("sub/client.key", "KEY-PEM\n");
    write_file("token", "  tok-one\n");
    unsetenv("KUBECONFIG");
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
}

static void teardown(void)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

static char *path_of(const char *name)
{
    static char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    return p;
}

#define HEAD "apiVersion: v1\nkind: Config\n"
#define CTX_A                                                                                      \
    "contexts:\n- name: a\n  context: {cluster: c1, user: u1, namespace: team-a}\n"                \
    "- name: b\n  context: {cluster: c2, user: u2}\n"
/* base64("CA-DATA") = Q0EtREFUQQ==, base64("CERT") = Q0VSVA==, base64("KEY") = S0VZ */

struct good {
    const char *name;
    const char *yaml;
    const char *context;
    const char *server, *ca, *cert, *key, *token, *ns;
    int insecure;
    const char *bearer;
};

static const struct good goods[] = {
    {"files relative to the kubeconfig",
     HEAD "current-context: a\n" CTX_A "clusters:\n- name: c1\n  cluster:\n    server: "
          "https://127.0.0.1:6443/\n    certificate-authority: ca.crt\n"
          "users:\n- name: u1\n  user:\n    client-certificate: sub/client.crt\n"
          "    client-key: sub/client.key\n",
     NULL, "https://127.0.0.1:6443", "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n",
     "CERT-PEM\n", "KEY-PEM\n", NULL, "team-a", 0, ""},
    {"data fields in base64",
     HEAD "current-context: a\n" CTX_A "clusters:\n- name: c1\n  cluster:\n    server: "
          "https://k.example:443\n    certificate-authority-data: Q0Et\n      REFUQQ==\n"
          "users:\n- name: u1\n  user:\n    client-certificate-data: Q0VSVA==\n"
          "    client-key-data: S0VZ\n",
     NULL, "https://k.example:443", "CA-DATA", "CERT", "KEY", NULL, "team-a", 0, ""},
    {"explicit context, inline token, insecure",
     HEAD "current-context: a\n" CTX_A
          "clusters:\n- name: c1\n  cluster: {server: 'https://one'}\n- name: c2\n  cluster:\n"
          "    server: https://two:6443\n    insecure-skip-tls-verify: true\n"
          "users:\n- name: u1\n  user: {}\n- name: u2\n  user: {token: \"abc.def\"}\n",
     "b", "https://two:6443", NULL, NULL, NULL, "abc.def", NULL, 1, "abc.def"},
    {"tokenFile relative, wins over the inline token",
     HEAD "current-context: a\n" CTX_A "clusters:\n- name: c1\n  cluster: {server: http://x:80}\n"
          "users:\n- name: u1\n  user: {token: inline, tokenFile: token}\n",
     NULL, "http://x:80", NULL, NULL, NULL, "inline", "team-a", 0, "tok-one"},
    {"a context without a user",
     HEAD "current-context: n\ncontexts:\n- name: n\n  context: {cluster: c1}\n"
          "clusters:\n- name: c1\n  cluster: {server: https://s}\n",
     NULL, "https://s", NULL, NULL, NULL, NULL, NULL, 0, ""},
    {"anchors and aliases (a user shared by two contexts, an aliased key)",
     HEAD "current-context: b\ncontexts:\n- name: a\n  context: &ctx {cluster: c1, user: u1}\n"
          "- name: b\n  context: *ctx\nk: &srv server\n"
          "clusters:\n- name: c1\n  cluster: {*srv : https://al:1, ? [complex] : x}\n"
          "users:\n- name: u1\n  user: {token: &t tt}\nother: [*t, *t]\n---\nsecond: doc\n",
     NULL, "https://al:1", NULL, NULL, NULL, "tt", NULL, 0, "tt"},
    {"JSON is YAML too",
     "{\"current-context\":\"j\",\"contexts\":[{\"name\":\"j\",\"context\":{\"cluster\":\"c\","
     "\"user\":\"u\",\"namespace\":\"ns1\"}}],\"clusters\":[{\"name\":\"c\",\"cluster\":{"
     "\"server\":\"https://j:1\"}}],\"users\":[{\"name\":\"u\",\"user\":{\"token\":\"t\"}}]}",
     NULL, "https://j:1", NULL, NULL, NULL, "t", "ns1", 0, "t"},
};

static void ck_mem(const char *got, size_t len, const char *want)
{
    if (want == NULL) {
        ck_assert_ptr_null(got);
        return;
    }
    ck_assert_ptr_nonnull(got);
    ck_assert_uint_eq(len, strlen(want));
    ck_assert_mem_eq(got, want, len);
}

static void ck_str_or_null(const char *got, const char *want)
{
    if (want == NULL)
        ck_assert_ptr_null(got);
    else
        ck_assert_str_eq(got, want);
}

START_TEST(test_good_kubeconfigs)
{
    const struct good *g = &goods[_i];
    write_file("config", g->yaml);
    struct kube_config *c = NULL;
    struct err e = {0};
    int rc = kube_config_from_file(path_of("config"), g->context, &c, &e);
    ck_assert_msg(rc == 0, "%s: %s", g->name, e.msg);
    ck_assert_str_eq(c->server, g->server);
    ck_mem(c->ca_pem, c->ca_len, g->ca);
    ck_mem(c->cert_pem, c->cert_len, g->cert);
    ck_mem(c->key_pem, c->key_len, g->key);
    ck_str_or_null(c->token, g->token);
    ck_str_or_null(c->ns, g->ns);
    ck_assert_int_eq(c->insecure, g->insecure);
    ck_assert_ptr_nonnull(strstr(c->source, "config"));
    char tok[256];
    ck_assert_int_eq(kube_config_bearer(c, tok, sizeof tok, &e), 0);
    ck_assert_str_eq(tok, g->bearer);
    kube_config_free(c);
}
END_TEST

struct bad {
    const char *name;
    const char *yaml; /* NULL: do not write the file */
    const char *context;
    int code;
    const char *want; /* substring of the message */
};

#define CL1 "clusters:\n- name: c1\n  cluster: {server: https://s}\n"
#define U1  "users:\n- name: u1\n  user: {token: t}\n"
#define CX1 "contexts:\n- name: a\n  context: {cluster: c1, user: u1}\n"

static const struct bad bads[] = {
    {"missing file", NULL, NULL, ERR_IO, "No such file"},
    {"empty file", "", NULL, ERR_INVALID, "empty"},
    {"broken YAML", "current-context: [a\nclusters: {", NULL, ERR_INVALID, "not valid YAML"},
    {"tabs and garbage", "\t\x01\x02: : :\n  - ]", NULL, ERR_INVALID, "YAML"},
    {"top level is a list", "- a\n- b\n", NULL, ERR_INVALID, "not a mapping"},
    {"no current-context", HEAD CL1 U1 CX1, NULL, ERR_INVALID, "no current-context"},
    {"wrong context", HEAD "current-context: a\n" CL1 U1 CX1, "nope", ERR_INVALID,
     "context \"nope\" not found"},
    {"context names a missing cluster", HEAD "current-context: a\n" U1 CX1, NULL, ERR_INVALID,
     "cluster \"c1\""},
    {"context names a missing user", HEAD "current-context: a\n" CL1 CX1, NULL, ERR_INVALID,
     "user \"u1\""},
    {"context without a cluster",
     HEAD "current-context: a\ncontexts:\n- name: a\n  context: {user: u1}\n" CL1 U1, NULL,
     ERR_INVALID, "names no cluster"},
    {"missing server",
     HEAD "current-context: a\n" CX1 U1 "clusters:\n- name: c1\n  cluster: {insecure: x}\n", NULL,
     ERR_INVALID, "has no server"},
    {"server is not a URL",
     HEAD "current-context: a\n" CX1 U1 "clusters:\n- name: c1\n  cluster: {server: 'k:6443'}\n",
     NULL, ERR_INVALID, "not an http(s) URL"},
    {"unreadable CA",
     HEAD "current-context: a\n" CX1 U1
          "clusters:\n- name: c1\n  cluster: {server: https://s, certificate-authority: no.crt}\n",
     NULL, ERR_IO, "cannot read the CA"},
    {"CA is a directory",
     HEAD "current-context: a\n" CX1 U1
          "clusters:\n- name: c1\n  cluster: {server: https://s, certificate-authority: sub}\n",
     NULL, ERR_IO, "is a directory"},
    {"bad base64",
     HEAD "current-context: a\n" CX1 U1 "clusters:\n- name: c1\n  cluster: {server: https://s, "
          "certificate-authority-data: '!!notbase64'}\n",
     NULL, ERR_INVALID, "not valid base64"},
    {"certificate without key",
     HEAD "current-context: a\n" CX1 CL1
          "users:\n- name: u1\n  user: {client-certificate: sub/client.crt}\n",
     NULL, ERR_INVALID, "without a key"},
    {"missing tokenFile",
     HEAD "current-context: a\n" CX1 CL1 "users:\n- name: u1\n  user: "
          "{tokenFile: gone}\n",
     NULL, ERR_IO, "tokenFile"},
    {"exec plugin only",
     HEAD "current-context: a\n" CX1 CL1
          "users:\n- name: u1\n  user:\n    exec: {command: aws, apiVersion: x}\n",
     NULL, ERR_INVALID, "exec/auth-provider"},
    {"billion laughs",
     "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, "
     "*c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, "
     "*e, *e]\n",
     NULL, ERR_INVALID, "too deep or too large"},
    {"lists of the wrong type",
     HEAD "current-context: a\ncontexts: 5\nclusters: {x: 1}\nusers: \"s\"\n", NULL, ERR_INVALID,
     "context \"a\" not found"},
};

START_TEST(test_bad_kubeconfigs)
{
    const struct bad *b = &bads[_i];
    if (b->yaml)
        write_file("config", b->yaml);
    struct kube_config *c = (struct kube_config *)0x1;
    struct err e = {0};
    int rc = kube_config_from_file(path_of("config"), b->context, &c, &e);
    ck_assert_msg(rc == b->code, "%s: rc %d, want %d (%s)", b->name, rc, b->code, e.msg);
    ck_assert_ptr_null(c);
    ck_assert_int_eq(e.code, b->code);
    ck_assert_msg(strstr(e.msg, b->want) != NULL, "%s: message \"%s\" lacks \"%s\"", b->name, e.msg,
                  b->want);
    ck_assert_msg(strstr(e.msg, tmpdir) != NULL, "%s: message \"%s\" does not name the file",
                  b->name, e.msg);
    ck_assert_msg(strchr(e.msg, '\n') == NULL, "%s: message is more than one line", b->name);
}
END_TEST

/* Hostile YAML, built here: limits hold while libyaml's events arrive, before the work. */
static void ck_refused(const char *text, const char *want)
{
    write_file("config", text);
    struct kube_config *c = (struct kube_config *)0x1;
    struct err e = {0};
    int rc = kube_config_from_file(path_of("config"), NULL, &c, &e);
    ck_assert_msg(rc == ERR_INVALID, "rc %d (%s)", rc, e.msg);
    ck_assert_ptr_null(c);
    ck_assert_msg(strstr(e.msg, "too deep or too large") && strstr(e.msg, want),
                  "message \"%s\" lacks \"%s\"", e.msg, want);
    ck_assert_ptr_nonnull(strstr(e.msg, tmpdir));
}

START_TEST(test_alias_bomb_refused)
{
    /* a 1 MiB anchored string aliased 20,000 times: 20 GiB if expanded */
    size_t big = 1u << 20, n = 20000;
    char *t = malloc(big + n * 8 + 64);
    ck_assert_ptr_nonnull(t);
    size_t o = (size_t)sprintf(t, "a: &a ");
    memset(t + o, 'x', big);
    o += big;
    o += (size_t)sprintf(t + o, "\nb: [");
    for (size_t i = 0; i < n; i++)
        o += (size_t)sprintf(t + o, i ? ",*a" : "*a");
    sprintf(t + o, "]\n");
    ck_refused(t, "aliases expand past 4 MiB");
    free(t);
}
END_TEST

START_TEST(test_deep_nesting_refused)
{
    size_t n = 20000;
    char *t = malloc(2 * n + 16);
    ck_assert_ptr_nonnull(t);
    size_t o = (size_t)sprintf(t, "a: ");
    memset(t + o, '[', n);
    memset(t + o + n, ']', n);
    sprintf(t + o + 2 * n, "\n");
    ck_refused(t, "nested more than 64 levels");
    /* block style too, and mappings */
    char *b = malloc(70 * 140 + 16);
    ck_assert_ptr_nonnull(b);
    size_t p = 0;
    for (int d = 0; d < 70; d++)
        p += (size_t)sprintf(b + p, "%*sk%d:\n", 2 * d, "", d);
    sprintf(b + p, "%*sv\n", 140, "");
    ck_refused(b, "nested more than 64 levels");
    free(b);
    free(t);
}
END_TEST

START_TEST(test_self_alias_refused)
{
    ck_refused("a: &a [1, *a]\n", "unknown or unfinished anchor");
}
END_TEST

START_TEST(test_token_file_rotation)
{
    write_file("config", HEAD "current-context: a\n" CX1 CL1
                              "users:\n- name: u1\n  user: {tokenFile: token}\n");
    struct kube_config *c = NULL;
    struct err e = {0};
    ck_assert_int_eq(kube_config_from_file(path_of("config"), NULL, &c, &e), 0);
    char tok[64];
    ck_assert_int_eq(kube_config_bearer(c, tok, sizeof tok, &e), 0);
    ck_assert_str_eq(tok, "tok-one");
    /* kubelet rotates by swapping in a new file: a new inode. */
    write_file("token.new", "tok-two\n");
    char from[PATH_MAX];
    snprintf(from, sizeof from, "%s", path_of("token.new"));
    ck_assert_int_eq(rename(from, path_of("token")), 0);
    ck_assert_int_eq(kube_config_bearer(c, tok, sizeof tok, &e), 0);
    ck_assert_str_eq(tok, "tok-two");
    /* An in-place rewrite with another length is seen too. */
    write_file("token", "tok-three-longer");
    ck_assert_int_eq(kube_config_bearer(c, tok, sizeof tok, &e), 0);
    ck_assert_str_eq(tok, "tok-three-longer");
    /* A file vanishing mid-rotation keeps the last good token. */
    unlink(path_of("token"));
    ck_assert_int_eq(kube_config_bearer(c, tok, sizeof tok, &e), 0);
    ck_assert_str_eq(tok, "tok-three-longer");
    /* Invalidate forces a re-read even when stat looks the same. */
    write_file("token", "tok-four");
    kube_config_token_invalidate(c);
    ck_assert_int_eq(kube_config_bearer(c, tok, sizeof tok, &e), 0);
    ck_assert_str_eq(tok, "tok-four");
    /* Too small an output buffer is an error, not a truncated token. */
    char small[4];
    ck_assert_int_eq(kube_config_bearer(c, small, sizeof small, &e), ERR_INVALID);
    ck_assert_str_eq(small, "");
    kube_config_free(c);
}
END_TEST

START_TEST(test_in_cluster)
{
    write_file("namespace", "prod\n");
    struct kube_config *c = NULL;
    struct err e = {0};
    ck_assert_int_eq(kube_config_in_cluster(tmpdir, &c, &e), ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(e.msg, "KUBERNETES_SERVICE_HOST"));
    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    ck_assert_int_eq(kube_config_in_cluster(tmpdir, &c, &e), 0);
    ck_assert_str_eq(c->server, "https://10.96.0.1:443");
    ck_assert_str_eq(c->ns, "prod");
    ck_assert_str_eq(c->source, "in-cluster");
    ck_mem(c->ca_pem, c->ca_len, "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n");
    char tok[64];
    ck_assert_int_eq(kube_config_bearer(c, tok, sizeof tok, &e), 0);
    ck_assert_str_eq(tok, "tok-one");
    write_file("token", "rotated-token");
    ck_assert_int_eq(kube_config_bearer(c, tok, sizeof tok, &e), 0);
    ck_assert_str_eq(tok, "rotated-token");
    kube_config_free(c);

    setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    ck_assert_int_eq(kube_config_in_cluster(tmpdir, &c, &e), 0);
    ck_assert_str_eq(c->server, "https://[fd00::1]:443");
    kube_config_free(c);

    unlink(path_of("ca.crt"));
    c = NULL;
    ck_assert_int_eq(kube_config_in_cluster(tmpdir, &c, &e), ERR_IO);
    ck_assert_ptr_null(c);
    ck_assert_ptr_nonnull(strstr(e.msg, "ca.crt"));
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
}
END_TEST

START_TEST(test_precedence)
{
    write_file("explicit", HEAD "current-context: a\n" CX1 U1
                                "clusters:\n- name: c1\n  cluster: {server: https://explicit}\n");
    write_file("env", HEAD "current-context: a\n" CX1 U1
                           "clusters:\n- name: c1\n  cluster: {server: https://env}\n");
    mkdir(path_of(".kube"), 0700);
    write_file(".kube/config", HEAD "current-context: a\n" CX1 U1
                                    "clusters:\n- name: c1\n  cluster: {server: https://home}\n");
    char *old_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    setenv("HOME", tmpdir, 1);
    char envlist[2 * PATH_MAX + 2];
    snprintf(envlist, sizeof envlist, ":%s:%s", path_of("env"), "/nonexistent");
    setenv("KUBECONFIG", envlist, 1);
    setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "6443", 1);

    struct kube_config *c = NULL;
    struct err e = {0};
    char exp[PATH_MAX];
    snprintf(exp, sizeof exp, "%s", path_of("explicit"));
    ck_assert_int_eq(kube_config_load(exp, NULL, &c, &e), 0);
    ck_assert_str_eq(c->server, "https://explicit");
    kube_config_free(c);

    ck_assert_int_eq(kube_config_load(NULL, NULL, &c, &e), 0);
    ck_assert_str_eq(c->server, "https://env");
    kube_config_free(c);

    /* In-cluster is next; it reads the real service-account dir, absent here: its error shows. */
    unsetenv("KUBECONFIG");
    ck_assert_int_ne(kube_config_load(NULL, NULL, &c, &e), 0);
    ck_assert_ptr_nonnull(strstr(e.msg, "in-cluster"));

    unsetenv("KUBERNETES_SERVICE_HOST");
    ck_assert_int_eq(kube_config_load(NULL, NULL, &c, &e), 0);
    ck_assert_str_eq(c->server, "https://home");
    kube_config_free(c);

    unlink(path_of(".kube/config"));
    ck_assert_int_eq(kube_config_load(NULL, NULL, &c, &e), ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(e.msg, "no Kubernetes config"));

    setenv("KUBECONFIG", ":::", 1);
    ck_assert_int_eq(kube_config_load(NULL, NULL, &c, &e), ERR_INVALID);

    if (old_home)
        setenv("HOME", old_home, 1);
    free(old_home);
    unsetenv("KUBECONFIG");
    unsetenv("KUBERNETES_SERVICE_PORT");
}
END_TEST

START_TEST(test_hand_built_config)
{
    struct kube_config *c = kube_config_new();
    ck_assert_ptr_nonnull(c);
    char tok[16];
    struct err e = {0};
    ck_assert_int_eq(kube_config_bearer(c, tok, sizeof tok, &e), 0);
    ck_assert_str_eq(tok, "");
    c->token = strdup("static");
    ck_assert_int_eq(kube_config_bearer(c, tok, sizeof tok, &e), 0);
    ck_assert_str_eq(tok, "static");
    c->token_file = strdup("/nonexistent/token");
    ck_assert_int_eq(kube_config_bearer(c, tok, sizeof tok, &e), ERR_IO);
    ck_assert_ptr_nonnull(strstr(e.msg, "/nonexistent/token"));
    kube_config_free(c);
    kube_config_free(NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kube_config");
    TCase *tc = tcase_create("config");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_good_kubeconfigs, 0, (int)(sizeof goods / sizeof goods[0]));
    tcase_add_loop_test(tc, test_bad_kubeconfigs, 0, (int)(sizeof bads / sizeof bads[0]));
    tcase_add_test(tc, test_alias_bomb_refused);
    tcase_add_test(tc, test_deep_nesting_refused);
    tcase_add_test(tc, test_self_alias_refused);
    tcase_add_test(tc, test_token_file_rotation);
    tcase_add_test(tc, test_in_cluster);
    tcase_add_test(tc, test_precedence);
    tcase_add_test(tc, test_hand_built_config);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
