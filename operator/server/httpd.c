/* httpd.c — the libwebsockets server behind httpd.h. lws is not thread-safe: only the
 * service thread touches the context, except lws_cancel_service() which srv_stop uses
 * to wake it. Each response is built whole, then written in chunks as the socket
 * drains. Every response says "Connection: close" and the connection is closed once it
 * is written: lws 4.1.6 mishandles a second request already buffered behind the first
 * (pipelined in one write), re-delivering the body completion forever (the service
 * thread spins and nothing is served again) or never answering it. One request per
 * connection is what HTTP/1.1 allows a server to choose; it costs a TCP (webhook: TLS)
 * handshake per probe, scrape or review, which their rates make cheap. */
#include "server/httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libwebsockets.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "base/log.h"

#define SRV_CHUNK 16384
/* After the cap, a body is read and dropped (so the 413 reaches the client instead of
 * a reset) up to this many times the cap, then the connection is cut. */
#define SRV_DRAIN_FACTOR 4

struct vhctx {
    struct srv *s;
    bool tls;
};

struct srv {
    struct lws_context *ctx;
    struct lws_vhost *http_vh, *tls_vh;
    struct vhctx http_vc, tls_vc;
    pthread_t thread;
    bool thread_started;
    atomic_int stop;
    pthread_mutex_t mu; /* guards ready */
    bool ready;
    struct metrics *metrics;
    adm_validate_fn validate;
    void *validate_ud;
    size_t max_body;
    int http_port, tls_port; /* bound ports, -1 = off; kept so no other thread asks lws */
    /* The webhook's certificate, reloaded when its files change (cert-manager renews the
     * Secret, kubelet swaps the mounted files through a symlink): the service thread looks
     * every SRV_CERT_CHECK_US and loads a changed pair into the vhost's SSL_CTX, which every
     * later handshake uses. Only the service thread touches these after start. */
    char *cert_path, *key_path;
    SSL_CTX *tls_ctx; /* the webhook vhost's, lws owns it */
    char cert_id[96], key_id[96];
    lws_sorted_usec_list_t cert_sul;
    atomic_int cert_reloads; /* successful reloads, for tests and logs */
};

#define SRV_CERT_CHECK_US (2 * LWS_US_PER_SEC)

/* Per-connection state, allocated and zeroed by lws (per_session_data_size). */
struct sess {
    struct buf body; /* the POST body being read */
    size_t drained;  /* bytes dropped after the cap, or of a body answered early */
    bool post, too_large;
    /* An answer decided before the body arrived (404/405 to a POST with a body): it is
     * sent once the body has been read and dropped, so closing resets nothing unread. */
    unsigned int early_status;
    const char *early_text;
    /* A response is queued: every later callback of this connection (a pipelined
     * request's headers or body) is ignored until it is written and we close. */
    bool answered;
    unsigned char *resp; /* LWS_PRE bytes of headroom, then resp_len bytes of body */
    size_t resp_len, sent;
};

static void sess_clear(struct sess *ss)
{
    buf_free(&ss->body);
    free(ss->resp);
    memset(ss, 0, sizeof(*ss));
}

/* respond writes the headers now and queues body (whose first LWS_PRE bytes are
 * headroom; taken over from b) for the writeable callback, which closes the connection
 * after the last byte. Returns -1 to hang up now. */
static int respond(struct lws *wsi, struct sess *ss, unsigned int status, const char *ctype,
                   struct buf *b)
{
    unsigned char hdr[LWS_PRE + 1024], *start = hdr + LWS_PRE, *p = start;
    unsigned char *end = hdr + sizeof(hdr) - 1;
    size_t len = b->len - LWS_PRE;

    if (lws_add_http_common_headers(wsi, status, ctype, len, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     (const unsigned char *)"no-store", 8, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION, (const unsigned char *)"close", 5,
                                     &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end)) {
        buf_free(b);
        return -1;
    }
    free(ss->resp);
    ss->resp_len = len;
    ss->resp = (unsigned char *)buf_steal(b);
    ss->sent = 0;
    ss->answered = true;
    lws_callback_on_writable(wsi);
    return 0;
}

/* respond_text answers a short text/plain body. */
static int respond_text(struct lws *wsi, struct sess *ss, unsigned int status, const char *text)
{
    static const char pre[LWS_PRE];
    struct buf b = {0};
    if (buf_append(&b, pre, sizeof(pre)) < 0 || buf_puts(&b, text) < 0) {
        buf_free(&b);
        return -1;
    }
    return respond(wsi, ss, status, "text/plain; charset=utf-8", &b);
}

static int write_more(struct lws *wsi, struct sess *ss)
{
    if (ss->resp == NULL)
        return 0;
    size_t left = ss->resp_len - ss->sent, n = left > SRV_CHUNK ? SRV_CHUNK : left;
    enum lws_write_protocol wp = n == left ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP;
    if (lws_write(wsi, ss->resp + LWS_PRE + ss->sent, n, wp) != (int)n)
        return -1;
    ss->sent += n;
    if (n < left) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    sess_clear(ss);
    ss->answered = true; /* until the close: nothing more is read on this connection */
    return -1;
}

/* write_now writes what is left of a queued response in one go and hangs up (lws sends
 * what the socket cannot take yet before it closes). */
static int write_now(struct lws *wsi, struct sess *ss)
{
    size_t left = ss->resp_len - ss->sent;
    if (lws_write(wsi, ss->resp + LWS_PRE + ss->sent, left, LWS_WRITE_HTTP_FINAL) != (int)left)
        return -1;
    sess_clear(ss);
    ss->answered = true;
    return -1;
}

static int serve_metrics(struct lws *wsi, struct sess *ss, struct srv *s)
{
    static const char pre[LWS_PRE];
    struct buf b = {0};
    struct err e = {0};
    if (buf_append(&b, pre, sizeof(pre)) < 0 ||
        (s->metrics != NULL && metrics_render(s->metrics, &b, &e) < 0)) {
        buf_free(&b);
        log_error("rendering /metrics failed", "error", e.msg);
        return respond_text(wsi, ss, 500, "cannot render metrics\n");
    }
    return respond(wsi, ss, 200, "text/plain; version=0.0.4; charset=utf-8", &b);
}

static int serve_review(struct lws *wsi, struct sess *ss, struct srv *s)
{
    static const char pre[LWS_PRE];
    struct buf b = {0};
    struct err e = {0};
    int status = 500;
    if (buf_append(&b, pre, sizeof(pre)) < 0) {
        buf_free(&b);
        return -1;
    }
    int rc = adm_review(ss->body.data, ss->body.len, s->validate, s->validate_ud, &b, &status, &e);
    if (rc < 0)
        log_warn("admission review rejected", "status", status == 413 ? "413" : "400", "error",
                 e.msg);
    if (b.len == LWS_PRE) { /* out of memory before any body was written */
        buf_free(&b);
        return respond_text(wsi, ss, 500, "out of memory\n");
    }
    buf_free(&ss->body);
    return respond(wsi, ss, (unsigned int)status, "application/json", &b);
}

static int content_length(struct lws *wsi, long long *out)
{
    char cl[32];
    int n = lws_hdr_copy(wsi, cl, sizeof(cl), WSI_TOKEN_HTTP_CONTENT_LENGTH);
    if (n <= 0)
        return -1;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(cl, &end, 10);
    if (errno != 0 || end == cl || *end != '\0' || v < 0)
        return -1;
    *out = v;
    return 0;
}

/* reject answers status now, or, when a body is on its way, once it has been read and
 * dropped (up to a limit): closing with unread bytes would reset the connection under
 * the answer. A client waiting on "Expect: 100-continue" has sent nothing yet. */
static int reject(struct lws *wsi, struct sess *ss, struct srv *s, unsigned int status,
                  const char *text)
{
    long long cl = -1;
    bool expect = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_EXPECT) > 0;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0 && content_length(wsi, &cl) == 0 &&
        cl > 0 && !expect && (unsigned long long)cl <= SRV_DRAIN_FACTOR * s->max_body) {
        ss->post = true;
        ss->too_large = true; /* keep nothing */
        ss->early_status = status;
        ss->early_text = text;
        return 0;
    }
    return respond_text(wsi, ss, status, text);
}

/* on_request routes a request once its headers are in. */
static int on_request(struct lws *wsi, struct sess *ss, struct vhctx *vc)
{
    struct srv *s = vc->s;
    char path[256];
    bool get = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0;
    bool post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;

    sess_clear(ss);
    if (!get && !post)
        return respond_text(wsi, ss, 405, "method not allowed\n");
    if (lws_hdr_copy(wsi, path, sizeof(path), get ? WSI_TOKEN_GET_URI : WSI_TOKEN_POST_URI) < 0)
        return reject(wsi, ss, s, 404, "not found\n");

    if (!vc->tls) {
        bool known =
            !strcmp(path, "/healthz") || !strcmp(path, "/readyz") || !strcmp(path, "/metrics");
        if (!known)
            return reject(wsi, ss, s, 404, "not found\n");
        if (!get)
            return reject(wsi, ss, s, 405, "method not allowed\n");
        if (!strcmp(path, "/healthz"))
            return respond_text(wsi, ss, 200, "ok\n");
        if (!strcmp(path, "/readyz")) {
            pthread_mutex_lock(&s->mu);
            bool ready = s->ready;
            pthread_mutex_unlock(&s->mu);
            return respond_text(wsi, ss, ready ? 200 : 503, ready ? "ok\n" : "not ready\n");
        }
        return serve_metrics(wsi, ss, s);
    }

    if (strcmp(path, "/validate") != 0)
        return reject(wsi, ss, s, 404, "not found\n");
    if (!post)
        return respond_text(wsi, ss, 405, "method not allowed\n");
    long long cl = -1;
    bool has_cl = content_length(wsi, &cl) == 0;
    if (has_cl && (unsigned long long)cl > s->max_body) {
        char msg[96];
        snprintf(msg, sizeof(msg), "request body over %zu bytes\n", s->max_body);
        if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_EXPECT) > 0 ||
            (unsigned long long)cl > SRV_DRAIN_FACTOR * s->max_body)
            return respond_text(wsi, ss, 413, msg);
        ss->post = true;
        ss->too_large = true;
        return 0;
    }
    if (has_cl && cl == 0)
        return serve_review(wsi, ss, s); /* no body callbacks will come: 400 empty body */
    /* lws 4.1 never completes a chunked request body (the connection just times out),
     * and the API server always sends a length: ask for one. A length that is not a
     * number in range gets the same answer. */
    if (!has_cl)
        return respond_text(wsi, ss, 411, "Content-Length required\n");
    ss->post = true;
    ss->body.max = s->max_body;
    return 0; /* the body arrives in LWS_CALLBACK_HTTP_BODY */
}

static int on_body(struct sess *ss, const void *in, size_t len, size_t max_body)
{
    if (!ss->post)
        return 0;
    if (!ss->too_large && buf_append(&ss->body, in, len) < 0) {
        ss->too_large = true;
        ss->drained = ss->body.len;
        buf_free(&ss->body);
    }
    if (ss->too_large) {
        ss->drained += len;
        if (ss->drained > SRV_DRAIN_FACTOR * max_body)
            return -1;
    }
    return 0;
}

/* What identifies a file's content without reading it: device, inode, size, mtime. stat()
 * follows the symlinks, so kubelet's swap of the ..data link shows as a new inode. */
static void file_id(const char *path, char *out, size_t n)
{
    struct stat st;
    if (stat(path, &st) != 0)
        snprintf(out, n, "missing");
    else
        snprintf(out, n, "%llu:%llu:%lld:%lld.%09ld", (unsigned long long)st.st_dev,
                 (unsigned long long)st.st_ino, (long long)st.st_size, (long long)st.st_mtim.tv_sec,
                 st.st_mtim.tv_nsec);
}

/* Loads cert (chain) and key into ctx; checks they belong together. 0 or -1. */
static int load_pair(SSL_CTX *ctx, const char *cert, const char *key)
{
    return SSL_CTX_use_certificate_chain_file(ctx, cert) == 1 &&
                   SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) == 1 &&
                   SSL_CTX_check_private_key(ctx) == 1
               ? 0
               : -1;
}

/* On the service thread: a changed pair is first loaded into a scratch context, so a
 * half-written renewal (new cert, old key) never reaches the live one; then into the
 * vhost's SSL_CTX, which new connections copy at SSL_new. Connections open keep theirs. */
static void cert_check(lws_sorted_usec_list_t *sul)
{
    struct srv *s = lws_container_of(sul, struct srv, cert_sul);
    char cid[sizeof s->cert_id], kid[sizeof s->key_id];
    file_id(s->cert_path, cid, sizeof cid);
    file_id(s->key_path, kid, sizeof kid);
    if (strcmp(cid, s->cert_id) != 0 || strcmp(kid, s->key_id) != 0) {
        snprintf(s->cert_id, sizeof s->cert_id, "%s", cid);
        snprintf(s->key_id, sizeof s->key_id, "%s", kid);
        SSL_CTX *scratch = SSL_CTX_new(TLS_server_method());
        if (scratch != NULL && load_pair(scratch, s->cert_path, s->key_path) == 0 &&
            load_pair(s->tls_ctx, s->cert_path, s->key_path) == 0) {
            atomic_fetch_add(&s->cert_reloads, 1);
            log_info("webhook certificate reloaded", "cert", s->cert_path);
        } else {
            char why[256];
            ERR_error_string_n(ERR_peek_last_error(), why, sizeof why);
            log_warn("webhook certificate changed but cannot be loaded; serving the previous one",
                     "cert", s->cert_path, "key", s->key_path, "error", why);
        }
        ERR_clear_error();
        SSL_CTX_free(scratch);
    }
    lws_sul_schedule(s->ctx, 0, &s->cert_sul, cert_check, SRV_CERT_CHECK_US);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    if (reason == LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS) {
        /* at the TLS vhost's creation: user is its SSL_CTX, kept for cert reloads */
        struct lws_vhost *cvh = lws_get_vhost(wsi);
        struct vhctx *cvc = cvh ? lws_get_vhost_user(cvh) : NULL;
        if (cvc != NULL && cvc->tls)
            cvc->s->tls_ctx = user;
        return 0;
    }

    struct sess *ss = user;
    struct lws_vhost *vh = lws_get_vhost(wsi);
    struct vhctx *vc = vh ? lws_get_vhost_user(vh) : NULL;

    /* A POST whose Content-Length is 0, or not a number (lws reads it with atoll), is
     * complete for lws as soon as its headers are: it delivers the body completion at once
     * and goes on to parse whatever follows (a pipelined request, stray bytes) as the next
     * request, dropping and re-binding this connection's protocol, which would discard the
     * answer queued here: its headers went out, its body never would, a second answer would
     * follow and the connection would hang until lws's timeout. So an answer still queued at
     * the body completion is written now, and the connection closed. */
    if (ss != NULL && ss->answered && reason == LWS_CALLBACK_HTTP_BODY_COMPLETION &&
        ss->resp != NULL)
        return write_now(wsi, ss);
    /* A response is queued: whatever lws parses behind it (a pipelined request) is
     * dropped, and the connection closes once the response is written. */
    if (ss != NULL && ss->answered &&
        (reason == LWS_CALLBACK_HTTP || reason == LWS_CALLBACK_HTTP_BODY ||
         reason == LWS_CALLBACK_HTTP_BODY_COMPLETION))
        return 0;

    switch (reason) {
    case LWS_CALLBACK_HTTP:
        if (ss == NULL || vc == NULL)
            return -1;
        return on_request(wsi, ss, vc);
    case LWS_CALLBACK_HTTP_BODY:
        if (ss == NULL || vc == NULL)
            return -1;
        return on_body(ss, in, len, vc->s->max_body);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (ss == NULL || vc == NULL)
            return -1;
        if (!ss->post) /* answered already (Content-Length 0 or over the cap) */
            return 0;
        ss->post = false;
        if (ss->early_status != 0)
            return respond_text(wsi, ss, ss->early_status, ss->early_text);
        if (ss->too_large) {
            char msg[96];
            snprintf(msg, sizeof(msg), "request body over %zu bytes\n", vc->s->max_body);
            return respond_text(wsi, ss, 413, msg);
        }
        return serve_review(wsi, ss, vc->s);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (ss == NULL)
            return -1;
        return write_more(wsi, ss);
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    case LWS_CALLBACK_CLOSED_HTTP:
        if (ss != NULL)
            sess_clear(ss);
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
    {.name = "ballast-http", .callback = callback, .per_session_data_size = sizeof(struct sess)},
    {.name = NULL, .callback = NULL},
};

static const struct lws_http_mount mount = {
    .mount_next = NULL,
    .mountpoint = "/",
    .mountpoint_len = 1,
    .origin = "ballast-http",
    .protocol = "ballast-http",
    .origin_protocol = LWSMPRO_CALLBACK,
};

/* lws logs through here, so its lines share ballast's format. */
static void lws_log(int level, const char *line)
{
    char msg[512];
    snprintf(msg, sizeof(msg), "%s", line);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    if (level & LLL_ERR)
        log_error("libwebsockets", "detail", msg);
    else
        log_warn("libwebsockets", "detail", msg);
}

static void *service_main(void *arg)
{
    struct srv *s = arg;
    while (!atomic_load(&s->stop)) {
        if (lws_service(s->ctx, 0) < 0) {
            log_error("http server stopped: lws_service failed");
            break;
        }
    }
    return NULL;
}

/* probe_listen resolves host (lws binds an interface name or a literal address, not
 * a DNS name) into num and binds host:port once, so a taken port or a foreign address
 * is reported here with errno's words: lws only logs a missing address and waits for
 * it, and its bind-failure path leaks an SSL_CTX. host "" = every interface. */
static int probe_listen(const char *host, int port, char *num, size_t numlen, bool *v4,
                        struct err *e)
{
    struct addrinfo hints = {.ai_family = host[0] ? AF_UNSPEC : AF_INET6,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char portstr[8];
    snprintf(portstr, sizeof(portstr), "%d", port);
    int rc = getaddrinfo(host[0] ? host : NULL, portstr, &hints, &res);
    if (rc != 0 && !host[0]) {
        hints.ai_family = AF_INET; /* no IPv6 on this host */
        rc = getaddrinfo(NULL, portstr, &hints, &res);
    }
    if (rc != 0)
        return err_set(e, ERR_INVALID, "cannot resolve listen address \"%s\": %s", host,
                       gai_strerror(rc));
    *v4 = res->ai_family == AF_INET;
    const void *addr = *v4 ? (const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr
                           : (const void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr;
    if (inet_ntop(res->ai_family, addr, num, (socklen_t)numlen) == NULL)
        snprintf(num, numlen, "%s", host);
    rc = 0;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, zero = 0;
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (!*v4)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    }
    if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0)
        rc = err_set(e, ERR_IO, "cannot listen on %s port %d: %s", host[0] ? host : "*", port,
                     strerror(errno));
    if (fd >= 0)
        close(fd);
    freeaddrinfo(res);
    return rc;
}

/* make_vhost adds one listener; the vhost belongs to the context. */
static int make_vhost(struct srv *s, bool tls, const char *host, int port, const struct srv_opts *o,
                      struct lws_vhost **out, int *bound, struct err *e)
{
    int rc;
    struct lws_context_creation_info info;
    char num[INET6_ADDRSTRLEN];
    bool v4 = false;
    if (host == NULL)
        host = "";
    if ((rc = probe_listen(host, port, num, sizeof(num), &v4, e)) < 0)
        return rc;
    memset(&info, 0, sizeof(info));
    info.vhost_name = tls ? "webhook" : "http";
    info.port = port;
    info.iface = host[0] ? num : NULL;
    info.protocols = protocols;
    info.mounts = &mount;
    info.user = tls ? &s->tls_vc : &s->http_vc;
    /* No OS CA bundle: the server verifies no client certificate. */
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS |
                   LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND;
    if (tls)
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    /* An IPv4 address cannot be bound by an AF_INET6 listener. */
    if (v4)
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    info.keepalive_timeout = 30;
    if (tls) {
        info.ssl_cert_filepath = o->tls_cert;
        info.ssl_private_key_filepath = o->tls_key;
        info.alpn =
            "http/1.1"; /* h2 POST bodies have had bugs; the API server uses h2 if offered */
    }
    struct lws_vhost *vh = lws_create_vhost(s->ctx, &info);
    if (vh == NULL || lws_get_vhost_listen_port(vh) <= 0) {
        /* A vhost that exists is freed with the context. */
        return err_set(
            e, tls ? ERR_INVALID : ERR_IO, "cannot listen on %s:%d for the %s (address in use%s)",
            info.iface ? info.iface : "*", port, tls ? "webhook" : "health/metrics server",
            tls ? ", or the certificate/key cannot be loaded" : "");
    }
    *out = vh;
    *bound = lws_get_vhost_listen_port(vh);
    return 0;
}

static int check_file(const char *what, const char *path, struct err *e)
{
    if (path == NULL || path[0] == '\0')
        return err_set(e, ERR_INVALID, "webhook TLS needs a %s file", what);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return err_set(e, ERR_INVALID, "webhook TLS %s %s: %s", what, path, strerror(errno));
    fclose(f);
    return 0;
}

int srv_start(const struct srv_opts *o, struct srv **out, struct err *e)
{
    struct srv *s = NULL;
    int rc = 0;

    if (o == NULL || out == NULL)
        return err_set(e, ERR_INVALID, "srv_start: options and out are required");
    *out = NULL;
    if (!o->http && !o->tls)
        return err_set(e, ERR_INVALID, "http server: neither the plain nor the TLS listener is on");
    if ((o->http && (o->http_port < 0 || o->http_port > 65535)) ||
        (o->tls && (o->tls_port < 0 || o->tls_port > 65535)))
        return err_set(e, ERR_INVALID, "http server: port must be 0..65535 (0 = any free port)");
    if (o->tls && ((rc = check_file("certificate", o->tls_cert, e)) < 0 ||
                   (rc = check_file("private key", o->tls_key, e)) < 0))
        return rc;

    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return err_set(e, ERR_NOMEM, "http server: out of memory");
    pthread_mutex_init(&s->mu, NULL);
    s->http_vc = (struct vhctx){.s = s, .tls = false};
    s->tls_vc = (struct vhctx){.s = s, .tls = true};
    s->metrics = o->metrics;
    s->validate = o->validate;
    s->validate_ud = o->validate_ud;
    s->max_body = o->max_body ? o->max_body : ADM_MAX_BODY;
    s->http_port = s->tls_port = -1;

    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log);

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.server_string = "ballast";
    s->ctx = lws_create_context(&info);
    if (s->ctx == NULL) {
        rc = err_set(e, ERR_IO, "http server: cannot create the libwebsockets context");
        goto fail;
    }
    if (o->http && (rc = make_vhost(s, false, o->http_host, o->http_port, o, &s->http_vh,
                                    &s->http_port, e)) < 0)
        goto fail;
    if (o->tls &&
        (rc = make_vhost(s, true, o->tls_host, o->tls_port, o, &s->tls_vh, &s->tls_port, e)) < 0)
        goto fail;
    if (o->tls) {
        if (s->tls_ctx == NULL) {
            rc = err_set(e, ERR_IO, "webhook: libwebsockets gave no TLS context to reload into");
            goto fail;
        }
        s->cert_path = strdup(o->tls_cert);
        s->key_path = strdup(o->tls_key);
        if (s->cert_path == NULL || s->key_path == NULL) {
            rc = err_set(e, ERR_NOMEM, "http server: out of memory");
            goto fail;
        }
        file_id(s->cert_path, s->cert_id, sizeof s->cert_id);
        file_id(s->key_path, s->key_id, sizeof s->key_id);
        /* before the service thread starts: from then on only it touches the schedule */
        lws_sul_schedule(s->ctx, 0, &s->cert_sul, cert_check, SRV_CERT_CHECK_US);
    }
    if (pthread_create(&s->thread, NULL, service_main, s) != 0) {
        rc = err_set(e, ERR_IO, "http server: cannot start its thread");
        goto fail;
    }
    s->thread_started = true;
    *out = s;
    return 0;

fail:
    srv_stop(s);
    return rc;
}

void srv_stop(struct srv *s)
{
    if (s == NULL)
        return;
    if (s->thread_started) {
        atomic_store(&s->stop, 1);
        lws_cancel_service(s->ctx);
        pthread_join(s->thread, NULL);
    }
    if (s->ctx != NULL)
        lws_context_destroy(s->ctx);
    pthread_mutex_destroy(&s->mu);
    free(s->cert_path);
    free(s->key_path);
    free(s);
}

void srv_set_ready(struct srv *s, bool ready)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    s->ready = ready;
    pthread_mutex_unlock(&s->mu);
}

int srv_http_port(const struct srv *s)
{
    return s ? s->http_port : -1;
}

int srv_cert_reloads(struct srv *s)
{
    return s ? atomic_load(&s->cert_reloads) : 0;
}

int srv_tls_port(const struct srv *s)
{
    return s ? s->tls_port : -1;
}

int srv_parse_addr(const char *hostport, char *host, size_t hostlen, int *port, struct err *e)
{
    if (hostport == NULL || host == NULL || hostlen == 0 || port == NULL)
        return err_set(e, ERR_INVALID, "address: nothing given");
    const char *h = hostport, *hend, *colon;
    if (h[0] == '[') {
        hend = strchr(h, ']');
        if (hend == NULL || hend[1] != ':')
            return err_set(e, ERR_INVALID, "address \"%s\": want [ipv6]:port", hostport);
        h++;
        colon = hend + 1;
    } else {
        colon = strrchr(h, ':');
        if (colon == NULL)
            return err_set(e, ERR_INVALID, "address \"%s\": want host:port or :port", hostport);
        hend = colon;
        if (memchr(h, ':', (size_t)(hend - h)) != NULL)
            return err_set(e, ERR_INVALID, "address \"%s\": put an IPv6 address in [brackets]",
                           hostport);
    }
    size_t n = (size_t)(hend - h);
    if (n >= hostlen)
        return err_set(e, ERR_INVALID, "address \"%s\": host too long", hostport);
    const char *p = colon + 1;
    if (*p == '\0' || strspn(p, "0123456789") != strlen(p) || strlen(p) > 5)
        return err_set(e, ERR_INVALID, "address \"%s\": port must be a number 0..65535", hostport);
    long v = strtol(p, NULL, 10);
    if (v > 65535)
        return err_set(e, ERR_INVALID, "address \"%s\": port must be 0..65535", hostport);
    memcpy(host, h, n);
    host[n] = '\0';
    *port = (int)v;
    return 0;
}
