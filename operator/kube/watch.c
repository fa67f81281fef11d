/* watch.c — one watch request: builds the query (resourceVersion, bookmarks, a randomised
 * server-side timeout), splits the streamed body into newline-delimited JSON events with a bound
 * on a line, tracks the newest resourceVersion, and maps the ways a watch ends to error codes. */
#include "kube/watch.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/num.h"

#define DEFAULT_MAX_LINE (16u << 20)
#define ACCEPT_META      "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"

static long g_stall_seconds = 150; /* the server sends a bookmark about once a minute */

void kube_watch_set_stall_seconds(long seconds)
{
    g_stall_seconds = seconds > 0 ? seconds : 150;
}

struct wstate {
    struct buf line;
    size_t max_line;
    kube_watch_fn fn;
    void *ud;
    char *last_rv;
    size_t rv_len;
    struct err *e;
    long events;
};

static int event_type(const char *s, enum kube_event_type *t)
{
    static const struct {
        const char *name;
        enum kube_event_type t;
    } types[] = {{"ADDED", KUBE_ADDED},
                 {"MODIFIED", KUBE_MODIFIED},
                 {"DELETED", KUBE_DELETED},
                 {"BOOKMARK", KUBE_BOOKMARK},
                 {"ERROR", KUBE_ERROR}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(s, types[i].name) == 0) {
            *t = types[i].t;
            return 0;
        }
    return -1;
}

/* Handles one complete line (without its '\n'). Returns 0 or the code that ends the watch. */
static int handle_line(struct wstate *w, const char *s, size_t len)
{
    while (len && (s[len - 1] == '\r' || s[len - 1] == ' '))
        len--;
    if (len == 0)
        return 0;
    cJSON *ev = cJSON_ParseWithLength(s, len);
    int rc = 0;
    if (ev == NULL)
        return err_set(w->e, ERR_INVALID, "an event line is not JSON (%zu bytes)", len);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(ev, "type");
    const cJSON *obj = cJSON_GetObjectItemCaseSensitive(ev, "object");
    enum kube_event_type t;
    if (!cJSON_IsString(type) || event_type(type->valuestring, &t) != 0 || !cJSON_IsObject(obj)) {
        rc = err_set(w->e, ERR_INVALID, "an event without a known type and an object");
        goto out;
    }
    w->events++;
    if (t == KUBE_ERROR) {
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(obj, "code");
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(obj, "message");
        int c = 0; /* an HTTP status code, or 0 when it is not one */
        (void)num_json_int(code, "code", 0, 999, &c, NULL);
        w->fn(t, obj, w->ud);
        rc = err_set(w->e, c == 410 ? ERR_GONE : ERR_API, "ERROR event %d: %s", c,
                     cJSON_IsString(msg) ? msg->valuestring : "(no message)");
        goto out;
    }
    int frc = w->fn(t, obj, w->ud);
    const cJSON *rv = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "resourceVersion");
    if (w->last_rv && w->rv_len && cJSON_IsString(rv) && rv->valuestring[0])
        snprintf(w->last_rv, w->rv_len, "%s", rv->valuestring);
    if (frc != 0)
        rc = err_set(w->e, ERR_CANCELLED, "ended by its handler");
out:
    cJSON_Delete(ev);
    return rc;
}

/* The stream's chunks are cut anywhere: collect up to each '\n'. */
static int on_chunk(const char *data, size_t len, void *ud)
{
    struct wstate *w = ud;
    while (len) {
        const char *nl = memchr(data, '\n', len);
        size_t seg = nl ? (size_t)(nl - data) : len;
        if (w->line.len + seg > w->max_line)
            return err_set(w->e, ERR_INVALID, "an event line is longer than %zu bytes",
                           w->max_line);
        if (nl && w->line.len == 0) { /* the whole line is in this chunk: no copy */
            int rc = handle_line(w, data, seg);
            if (rc != 0)
                return rc;
        } else {
            if (buf_append(&w->line, data, seg) < 0)
                return err_set(w->e, ERR_NOMEM, "out of memory");
            if (nl) {
                int rc = handle_line(w, w->line.data, w->line.len);
                buf_reset(&w->line);
                if (rc != 0)
                    return rc;
            }
        }
        if (!nl)
            break;
        data += seg + 1;
        len -= seg + 1;
    }
    return 0;
}

int kube_watch_decode(const char *const *pieces, const size_t *lens, int n, size_t max_line,
                      kube_watch_fn fn, void *ud, char *last_rv, size_t rv_len, struct err *e)
{
    struct wstate w = {.max_line = max_line ? max_line : DEFAULT_MAX_LINE,
                       .fn = fn,
                       .ud = ud,
                       .last_rv = last_rv,
                       .rv_len = rv_len,
                       .e = e};
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++)
        rc = on_chunk(pieces[i], lens[i], &w);
    buf_free(&w.line);
    return rc;
}

int kube_watch(struct kube_client *c, const struct kube_res *res, const char *ns,
               const struct kube_watch_opts *o, kube_watch_fn fn, void *ud, char *last_rv,
               size_t rv_len, struct err *e)
{
    static const struct kube_watch_opts none = {0};
    struct buf path = {0}, qs = {0};
    struct kube_resp r = {0};
    struct err we = {0};
    struct wstate w = {0};
    int rc = 0;
    if (o == NULL)
        o = &none;
    if (c == NULL || fn == NULL || kube_path(&path, res, ns, NULL, NULL) != 0) {
        rc = err_set(e, ERR_INVALID, "watch: needs a client, a handler and a valid resource/ns");
        goto out;
    }
    const char *start = o->resource_version;
    char start_copy[128] = "";
    if (start == NULL && last_rv && rv_len && last_rv[0])
        start = last_rv;
    if (start) /* last_rv is rewritten while we stream: do not build from it later */
        snprintf(start_copy, sizeof start_copy, "%s", start);

    buf_puts(&qs, "watch=true&allowWatchBookmarks=true");
    if (start_copy[0]) {
        buf_puts(&qs, "&resourceVersion=");
        for (const char *p = start_copy; *p; p++)
            if ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
                buf_append(&qs, p, 1);
    }
    const char *sels[2][2] = {{"labelSelector", o->label_selector},
                              {"fieldSelector", o->field_selector}};
    for (int i = 0; i < 2; i++) {
        if (sels[i][1] == NULL || sels[i][1][0] == '\0')
            continue;
        buf_printf(&qs, "&%s=", sels[i][0]);
        for (const unsigned char *p = (const unsigned char *)sels[i][1]; *p; p++) {
            if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                *p == '-' || *p == '_' || *p == '.' || *p == '~')
                buf_append(&qs, p, 1);
            else
                buf_printf(&qs, "%%%02X", *p);
        }
    }
    int timeout = o->timeout_seconds;
    if (timeout <= 0) {
        /* Spread the re-watches of many watchers over time, as client-go does. */
        unsigned seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)&w;
        timeout = 300 + (int)(rand_r(&seed) % 301);
    }
    buf_printf(&qs, "&timeoutSeconds=%d", timeout);
    if (qs.data == NULL || path.data == NULL) {
        rc = err_set(e, ERR_NOMEM, "watch: out of memory");
        goto out;
    }

    w.max_line = o->max_line ? o->max_line : DEFAULT_MAX_LINE;
    w.fn = fn;
    w.ud = ud;
    w.last_rv = last_rv;
    w.rv_len = rv_len;
    w.e = &we;
    struct kube_stream_req sq = {.verb = "WATCH",
                                 .path = path.data,
                                 .query = qs.data,
                                 .accept = o->metadata_only ? ACCEPT_META : NULL,
                                 .low_speed_time = g_stall_seconds,
                                 .stop = o->stop,
                                 .fn = on_chunk,
                                 .ud = &w};
    rc = kube_stream(c, &sq, &r);
    if (rc == 0) {
        if (w.line.len)
            log_debug("watch ended inside a line; dropping it", "path", path.data);
        goto out;
    }
    if (we.code != 0) { /* ended by the line handler: its message says why */
        rc = err_set(e, we.code, "watch %s: %s", path.data, we.msg);
    } else if (rc == ERR_CANCELLED) {
        err_set(e, rc, "watch %s: cancelled", path.data);
    } else if (r.status == 0) {
        err_set(e, ERR_IO, "watch: %s", r.message);
        rc = ERR_IO;
    } else {
        rc = r.status == 410 ? ERR_GONE : ERR_API;
        kube_resp_err(e, rc, &r, "watch %s", path.data);
    }
out:
    kube_resp_free(&r);
    buf_free(&w.line);
    buf_free(&path);
    buf_free(&qs);
    return rc;
}
