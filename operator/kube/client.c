
/* client.c — the REST client: one curl easy handle per kube_client (so connections are reused),
 * the verbs on any group/version/resource, the API's Status as the error, and retries with
 * jittered back-off only where repeating the request cannot do harm. Never logs a token. */
#include "kube/client.h"

#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/flag.h"
#include "base/log.h"

#define MAX_BODY          (256u << 20) /* a bad server must not exhaust our memory */
#define MAX_ERR_BODY      (1u << 20)   /* an error answer on a stream */
#define MAX_ATTEMPTS      5
#define BACKOFF_BASE_MS   250
#define BACKOFF_CAP_MS    8000
#define RETRY_AFTER_CAP_S 30
#define CONNECT_TIMEOUT_S 10
#define REQUEST_TIMEOUT_S 60
#define MAX_TOKEN         16384
#define ACCEPT_JSON       "application/json"
#define ACCEPT_META_LIST                                                                           \
    "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"

const struct kube_res KUBE_PODS = {"", "v1", "pods", 1};
const struct kube_res KUBE_SERVICES = {"", "v1", "services", 1};
const struct kube_res KUBE_CONFIGMAPS = {"", "v1", "configmaps", 1};
const struct kube_res KUBE_PVCS = {"", "v1", "persistentvolumeclaims", 1};
const struct kube_res KUBE_EVENTS = {"", "v1", "events", 1};
const struct kube_res KUBE_NODES = {"", "v1", "nodes", 0};
const struct kube_res KUBE_NAMESPACES = {"", "v1", "namespaces", 0};
const struct kube_res KUBE_LEASES = {"coordination.k8s.io", "v1", "leases", 1};
const struct kube_res KUBE_PDBS = {"policy", "v1", "poddisruptionbudgets", 1};
const struct kube_res KUBE_CRDS = {"apiextensions.k8s.io", "v1", "customresourcedefinitions", 0};
const struct kube_res KUBE_PSCS = {"ballast.dev", "v1alpha1", "physicalstatefulclusters", 1};
const struct kube_res KUBE_SECRETS = {"", "v1", "secrets", 1};
const struct kube_res KUBE_ENDPOINTS = {"", "v1", "endpoints", 1};

struct kube_client {
    struct kube_config *cfg; /* borrowed */
    CURL *h;
    char errbuf[CURL_ERROR_SIZE];
    unsigned rng;
    long connects;  /* new connections opened, summed over transfers */
    long timeout_s; /* per attempt */
    int max_attempts;
    int (*write_guard)(void *ud); /* asked before each attempt of a write; NULL = always */
    void *write_guard_ud;
};

/* ---- process-wide state, set before threads start ---- */

static kube_request_observer g_observer;
static void *g_observer_ud;
static double g_backoff_scale = 1.0;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static CURLcode g_init_rc = CURLE_OK;
static int g_inited;

static void global_init_once(void)
{
    g_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    g_inited = g_init_rc == CURLE_OK;
    /* CURLOPT_NOSIGNAL=1 leaves SIGPIPE to us; a peer closing a TLS socket must not kill us. */
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
        sa.sa_handler = SIG_IGN;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = 0;
        sigaction(SIGPIPE, &sa, NULL);
    }
}

int kube_global_init(struct err *e)
{
    pthread_once(&g_once, global_init_once);
    if (g_init_rc != CURLE_OK)
        return err_set(e, ERR_IO, "curl_global_init: %s", curl_easy_strerror(g_init_rc));
    return 0;
}

void kube_global_cleanup(void)
{
    if (g_inited) {
        curl_global_cleanup();
        g_inited = 0;
    }
}

void kube_set_request_observer(kube_request_observer fn, void *ud)
{
    g_observer = fn;
    g_observer_ud = ud;
}

void kube_set_backoff_scale(double scale)
{
    g_backoff_scale = scale < 0 ? 0 : scale;
}

/* ---- responses and errors ---- */

void kube_resp_free(struct kube_resp *r)
{
    if (r == NULL)
        return;
    cJSON_Delete(r->body);
    memset(r, 0, sizeof *r);
}

int kube_resp_err(struct err *e, int rc, const struct kube_resp *r, const char *fmt, ...)
{
    if (e == NULL)
        return rc;
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (r == NULL || (r->status == 0 && r->message[0] == '\0'))
        return err_set(e, rc, "%s: failed", what);
    if (r->status == 0)
        return err_set(e, rc, "%s: %s", what, r->message);
    return err_set(e, rc, "%s: %ld %s: %s", what, r->status, r->reason[0] ? r->reason : "Error",
                   r->message[0] ? r->message : "(no message)");
}

static const char *default_reason(long status)
{
    switch (status) {
    case 400:
        return "BadRequest";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "NotFound";
    case 405:
        return "MethodNotAllowed";
    case 406:
        return "NotAcceptable";
    case 409:
        return "Conflict";
    case 410:
        return "Expired";
    case 413:
        return "RequestEntityTooLarge";
    case 415:
        return "UnsupportedMediaType";
    case 422:
        return "Invalid";
    case 429:
        return "TooManyRequests";
    case 500:
        return "InternalError";
    case 503:
        return "ServiceUnavailable";
    case 504:
        return "Timeout";
    default:
        return status >= 500 ? "InternalError" : "Unknown";
    }
}

static int code_for_status(long status)
{
    if (status >= 200 && status < 300)
        return 0;
    switch (status) {
    case 404:
        return ERR_NOTFOUND;
    case 409:
        return ERR_CONFLICT;
    case 410:
        return ERR_GONE;
    default:
        return ERR_API;
    }
}

/* Copies s into a fixed field, replacing control characters so the text stays one log line. */
static void copy_field(char *dst, size_t n, const char *s, size_t len)
{
    size_t j = 0;
    for (size_t i = 0; i < len && j + 1 < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        dst[j++] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
    }
    dst[j] = '\0';
}

/* Fills reason/message of a non-2xx answer from its Status body, or from the HTTP code. */
static void fill_status(struct kube_resp *r, const char *raw, size_t rawlen)
{
    const cJSON *reason = cJSON_GetObjectItemCaseSensitive(r->body, "reason");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(r->body, "message");
    if (cJSON_IsString(reason) && reason->valuestring[0])
        copy_field(r->reason, sizeof r->reason, reason->valuestring, strlen(reason->valuestring));
    else
        copy_field(r->reason, sizeof r->reason, default_reason(r->status),
                   strlen(default_reason(r->status)));
    if (cJSON_IsString(msg) && msg->valuestring[0])
        copy_field(r->message, sizeof r->message, msg->valuestring, strlen(msg->valuestring));
    else if (raw && rawlen)
        copy_field(r->message, sizeof r->message, raw, rawlen < 200 ? rawlen : 200);
    else
        snprintf(r->message, sizeof r->message, "HTTP %ld with no body", r->status);
}

/* ---- paths and queries ---- */

static int safe_segment(const char *s, int allow_slash)
{
    if (s == NULL || s[0] == '\0' || strlen(s) > 253)
        return 0;
    const char *seg = s; /* each '/'-separated part must be neither empty, "." nor ".." */
    for (const char *p = s;; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '\0' || ch == '/') {
            size_t n = (size_t)(p - seg);
            if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
                return 0;
            if (ch == '\0')
                return 1;
            if (!allow_slash)
                return 0;
            seg = p + 1;
            continue;
        }
        if (ch <= 0x20 || ch >= 0x7f || ch == '?' || ch == '#' || ch == '%' || ch == '\\')
            return 0;
    }
}

int kube_path(struct buf *out, const struct kube_res *r, const char *ns, const char *name,
              const char *sub)
{
    if (out == NULL || r == NULL || r->version == NULL || r->resource == NULL)
        return ERR_INVALID;
    if (!safe_segment(r->version, 0) || !safe_segment(r->resource, 0) ||
        (r->group && r->group[0] && !safe_segment(r->group, 0)))
        return ERR_INVALID;
    if (ns && (!r->namespaced || !safe_segment(ns, 0)))
        return ERR_INVALID;
    if (name && !safe_segment(name, 0))
        return ERR_INVALID;
    if (sub && (name == NULL || !safe_segment(sub, 1) || sub[0] == '/'))
        return ERR_INVALID;
    size_t mark = out->len;
    int rc = 0;
    if (r->group && r->group[0])
        rc |= buf_printf(out, "/apis/%s/%s", r->group, r->version);
    else
        rc |= buf_printf(out, "/api/%s", r->version);
    if (ns)
        rc |= buf_printf(out, "/namespaces/%s", ns);
    rc |= buf_printf(out, "/%s", r->resource);
    if (name)
        rc |= buf_printf(out, "/%s", name);
    if (sub)
        rc |= buf_printf(out, "/%s", sub);
    if (rc != 0) {
        out->len = mark;
        if (out->data)
            out->data[mark] = '\0';
        return ERR_NOMEM;
    }
    return 0;
}

/* Appends "&k=v" (or "k=v" first) with v percent-encoded. */
static void q_add(struct buf *q, const char *k, const char *v)
{
    static const char hex[] = "0123456789ABCDEF";
    if (q->len)
        buf_puts(q, "&");
    buf_puts(q, k);
    buf_puts(q, "=");
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            buf_append(q, p, 1);
        } else {
            char enc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            buf_append(q, enc, 3);
        }
    }
}

/* ---- the transfer ---- */

struct xfer {
    CURL *h;
    struct buf body;
    long retry_after; /* seconds, -1 = none */
    char ctype[128];
    /* streaming */
    const struct kube_stream_req *sq;
    int streaming; /* the 2xx head arrived: bytes go to sq->fn */
    int delivered; /* some bytes went to sq->fn */
    int fn_rc;
    int stopped;
    int over_cap;
};

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n;
    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) { /* a new response (after a 100, a redirect) */
        x->retry_after = -1;
        x->ctype[0] = '\0';
    } else if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
        char tmp[32];
        copy_field(tmp, sizeof tmp, p + 12, len - 12);
        char *end;
        long v = strtol(tmp, &end, 10);
        /* Only the delta-seconds form; an HTTP date is rare from the API server. */
        if (end != tmp && v >= 0)
            x->retry_after = v;
    } else if (len > 13 && strncasecmp(p, "Content-Type:", 13) == 0) {
        const char *v = p + 13;
        size_t vl = len - 13;
        while (vl && (*v == ' ' || *v == '\t')) {
            v++;
            vl--;
        }
        copy_field(x->ctype, sizeof x->ctype, v, vl);
    }
    return len;
}

static int stop_requested(const struct xfer *x)
{
    return x->sq && flag_get(x->sq->stop);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n;
    if (stop_requested(x)) {
        x->stopped = 1;
        return 0; /* anything but len aborts the transfer */
    }
    if (x->sq && !x->streaming) {
        long status = 0;
        curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
        x->streaming = status >= 200 && status < 300;
    }
    if (x->streaming) {
        x->delivered = 1;
        int rc = x->sq->fn(p, len, x->sq->ud);
        if (rc != 0) {
            x->fn_rc = rc;
            return 0;
        }
        return len;
    }
    if (buf_append(&x->body, p, len) < 0) {
        x->over_cap = 1;
        return 0;
    }
    return len;
}

/* Called about once a second even on an idle stream: that is what makes cancel prompt. */
static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    struct xfer *x = ud;
    if (stop_requested(x)) {
        x->stopped = 1;
        return 1;
    }
    return 0;
}

struct req {
    const char *verb; /* for the observer */
    const char *method;
    const char *path;
    const char *query;
    const char *ctype;
    const char *accept;
    const char *body;
    int safe; /* repeating it after a 5xx/transport error cannot do harm */
    const struct kube_stream_req *sq;
};

static void free_headers(struct curl_slist *h)
{
    /* The Authorization line holds the token: wipe it before the memory goes back. */
    for (struct curl_slist *p = h; p; p = p->next)
        explicit_bzero(p->data, strlen(p->data));
    curl_slist_free_all(h);
}

static long backoff_ms(struct kube_client *c, int attempt, long retry_after)
{
    long base = BACKOFF_BASE_MS << (attempt < 6 ? attempt : 6);
    if (base > BACKOFF_CAP_MS)
        base = BACKOFF_CAP_MS;
    /* Full jitter in [base/2, base*3/2): many clients hitting one server spread out. */
    long j = base / 2 + (long)(rand_r(&c->rng) % (unsigned)(base > 0 ? base : 1));
    long ms = (long)(j * g_backoff_scale);
    if (retry_after >= 0) {
        long ra = (retry_after > RETRY_AFTER_CAP_S ? RETRY_AFTER_CAP_S : retry_after) * 1000;
        if (ra > ms)
            ms = ra;
    }
    return ms;
}

/* Sleeps ms, in short slices when a stop flag may end it early. Returns 1 when stopped. */
static int sleep_ms(long ms, volatile int *stop)
{
    while (ms > 0) {
        if (flag_get(stop))
            return 1;
        long slice = stop ? (ms < 100 ? ms : 100) : ms;
        struct timespec ts = {slice / 1000, (slice % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        ms -= slice;
    }
    return flag_get(stop);
}

static int is_json(const char *ctype)
{
    return ctype[0] == '\0' || strstr(ctype, "json") != NULL;
}

/* Errors that the same request will meet again: repeating it only delays the report. */
static int permanent_transport_error(CURLcode cc)
{
    switch (cc) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
        return 1;
    default:
        return 0;
    }
}

/* One attempt. Returns 0 with r->status set when an HTTP answer arrived, or a negative code. */
static int perform_once(struct kube_client *c, const struct req *q, const char *url, struct xfer *x,
                        struct kube_resp *r, int *retryable_transport)
{
    CURL *h = c->h;
    struct curl_slist *hdrs = NULL;
    int rc = 0;
    char *auth = NULL;
    *retryable_transport = 0;

    struct err te = {0};
    char *tok = malloc(MAX_TOKEN);
    if (tok == NULL)
        return ERR_NOMEM;
    if (kube_config_bearer(c->cfg, tok, MAX_TOKEN, &te) != 0) {
        snprintf(r->message, sizeof r->message, "bearer token: %s", te.msg);
        free(tok);
        return ERR_IO;
    }
    if (tok[0]) {
        struct buf ab = {0};
        buf_printf(&ab, "Authorization: Bearer %s", tok);
        auth = buf_steal(&ab);
    }
    explicit_bzero(tok, MAX_TOKEN);
    free(tok);

    struct buf acc = {0};
    buf_printf(&acc, "Accept: %s", q->accept ? q->accept : ACCEPT_JSON);
    hdrs = curl_slist_append(hdrs, acc.data ? acc.data : "Accept: application/json");
    buf_free(&acc);
    if (q->ctype) {
        struct buf ct = {0};
        buf_printf(&ct, "Content-Type: %s", q->ctype);
        if (ct.data)
            hdrs = curl_slist_append(hdrs, ct.data);
        buf_free(&ct);
    }
    hdrs = curl_slist_append(hdrs, "Expect:"); /* no 100-continue round trip */
    if (auth) {
        hdrs = curl_slist_append(hdrs, auth);
        explicit_bzero(auth, strlen(auth));
        free(auth);
    }

    x->h = h;
    buf_free(&x->body);
    x->body.max = q->sq ? MAX_ERR_BODY : MAX_BODY;
    x->retry_after = -1;
    x->ctype[0] = '\0';
    x->sq = q->sq;
    x->streaming = x->delivered = x->fn_rc = x->stopped = x->over_cap = 0;

    c->errbuf[0] = '\0';
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, q->sq && q->sq->stop ? 0L : 1L);
    if (q->sq) {
        /* A watch has no total timeout; a stalled one is caught by the low-speed limit. */
        curl_easy_setopt(h, CURLOPT_TIMEOUT, 0L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, q->sq->low_speed_time);
    } else {
        curl_easy_setopt(h, CURLOPT_TIMEOUT, c->timeout_s);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 0L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 0L);
    }
    if (strcmp(q->method, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (q->body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, q->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(q->body));
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
    } else {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
    }

    CURLcode cc = curl_easy_perform(h);
    long status = 0, conns = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &conns) == CURLE_OK)
        c->connects += conns;
    if (g_observer)
        g_observer(q->verb, cc == CURLE_OK ? status : 0, g_observer_ud);

    if (cc != CURLE_OK) {
        if (x->stopped) {
            snprintf(r->message, sizeof r->message, "cancelled");
            rc = ERR_CANCELLED;
        } else if (x->fn_rc) {
            r->status = status;
            rc = x->fn_rc;
        } else if (x->over_cap) {
            snprintf(r->message, sizeof r->message, "%s %s: response larger than %zu bytes",
                     q->method, q->path, x->body.max);
            rc = ERR_IO;
        } else {
            snprintf(r->message, sizeof r->message, "%s %s: %s", q->method, q->path,
                     c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc));
            size_t n = strlen(r->message);
            while (n && r->message[n - 1] == '\n')
                r->message[--n] = '\0';
            long sent = 0;
            curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &sent);
            /* Safe to repeat when nothing reached the server, or the request is idempotent.
             * A stream that failed after it was sent (dropped, stalled) is the caller's to
             * resume from its last resourceVersion, and must be reported promptly. */
            *retryable_transport = !x->delivered && ((q->safe && !q->sq) || sent == 0) &&
                                   !permanent_transport_error(cc);
            rc = ERR_IO;
        }
        goto out;
    }
    r->status = status;
    if (x->streaming) /* the stream ended normally */
        goto out;
    if (x->body.len && is_json(x->ctype)) {
        r->body = cJSON_ParseWithLength(x->body.data, x->body.len);
        if (r->body == NULL && status >= 200 && status < 300) {
            snprintf(r->message, sizeof r->message, "%s %s: %ld answer is not valid JSON",
                     q->method, q->path, status);
            rc = ERR_API;
            goto out;
        }
    }
    if (status < 200 || status >= 300)
        fill_status(r, x->body.data, x->body.len);
out:
    free_headers(hdrs);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
    return rc;
}

static int do_request(struct kube_client *c, const struct req *q, struct kube_resp *r)
{
    if (r == NULL)
        return ERR_INVALID;
    memset(r, 0, sizeof *r);
    if (c == NULL || q->method == NULL || q->path == NULL || q->path[0] != '/') {
        snprintf(r->message, sizeof r->message, "bad request: no client, method or path");
        return ERR_INVALID;
    }
    struct buf url = {0};
    if (buf_printf(&url, "%s%s%s%s", c->cfg->server, q->path, q->query && q->query[0] ? "?" : "",
                   q->query ? q->query : "") < 0) {
        snprintf(r->message, sizeof r->message, "out of memory");
        return ERR_NOMEM;
    }
    struct xfer x = {0};
    volatile int *stop = q->sq ? q->sq->stop : NULL;
    int reauthed = 0;
    int rc = 0;
    int write = strcmp(q->method, "GET") != 0 && strcmp(q->method, "HEAD") != 0;
    for (int attempt = 0;; attempt++) {
        int retry_transport = 0;
        kube_resp_free(r);
        /* asked before every attempt, so a write is never retried past the renew deadline */
        if (write && c->write_guard && !c->write_guard(c->write_guard_ud)) {
            snprintf(r->message, sizeof r->message,
                     "%s %s not sent: no longer leading (attempt %d)", q->method, q->path,
                     attempt + 1);
            rc = ERR_CANCELLED;
            goto out;
        }
        rc = perform_once(c, q, url.data, &x, r, &retry_transport);
        long wait = -1;
        if (rc == ERR_IO && retry_transport) {
            wait = backoff_ms(c, attempt, -1);
        } else if (rc == 0 && r->status == 401 && !reauthed && c->cfg->token_file) {
            /* The token may have rotated under us: read the file again, once. */
            reauthed = 1;
            kube_config_token_invalidate(c->cfg);
            attempt--;
            wait = 0;
        } else if (rc == 0 && (r->status == 429 || (r->status >= 500 && q->safe))) {
            /* 429 means the server did not run the request: safe for any verb. */
            wait = backoff_ms(c, attempt, x.retry_after);
        }
        if (wait < 0 || attempt + 1 >= c->max_attempts)
            break;
        if (rc == 0)
            log_debug("retrying a kube request", "method", q->method, "path", q->path, "status",
                      r->reason);
        else
            log_debug("retrying a kube request", "method", q->method, "path", q->path, "error",
                      r->message);
        if (sleep_ms(wait, stop)) {
            kube_resp_free(r);
            snprintf(r->message, sizeof r->message, "cancelled");
            rc = ERR_CANCELLED;
            goto out;
        }
    }
    if (rc == 0)
        rc = code_for_status(r->status);
out:
    buf_free(&x.body);
    buf_free(&url);
    return rc;
}

int kube_stream(struct kube_client *c, const struct kube_stream_req *sq, struct kube_resp *r)
{
    if (sq == NULL || sq->fn == NULL) {
        if (r)
            memset(r, 0, sizeof *r);
        return ERR_INVALID;
    }
    struct req q = {.verb = sq->verb ? sq->verb : "WATCH",
                    .method = "GET",
                    .path = sq->path,
                    .query = sq->query,
                    .accept = sq->accept,
                    .safe = 1,
                    .sq = sq};
    return do_request(c, &q, r);
}

/* ---- client ---- */

struct kube_client *kube_client_new(struct kube_config *cfg, struct err *e)
{
    if (cfg == NULL || cfg->server == NULL) {
        err_set(e, ERR_INVALID, "kube client: no config or no server");
        return NULL;
    }
    if (kube_global_init(e) != 0)
        return NULL;
    struct kube_client *c = calloc(1, sizeof *c);
    if (c == NULL) {
        err_set(e, ERR_NOMEM, "kube client: out of memory");
        return NULL;
    }
    c->cfg = cfg;
    c->timeout_s = REQUEST_TIMEOUT_S;
    c->max_attempts = MAX_ATTEMPTS;
    c->rng = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)c;
    c->h = curl_easy_init();
    if (c->h == NULL) {
        free(c);
        err_set(e, ERR_NOMEM, "kube client: curl_easy_init failed");
        return NULL;
    }
    CURL *h = c->h;
    CURLcode cc = CURLE_OK;
    cc |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    cc |= curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
    cc |= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT_S);
    cc |= curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    cc |= curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 30L);
    cc |= curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 15L);
    cc |= curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    cc |= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    cc |= curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    cc |= curl_easy_setopt(h, CURLOPT_USERAGENT, "ballast/" BALLAST_VERSION);
    cc |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, cfg->insecure ? 0L : 1L);
    cc |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, cfg->insecure ? 0L : 2L);
    if (cfg->ca_pem && !cfg->insecure) {
        struct curl_blob b = {cfg->ca_pem, cfg->ca_len, CURL_BLOB_COPY};
        cc |= curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &b);
    }
    if (cfg->cert_pem && cfg->key_pem) {
        struct curl_blob cb = {cfg->cert_pem, cfg->cert_len, CURL_BLOB_COPY};
        struct curl_blob kb = {cfg->key_pem, cfg->key_len, CURL_BLOB_COPY};
        cc |= curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cb);
        cc |= curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
        cc |= curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &kb);
        cc |= curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
    }
    if (cc != CURLE_OK) {
        err_set(e, ERR_INVALID, "kube client: this libcurl lacks a needed option (TLS blobs?)");
        kube_client_free(c);
        return NULL;
    }
    return c;
}

void kube_client_set_write_guard(struct kube_client *c, int (*guard)(void *ud), void *ud)
{
    if (c == NULL)
        return;
    c->write_guard = guard;
    c->write_guard_ud = ud;
}

void kube_client_set_limits(struct kube_client *c, long timeout_seconds, int max_attempts)
{
    if (c == NULL)
        return;
    c->timeout_s = timeout_seconds > 0 ? timeout_seconds : REQUEST_TIMEOUT_S;
    c->max_attempts = max_attempts > 0 ? max_attempts : MAX_ATTEMPTS;
}

long kube_client_connects(const struct kube_client *c)
{
    return c ? c->connects : 0;
}

void kube_client_free(struct kube_client *c)
{
    if (c == NULL)
        return;
    curl_easy_cleanup(c->h);
    free(c);
}

/* ---- verbs ---- */

static int is_safe_request(const char *method, const char *ctype, const char *body)
{
    if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
        return 1;
    if (strcmp(method, "PATCH") == 0)
        return ctype && (strstr(ctype, "apply-patch") || strstr(ctype, "merge-patch"));
    if (strcmp(method, "PUT") != 0 && strcmp(method, "DELETE") != 0)
        return 0;
    if (body == NULL)
        return 0;
    cJSON *o = cJSON_Parse(body);
    int safe = 0;
    if (strcmp(method, "PUT") == 0) {
        const cJSON *rv = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(o, "metadata"), "resourceVersion");
        safe = cJSON_IsString(rv) && rv->valuestring[0];
    } else {
        const cJSON *pre = cJSON_GetObjectItemCaseSensitive(o, "preconditions");
        safe = cJSON_IsObject(pre) && pre->child;
    }
    cJSON_Delete(o);
    return safe;
}

int kube_request(struct kube_client *c, const char *method, const char *path, const char *query,
                 const char *content_type, const char *body, struct kube_resp *r)
{
    if (method == NULL) {
        if (r)
            memset(r, 0, sizeof *r);
        return ERR_INVALID;
    }
    struct req q = {.verb = method,
                    .method = method,
                    .path = path,
                    .query = query,
                    .ctype = body ? (content_type ? content_type : ACCEPT_JSON) : content_type,
                    .body = body,
                    .safe = is_safe_request(method, content_type, body)};
    return do_request(c, &q, r);
}

static int bad_args(struct kube_resp *r, const char *what)
{
    if (r) {
        memset(r, 0, sizeof *r);
        snprintf(r->message, sizeof r->message, "invalid arguments: %s", what);
    }
    return ERR_INVALID;
}

int kube_get(struct kube_client *c, const struct kube_res *res, const char *ns, const char *name,
             struct kube_resp *r)
{
    struct buf p = {0};
    if (name == NULL || kube_path(&p, res, ns, name, NULL) != 0) {
        buf_free(&p);
        return bad_args(r, "get needs a resource and a valid name/namespace");
    }
    struct req q = {.verb = "GET", .method = "GET", .path = p.data, .safe = 1};
    int rc = do_request(c, &q, r);
    buf_free(&p);
    return rc;
}

static int list_query(struct buf *q, const struct kube_list_opts *o)
{
    if (o == NULL)
        return 0;
    if (o->label_selector && o->label_selector[0])
        q_add(q, "labelSelector", o->label_selector);
    if (o->field_selector && o->field_selector[0])
        q_add(q, "fieldSelector", o->field_selector);
    if (o->limit > 0) {
        char n[32];
        snprintf(n, sizeof n, "%ld", o->limit);
        q_add(q, "limit", n);
    }
    if (o->continue_token && o->continue_token[0])
        q_add(q, "continue", o->continue_token);
    else if (o->resource_version && o->resource_version[0])
        q_add(q, "resourceVersion", o->resource_version);
    return 0;
}

int kube_list(struct kube_client *c, const struct kube_res *res, const char *ns,
              const struct kube_list_opts *o, struct kube_resp *r)
{
    struct buf p = {0}, qs = {0};
    if (kube_path(&p, res, ns, NULL, NULL) != 0) {
        buf_free(&p);
        return bad_args(r, "list needs a resource and a valid namespace");
    }
    list_query(&qs, o);
    struct req q = {.verb = "LIST",
                    .method = "GET",
                    .path = p.data,
                    .query = qs.data,
                    .accept = o && o->metadata_only ? ACCEPT_META_LIST : ACCEPT_JSON,
                    .safe = 1};
    int rc = do_request(c, &q, r);
    buf_free(&p);
    buf_free(&qs);
    return rc;
}

int kube_list_pages(struct kube_client *c, const struct kube_res *res, const char *ns,
                    const struct kube_list_opts *o, kube_page_fn *fn, void *ud, char *rv,
                    size_t rv_len, struct kube_resp *r)
{
    if (fn == NULL)
        return bad_args(r, "list_pages needs a page function");
    if (rv && rv_len)
        rv[0] = '\0';
    struct kube_list_opts page = {0};
    if (o)
        page = *o;
    if (page.limit <= 0)
        page.limit = 500;
    char *cont = NULL;
    int rc = 0;
    for (int pages = 0;; pages++) {
        page.continue_token = cont;
        if (pages > 0)
            kube_resp_free(r); /* the previous page: its items went to fn */
        rc = kube_list(c, res, ns, &page, r);
        if (rc != 0)
            goto out;
        cJSON *items = cJSON_DetachItemFromObjectCaseSensitive(r->body, "items");
        if (items == NULL && !(items = cJSON_CreateArray())) {
            kube_resp_free(r);
            rc = bad_args(r, "out of memory");
            goto out;
        }
        for (cJSON *it = items->child; it && o && o->compact; it = it->next)
            o->compact(it);
        const cJSON *md = cJSON_GetObjectItemCaseSensitive(r->body, "metadata");
        const cJSON *lrv = cJSON_GetObjectItemCaseSensitive(md, "resourceVersion");
        if (rv && rv_len && cJSON_IsString(lrv))
            snprintf(rv, rv_len, "%s", lrv->valuestring);
        const cJSON *ct = cJSON_GetObjectItemCaseSensitive(md, "continue");
        free(cont);
        cont = cJSON_IsString(ct) && ct->valuestring[0] ? strdup(ct->valuestring) : NULL;
        rc = fn(items, ud); /* takes items */
        if (rc != 0)
            goto out;
        if (cont == NULL)
            break;
        if (pages > 100000) { /* a server that never ends the list */
            rc = ERR_API;
            snprintf(r->message, sizeof r->message, "list never ended after %d pages", pages);
            goto out;
        }
    }
    cJSON_Delete(r->body); /* the items went to fn; keep status for the caller */
    r->body = NULL;
out:
    free(cont);
    return rc;
}

static int gather_page(cJSON *items, void *ud)
{
    cJSON *all = ud, *it;
    while ((it = items->child) != NULL) {
        cJSON_DetachItemViaPointer(items, it);
        cJSON_AddItemToArray(all, it);
    }
    cJSON_Delete(items);
    return 0;
}

int kube_list_all(struct kube_client *c, const struct kube_res *res, const char *ns,
                  const struct kube_list_opts *o, cJSON **items, char *rv, size_t rv_len,
                  struct kube_resp *r)
{
    if (items == NULL)
        return bad_args(r, "list_all needs items");
    *items = NULL;
    cJSON *all = cJSON_CreateArray();
    if (all == NULL)
        return bad_args(r, "out of memory");
    int rc = kube_list_pages(c, res, ns, o, gather_page, all, rv, rv_len, r);
    if (rc != 0) {
        cJSON_Delete(all);
        return rc;
    }
    *items = all;
    return 0;
}

/* Shared by create/update/patch/apply: path, JSON body, one request. */
static int send_obj(struct kube_client *c, const char *verb, const char *method,
                    const struct kube_res *res, const char *ns, const char *name, const char *sub,
                    const char *query, const char *ctype, const cJSON *obj, int safe,
                    struct kube_resp *r)
{
    struct buf p = {0};
    if (obj == NULL || kube_path(&p, res, ns, name, sub) != 0) {
        buf_free(&p);
        return bad_args(r, "needs a resource, an object and a valid name/namespace");
    }
    char *body = cJSON_PrintUnformatted(obj);
    if (body == NULL) {
        buf_free(&p);
        return bad_args(r, "object cannot be serialised (out of memory?)");
    }
    struct req q = {.verb = verb,
                    .method = method,
                    .path = p.data,
                    .query = query,
                    .ctype = ctype,
                    .body = body,
                    .safe = safe};
    int rc = do_request(c, &q, r);
    free(body);
    buf_free(&p);
    return rc;
}

int kube_create(struct kube_client *c, const struct kube_res *res, const char *ns, const cJSON *obj,
                struct kube_resp *r)
{
    return send_obj(c, "POST", "POST", res, ns, NULL, NULL, NULL, ACCEPT_JSON, obj, 0, r);
}

static int has_rv(const cJSON *obj)
{
    const cJSON *rv = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "resourceVersion");
    return cJSON_IsString(rv) && rv->valuestring[0];
}

int kube_update(struct kube_client *c, const struct kube_res *res, const char *ns, const char *name,
                const cJSON *obj, struct kube_resp *r)
{
    if (name == NULL)
        return bad_args(r, "update needs a name");
    return send_obj(c, "PUT", "PUT", res, ns, name, NULL, NULL, ACCEPT_JSON, obj, has_rv(obj), r);
}

int kube_update_status(struct kube_client *c, const struct kube_res *res, const char *ns,
                       const char *name, const cJSON *obj, struct kube_resp *r)
{
    if (name == NULL)
        return bad_args(r, "update_status needs a name");
    return send_obj(c, "PUT", "PUT", res, ns, name, "status", NULL, ACCEPT_JSON, obj, has_rv(obj),
                    r);
}

int kube_patch_merge(struct kube_client *c, const struct kube_res *res, const char *ns,
                     const char *name, const char *sub, const cJSON *patch, struct kube_resp *r)
{
    if (name == NULL)
        return bad_args(r, "patch needs a name");
    /* A JSON merge patch is idempotent: applying it twice gives the same object. */
    return send_obj(c, "PATCH", "PATCH", res, ns, name, sub, NULL, "application/merge-patch+json",
                    patch, 1, r);
}

int kube_apply(struct kube_client *c, const struct kube_res *res, const char *ns, const char *name,
               const char *sub, const cJSON *obj, const char *field_manager, int force,
               struct kube_resp *r)
{
    if (name == NULL || field_manager == NULL || field_manager[0] == '\0')
        return bad_args(r, "apply needs a name and a field manager");
    struct buf qs = {0};
    q_add(&qs, "fieldManager", field_manager);
    if (force)
        q_add(&qs, "force", "true");
    int rc = qs.data ? send_obj(c, "PATCH", "PATCH", res, ns, name, sub, qs.data,
                                "application/apply-patch+yaml", obj, 1, r)
                     : bad_args(r, "out of memory");
    buf_free(&qs);
    return rc;
}

int kube_delete(struct kube_client *c, const struct kube_res *res, const char *ns, const char *name,
                const struct kube_delete_opts *o, struct kube_resp *r)
{
    if (name == NULL)
        return bad_args(r, "delete needs a name");
    cJSON *opts = cJSON_CreateObject();
    if (opts == NULL)
        return bad_args(r, "out of memory");
    cJSON_AddStringToObject(opts, "kind", "DeleteOptions");
    cJSON_AddStringToObject(opts, "apiVersion", "v1");
    int safe = 0;
    if (o) {
        if (o->propagation)
            cJSON_AddStringToObject(opts, "propagationPolicy", o->propagation);
        if (o->grace_seconds >= 0)
            cJSON_AddNumberToObject(opts, "gracePeriodSeconds", (double)o->grace_seconds);
        if (o->precondition_uid || o->precondition_rv) {
            cJSON *pre = cJSON_AddObjectToObject(opts, "preconditions");
            if (o->precondition_uid)
                cJSON_AddStringToObject(pre, "uid", o->precondition_uid);
            if (o->precondition_rv)
                cJSON_AddStringToObject(pre, "resourceVersion", o->precondition_rv);
            safe = 1; /* repeating it cannot delete a different object */
        }
    }
    int rc = send_obj(c, "DELETE", "DELETE", res, ns, name, NULL, NULL, ACCEPT_JSON, opts, safe, r);
    cJSON_Delete(opts);
    return rc;
}
