/* test_kube_http.c — the client and the watch against a scripted in-process HTTP server, for what
 * a real API server will not do on demand: Status bodies of every kind, non-JSON and oversized
 * answers, events cut at any byte, over-long and broken lines, ERROR events, headers we send,
 * and a prompt cancel of an idle stream. No cluster needed. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/flag.h"
#include "kube/watch.h"

/* One scripted answer: raw bytes (headers and body), sent in pieces of `piece` bytes. */
struct step {
    const char *raw;
    size_t len;   /* 0 = strlen(raw) */
    size_t piece; /* 0 = all at once */
    int hold_ms;  /* keep the connection open this long after sending (an idle stream) */
};

static struct {
    int lfd, port;
    pthread_t th;
    const struct step *steps;
    int nsteps, next;
    pthread_mutex_t mu;
    struct buf log; /* every request, head and body */
    int quit;       /* __atomic: teardown sets it, the server thread polls it */
} srv;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads one request (head + Content-Length body) into the log; 0 at EOF. */
static int read_request(int fd)
{
    struct buf b = {0};
    char chunk[4096];
    char *end = NULL;
    while ((end = b.data ? strstr(b.data, "\r\n\r\n") : NULL) == NULL) {
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) {
            buf_free(&b);
            return 0;
        }
        buf_append(&b, chunk, (size_t)n);
    }
    size_t head = (size_t)(end - b.data) + 4;
    const char *cl = strcasestr(b.data, "Content-Length:");
    size_t want = head + (cl && cl < end ? strtoul(cl + 15, NULL, 10) : 0);
    while (b.len < want) {
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0)
            break;
        buf_append(&b, chunk, (size_t)n);
    }
    pthread_mutex_lock(&srv.mu);
    buf_append(&srv.log, b.data, b.len);
    buf_puts(&srv.log, "\n--\n");
    pthread_mutex_unlock(&srv.mu);
    buf_free(&b);
    return 1;
}

static void *serve(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&srv.quit, __ATOMIC_ACQUIRE)) {
        int fd = accept(srv.lfd, NULL, NULL);
        if (fd < 0)
            break;
        /* One request per connection: every answer says Connection: close. */
        struct step st = {0};
        pthread_mutex_lock(&srv.mu);
        int have = srv.next < srv.nsteps;
        if (have)
            st = srv.steps[srv.next++];
        pthread_mutex_unlock(&srv.mu);
        if (read_request(fd) && have) {
            const struct step *s = &st;
            size_t len = s->len ? s->len : strlen(s->raw);
            size_t piece = s->piece ? s->piece : len;
            for (size_t off = 0; off < len; off += piece) {
                size_t n = len - off < piece ? len - off : piece;
                if (send(fd, s->raw + off, n, MSG_NOSIGNAL) < 0)
                    break;
                if (s->piece)
                    usleep(1000);
            }
            for (int t = 0; t < s->hold_ms && !__atomic_load_n(&srv.quit, __ATOMIC_ACQUIRE);
                 t += 10)
                usleep(10 * 1000);
        }
        close(fd);
    }
    return NULL;
}

/* The server thread may still be sending when a test returns (the client hung up early) or
 * scripts again: it works on copies that live until teardown (a new script retires the old
 * ones to `retired`, never frees them under the sender). */
static struct step copies[8];
static char *retired[64];
static int nretired;
static void script(const struct step *steps, int n)
{
    ck_assert_int_le(n, 8);
    pthread_mutex_lock(&srv.mu);
    for (int i = 0; i < n; i++) {
        size_t len = steps[i].len ? steps[i].len : strlen(steps[i].raw);
        char *raw = malloc(len + 1);
        memcpy(raw, steps[i].raw, len + 1);
        if (copies[i].raw) {
            ck_assert_int_lt(nretired, 64);
            retired[nretired++] = (char *)copies[i].raw;
        }
        copies[i] = steps[i];
        copies[i].raw = raw;
        copies[i].len = len;
    }
    srv.steps = copies;
    srv.nsteps = n;
    srv.next = 0;
    pthread_mutex_unlock(&srv.mu);
}

static struct kube_config *cfg;
static struct kube_client *kc;

static void setup(void)
{
    memset(&srv, 0, sizeof srv);
    pthread_mutex_init(&srv.mu, NULL);
    srv.lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(srv.lfd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(srv.lfd, 16), 0);
    socklen_t al = sizeof a;
    getsockname(srv.lfd, (struct sockaddr *)&a, &al);
    srv.port = ntohs(a.sin_port);
    ck_assert_int_eq(pthread_create(&srv.th, NULL, serve, NULL), 0);
    cfg = kube_config_new();
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", srv.port);
    cfg->server = strdup(url);
    cfg->token = strdup("secret-token-value");
    struct err e = {0};
    kc = kube_client_new(cfg, &e);
    ck_assert_msg(kc != NULL, "%s", e.msg);
    kube_set_backoff_scale(0.01);
}

static void teardown(void)
{
    __atomic_store_n(&srv.quit, 1, __ATOMIC_RELEASE);
    shutdown(srv.lfd, SHUT_RDWR);
    close(srv.lfd);
    pthread_join(srv.th, NULL);
    buf_free(&srv.log);
    for (int i = 0; i < 8; i++) {
        free((char *)copies[i].raw);
        copies[i].raw = NULL;
    }
    for (int i = 0; i < nretired; i++)
        free(retired[i]);
    nretired = 0;
    kube_client_free(kc);
    kube_config_free(cfg);
}

#define JSON_HEAD(code, text)                                                                      \
    "HTTP/1.1 " code " " text "\r\nContent-Type: application/json\r\nConnection: close\r\n"

/* ---- status mapping ---- */

struct scase {
    const char *raw;
    int rc;
    long status;
    const char *reason, *message;
};

static const struct scase scases[] = {
    {JSON_HEAD("404", "Not Found") "\r\n{\"kind\":\"Status\",\"reason\":\"NotFound\",\"message\":"
                                   "\"configmaps \\\"x\\\" not found\",\"code\":404}",
     ERR_NOTFOUND, 404, "NotFound", "configmaps \"x\" not found"},
    {JSON_HEAD("409", "Conflict") "\r\n{\"reason\":\"Conflict\",\"message\":\"modified\"}",
     ERR_CONFLICT, 409, "Conflict", "modified"},
    {JSON_HEAD("410", "Gone") "\r\n{\"reason\":\"Expired\",\"message\":\"too old\"}", ERR_GONE, 410,
     "Expired", "too old"},
    {JSON_HEAD("422", "Unprocessable") "\r\n{\"reason\":\"Invalid\",\"message\":\"line1\\nline2\"}",
     ERR_API, 422, "Invalid", "line1 line2"},
    {"HTTP/1.1 400 Bad\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nplain words",
     ERR_API, 400, "BadRequest", "plain words"},
    {"HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", ERR_API, 401,
     "Unauthorized", "HTTP 401 with no body"},
    {JSON_HEAD("403", "Forbidden") "\r\n{not json", ERR_API, 403, "Forbidden", "{not json"},
    {JSON_HEAD("200", "OK") "\r\n{\"truncated\":", ERR_API, 200, "", "not valid JSON"},
    {JSON_HEAD("200", "OK") "\r\n[1,2,3]", 0, 200, "", ""},
    {"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nok", 0, 200, "", ""},
    {JSON_HEAD("418", "Teapot") "\r\n{\"reason\":5,\"message\":[]}", ERR_API, 418, "Unknown",
     "{\"reason\":5"},
    {"garbage that is not HTTP\r\n\r\n", ERR_IO, 0, "", "GET"},
};

START_TEST(test_status_mapping)
{
    const struct scase *c = &scases[_i];
    /* 5xx/transport errors of a GET are retried: give every attempt the same answer. */
    struct step steps[5];
    for (int i = 0; i < 5; i++)
        steps[i] = (struct step){.raw = c->raw};
    script(steps, 5);
    struct kube_resp r = {0};
    int rc = kube_get(kc, &KUBE_CONFIGMAPS, "ns", "x", &r);
    ck_assert_msg(rc == c->rc, "case %d: rc %d want %d (%s)", _i, rc, c->rc, r.message);
    ck_assert_int_eq(r.status, c->status);
    ck_assert_str_eq(r.reason, c->reason);
    ck_assert_msg(strstr(r.message, c->message) != NULL, "case %d: message \"%s\"", _i, r.message);
    ck_assert(strchr(r.message, '\n') == NULL);
    kube_resp_free(&r);
}
END_TEST

START_TEST(test_headers_we_send)
{
    static const struct step steps[] = {
        {.raw = JSON_HEAD("200", "OK") "\r\n{}"},
        {.raw = JSON_HEAD("200", "OK") "\r\n{}"},
        {.raw = JSON_HEAD("200", "OK") "\r\n{}"},
        {.raw = JSON_HEAD("201", "Created") "\r\n{}"},
    };
    script(steps, 4);
    struct kube_resp r = {0};
    cJSON *obj = cJSON_Parse("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\"}");
    ck_assert_int_eq(kube_apply(kc, &KUBE_CONFIGMAPS, "ns", "x", NULL, obj, "ballast op", 1, &r),
                     0);
    kube_resp_free(&r);
    struct kube_delete_opts d = {
        .precondition_uid = "u-1", .propagation = "Foreground", .grace_seconds = 0};
    ck_assert_int_eq(kube_delete(kc, &KUBE_PODS, "ns", "p", &d, &r), 0);
    kube_resp_free(&r);
    struct kube_list_opts lo = {
        .label_selector = "app in (a,b)", .limit = 7, .resource_version = "42", .metadata_only = 1};
    ck_assert_int_eq(kube_list(kc, &KUBE_NODES, NULL, &lo, &r), 0);
    kube_resp_free(&r);
    ck_assert_int_eq(kube_create(kc, &KUBE_CONFIGMAPS, "ns", obj, &r), 0);
    kube_resp_free(&r);
    cJSON_Delete(obj);

    const char *log = srv.log.data;
    ck_assert_ptr_nonnull(strstr(
        log, "PATCH /api/v1/namespaces/ns/configmaps/x?fieldManager=ballast%20op&force=true "));
    ck_assert_ptr_nonnull(strstr(log, "Content-Type: application/apply-patch+yaml\r\n"));
    ck_assert_ptr_nonnull(strstr(log, "Authorization: Bearer secret-token-value\r\n"));
    ck_assert_ptr_nonnull(strstr(log, "User-Agent: ballast/"));
    ck_assert_ptr_nonnull(strstr(log, "DELETE /api/v1/namespaces/ns/pods/p HTTP/1.1"));
    ck_assert_ptr_nonnull(strstr(log, "\"propagationPolicy\":\"Foreground\""));
    ck_assert_ptr_nonnull(strstr(log, "\"gracePeriodSeconds\":0"));
    ck_assert_ptr_nonnull(strstr(log, "\"preconditions\":{\"uid\":\"u-1\"}"));
    ck_assert_ptr_nonnull(strstr(
        log, "GET /api/v1/nodes?labelSelector=app%20in%20%28a%2Cb%29&limit=7&resourceVersion=42 "));
    ck_assert_ptr_nonnull(strstr(log, "Accept: application/json;as=PartialObjectMetadataList"));
    ck_assert_ptr_nonnull(strstr(log, "POST /api/v1/namespaces/ns/configmaps HTTP/1.1"));
    ck_assert_ptr_null(strstr(log, "Expect: 100-continue"));
}
END_TEST

START_TEST(test_limits)
{
    /* A server that never answers: the per-attempt timeout and the attempt count bound it. */
    static const struct step hang[] = {{.raw = "", .len = 0, .hold_ms = 5000},
                                       {.raw = "", .len = 0, .hold_ms = 5000}};
    script(hang, 2);
    kube_client_set_limits(kc, 1, 2);
    struct kube_resp r = {0};
    double t0 = now();
    ck_assert_int_eq(kube_get(kc, &KUBE_CONFIGMAPS, "ns", "x", &r), ERR_IO);
    double took = now() - t0;
    ck_assert_msg(took > 1.9 && took < 3.5, "took %.2fs", took);
    ck_assert_ptr_nonnull(strstr(r.message, "imed out"));
    kube_resp_free(&r);
    kube_client_set_limits(kc, 0, 0);
}
END_TEST

START_TEST(test_retry_after)
{
    static const struct step steps[] = {
        {.raw = "HTTP/1.1 503 Busy\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: "
                "0\r\n\r\n"},
        {.raw = JSON_HEAD("200", "OK") "\r\n{\"ok\":true}"},
    };
    script(steps, 2);
    struct kube_resp r = {0};
    double t0 = now();
    ck_assert_int_eq(kube_get(kc, &KUBE_CONFIGMAPS, "ns", "x", &r), 0);
    ck_assert_msg(now() - t0 >= 0.95, "Retry-After ignored: %.2fs", now() - t0);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(r.body, "ok")));
    kube_resp_free(&r);
}
END_TEST

/* A write is retried only while the guard (the workers' leadership check) says yes: the
 * guard turning 0 after the first 500 stops the retry unsent; GETs are not guarded. */
static int guard_calls, guard_yes;
static int guard(void *ud)
{
    (void)ud;
    guard_calls++;
    return guard_calls <= guard_yes;
}

START_TEST(test_write_not_retried_when_not_leading)
{
    static const struct step steps[] = {
        {.raw = JSON_HEAD("500", "Oops") "\r\n{\"reason\":\"InternalError\",\"message\":\"x\"}"},
        {.raw = JSON_HEAD("200", "OK") "\r\n{\"ok\":true}"},
        {.raw = JSON_HEAD("200", "OK") "\r\n{\"ok\":true}"},
    };
    script(steps, 3);
    kube_client_set_write_guard(kc, guard, NULL);
    guard_calls = 0;
    guard_yes = 1;
    struct kube_resp r = {0};
    /* a DELETE with a uid precondition is safe to retry on 500: only the guard stops it */
    const char *body = "{\"preconditions\":{\"uid\":\"u1\"}}";
    int rc = kube_request(kc, "DELETE", "/api/v1/namespaces/ns/pods/p", NULL, NULL, body, &r);
    ck_assert_int_eq(rc, ERR_CANCELLED);
    ck_assert_ptr_nonnull(strstr(r.message, "no longer leading"));
    ck_assert_int_eq(guard_calls, 2);
    kube_resp_free(&r);
    /* reads go on: caches and status reads need no lease */
    ck_assert_int_eq(kube_get(kc, &KUBE_CONFIGMAPS, "ns", "x", &r), 0);
    kube_resp_free(&r);
    ck_assert_int_eq(guard_calls, 2);
    /* nothing leading from the start: not even the first attempt goes out */
    guard_calls = 0;
    guard_yes = 0;
    rc = kube_request(kc, "POST", "/api/v1/namespaces/ns/pods/p/eviction", NULL, NULL, "{}", &r);
    ck_assert_int_eq(rc, ERR_CANCELLED);
    kube_resp_free(&r);
    pthread_mutex_lock(&srv.mu);
    int deletes = 0, posts = 0;
    for (const char *p = srv.log.data; p && (p = strstr(p, "DELETE ")); p++)
        deletes++;
    for (const char *p = srv.log.data; p && (p = strstr(p, "POST ")); p++)
        posts++;
    pthread_mutex_unlock(&srv.mu);
    ck_assert_int_eq(deletes, 1);
    ck_assert_int_eq(posts, 0);
}
END_TEST

/* ---- watch ---- */

struct seen {
    struct buf log;
    int errors;
    int stop_after;
};

static int record(enum kube_event_type t, const cJSON *obj, void *ud)
{
    static const char *names[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"};
    struct seen *s = ud;
    const char *name =
        cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "metadata"), "name"));
    buf_printf(&s->log, "%s %s;", names[t], name ? name : "-");
    if (t == KUBE_ERROR)
        s->errors++;
    return s->stop_after && --s->stop_after == 0;
}

#define WATCH_HEAD "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
#define EV(type, name, rv)                                                                         \
    "{\"type\":\"" type "\",\"object\":{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"" name     \
    "\",\"resourceVersion\":\"" rv "\"}}}\n"

START_TEST(test_watch_events_cut_anywhere)
{
    /* 1..13-byte pieces put the cuts everywhere: inside keys, between \r and \n, ... */
    static const char body[] = WATCH_HEAD EV("ADDED", "a", "11")
        EV("MODIFIED", "a", "12") "\r\n" EV("BOOKMARK", "", "15") "   \n" EV("DELETED", "a", "16");
    struct step steps[1] = {{.raw = body, .piece = (size_t)_i + 1}};
    script(steps, 1);
    struct seen s = {0};
    struct kube_watch_opts o = {
        .label_selector = "a=b", .timeout_seconds = 33, .resource_version = "10"};
    struct err e = {0};
    char rv[16] = "";
    ck_assert_int_eq(kube_watch(kc, &KUBE_CONFIGMAPS, "ns", &o, record, &s, rv, sizeof rv, &e), 0);
    ck_assert_str_eq(s.log.data, "ADDED a;MODIFIED a;BOOKMARK ;DELETED a;");
    ck_assert_str_eq(rv, "16");
    ck_assert_ptr_nonnull(
        strstr(srv.log.data, "GET /api/v1/namespaces/ns/configmaps?watch=true&allowWatchBookmarks="
                             "true&resourceVersion=10&labelSelector=a%3Db&timeoutSeconds=33 "));
    buf_free(&s.log);
}
END_TEST

struct wcase {
    const char *body;
    size_t max_line;
    int rc;
    const char *log; /* events delivered before the end */
    const char *msg;
};

static const struct wcase wcases[] = {
    {WATCH_HEAD EV("ADDED", "a", "2") "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\""
                                      "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"}}}\n",
     100, ERR_INVALID, "ADDED a;", "longer than 100 bytes"},
    {WATCH_HEAD "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"no-newline-and-long\"",
     40, ERR_INVALID, "", "longer than 40 bytes"},
    {WATCH_HEAD EV("ADDED", "a", "2") "this is not json\n", 0, ERR_INVALID, "ADDED a;", "not JSON"},
    {WATCH_HEAD "{\"type\":\"SURPRISE\",\"object\":{}}\n", 0, ERR_INVALID, "", "known type"},
    {WATCH_HEAD "{\"type\":\"ADDED\",\"object\":\"str\"}\n", 0, ERR_INVALID, "", "known type"},
    {WATCH_HEAD "[]\n", 0, ERR_INVALID, "", "known type"},
    {WATCH_HEAD EV("ADDED", "a", "7") "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\","
                                      "\"code\":410,\"message\":\"too old resource version\"}}\n",
     0, ERR_GONE, "ADDED a;ERROR -;", "too old resource version"},
    {WATCH_HEAD "{\"type\":\"ERROR\",\"object\":{\"code\":500,\"message\":\"etcd down\"}}\n", 0,
     ERR_API, "ERROR -;", "etcd down"},
    {JSON_HEAD("410", "Gone") "\r\n{\"reason\":\"Expired\",\"message\":\"rv too old\"}", 0,
     ERR_GONE, "", "410 Expired: rv too old"},
    {JSON_HEAD("403", "Forbidden") "\r\n{\"reason\":\"Forbidden\",\"message\":\"no\"}", 0, ERR_API,
     "", "403 Forbidden"},
    {WATCH_HEAD EV("ADDED", "a", "2") EV("ADDED", "b", "3") EV("ADDED", "c", "4"), 0, ERR_CANCELLED,
     "ADDED a;ADDED b;", "ended by its handler"},
    /* a truncated last line at a normal end is dropped, not delivered half */
    {WATCH_HEAD EV("ADDED", "a", "2") "{\"type\":\"ADDED\",\"obj", 0, 0, "ADDED a;", ""},
};

START_TEST(test_watch_endings)
{
    const struct wcase *c = &wcases[_i];
    struct step steps[5];
    for (int i = 0; i < 5; i++) /* a 5xx answer would be retried */
        steps[i] = (struct step){.raw = c->body};
    script(steps, 5);
    struct seen s = {.stop_after = c->rc == ERR_CANCELLED ? 2 : 0};
    struct kube_watch_opts o = {.max_line = c->max_line, .resource_version = "1"};
    struct err e = {0};
    char rv[16] = "";
    int rc = kube_watch(kc, &KUBE_CONFIGMAPS, "ns", &o, record, &s, rv, sizeof rv, &e);
    ck_assert_msg(rc == c->rc, "case %d: rc %d want %d: %s", _i, rc, c->rc, e.msg);
    ck_assert_str_eq(s.log.data ? s.log.data : "", c->log);
    ck_assert_msg(strstr(e.msg, c->msg) != NULL, "case %d: \"%s\" lacks \"%s\"", _i, e.msg, c->msg);
    buf_free(&s.log);
}
END_TEST

struct flip {
    volatile int *stop;
    long ms;
};

static void *flip_after(void *arg)
{
    struct flip *f = arg;
    usleep((useconds_t)f->ms * 1000);
    flag_set(f->stop, 1);
    return NULL;
}

START_TEST(test_watch_cancel)
{
    /* An idle stream: headers and one event, then nothing for 10 s. */
    static const struct step idle[] = {{WATCH_HEAD EV("ADDED", "a", "2"), 0, 0, 10000}};
    script(idle, 1);
    volatile int stop = 0;
    struct seen s = {0};
    struct kube_watch_opts o = {.stop = &stop, .metadata_only = 1};
    struct err e = {0};
    char rv[16] = "";
    struct flip f = {&stop, 300};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, flip_after, &f), 0);
    double t0 = now();
    int rc = kube_watch(kc, &KUBE_CONFIGMAPS, NULL, &o, record, &s, rv, sizeof rv, &e);
    double took = now() - t0;
    pthread_join(th, NULL);
    ck_assert_msg(rc == ERR_CANCELLED, "rc %d: %s", rc, e.msg);
    ck_assert_msg(took < 1.5, "cancel took %.2fs", took);
    ck_assert_str_eq(s.log.data, "ADDED a;");
    ck_assert_str_eq(rv, "2");
    ck_assert_ptr_nonnull(strstr(srv.log.data, "GET /api/v1/configmaps?watch=true"));
    ck_assert_ptr_nonnull(
        strstr(srv.log.data, "Accept: application/json;as=PartialObjectMetadata;"));
    buf_free(&s.log);

    /* Already stopped: ends at once without streaming. */
    script(idle, 1);
    t0 = now();
    ck_assert_int_eq(kube_watch(kc, &KUBE_CONFIGMAPS, NULL, &o, record, &s, rv, sizeof rv, &e),
                     ERR_CANCELLED);
    ck_assert(now() - t0 < 1.5);
    buf_free(&s.log);
}
END_TEST

START_TEST(test_error_body_cap)
{
    /* An error answer on a stream is buffered up to 1 MiB: 2 MiB is refused, not stored. */
    size_t n = 2u << 20;
    char *big = malloc(n + 200);
    int h = snprintf(big, 200, JSON_HEAD("403", "Forbidden") "\r\n\"");
    memset(big + h, 'x', n);
    big[h + n] = '\0';
    struct step steps[1] = {{.raw = big}};
    script(steps, 1);
    struct seen s = {0};
    struct err e = {0};
    char rv[16] = "";
    int rc = kube_watch(kc, &KUBE_CONFIGMAPS, "ns", NULL, record, &s, rv, sizeof rv, &e);
    ck_assert_msg(rc == ERR_IO, "rc %d: %s", rc, e.msg);
    ck_assert_ptr_nonnull(strstr(e.msg, "larger than"));
    free(big);
    buf_free(&s.log);
}
END_TEST

int main(void)
{
    struct err e = {0};
    if (kube_global_init(&e) != 0)
        return 1;
    Suite *s = suite_create("kube_http");
    TCase *tc = tcase_create("http");
    tcase_set_timeout(tc, 30);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_status_mapping, 0, (int)(sizeof scases / sizeof scases[0]));
    tcase_add_test(tc, test_headers_we_send);
    tcase_add_test(tc, test_retry_after);
    tcase_add_test(tc, test_write_not_retried_when_not_leading);
    tcase_add_test(tc, test_limits);
    tcase_add_loop_test(tc, test_watch_events_cut_anywhere, 0, 13);
    tcase_add_loop_test(tc, test_watch_endings, 0, (int)(sizeof wcases / sizeof wcases[0]));
    tcase_add_test(tc, test_watch_cancel);
    tcase_add_test(tc, test_error_body_cap);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    kube_global_cleanup();
    return failed ? 1 : 0;
}
