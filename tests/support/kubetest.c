/* kubetest.c — integration-test helpers: admin config from $KUBECONFIG, throwaway namespaces,
 * the per-test fixture and suite runner, kubectl, and starting/steering
 * tests/support/faultproxy.py; see kubetest.h. */
#include "kubetest.h"

#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *kt_env(const char *name)
{
    const char *v = getenv(name);
    if (v == NULL || v[0] == '\0')
        ck_abort_msg("environment variable %s is not set (run through ctest, or export it)", name);
    return v;
}

struct kube_config *kt_config(void)
{
    struct kube_config *c = NULL;
    struct err e = {0};
    if (kube_config_from_file(kt_env("KUBECONFIG"), NULL, &c, &e) != 0)
        ck_abort_msg("load $KUBECONFIG: %s", e.msg);
    return c;
}

double kt_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void kt_ns_create(struct kube_client *c, const char *prefix, char *out, size_t n)
{
    static unsigned counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(out, n, "%s-%d-%u-%ld", prefix, (int)getpid(), counter++,
             (long)(ts.tv_nsec / 1000) % 100000);
    cJSON *ns = cJSON_CreateObject();
    cJSON_AddStringToObject(ns, "apiVersion", "v1");
    cJSON_AddStringToObject(ns, "kind", "Namespace");
    cJSON *md = cJSON_AddObjectToObject(ns, "metadata");
    cJSON_AddStringToObject(md, "name", out);
    struct kube_resp r = {0};
    int rc = kube_create(c, &KUBE_NAMESPACES, NULL, ns, &r);
    cJSON_Delete(ns);
    if (rc != 0) {
        struct err e = {0};
        kube_resp_err(&e, rc, &r, "create namespace %s", out);
        kube_resp_free(&r);
        ck_abort_msg("%s", e.msg);
    }
    kube_resp_free(&r);
}

void kt_ns_delete(struct kube_client *c, const char *ns)
{
    struct kube_resp r = {0};
    struct kube_delete_opts o = {.propagation = "Background", .grace_seconds = -1};
    kube_delete(c, &KUBE_NAMESPACES, NULL, ns, &o, &r);
    kube_resp_free(&r);
}

void kt_fixture_setup(struct kt_fixture *fx, const char *prefix)
{
    struct err e = {0};
    fx->cfg = kt_config();
    fx->kc = kube_client_new(fx->cfg, &e);
    ck_assert_msg(fx->kc != NULL, "%s", e.msg);
    kt_ns_create(fx->kc, prefix, fx->ns, sizeof fx->ns);
}

void kt_fixture_teardown(struct kt_fixture *fx)
{
    kt_ns_delete(fx->kc, fx->ns);
    kube_client_free(fx->kc);
    kube_config_free(fx->cfg);
    fx->kc = NULL;
    fx->cfg = NULL;
}

TCase *kt_tcase(Suite *s, const char *name, double timeout_s, SFun setup, SFun teardown)
{
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, timeout_s);
    tcase_add_checked_fixture(tc, setup, teardown);
    suite_add_tcase(s, tc);
    return tc;
}

int kt_run_suite(Suite *s)
{
    struct err e = {0};
    SRunner *sr = srunner_create(s);
    if (kube_global_init(&e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        srunner_free(sr);
        return 1;
    }
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    kube_global_cleanup();
    return failed ? 1 : 0;
}

static int run_sh(struct buf *out, const char *cmd)
{
    FILE *f = popen(cmd, "r");
    if (f == NULL)
        return -1;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (out)
            buf_append(out, chunk, n);
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int kt_sh(struct buf *out, const char *fmt, ...)
{
    struct buf cmd = {0};
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&cmd, fmt, ap);
    va_end(ap);
    int rc = run_sh(out, cmd.data);
    buf_free(&cmd);
    return rc;
}

int kt_kubectl(struct buf *out, const char *fmt, ...)
{
    struct buf cmd = {0};
    const char *home = getenv("HOME");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/.cache/ballast/bin/kubectl", home ? home : "");
    buf_printf(&cmd, "'%s' ", access(path, X_OK) == 0 ? path : "kubectl");
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&cmd, fmt, ap);
    va_end(ap);
    int rc = run_sh(out, cmd.data);
    buf_free(&cmd);
    return rc;
}

/* ---- fault proxy ---- */

static void write_all(const char *path, const char *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, data, len) != (ssize_t)len)
        ck_abort_msg("write %s failed", path);
    close(fd);
}

void kt_proxy_start(struct kt_proxy *p, const struct kube_config *up)
{
    memset(p, 0, sizeof *p);
    snprintf(p->dir, sizeof p->dir, "/tmp/ballast-proxy-XXXXXX");
    if (mkdtemp(p->dir) == NULL)
        ck_abort_msg("mkdtemp failed");
    if (up->cert_pem == NULL || up->ca_pem == NULL)
        ck_abort_msg("the fault proxy needs a client-cert kubeconfig with a CA");
    char f[PATH_MAX + 32];
    snprintf(f, sizeof f, "%s/up.crt", p->dir);
    write_all(f, up->cert_pem, up->cert_len);
    snprintf(f, sizeof f, "%s/up.key", p->dir);
    write_all(f, up->key_pem, up->key_len);
    snprintf(f, sizeof f, "%s/upca.crt", p->dir);
    write_all(f, up->ca_pem, up->ca_len);
    const char *cl = kt_env("BALLAST_CLUSTER_DIR");
    /* A serving cert for 127.0.0.1 signed by the cluster CA, so clients trust it as they trust
     * the API server. -set_serial keeps openssl from writing next to the shared CA. */
    if (kt_sh(NULL,
              "cd '%s' && printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' "
              ">ext && openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
              "-keyout proxy.key -out proxy.csr -subj /CN=faultproxy 2>/dev/null && openssl x509 "
              "-req -in proxy.csr -CA '%s/pki/ca.crt' -CAkey '%s/pki/ca.key' -set_serial %ld "
              "-days 2 -extfile ext -out proxy.crt 2>/dev/null",
              p->dir, cl, cl, (long)getpid() * 1000 + (long)(kt_now() * 1000) % 1000) != 0)
        ck_abort_msg("openssl could not make the proxy's cert in %s", p->dir);

    char script[PATH_MAX], logf[PATH_MAX + 16], cert[PATH_MAX + 16], key[PATH_MAX + 16],
        ucert[PATH_MAX + 16], ukey[PATH_MAX + 16], uca[PATH_MAX + 16], portf[PATH_MAX + 16];
    snprintf(script, sizeof script, "%s/tests/support/faultproxy.py", kt_env("BALLAST_SOURCE_DIR"));
    snprintf(logf, sizeof logf, "%s/log", p->dir);
    snprintf(cert, sizeof cert, "%s/proxy.crt", p->dir);
    snprintf(key, sizeof key, "%s/proxy.key", p->dir);
    snprintf(ucert, sizeof ucert, "%s/up.crt", p->dir);
    snprintf(ukey, sizeof ukey, "%s/up.key", p->dir);
    snprintf(uca, sizeof uca, "%s/upca.crt", p->dir);
    snprintf(portf, sizeof portf, "%s/port", p->dir);
    pid_t pid = fork();
    if (pid < 0)
        ck_abort_msg("fork failed");
    if (pid == 0) {
        /* A failing Check assertion exits the test without teardown: take the proxy along. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        int fd = open(logf, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execlp("python3", "python3", script, "--cert", cert, "--key", key, "--upstream", up->server,
               "--upstream-ca", uca, "--upstream-cert", ucert, "--upstream-key", ukey,
               "--port-file", portf, (char *)NULL);
        _exit(127);
    }
    p->pid = pid;
    for (int i = 0; i < 100 && p->port == 0; i++) {
        FILE *pf = fopen(portf, "r");
        if (pf) {
            if (fscanf(pf, "%d", &p->port) != 1)
                p->port = 0;
            fclose(pf);
        }
        if (p->port == 0)
            usleep(100 * 1000);
    }
    if (p->port == 0)
        ck_abort_msg("the fault proxy did not start; see %s", logf);
    p->cfg = kube_config_new();
    struct buf s = {0};
    buf_printf(&s, "https://127.0.0.1:%d", p->port);
    p->cfg->server = buf_steal(&s);
    p->cfg->ca_pem = malloc(up->ca_len + 1);
    memcpy(p->cfg->ca_pem, up->ca_pem, up->ca_len);
    p->cfg->ca_pem[up->ca_len] = '\0';
    p->cfg->ca_len = up->ca_len;
    p->cfg->source = strdup("faultproxy");
}

/* One control request to the proxy; its answer body (owned) or NULL. */
static cJSON *proxy_ctl(struct kt_proxy *p, const char *method, const char *path, const char *body)
{
    struct err e = {0};
    struct kube_client *c = kube_client_new(p->cfg, &e);
    if (c == NULL)
        ck_abort_msg("proxy client: %s", e.msg);
    struct kube_resp r = {0};
    int rc = kube_request(c, method, path, NULL, NULL, body, &r);
    if (rc != 0) {
        kube_resp_err(&e, rc, &r, "faultproxy %s %s", method, path);
        kube_resp_free(&r);
        kube_client_free(c);
        ck_abort_msg("%s", e.msg);
    }
    cJSON *out = r.body;
    r.body = NULL;
    kube_resp_free(&r);
    kube_client_free(c);
    return out;
}

void kt_proxy_fault(struct kt_proxy *p, const char *mode, int count, const char *method,
                    const char *match)
{
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "mode", mode);
    cJSON_AddNumberToObject(f, "count", count);
    if (method)
        cJSON_AddStringToObject(f, "method", method);
    if (match)
        cJSON_AddStringToObject(f, "match", match);
    cJSON_AddNumberToObject(f, "retry_after", 1);
    cJSON_AddNumberToObject(f, "stall_seconds", 30);
    char *body = cJSON_PrintUnformatted(f);
    cJSON_Delete(proxy_ctl(p, "POST", "/__fault/add", body));
    free(body);
    cJSON_Delete(f);
}

void kt_proxy_kill(struct kt_proxy *p)
{
    cJSON_Delete(proxy_ctl(p, "POST", "/__fault/kill", "{}"));
}

void kt_proxy_reset(struct kt_proxy *p)
{
    cJSON_Delete(proxy_ctl(p, "POST", "/__fault/reset", "{}"));
}

int kt_proxy_count(struct kt_proxy *p, const char *method, const char *match)
{
    cJSON *st = proxy_ctl(p, "GET", "/__fault/stats", NULL);
    int n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(st, "requests"))
    {
        const char *m = cJSON_GetStringValue(cJSON_GetObjectItem(it, "method"));
        const char *path = cJSON_GetStringValue(cJSON_GetObjectItem(it, "path"));
        if ((method == NULL || (m && strcmp(m, method) == 0)) &&
            (match == NULL || (path && strstr(path, match))))
            n++;
    }
    cJSON_Delete(st);
    return n;
}

void kt_proxy_stop(struct kt_proxy *p)
{
    if (p->pid > 0) {
        kill(p->pid, SIGTERM);
        waitpid(p->pid, NULL, 0);
        p->pid = 0;
    }
    if (p->dir[0])
        kt_sh(NULL, "rm -rf '%s'", p->dir);
    kube_config_free(p->cfg);
    p->cfg = NULL;
}
