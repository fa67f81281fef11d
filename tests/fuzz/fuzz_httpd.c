/* fuzz_httpd.c — bytes from anyone who can reach the operator's ports: the real server
 * (srv_start: the plain listener of /healthz, /readyz, /metrics and the TLS listener of
 * the webhook, with ballast's validator) on 127.0.0.1, each input sent on a new
 * connection, whole or in pieces, then the write side closed. The server must answer or
 * close within 2 s, and /healthz must still answer afterwards: a hang is a crash here.
 * Input: byte 0 picks the listener (bit 0: TLS) and the piece size (bits 1..5, 0 = one
 * write); the rest is what the client sends. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "psc/psc.h"
#include "server/httpd.h"

/* Seconds, from the start of an input, by which the server must have answered or closed,
 * and by which /healthz must have answered again: under libFuzzer's -timeout=5, and
 * generous, since a loaded CI machine is slow without the server being stuck. */
#define ANSWER_BY  3.5
#define HEALTHY_BY 4.7

static char dir[64], cert[96], key[96];
static struct srv *srv;
static struct metrics *metrics;
static SSL_CTX *sslctx;
static int hport, tport;

static void fail(const char *what, const uint8_t *data, size_t size)
{
    fprintf(stderr, "fuzz_httpd: %s (input of %zu bytes)\n", what, size);
    (void)data;
    abort();
}

static int validate(const cJSON *old_obj, const cJSON *new_obj, char *msg, size_t msglen, void *ud)
{
    (void)ud;
    struct psc *np = NULL, *op = NULL;
    struct err e = {0};
    int rc = psc_parse(new_obj, &np, &e);
    if (rc == 0 && old_obj != NULL && (rc = psc_parse(old_obj, &op, &e)) == 0)
        rc = psc_validate_update(op, np, NULL, 0, &e);
    if (rc != 0)
        snprintf(msg, msglen, "%s", e.msg);
    psc_free(np);
    psc_free(op);
    return rc == 0 ? 0 : ERR_INVALID;
}

static void stop_all(void)
{
    srv_stop(srv);
    metrics_free(metrics);
    SSL_CTX_free(sslctx);
    unlink(cert);
    unlink(key);
    rmdir(dir);
}

static void start(void)
{
    snprintf(dir, sizeof dir, "/tmp/fuzz_httpd.XXXXXX");
    if (mkdtemp(dir) == NULL)
        abort();
    snprintf(cert, sizeof cert, "%s/cert.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
             "-subj /CN=127.0.0.1 -keyout %s -out %s >/dev/null 2>&1",
             key, cert);
    if (system(cmd) != 0) {
        fprintf(stderr, "fuzz_httpd: %s failed\n", cmd);
        abort();
    }
    metrics = metrics_new(0);
    struct metrics_ballast mb;
    struct err e = {0};
    if (metrics == NULL || metrics_register_ballast(metrics, &mb, &e) != 0)
        abort();
    struct srv_opts o = {.http = true,
                         .http_host = "127.0.0.1",
                         .tls = true,
                         .tls_host = "127.0.0.1",
                         .tls_cert = cert,
                         .tls_key = key,
                         .metrics = metrics,
                         .validate = validate,
                         .max_body = 4096}; /* small, so small inputs reach the caps */
    if (srv_start(&o, &srv, &e) != 0) {
        fprintf(stderr, "fuzz_httpd: srv_start: %s\n", e.msg);
        abort();
    }
    srv_set_ready(srv, true);
    hport = srv_http_port(srv);
    tport = srv_tls_port(srv);
    sslctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(sslctx, SSL_VERIFY_NONE, NULL);
    signal(SIGPIPE, SIG_IGN);
    atexit(stop_all);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int dial(int port, double end)
{
    double left = end - now();
    if (left < 0.1)
        left = 0.1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {.tv_sec = (time_t)left,
                         .tv_usec = (long)((left - (double)(time_t)left) * 1e6)};
    int one = 1, rc = -1;
    /* A full table of local ports or a signal is the machine's state, not the server's:
     * try again until the input's time is up. A refusal means the listener is gone. */
    while (fd >= 0 && (rc = connect(fd, (struct sockaddr *)&a, sizeof a)) != 0 &&
           (errno == EADDRNOTAVAIL || errno == EAGAIN || errno == EINTR) && now() < end) {
        close(fd);
        usleep(10 * 1000);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    }
    if (fd < 0 || rc != 0) {
        fprintf(stderr, "fuzz_httpd: %s 127.0.0.1:%d: %s\n", fd < 0 ? "socket for" : "connect to",
                port, strerror(errno));
        abort();
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* Sends data in pieces (0 = at once), half-closes, and reads until the server closes.
 * Returns 1 when it closed (or reset) in time, 0 when it neither answered nor closed;
 * the first bytes of the answer go to head. */
static int exchange(bool tls, const uint8_t *data, size_t size, size_t piece, double end,
                    char *head, size_t headlen)
{
    int fd = dial(tls ? tport : hport, end);
    SSL *ssl = NULL;
    int closed = 1;
    size_t got = 0;
    if (tls) {
        ssl = SSL_new(sslctx);
        SSL_set_fd(ssl, fd);
        if (SSL_connect(ssl) != 1) {
            closed = errno != EAGAIN && errno != EWOULDBLOCK;
            goto out;
        }
    }
    if (piece == 0)
        piece = size;
    for (size_t off = 0; off < size;) {
        size_t n = size - off < piece ? size - off : piece;
        int w =
            tls ? SSL_write(ssl, data + off, (int)n) : (int)send(fd, data + off, n, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* the server hung up: it may, having answered */
        off += (size_t)w;
    }
    if (tls)
        SSL_shutdown(ssl);
    shutdown(fd, SHUT_WR);
    for (;;) {
        char b[4096];
        int n = tls ? SSL_read(ssl, b, sizeof b) : (int)recv(fd, b, sizeof b, 0);
        if (n > 0) {
            size_t k = got + (size_t)n < headlen ? (size_t)n : headlen - got;
            memcpy(head + got, b, k);
            got += k;
            if (now() > end) {
                closed = 0;
                break;
            }
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && now() >= end - 0.05)
            closed = 0;
        break;
    }
out:
    if (ssl)
        SSL_free(ssl);
    /* The exchange is over: reset rather than leave a TIME_WAIT per input behind, so a
     * long run does not use up the machine's local ports. */
    struct linger now_ = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &now_, sizeof now_);
    close(fd);
    if (headlen)
        head[got < headlen ? got : headlen - 1] = '\0';
    return closed;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (srv == NULL)
        start();
    if (size < 1)
        return 0;
    bool tls = data[0] & 1;
    size_t piece = (size_t)(data[0] >> 1) & 0x1f;
    char head[64];
    double t0 = now();
    if (!exchange(tls, data + 1, size - 1, piece, t0 + ANSWER_BY, head, sizeof head))
        fail(tls ? "the webhook listener neither answered nor closed"
                 : "the plain listener neither answered nor closed",
             data, size);
    static const uint8_t probe[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    for (;;) {
        if (exchange(false, probe, sizeof probe - 1, 0, t0 + HEALTHY_BY, head, sizeof head) &&
            strncmp(head, "HTTP/1.1 200", 12) == 0)
            break;
        if (now() >= t0 + HEALTHY_BY)
            fail("/healthz does not answer any more", data, size);
        usleep(50 * 1000);
    }
    return 0;
}
