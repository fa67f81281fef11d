/* log.c — logfmt/JSON line writer behind log.h. Builds the whole line first and
 * writes it with one call under a mutex, so lines from threads never interleave. */
#include "base/log.h"
#include "base/buf.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum log_level g_min = LV_INFO;
static enum log_format g_fmt = LOG_FMT_TEXT;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_setup(enum log_level min, enum log_format fmt)
{
    g_min = min;
    g_fmt = fmt;
}

int log_parse_level(const char *s, enum log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (s && strcmp(s, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

int log_parse_format(const char *s, enum log_format *out)
{
    if (s && strcmp(s, "text") == 0)
        *out = LOG_FMT_TEXT;
    else if (s && strcmp(s, "json") == 0)
        *out = LOG_FMT_JSON;
    else
        return -1;
    return 0;
}

int log_enabled(enum log_level lvl)
{
    return lvl >= g_min;
}

static void put_json_string(struct buf *b, const char *s)
{
    buf_puts(b, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            buf_printf(b, "\\%c", c);
        else if (c == '\n')
            buf_puts(b, "\\n");
        else if (c < 0x20)
            buf_printf(b, "\\u%04x", c);
        else
            buf_append(b, s, 1);
    }
    buf_puts(b, "\"");
}

/* logfmt: quote values that hold spaces, quotes, '=' or control characters. */
static void put_logfmt_value(struct buf *b, const char *s)
{
    int plain = *s != '\0';
    for (const char *p = s; *p; p++)
        if (*p == ' ' || *p == '"' || *p == '=' || (unsigned char)*p < 0x20)
            plain = 0;
    if (plain)
        buf_puts(b, s);
    else
        put_json_string(b, s);
}

static void put_kv(struct buf *b, const char *k, const char *v)
{
    if (g_fmt == LOG_FMT_JSON) {
        buf_puts(b, ",");
        put_json_string(b, k);
        buf_puts(b, ":");
        put_json_string(b, v);
    } else {
        buf_printf(b, " %s=", k);
        put_logfmt_value(b, v);
    }
}

void log_kv(enum log_level lvl, const char *msg, ...)
{
    if (lvl < g_min)
        return;
    char ts[40];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof ts - n, ".%03ldZ", now.tv_nsec / 1000000);

    struct buf b = {0};
    if (g_fmt == LOG_FMT_JSON) {
        buf_puts(&b, "{\"ts\":");
        put_json_string(&b, ts);
        put_kv(&b, "level", level_names[lvl]);
        put_kv(&b, "msg", msg);
    } else {
        buf_printf(&b, "ts=%s level=%s msg=", ts, level_names[lvl]);
        put_logfmt_value(&b, msg);
    }
    va_list ap;
    va_start(ap, msg);
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (k == NULL)
            break;
        const char *v = va_arg(ap, const char *);
        put_kv(&b, k, v ? v : "");
    }
    va_end(ap);
    buf_puts(&b, g_fmt == LOG_FMT_JSON ? "}\n" : "\n");
    if (b.data) {
        pthread_mutex_lock(&g_mu);
        fputs(b.data, stderr);
        fflush(stderr);
        pthread_mutex_unlock(&g_mu);
    }
    buf_free(&b);
}
