/* config.h — where the API server is and who we are to it: a kubeconfig file (libyaml) or
 * the in-cluster service account. The bearer token file is re-read whenever it changes,
 * because bound service-account tokens rotate under a running process. */
#ifndef BALLAST_KUBE_CONFIG_H
#define BALLAST_KUBE_CONFIG_H

#include <pthread.h>
#include <stddef.h>
#include <time.h>

#include "base/err.h"

struct kube_config {
    char *server; /* "https://127.0.0.1:6443", no trailing slash */
    char *ca_pem;
    size_t ca_len; /* CA bundle (PEM) or NULL for the system store */
    char *cert_pem;
    size_t cert_len; /* client certificate (PEM) or NULL */
    char *key_pem;
    size_t key_len;   /* client key (PEM) or NULL */
    char *token;      /* static bearer token or NULL */
    char *token_file; /* bearer token file, re-read when it changes, or NULL */
    int insecure;     /* insecure-skip-tls-verify */
    char *ns;         /* namespace of the context / in-cluster namespace, or NULL */
    char *source;     /* "kubeconfig /path (context x)" or "in-cluster", for logs */

    /* private: guarded by mu; only kube_config_bearer touches them */
    pthread_mutex_t mu;
    char *cached_token;          /* last content read from token_file (trimmed) */
    struct timespec token_mtime; /* mtime/size/inode of token_file when it was read */
    long long token_size;
    unsigned long long token_ino;
    int token_loaded;
};

/* Precedence as controller-runtime: explicit path > $KUBECONFIG (first file of the list) >
 * in-cluster (KUBERNETES_SERVICE_HOST/PORT) > ~/.kube/config. context NULL = current-context.
 * Caller frees with kube_config_free. Errors: ERR_INVALID/ERR_IO with one clear line naming file
 * and problem. */
int kube_config_load(const char *path, const char *context, struct kube_config **out,
                     struct err *e);
int kube_config_from_file(const char *path, const char *context, struct kube_config **out,
                          struct err *e);
/* dir NULL = /var/run/secrets/kubernetes.io/serviceaccount (token, ca.crt, namespace) */
int kube_config_in_cluster(const char *dir, struct kube_config **out, struct err *e);
/* Current bearer token into out (""), re-reading token_file when its mtime/size changed;
 * thread-safe. */
int kube_config_bearer(struct kube_config *c, char *out, size_t n, struct err *e);
/* Forget the cached token so the next kube_config_bearer reads token_file again (used after a 401).
 */
void kube_config_token_invalidate(struct kube_config *c);
void kube_config_free(struct kube_config *c);

/* An empty config (all NULL, mutex ready) for callers that build one by hand, e.g. tests.
 * Fill the fields with malloc'ed strings (strdup); kube_config_free frees them. NULL on ENOMEM. */
struct kube_config *kube_config_new(void);

#endif
