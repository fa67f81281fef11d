/* test_server_httpd.c — the real server on 127.0.0.1, driven with libcurl: probes,
 * readiness flips, /metrics (large enough to need several writes), one request per
 * connection (each answer closes it),
 * 404/405, the TLS webhook (self-signed cert made by openssl, verified, HTTP/1.1
 * only), the 1 MiB cap (413, with and without Expect), 411 for chunked bodies, listen
 * addresses, bad options, a stop that leaves no thread or fd behind, and the webhook's
 * certificate reloaded after a kubelet-style symlink swap (a mismatched pair refused). */
#include <check.h>
#include <curl/curl.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server/httpd.h"
#include "timescale.h"

static char tmpdir[64];
static char cert[128], key[128];

static int count_dir(const char *path)
{
    DIR *d = opendir(path);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        n += de->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the DIR's own fd (for /proc/self/fd; harmless for task) */
}

static void *no_op(void *arg)
{
    return arg;
}

/* The threads of this process now. ThreadSanitizer starts a thread of its own at the first
 * pthread_create: one thread started and joined first makes it part of every count. */
static int count_tasks(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, no_op, NULL) == 0)
        pthread_join(t, NULL);
    return count_dir("/proc/self/task");
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A port nobody listens on right now: bind to 0, read it back, close. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    socklen_t len = sizeof(sa);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    buf_append(ud, p, size * n);
    return size * n;
}

struct resp {
    long status;
    struct buf body;
    char ctype[128];
    long http_version;
    long new_conns;
    CURLcode rc;
};

struct src {
    const char *p;
    size_t left;
};

static size_t on_read(char *dst, size_t size, size_t n, void *ud)
{
    struct src *s = ud;
    size_t k = size * n < s->left ? size * n : s->left;
    if (k > 1000)
        k = 1000; /* several chunks */
    memcpy(dst, s->p, k);
    s->p += k;
    s->left -= k;
    return k;
}

enum { FETCH_CHUNKED = 1, FETCH_NO_EXPECT = 2 };

static void fetch_opt(CURL *h, const char *url, const char *body, size_t len, int flags,
                      struct resp *r);

/* fetch runs one request on h (kept for connection reuse). body NULL = GET. */
static void fetch(CURL *h, const char *url, const char *body, size_t len, struct resp *r)
{
    fetch_opt(h, url, body, len, 0, r);
}

/* fetch_opt: FETCH_CHUNKED sends the body with Transfer-Encoding: chunked, no length;
 * FETCH_NO_EXPECT sends a big body right away, as Go's client (the API server) does. */
static void fetch_opt(CURL *h, const char *url, const char *body, size_t len, int flags,
                      struct resp *r)
{
    memset(r, 0, sizeof(*r));
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)(10 * test_time_scale()));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(h, CURLOPT_CAINFO, cert);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    struct curl_slist *hdrs = NULL;
    struct src src = {body, len};
    if (flags & FETCH_NO_EXPECT)
        hdrs = curl_slist_append(hdrs, "Expect:");
    if (body != NULL && (flags & FETCH_CHUNKED)) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, &src);
        hdrs = curl_slist_append(hdrs, "Transfer-Encoding: chunked");
    } else if (body != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    if (body != NULL) {
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    }
    r->rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    char *ct = NULL;
    curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
    snprintf(r->ctype, sizeof(r->ctype), "%s", ct ? ct : "");
    curl_easy_getinfo(h, CURLINFO_HTTP_VERSION, &r->http_version);
    curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &r->new_conns);
    curl_slist_free_all(hdrs);
    if (r->body.data == NULL)
        buf_puts(&r->body, "");
}

static int deny_zero(const cJSON *old_obj, const cJSON *new_obj, char *msg, size_t msglen, void *ud)
{
    (void)old_obj;
    (void)ud;
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(new_obj, "spec"), "replicas");
    if (!cJSON_IsNumber(r) || r->valueint < 1) {
        snprintf(msg, msglen, "spec.replicas must be at least 1");
        return ERR_INVALID;
    }
    return 0;
}

START_TEST(test_plain)
{
    int fds = count_dir("/proc/self/fd"), tasks = count_tasks();
    struct metrics *m = metrics_new(0);
    struct metrics_ballast mb;
    ck_assert_int_eq(metrics_register_ballast(m, &mb, NULL), 0);
    /* Enough series that the body takes several 16 KiB writes. */
    char v[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(v, sizeof(v), "ns/psc-%d", i);
        metrics_gauge_set(mb.roll_state, METRICS_LABELS(v, "idle"), 1);
    }
    metrics_counter_add(mb.reconciles, METRICS_LABELS("ok"), 5);

    struct srv_opts o = {.http = true, .http_host = "127.0.0.1", .http_port = 0, .metrics = m};
    struct srv *s = NULL;
    struct err e = {0};
    ck_assert_msg(srv_start(&o, &s, &e) == 0, "%s", e.msg);
    int port = srv_http_port(s);
    ck_assert_int_gt(port, 0);
    ck_assert_int_eq(srv_tls_port(s), -1);

    /* A second server on the same port fails with a message. */
    struct srv *s2 = NULL;
    struct srv_opts o2 = o;
    o2.http_port = port;
    ck_assert_int_eq(srv_start(&o2, &s2, &e), ERR_IO);
    ck_assert_ptr_null(s2);
    ck_assert_ptr_nonnull(strstr(e.msg, "cannot listen"));

    char url[128];
    struct resp r;
    CURL *h = curl_easy_init();

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/healthz", port);
    fetch(h, url, NULL, 0, &r);
    ck_assert_int_eq(r.rc, CURLE_OK);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body.data, "ok\n");
    ck_assert_int_eq(r.new_conns, 1);
    buf_free(&r.body);

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/readyz", port);
    fetch(h, url, NULL, 0, &r);
    ck_assert_int_eq(r.status, 503);
    ck_assert_int_eq(r.new_conns, 1); /* every answer closes its connection */
    buf_free(&r.body);
    srv_set_ready(s, true);
    fetch(h, url, NULL, 0, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body.data, "ok\n");
    buf_free(&r.body);
    srv_set_ready(s, false);
    fetch(h, url, NULL, 0, &r);
    ck_assert_int_eq(r.status, 503);
    buf_free(&r.body);

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", port);
    fetch(h, url, NULL, 0, &r);
    ck_assert_int_eq(r.rc, CURLE_OK);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.ctype, "text/plain; version=0.0.4; charset=utf-8");
    struct buf want = {0};
    ck_assert_int_eq(metrics_render(m, &want, NULL), 0);
    ck_assert_uint_gt(want.len, 100000);
    ck_assert_uint_eq(r.body.len, want.len);
    ck_assert_str_eq(r.body.data, want.data);
    ck_assert_ptr_nonnull(strstr(r.body.data, "ballast_reconciles_total{result=\"ok\"} 5\n"));
    ck_assert_int_eq(r.new_conns, 1);
    buf_free(&want);
    buf_free(&r.body);

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/nope", port);
    fetch(h, url, NULL, 0, &r);
    ck_assert_int_eq(r.status, 404);
    buf_free(&r.body);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/validate", port);
    fetch(h, url, "{}", 2, &r);
    ck_assert_int_eq(r.status, 404); /* the webhook lives on the TLS listener only */
    buf_free(&r.body);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/healthz", port);
    fetch(h, url, "x", 1, &r);
    ck_assert_int_eq(r.status, 405);
    buf_free(&r.body);
    fetch(h, url, NULL, 0, &r);
    ck_assert_int_eq(r.status, 200);
    buf_free(&r.body);

    /* Stop with a connection still open (the client's, idle). */
    int idle = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(connect(idle, (struct sockaddr *)&sa, sizeof(sa)), 0);
    double t0 = now_s();
    srv_stop(s);
    double took = now_s() - t0;
    ck_assert_msg(took < 1.0, "srv_stop took %.3f s", took);
    fetch(h, url, NULL, 0, &r);
    ck_assert_int_ne(r.rc, CURLE_OK);
    buf_free(&r.body);
    close(idle);
    curl_easy_cleanup(h);
    metrics_free(m);
    ck_assert_int_eq(count_dir("/proc/self/fd"), fds);
    ck_assert_int_eq(count_dir("/proc/self/task"), tasks);
}
END_TEST

static const char REVIEW_OK[] =
    "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":"
    "\"abc-123\",\"operation\":\"CREATE\",\"object\":{\"spec\":{\"replicas\":3}}}}";
static const char REVIEW_BAD[] =
    "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":"
    "\"abc-456\",\"operation\":\"UPDATE\",\"object\":{\"spec\":{\"replicas\":0}},"
    "\"oldObject\":{\"spec\":{\"replicas\":3}}}}";

START_TEST(test_tls)
{
    int fds = count_dir("/proc/self/fd"), tasks = count_tasks();
    int tls_port = free_port();
    struct srv_opts o = {.http = true,
                         .http_host = "127.0.0.1",
                         .http_port = 0,
                         .tls = true,
                         .tls_host = "127.0.0.1",
                         .tls_port = tls_port,
                         .tls_cert = cert,
                         .tls_key = key,
                         .validate = deny_zero};
    struct srv *s = NULL;
    struct err e = {0};
    ck_assert_msg(srv_start(&o, &s, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(srv_tls_port(s), tls_port);
    ck_assert_int_gt(srv_http_port(s), 0);

    char url[128];
    struct resp r;
    CURL *h = curl_easy_init();
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/validate", tls_port);

    fetch(h, url, REVIEW_OK, strlen(REVIEW_OK), &r);
    ck_assert_msg(r.rc == CURLE_OK, "curl: %s", curl_easy_strerror(r.rc));
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.ctype, "application/json");
    ck_assert_int_eq(r.http_version, CURL_HTTP_VERSION_1_1);
    ck_assert_str_eq(r.body.data, "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":"
                                  "\"AdmissionReview\",\"response\":{\"uid\":\"abc-123\","
                                  "\"allowed\":true}}");
    buf_free(&r.body);

    /* curl offers h2 by default over TLS; the webhook must answer in HTTP/1.1. */
    fetch(h, url, REVIEW_BAD, strlen(REVIEW_BAD), &r);
    ck_assert_int_eq(r.rc, CURLE_OK);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(r.http_version, CURL_HTTP_VERSION_1_1);
    ck_assert_int_eq(r.new_conns, 1);
    cJSON *doc = cJSON_Parse(r.body.data);
    cJSON *resp = cJSON_GetObjectItemCaseSensitive(doc, "response");
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(resp, "uid")->valuestring, "abc-456");
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(resp, "allowed")));
    cJSON *st = cJSON_GetObjectItemCaseSensitive(resp, "status");
    ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(st, "code")->valueint, 422);
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(st, "message")->valuestring,
                     "spec.replicas must be at least 1");
    cJSON_Delete(doc);
    buf_free(&r.body);

    fetch(h, url, "{not json", 9, &r);
    ck_assert_int_eq(r.status, 400);
    ck_assert_ptr_nonnull(strstr(r.body.data, "not valid JSON"));
    buf_free(&r.body);

    fetch(h, url, "", 0, &r);
    ck_assert_int_eq(r.status, 400);
    ck_assert_msg(strstr(r.body.data, "empty body") != NULL, "%s", r.body.data);
    buf_free(&r.body);

    /* Over the cap: 413, answered from the Content-Length before the body is read
     * (curl sends "Expect: 100-continue" for a body this big and gets the 413 instead). */
    size_t big = ADM_MAX_BODY + 4096;
    char *huge = malloc(big);
    memset(huge, ' ', big);
    fetch(h, url, huge, big, &r);
    ck_assert_msg(r.rc == CURLE_OK, "curl: %s", curl_easy_strerror(r.rc));
    ck_assert_int_eq(r.status, 413);
    buf_free(&r.body);
    /* Without Expect the body is read and dropped, then 413 (so the answer is not lost to
     * a reset), then the connection is closed. */
    fetch_opt(h, url, huge, big, FETCH_NO_EXPECT, &r);
    ck_assert_msg(r.rc == CURLE_OK, "curl: %s", curl_easy_strerror(r.rc));
    ck_assert_int_eq(r.status, 413);
    ck_assert_ptr_nonnull(strstr(r.body.data, "request body over 1048576 bytes"));
    buf_free(&r.body);
    fetch(h, url, REVIEW_OK, strlen(REVIEW_OK), &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(r.new_conns, 1);
    buf_free(&r.body);
    free(huge);

    /* The server still works after all that. */
    fetch(h, url, REVIEW_OK, strlen(REVIEW_OK), &r);
    ck_assert_int_eq(r.status, 200);
    buf_free(&r.body);

    /* The health endpoints are not on the webhook listener. */
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/healthz", tls_port);
    fetch(h, url, NULL, 0, &r);
    ck_assert_int_eq(r.status, 404);
    buf_free(&r.body);

    /* Plain HTTP to the TLS port gets no answer. */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/validate", tls_port);
    fetch(h, url, REVIEW_OK, strlen(REVIEW_OK), &r);
    ck_assert_int_ne(r.status, 200);
    buf_free(&r.body);

    double t0 = now_s();
    srv_stop(s);
    double took = now_s() - t0;
    ck_assert_msg(took < 1.0, "srv_stop took %.3f s", took);
    curl_easy_cleanup(h);
    ck_assert_int_eq(count_dir("/proc/self/fd"), fds);
    ck_assert_int_eq(count_dir("/proc/self/task"), tasks);
}
END_TEST

/* A small cap; bodies without a Content-Length are refused. */
START_TEST(test_tls_small_cap)
{
    struct srv_opts o = {.tls = true,
                         .tls_host = "127.0.0.1",
                         .tls_port = 0,
                         .tls_cert = cert,
                         .tls_key = key,
                         .max_body = 1000};
    struct srv *s = NULL;
    struct err e = {0};
    ck_assert_msg(srv_start(&o, &s, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(srv_http_port(s), -1);
    char url[128];
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/validate", srv_tls_port(s));

    CURL *h = curl_easy_init();
    struct resp r;
    char body[3000];
    memset(body, ' ', sizeof(body));
    /* Content-Length over the small cap. */
    fetch(h, url, body, sizeof(body), &r);
    ck_assert_int_eq(r.status, 413);
    buf_free(&r.body);
    /* Under the cap: judged, with a length or chunked. */
    fetch(h, url, REVIEW_OK, strlen(REVIEW_OK), &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body.data, "\"allowed\":true"));
    buf_free(&r.body);
    /* Chunked (no length): 411, as lws 4.1 cannot finish reading such a body. */
    fetch_opt(h, url, REVIEW_OK, strlen(REVIEW_OK), FETCH_CHUNKED, &r);
    ck_assert_msg(r.rc == CURLE_OK, "curl: %s", curl_easy_strerror(r.rc));
    ck_assert_int_eq(r.status, 411);
    buf_free(&r.body);
    fetch_opt(h, url, body, sizeof(body), FETCH_CHUNKED, &r);
    ck_assert_int_eq(r.status, 411);
    buf_free(&r.body);
    /* And the server still serves. */
    fetch(h, url, REVIEW_OK, strlen(REVIEW_OK), &r);
    ck_assert_int_eq(r.status, 200);
    buf_free(&r.body);

    srv_stop(s);
    curl_easy_cleanup(h);
}
END_TEST

/* Listen addresses as the flags give them: a name, every interface, IPv6 loopback. */
START_TEST(test_hosts)
{
    static const struct {
        const char *host, *url_host;
    } cases[] = {{"localhost", "127.0.0.1"}, {"", "127.0.0.1"}, {NULL, "[::1]"}, {"::1", "[::1]"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct srv_opts o = {.http = true, .http_host = cases[i].host, .http_port = 0};
        struct srv *s = NULL;
        struct err e = {0};
        ck_assert_msg(srv_start(&o, &s, &e) == 0, "%s: %s", cases[i].host, e.msg);
        char url[128];
        snprintf(url, sizeof(url), "http://%s:%d/healthz", cases[i].url_host, srv_http_port(s));
        CURL *h = curl_easy_init();
        struct resp r;
        fetch(h, url, NULL, 0, &r);
        ck_assert_msg(r.status == 200, "%s: %s gave %ld (%s)", cases[i].host, url, r.status,
                      curl_easy_strerror(r.rc));
        buf_free(&r.body);
        curl_easy_cleanup(h);
        srv_stop(s);
    }
}
END_TEST

struct bad_opts_case {
    const char *what;
    struct srv_opts o;
    int rc;
    const char *msg;
};

START_TEST(test_bad_opts)
{
    const struct bad_opts_case cases[] = {
        {"nothing on", {.http = false}, ERR_INVALID, "neither"},
        {"port too big", {.http = true, .http_port = 70000}, ERR_INVALID, "0..65535"},
        {"negative port", {.http = true, .http_port = -5}, ERR_INVALID, "0..65535"},
        {"tls without cert", {.tls = true, .tls_key = key}, ERR_INVALID, "certificate"},
        {"tls missing key file",
         {.tls = true, .tls_cert = cert, .tls_key = "/nonexistent/key.pem"},
         ERR_INVALID,
         "/nonexistent/key.pem"},
        {"tls key is not a key",
         {.tls = true, .tls_host = "127.0.0.1", .tls_cert = cert, .tls_key = cert},
         ERR_INVALID,
         "certificate/key"},
        {"address not local",
         {.http = true, .http_host = "192.0.2.1", .http_port = 0},
         ERR_IO,
         "cannot listen"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct srv *s = (void *)1;
        struct err e = {0};
        int rc = srv_start(&cases[i].o, &s, &e);
        ck_assert_msg(rc == cases[i].rc, "%s: rc %d (%s)", cases[i].what, rc, e.msg);
        ck_assert_ptr_null(s);
        ck_assert_msg(strstr(e.msg, cases[i].msg) != NULL, "%s: %s", cases[i].what, e.msg);
        /* The code does not depend on having somewhere to put the message. */
        ck_assert_int_eq(srv_start(&cases[i].o, &s, NULL), cases[i].rc);
        ck_assert_ptr_null(s);
    }
    srv_stop(NULL);
}
END_TEST

struct addr_case {
    const char *in;
    int rc;
    const char *host;
    int port;
};

static const struct addr_case addrs[] = {
    {"0.0.0.0:8080", 0, "0.0.0.0", 8080},
    {":9443", 0, "", 9443},
    {"localhost:0", 0, "localhost", 0},
    {"[::1]:8443", 0, "::1", 8443},
    {"[::]:65535", 0, "::", 65535},
    {"8080", ERR_INVALID, NULL, 0},
    {"host:", ERR_INVALID, NULL, 0},
    {"host:65536", ERR_INVALID, NULL, 0},
    {"host:-1", ERR_INVALID, NULL, 0},
    {"host:80x", ERR_INVALID, NULL, 0},
    {"host:123456", ERR_INVALID, NULL, 0},
    {"::1:8080", ERR_INVALID, NULL, 0},
    {"[::1]8080", ERR_INVALID, NULL, 0},
    {"[::1", ERR_INVALID, NULL, 0},
    {"", ERR_INVALID, NULL, 0},
    {NULL, ERR_INVALID, NULL, 0},
};

START_TEST(test_parse_addr)
{
    const struct addr_case *c = &addrs[_i];
    char host[64] = "unchanged";
    int port = -1;
    struct err e = {0};
    int rc = srv_parse_addr(c->in, host, sizeof(host), &port, &e);
    ck_assert_msg(rc == c->rc, "%s: rc %d", c->in ? c->in : "(null)", rc);
    if (rc == 0) {
        ck_assert_str_eq(host, c->host);
        ck_assert_int_eq(port, c->port);
    } else {
        ck_assert(e.msg[0] != '\0');
    }
    char tiny[4];
    ck_assert_int_eq(srv_parse_addr("example.com:80", tiny, sizeof(tiny), &port, NULL),
                     ERR_INVALID);
}
END_TEST

/* ---- certificate reload (cert-manager renews, kubelet swaps the ..data symlink) ---- */

static void openssl_pair(const char *dir, const char *keyfrom)
{
    char cmd[1024];
    if (keyfrom == NULL)
        snprintf(cmd, sizeof cmd,
                 "mkdir -p %s && openssl req -x509 -newkey rsa:2048 -nodes -days 1 "
                 "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout %s/tls.key "
                 "-out %s/tls.crt >/dev/null 2>&1",
                 dir, dir, dir);
    else /* a new certificate, and the key of another pair: they do not belong together */
        snprintf(cmd, sizeof cmd,
                 "mkdir -p %s && openssl req -x509 -newkey rsa:2048 -nodes -days 1 "
                 "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout %s/own.key "
                 "-out %s/tls.crt >/dev/null 2>&1 && cp %s/tls.key %s/tls.key",
                 dir, dir, dir, keyfrom, dir);
    ck_assert_msg(system(cmd) == 0, "%s", cmd);
}

/* kubelet's atomic update: point ..data at the new dir with one rename */
static void swap_data(const char *root, const char *target)
{
    char tmp[256], data[256];
    snprintf(tmp, sizeof tmp, "%s/..data_tmp", root);
    snprintf(data, sizeof data, "%s/..data", root);
    unlink(tmp);
    ck_assert_int_eq(symlink(target, tmp), 0);
    ck_assert_int_eq(rename(tmp, data), 0);
}

/* CURLE_OK when the webhook's certificate verifies against ca. */
static CURLcode tls_get(int port, const char *ca)
{
    char url[128];
    snprintf(url, sizeof url, "https://127.0.0.1:%d/validate", port);
    CURL *h = curl_easy_init();
    struct buf b = {0};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)(10 * test_time_scale()));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_CAINFO, ca);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    CURLcode rc = curl_easy_perform(h);
    curl_easy_cleanup(h);
    buf_free(&b);
    return rc;
}

START_TEST(test_cert_reload)
{
    char root[128], a[160], b[160], c[160], crt[160], k[160], ca_a[192], ca_b[192], ca_c[192];
    snprintf(root, sizeof root, "%s/mount", tmpdir);
    snprintf(a, sizeof a, "%s/..2026_a", root);
    snprintf(b, sizeof b, "%s/..2026_b", root);
    snprintf(c, sizeof c, "%s/..2026_c", root);
    openssl_pair(a, NULL);
    openssl_pair(b, NULL);
    openssl_pair(c, b);
    snprintf(ca_a, sizeof ca_a, "%s/tls.crt", a);
    snprintf(ca_b, sizeof ca_b, "%s/tls.crt", b);
    snprintf(ca_c, sizeof ca_c, "%s/tls.crt", c);
    swap_data(root, "..2026_a");
    snprintf(crt, sizeof crt, "%s/tls.crt", root);
    snprintf(k, sizeof k, "%s/tls.key", root);
    ck_assert_int_eq(symlink("..data/tls.crt", crt), 0);
    ck_assert_int_eq(symlink("..data/tls.key", k), 0);

    int port = free_port();
    struct srv_opts o = {
        .tls = true, .tls_host = "127.0.0.1", .tls_port = port, .tls_cert = crt, .tls_key = k};
    struct srv *s = NULL;
    struct err e = {0};
    ck_assert_msg(srv_start(&o, &s, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(tls_get(port, ca_a), CURLE_OK);
    ck_assert_int_ne(tls_get(port, ca_b), CURLE_OK);

    /* renewed: B is served within a few checks, A no longer verifies */
    swap_data(root, "..2026_b");
    double t0 = now_s();
    while (srv_cert_reloads(s) < 1 && now_s() - t0 < 10 * test_time_scale())
        usleep(50 * 1000);
    ck_assert_int_eq(srv_cert_reloads(s), 1);
    ck_assert_int_eq(tls_get(port, ca_b), CURLE_OK);
    ck_assert_int_ne(tls_get(port, ca_a), CURLE_OK);

    /* a pair that does not belong together is refused: B stays served */
    swap_data(root, "..2026_c");
    usleep((useconds_t)(5 * 1000 * 1000 * test_time_scale()));
    ck_assert_int_eq(srv_cert_reloads(s), 1);
    ck_assert_int_eq(tls_get(port, ca_b), CURLE_OK);
    ck_assert_int_ne(tls_get(port, ca_c), CURLE_OK);
    srv_stop(s);

    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static void make_cert(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/ballast-httpd-XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        exit(EXIT_FAILURE);
    }
    snprintf(cert, sizeof(cert), "%s/cert.pem", tmpdir);
    snprintf(key, sizeof(key), "%s/key.pem", tmpdir);
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
             "-addext subjectAltName=IP:127.0.0.1 -keyout %s -out %s >/dev/null 2>&1",
             key, cert);
    if (system(cmd) != 0) {
        fprintf(stderr, "openssl req failed: %s\n", cmd);
        exit(EXIT_FAILURE);
    }
}

static void remove_cert(void)
{
    unlink(cert);
    unlink(key);
    rmdir(tmpdir);
}

static Suite *suite(void)
{
    Suite *s = suite_create("server_httpd");
    TCase *tc = tcase_create("httpd");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_plain);
    tcase_add_test(tc, test_tls);
    tcase_add_test(tc, test_tls_small_cap);
    tcase_add_test(tc, test_cert_reload);
    tcase_add_test(tc, test_hosts);
    tcase_add_test(tc, test_bad_opts);
    tcase_add_loop_test(tc, test_parse_addr, 0, sizeof addrs / sizeof addrs[0]);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    make_cert();
    curl_global_init(CURL_GLOBAL_ALL);
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    curl_global_cleanup();
    remove_cert();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
