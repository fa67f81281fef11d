/* kubetest.h — helpers for integration tests against the local control plane: the admin
 * kube_config from $KUBECONFIG, a fresh namespace per test (alone or as a fixture with a client),
 * the suite runner, kubectl, and the fault-injecting proxy (tests/support/faultproxy.py). They
 * abort the Check test (ck_abort_msg) on setup failure, so a test body can assume they worked.
 * kt_run_suite calls kube_global_init() before any test runs. */
#ifndef BALLAST_TESTS_KUBETEST_H
#define BALLAST_TESTS_KUBETEST_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

#include <check.h>

#include "base/buf.h"
#include "kube/client.h"

/* $NAME, or the test aborts naming the variable. */
const char *kt_env(const char *name);

/* The admin config from $KUBECONFIG. Caller frees with kube_config_free. */
struct kube_config *kt_config(void);

/* Creates a namespace "<prefix>-<unique suffix>" (prefix: a few lowercase letters) and writes its
 * name into out. Delete it with kt_ns_delete (does not wait for it to be gone). */
void kt_ns_create(struct kube_client *c, const char *prefix, char *out, size_t n);
void kt_ns_delete(struct kube_client *c, const char *ns);

/* What most integration tests start from: the admin config, a client on it and a fresh namespace
 * "<prefix>-..." (see kt_ns_create). A file keeps one in a static and sets it up in its Check
 * fixture; kt_fixture_teardown deletes the namespace and frees the client, then the config. */
struct kt_fixture {
    struct kube_config *cfg; /* owned */
    struct kube_client *kc;  /* owned; borrows cfg */
    char ns[64];
};
void kt_fixture_setup(struct kt_fixture *fx, const char *prefix);
void kt_fixture_teardown(struct kt_fixture *fx);

/* A test case named name in s, each test bounded by timeout_s seconds, with setup/teardown as
 * its checked fixture (run in the test's own process). The suite owns it. */
TCase *kt_tcase(Suite *s, const char *name, double timeout_s, SFun setup, SFun teardown);

/* kube_global_init, then every test of s (the runner takes s over and frees it), then
 * kube_global_cleanup. Returns main's exit code: 0 when all passed, else 1. */
int kt_run_suite(Suite *s);

/* Runs `kubectl <args>` (the printf-formatted args go through sh -c, so quote them) with the
 * kubectl at ~/.cache/ballast/bin/kubectl (else the one on PATH). Its stdout is appended to out
 * when out is non-NULL; stderr goes to the test's stderr. Returns kubectl's exit status. */
int kt_kubectl(struct buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Runs a shell command, stdout appended to out (may be NULL). Returns its exit status. */
int kt_sh(struct buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Monotonic seconds, for tests that bound how long something took. */
double kt_now(void);

/* The fault proxy, serving TLS on 127.0.0.1 with a cert signed by the cluster CA
 * ($BALLAST_CLUSTER_DIR/pki/ca.crt + ca.key) and forwarding to up->server as up's client cert.
 * cfg points at the proxy (CA = the cluster CA, no credentials of its own). */
struct kt_proxy {
    pid_t pid;
    int port;
    char dir[PATH_MAX]; /* temp dir with its cert, key and log */
    struct kube_config *cfg;
};
void kt_proxy_start(struct kt_proxy *p, const struct kube_config *up);
/* Queues a fault: mode "drop"|"500"|"503"|"429"|"stall"|"watch410", for the next count requests
 * whose path+query contains match (NULL = any) and whose method is method (NULL = any). */
void kt_proxy_fault(struct kt_proxy *p, const char *mode, int count, const char *method,
                    const char *match);
/* Shuts down every connection the proxy is relaying (drops watches in flight). */
void kt_proxy_kill(struct kt_proxy *p);
/* How many proxied requests (since the last reset) had this method and contained match. */
int kt_proxy_count(struct kt_proxy *p, const char *method, const char *match);
void kt_proxy_reset(struct kt_proxy *p);
void kt_proxy_stop(struct kt_proxy *p);

#endif
