/* test_server_hostile.c — the real server on 127.0.0.1 against raw sockets (plain and
 * TLS through OpenSSL), since curl never pipelines: requests pipelined in one write,
 * sent a byte at a time, cut short, oversized or not HTTP at all. Each must be answered
 * or the connection closed within a few seconds, the service thread must not spin, and
 * both listeners must still answer afterwards. */
#include <check.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "server/httpd.h"
#include "timescale.h"

static char tmpdir[64];
static char cert[128], key[128];
static struct srv *srv;
static int hport, tport;
static SSL_CTX *sslctx;

static const char REVIEW[] =
    "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":"
    "\"u1\",\"operation\":\"CREATE\",\"object\":{\"spec\":{\"replicas\":3}}}}";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A connection: fd, and ssl when it goes to the webhook port. */
struct conn {
    int fd;
    SSL *ssl;
};

static struct conn dial(bool tls)
{
    struct conn c = {.fd = socket(AF_INET, SOCK_STREAM, 0)};
    ck_assert_int_ge(c.fd, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)(tls ? tport : hport)),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(connect(c.fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    struct timeval tv = {.tv_sec = (time_t)(5 * test_time_scale())};
    setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (tls) {
        c.ssl = SSL_new(sslctx);
        SSL_set_fd(c.ssl, c.fd);
        ck_assert_msg(SSL_connect(c.ssl) == 1, "TLS handshake with the webhook failed");
    }
    return c;
}

/* send_all writes p in pieces of step bytes (0 = one write), pausing between them. */
static void send_all(struct conn *c, const char *p, size_t n, size_t step, long pause_us)
{
    if (step == 0)
        step = n;
    for (size_t off = 0; off < n; off += step) {
        size_t k = n - off < step ? n - off : step;
        int w = c->ssl ? SSL_write(c->ssl, p + off, (int)k)
                       : (int)send(c->fd, p + off, k, MSG_NOSIGNAL);
        if (w <= 0)
            return; /* the server may close early (e.g. after a 413); reading tells */
        if (pause_us > 0)
            usleep((useconds_t)pause_us);
    }
}

/* read_until_close reads what the server sends for up to limit_s seconds into out.
 * Returns true if the server closed the connection within the limit. */
static bool read_until_close(struct conn *c, struct buf *out, double limit_s)
{
    double end = now_s() + limit_s * test_time_scale();
    char tmp[16384];
    while (now_s() < end) {
        if (c->ssl == NULL || SSL_pending(c->ssl) == 0) {
            struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
            int ms = (int)((end - now_s()) * 1000) + 1;
            if (poll(&pfd, 1, ms) <= 0)
                return false;
        }
        int n = c->ssl ? SSL_read(c->ssl, tmp, sizeof(tmp)) : (int)recv(c->fd, tmp, sizeof(tmp), 0);
        if (n <= 0)
            return true; /* EOF or reset: closed */
        buf_append(out, tmp, (size_t)n);
    }
    return false;
}

static void hang_up(struct conn *c)
{
    if (c->ssl) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    close(c->fd);
}

/* starts_with_status: the reply begins with "HTTP/1.x <code> ". */
static bool starts_with_status(const struct buf *b, const char *code)
{
    return b->data != NULL && b->len > 13 && strncmp(b->data, "HTTP/1.", 7) == 0 &&
           b->data[8] == ' ' && strncmp(b->data + 9, code, 3) == 0 && b->data[12] == ' ';
}

/* count_status counts the status lines "HTTP/1.x <code> " in a reply stream. */
static int count_status(const struct buf *b, const char *code)
{
    int n = 0;
    for (const char *p = b->data; p && (p = strstr(p, "HTTP/1.")) != NULL; p++)
        n += p[8] == ' ' && strncmp(p + 9, code, 3) == 0 && p[12] == ' ';
    return n;
}

static void make_post(struct buf *b, const char *path, const char *body)
{
    char hdr[256];
    snprintf(hdr, sizeof(hdr),
             "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\n\r\n",
             path, strlen(body));
    buf_puts(b, hdr);
    buf_puts(b, body);
}

/* still_serving: a fresh /healthz and a fresh review are answered 200 within 3 s, and
 * the process burns no CPU while idle (a spinning service thread would). */
static void still_serving(const char *after)
{
    for (int tls = 0; tls < 2; tls++) {
        struct conn c = dial(tls);
        struct buf req = {0}, out = {0};
        if (tls)
            make_post(&req, "/validate", REVIEW);
        else
            buf_puts(&req, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
        send_all(&c, req.data, req.len, 0, 0);
        read_until_close(&c, &out, 3);
        ck_assert_msg(starts_with_status(&out, "200"), "after %s: %s port does not answer 200: %s",
                      after, tls ? "webhook" : "health", out.data ? out.data : "(nothing)");
        buf_free(&req);
        buf_free(&out);
        hang_up(&c);
    }
    double c0 = cpu_s(), t0 = now_s();
    usleep(500 * 1000);
    double used = cpu_s() - c0, wall = now_s() - t0;
    ck_assert_msg(used < 0.25 * wall, "after %s: %.2f s of CPU in %.2f s idle (spinning)", after,
                  used, wall);
}

/* One hostile input: what is sent, where, and what must come back. */
struct hostile {
    const char *name;
    bool tls;
    const char *req;  /* NULL: built by the test */
    int copies;       /* the request pipelined this many times in one write */
    size_t step;      /* bytes per write, 0 = one write */
    const char *want; /* status code that must answer first, NULL = any answer or none */
};

static const struct hostile cases[] = {
    {"two reviews pipelined", true, NULL, 2, 0, "200"},
    {"five reviews pipelined", true, NULL, 5, 0, "200"},
    {"two reviews, 7 bytes a write", true, NULL, 2, 7, "200"},
    {"one review, a byte a write", true, NULL, 1, 1, "200"},
    {"three GETs pipelined", false, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 3, 0, "200"},
    {"three HTTP/1.0 GETs pipelined", false, "GET /readyz HTTP/1.0\r\n\r\n", 3, 0, "200"},
    {"three POSTs with bodies to /healthz", false,
     "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", 3, 0, "405"},
    {"POSTs with bodies to an unknown path", true,
     "POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", 3, 0, "404"},
    {"a GET then a review", true, "GET /validate HTTP/1.1\r\nHost: x\r\n\r\n", 1, 0, "405"},
    {"Content-Length not a number", true,
     "POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", 1, 0,
     "411"},
    {"Content-Length not a number, then a body", true,
     "POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\nhello", 1, 0, "411"},
    {"Content-Length not a number, then a body, plain port", false,
     "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\nhello", 1, 0, "405"},
    {"Content-Length 0, then stray bytes", true,
     "POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\nhello", 1, 0, "400"},
    {"two reviews with Content-Length 0 pipelined", true,
     "POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 2, 0, "400"},
    {"Content-Length 0 to /healthz, pipelined", false,
     "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 2, 0, "405"},
    {"Content-Length negative", true,
     "POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\nhello", 1, 0, "411"},
    {"chunked body", true,
     "POST /validate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
     "chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
     1, 0, "411"},
    {"chunked and a length", true,
     "POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: "
     "chunked\r\n\r\n0\r\n\r\n",
     1, 0, NULL},
    {"not HTTP", false, "\x01\x02\x03\xff\xfe garbage \r\n\r\n\r\n", 4, 0, NULL},
    {"TLS-looking bytes on the plain port", false, "\x16\x03\x01\x00\x05hello", 1, 0, NULL},
    {"unknown method", false, "BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 1, 0, NULL},
    {"HTTP/2 preface", false, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 1, 0, NULL},
};

START_TEST(test_hostile)
{
    const struct hostile *h = &cases[_i];
    struct buf one = {0}, req = {0}, out = {0};
    if (h->req == NULL)
        make_post(&one, "/validate", REVIEW);
    else
        buf_puts(&one, h->req);
    for (int i = 0; i < h->copies; i++)
        buf_append(&req, one.data, one.len);
    if (h->req != NULL && strncmp(h->req, "GET /validate", 13) == 0)
        make_post(&req, "/validate", REVIEW);

    struct conn c = dial(h->tls);
    send_all(&c, req.data, req.len, h->step, h->step ? 200 : 0);
    bool closed = read_until_close(&c, &out, 5);
    ck_assert_msg(closed, "%s: connection neither answered nor closed in 5 s (got: %s)", h->name,
                  out.data ? out.data : "nothing");
    if (h->want != NULL) {
        ck_assert_msg(starts_with_status(&out, h->want), "%s: want %s first, got: %s", h->name,
                      h->want, out.data ? out.data : "nothing");
        ck_assert_int_eq(count_status(&out, h->want), 1); /* then closed, not half-answered */
    }
    hang_up(&c);
    buf_free(&one);
    buf_free(&req);
    buf_free(&out);
    still_serving(h->name);
}
END_TEST

/* Requests that never finish: a stalled one does not hold up others, and the server
 * closes it in bounded time. */
START_TEST(test_stalled)
{
    struct conn hdr = dial(false), body = dial(true);
    send_all(&hdr, "GET /healthz HTTP/1.1\r\nHo", 25, 0, 0);
    struct buf req = {0}, out = {0};
    make_post(&req, "/validate", REVIEW);
    send_all(&body, req.data, req.len - 10, 0, 0);
    /* Many half-open connections at once. */
    struct conn many[40];
    for (int i = 0; i < 40; i++) {
        many[i] = dial(false);
        send_all(&many[i], "GET /healthz HTTP/1.1\r\n", 23, 0, 0);
    }
    double t0 = now_s();
    still_serving("stalled connections");
    ck_assert_msg(now_s() - t0 < 3 * test_time_scale(),
                  "serving took %.1f s beside stalled connections", now_s() - t0);
    /* A body cut short is given up on (lws's timeout), not waited for forever. */
    ck_assert_msg(read_until_close(&body, &out, 30), "a half-sent body held its connection 30 s");
    for (int i = 0; i < 40; i++)
        hang_up(&many[i]);
    hang_up(&hdr);
    hang_up(&body);
    buf_free(&req);
    buf_free(&out);
}
END_TEST

/* Oversized: headers past lws's buffer, a body over the cap sent without Expect. */
START_TEST(test_oversized)
{
    struct buf req = {0}, out = {0};
    buf_puts(&req, "GET /healthz HTTP/1.1\r\nX-A: ");
    for (int i = 0; i < 100000; i++)
        buf_append(&req, "a", 1);
    buf_puts(&req, "\r\n\r\n");
    struct conn c = dial(false);
    send_all(&c, req.data, req.len, 0, 0);
    ck_assert(read_until_close(&c, &out, 5));
    ck_assert_int_eq(count_status(&out, "200"), 0);
    hang_up(&c);
    still_serving("a 100 KB header");
    buf_free(&req);
    buf_free(&out);

    buf_puts(&req, "GET /healthz HTTP/1.1\r\n");
    for (int i = 0; i < 5000; i++)
        buf_puts(&req, "X-A: b\r\n");
    buf_puts(&req, "\r\n");
    c = dial(false);
    send_all(&c, req.data, req.len, 0, 0);
    ck_assert(read_until_close(&c, &out, 5));
    hang_up(&c);
    still_serving("5000 headers");
    buf_free(&req);
    buf_free(&out);

    char hdr[128];
    size_t big = 2 * ADM_MAX_BODY;
    snprintf(hdr, sizeof(hdr), "POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n",
             big);
    buf_puts(&req, hdr);
    char *fill = malloc(big);
    memset(fill, ' ', big);
    buf_append(&req, fill, big);
    free(fill);
    c = dial(true);
    send_all(&c, req.data, req.len, 65536, 0);
    ck_assert(read_until_close(&c, &out, 10));
    ck_assert_msg(starts_with_status(&out, "413"), "got: %s", out.data ? out.data : "nothing");
    hang_up(&c);
    still_serving("a 2 MiB body");
    buf_free(&req);
    buf_free(&out);
}
END_TEST

static void setup(void)
{
    struct srv_opts o = {.http = true,
                         .http_host = "127.0.0.1",
                         .tls = true,
                         .tls_host = "127.0.0.1",
                         .tls_cert = cert,
                         .tls_key = key};
    struct err e = {0};
    ck_assert_msg(srv_start(&o, &srv, &e) == 0, "%s", e.msg);
    srv_set_ready(srv, true);
    hport = srv_http_port(srv);
    tport = srv_tls_port(srv);
    sslctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(sslctx, SSL_VERIFY_NONE, NULL);
}

static void teardown(void)
{
    SSL_CTX_free(sslctx);
    srv_stop(srv);
    srv = NULL;
}

static void make_cert(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/ballast-hostile-XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        exit(EXIT_FAILURE);
    }
    snprintf(cert, sizeof(cert), "%s/cert.pem", tmpdir);
    snprintf(key, sizeof(key), "%s/key.pem", tmpdir);
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
             "-keyout %s -out %s >/dev/null 2>&1",
             key, cert);
    if (system(cmd) != 0) {
        fprintf(stderr, "openssl req failed: %s\n", cmd);
        exit(EXIT_FAILURE);
    }
}

int main(void)
{
    make_cert();
    Suite *s = suite_create("server_hostile");
    TCase *tc = tcase_create("hostile");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_hostile, 0, sizeof cases / sizeof cases[0]);
    tcase_add_test(tc, test_stalled);
    tcase_add_test(tc, test_oversized);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    unlink(cert);
    unlink(key);
    rmdir(tmpdir);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
