/* metrics.c — the metrics registry and its Prometheus text rendering; see metrics.h.
 * One mutex guards the whole registry: updates are a hash lookup and an add, and
 * a scrape every few seconds holds it only while formatting. */
#include "server/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

struct series {
    char *values[METRICS_MAX_LABELS]; /* owned */
    uint64_t hash;
    double v;
};

struct metrics_family {
    struct metrics *reg; /* back pointer for the lock and the cap */
    enum metrics_type type;
    char *name, *help;
    int nlabels;
    char *labels[METRICS_MAX_LABELS];
    struct series **series; /* creation order; owned */
    size_t n, cap;
    /* open-addressing index into series: slot holds position + 1, 0 = empty */
    size_t *index;
    size_t index_cap; /* power of two, > 2 * n */
    bool warned;
};

struct metrics {
    pthread_mutex_t mu;
    size_t max_series;
    struct metrics_family **fams; /* registration order; owned */
    size_t n, cap;
};

struct metrics *metrics_new(size_t max_series)
{
    struct metrics *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    if (pthread_mutex_init(&m->mu, NULL) != 0) {
        free(m);
        return NULL;
    }
    m->max_series = max_series ? max_series : METRICS_DEFAULT_MAX_SERIES;
    return m;
}

static void series_free(struct series *s, int nlabels)
{
    if (s == NULL)
        return;
    for (int i = 0; i < nlabels; i++)
        free(s->values[i]);
    free(s);
}

static void family_free(struct metrics_family *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < f->n; i++)
        series_free(f->series[i], f->nlabels);
    free(f->series);
    free(f->index);
    for (int i = 0; i < f->nlabels; i++)
        free(f->labels[i]);
    free(f->name);
    free(f->help);
    free(f);
}

void metrics_free(struct metrics *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n; i++)
        family_free(m->fams[i]);
    free(m->fams);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

/* Prometheus: metric names [a-zA-Z_:][a-zA-Z0-9_:]*, label names the same without
 * ':' and not starting with "__" (reserved). */
static bool valid_name(const char *s, bool metric)
{
    if (s == NULL || s[0] == '\0')
        return false;
    if (!metric && s[0] == '_' && s[1] == '_')
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                  (metric && c == ':') || (p != s && c >= '0' && c <= '9');
        if (!ok)
            return false;
    }
    return true;
}

int metrics_register(struct metrics *m, enum metrics_type type, const char *name, const char *help,
                     int nlabels, const char *const *label_names, struct metrics_family **out,
                     struct err *e)
{
    struct metrics_family *f = NULL;
    int rc = 0;

    if (m == NULL || out == NULL)
        return err_set(e, ERR_INVALID, "metrics_register: registry and out are required");
    *out = NULL;
    if (type != METRICS_COUNTER && type != METRICS_GAUGE)
        return err_set(e, ERR_INVALID, "metric %s: unknown type %d", name ? name : "?", type);
    if (!valid_name(name, true))
        return err_set(e, ERR_INVALID, "metric name \"%s\" is not a valid Prometheus name",
                       name ? name : "(null)");
    if (nlabels < 0 || nlabels > METRICS_MAX_LABELS || (nlabels > 0 && label_names == NULL))
        return err_set(e, ERR_INVALID, "metric %s: %d labels, want 0..%d", name, nlabels,
                       METRICS_MAX_LABELS);
    for (int i = 0; i < nlabels; i++) {
        if (!valid_name(label_names[i], false))
            return err_set(e, ERR_INVALID, "metric %s: label name \"%s\" is not valid", name,
                           label_names[i] ? label_names[i] : "(null)");
        for (int j = 0; j < i; j++)
            if (strcmp(label_names[i], label_names[j]) == 0)
                return err_set(e, ERR_INVALID, "metric %s: label \"%s\" given twice", name,
                               label_names[i]);
    }

    f = calloc(1, sizeof(*f));
    if (f == NULL)
        goto nomem;
    f->type = type;
    f->nlabels = nlabels;
    if ((f->name = strdup(name)) == NULL || (f->help = strdup(help ? help : "")) == NULL)
        goto nomem;
    for (int i = 0; i < nlabels; i++)
        if ((f->labels[i] = strdup(label_names[i])) == NULL)
            goto nomem;

    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->fams[i]->name, name) == 0) {
            pthread_mutex_unlock(&m->mu);
            rc = err_set(e, ERR_CONFLICT, "metric %s is already registered", name);
            goto fail;
        }
    }
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        struct metrics_family **p = realloc(m->fams, cap * sizeof(*p));
        if (p == NULL) {
            pthread_mutex_unlock(&m->mu);
            goto nomem;
        }
        m->fams = p;
        m->cap = cap;
    }
    f->reg = m;
    m->fams[m->n++] = f;
    pthread_mutex_unlock(&m->mu);

    /* A family without labels has exactly one series; show it from the start. */
    if (nlabels == 0 && type == METRICS_GAUGE)
        rc = metrics_gauge_add(f, NULL, 0);
    else if (nlabels == 0)
        rc = metrics_counter_add(f, NULL, 0);
    if (rc < 0)
        return err_set(e, rc, "metric %s: out of memory", name);
    *out = f;
    return 0;

nomem:
    rc = err_set(e, ERR_NOMEM, "metric %s: out of memory", name);
fail:
    family_free(f);
    return rc;
}

/* FNV-1a over the values, each followed by 0xff (which UTF-8 text never holds), so
 * ("a","bc") and ("ab","c") differ. */
static uint64_t values_hash(const struct metrics_family *f, const char *const *values)
{
    uint64_t h = 1469598103934665603ULL;
    for (int i = 0; i < f->nlabels; i++) {
        for (const unsigned char *p = (const unsigned char *)values[i]; *p; p++)
            h = (h ^ *p) * 1099511628211ULL;
        h = (h ^ 0xffu) * 1099511628211ULL;
    }
    return h;
}

static bool values_equal(const struct metrics_family *f, const struct series *s,
                         const char *const *values)
{
    for (int i = 0; i < f->nlabels; i++)
        if (strcmp(s->values[i], values[i]) != 0)
            return false;
    return true;
}

/* find returns the series' position, or -1. Caller holds the lock. */
static long find(const struct metrics_family *f, const char *const *values, uint64_t h)
{
    if (f->index_cap == 0)
        return -1;
    for (size_t i = h & (f->index_cap - 1);; i = (i + 1) & (f->index_cap - 1)) {
        size_t slot = f->index[i];
        if (slot == 0)
            return -1;
        struct series *s = f->series[slot - 1];
        if (s->hash == h && values_equal(f, s, values))
            return (long)(slot - 1);
    }
}

static int reindex(struct metrics_family *f, size_t cap)
{
    size_t *idx = calloc(cap, sizeof(*idx));
    if (idx == NULL)
        return ERR_NOMEM;
    for (size_t k = 0; k < f->n; k++) {
        size_t i = f->series[k]->hash & (cap - 1);
        while (idx[i] != 0)
            i = (i + 1) & (cap - 1);
        idx[i] = k + 1;
    }
    free(f->index);
    f->index = idx;
    f->index_cap = cap;
    return 0;
}

static int check_values(const struct metrics_family *f, const char *const *values)
{
    if (f->nlabels > 0 && values == NULL)
        return ERR_INVALID;
    for (int i = 0; i < f->nlabels; i++)
        if (values[i] == NULL || strlen(values[i]) > METRICS_MAX_VALUE_LEN)
            return ERR_INVALID;
    return 0;
}

/* lookup finds or creates a series. Caller holds the lock. */
static struct series *lookup(struct metrics_family *f, const char *const *values, int *rc)
{
    uint64_t h = values_hash(f, values);
    long pos = find(f, values, h);
    if (pos >= 0)
        return f->series[pos];

    if (f->n >= f->reg->max_series) {
        if (!f->warned) {
            char max[32];
            snprintf(max, sizeof(max), "%zu", f->reg->max_series);
            log_warn("metric has too many series, dropping new ones", "metric", f->name, "max",
                     max);
            f->warned = true;
        }
        *rc = ERR_NOMEM;
        return NULL;
    }
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        struct series **p = realloc(f->series, cap * sizeof(*p));
        if (p == NULL)
            goto nomem;
        f->series = p;
        f->cap = cap;
    }
    if ((f->n + 1) * 2 >= f->index_cap) {
        size_t cap = f->index_cap ? f->index_cap * 2 : 16;
        while ((f->n + 1) * 2 >= cap)
            cap *= 2;
        if (reindex(f, cap) < 0)
            goto nomem;
    }
    struct series *s = calloc(1, sizeof(*s));
    if (s == NULL)
        goto nomem;
    for (int i = 0; i < f->nlabels; i++) {
        if ((s->values[i] = strdup(values[i])) == NULL) {
            series_free(s, f->nlabels);
            goto nomem;
        }
    }
    s->hash = h;
    f->series[f->n] = s;
    size_t i = h & (f->index_cap - 1);
    while (f->index[i] != 0)
        i = (i + 1) & (f->index_cap - 1);
    f->index[i] = ++f->n;
    return s;

nomem:
    *rc = ERR_NOMEM;
    return NULL;
}

enum op { OP_ADD, OP_SET };

static int update(struct metrics_family *f, enum metrics_type want, const char *const *values,
                  enum op op, double x)
{
    if (f == NULL || f->type != want)
        return ERR_INVALID;
    if (want == METRICS_COUNTER && !(x >= 0)) /* also rejects NaN */
        return ERR_INVALID;
    int rc = check_values(f, values);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&f->reg->mu);
    struct series *s = lookup(f, values, &rc);
    if (s != NULL)
        s->v = op == OP_SET ? x : s->v + x;
    pthread_mutex_unlock(&f->reg->mu);
    return s ? 0 : rc;
}

int metrics_counter_add(struct metrics_family *f, const char *const *values, double delta)
{
    return update(f, METRICS_COUNTER, values, OP_ADD, delta);
}

int metrics_gauge_set(struct metrics_family *f, const char *const *values, double v)
{
    return update(f, METRICS_GAUGE, values, OP_SET, v);
}

int metrics_gauge_add(struct metrics_family *f, const char *const *values, double delta)
{
    return update(f, METRICS_GAUGE, values, OP_ADD, delta);
}

int metrics_remove(struct metrics_family *f, const char *const *values)
{
    if (f == NULL)
        return ERR_INVALID;
    int rc = check_values(f, values);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&f->reg->mu);
    long pos = find(f, values, values_hash(f, values));
    if (pos >= 0) {
        series_free(f->series[pos], f->nlabels);
        memmove(&f->series[pos], &f->series[pos + 1],
                (f->n - (size_t)pos - 1) * sizeof(*f->series));
        f->n--;
        /* Positions shifted: rebuild the index in place (same size, no allocation
         * failure to handle). */
        memset(f->index, 0, f->index_cap * sizeof(*f->index));
        for (size_t k = 0; k < f->n; k++) {
            size_t i = f->series[k]->hash & (f->index_cap - 1);
            while (f->index[i] != 0)
                i = (i + 1) & (f->index_cap - 1);
            f->index[i] = k + 1;
        }
    }
    pthread_mutex_unlock(&f->reg->mu);
    return 0;
}

int metrics_get(struct metrics_family *f, const char *const *values, double *out)
{
    if (f == NULL || out == NULL)
        return ERR_INVALID;
    int rc = check_values(f, values);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&f->reg->mu);
    long pos = find(f, values, values_hash(f, values));
    if (pos >= 0)
        *out = f->series[pos]->v;
    pthread_mutex_unlock(&f->reg->mu);
    return pos >= 0 ? 0 : ERR_NOTFOUND;
}

/* HELP text escapes \ and newline; label values also escape the double quote. */
static int put_escaped(struct buf *b, const char *s, bool quote)
{
    int rc = 0;
    for (const char *p = s; *p && rc == 0; p++) {
        const char *run = p;
        while (*p && *p != '\\' && *p != '\n' && !(quote && *p == '"'))
            p++;
        if (p > run)
            rc |= buf_append(b, run, (size_t)(p - run));
        if (*p == '\0')
            break;
        rc |= buf_puts(b, *p == '\\' ? "\\\\" : *p == '\n' ? "\\n" : "\\\"");
    }
    return rc;
}

/* The shortest %g that reads back as the same double, so 0.1 prints "0.1" and 1e21
 * keeps all its digits' worth of meaning. */
static int put_value(struct buf *b, double v)
{
    if (isnan(v))
        return buf_puts(b, "NaN");
    if (isinf(v))
        return buf_puts(b, v > 0 ? "+Inf" : "-Inf");
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    return buf_puts(b, tmp);
}

static int render_family(const struct metrics_family *f, struct buf *b)
{
    int rc = buf_printf(b, "# HELP %s ", f->name);
    rc |= put_escaped(b, f->help, false);
    rc |= buf_printf(b, "\n# TYPE %s %s\n", f->name,
                     f->type == METRICS_COUNTER ? "counter" : "gauge");
    for (size_t k = 0; k < f->n && rc == 0; k++) {
        const struct series *s = f->series[k];
        rc |= buf_puts(b, f->name);
        for (int i = 0; i < f->nlabels; i++) {
            rc |= buf_printf(b, "%c%s=\"", i == 0 ? '{' : ',', f->labels[i]);
            rc |= put_escaped(b, s->values[i], true);
            rc |= buf_puts(b, "\"");
        }
        rc |= buf_puts(b, f->nlabels ? "} " : " ");
        rc |= put_value(b, s->v);
        rc |= buf_puts(b, "\n");
    }
    return rc;
}

int metrics_render(struct metrics *m, struct buf *out, struct err *e)
{
    if (m == NULL || out == NULL)
        return err_set(e, ERR_INVALID, "metrics_render: registry and buffer are required");
    int rc = 0;
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->n && rc == 0; i++)
        rc = render_family(m->fams[i], out);
    pthread_mutex_unlock(&m->mu);
    if (rc != 0)
        return err_set(e, ERR_NOMEM, "rendering metrics: out of memory or over the buffer's cap");
    return 0;
}

int metrics_register_ballast(struct metrics *m, struct metrics_ballast *out, struct err *e)
{
    static const char *const result[] = {"result"};
    static const char *const verb_code[] = {"verb", "code"};
    static const char *const resource[] = {"resource"};
    static const char *const psc_state[] = {"psc", "state"};
    static const char *const psc[] = {"psc"};
    int rc;

    memset(out, 0, sizeof(*out));
    if ((rc = metrics_register(m, METRICS_COUNTER, "ballast_reconciles_total",
                               "Reconcile passes, by result.", 1, result, &out->reconciles, e)) <
            0 ||
        (rc = metrics_register(m, METRICS_COUNTER, "ballast_reconcile_errors_total",
                               "Reconcile passes that ended in an error.", 0, NULL,
                               &out->reconcile_errors, e)) < 0 ||
        (rc = metrics_register(m, METRICS_GAUGE, "ballast_workqueue_depth",
                               "PSC keys waiting in the work queue.", 0, NULL,
                               &out->workqueue_depth, e)) < 0 ||
        (rc = metrics_register(m, METRICS_COUNTER, "ballast_api_requests_total",
                               "Kubernetes API requests, by verb and HTTP status code.", 2,
                               verb_code, &out->api_requests, e)) < 0 ||
        (rc = metrics_register(m, METRICS_COUNTER, "ballast_watch_restarts_total",
                               "Watches re-opened (timeout, 410 Gone, error), by resource.", 1,
                               resource, &out->watch_restarts, e)) < 0 ||
        (rc = metrics_register(m, METRICS_GAUGE, "ballast_roll_state",
                               "1 for the state each PSC's roll is in (idle, rolling, blocked, "
                               "stuck), by PSC.",
                               2, psc_state, &out->roll_state, e)) < 0 ||
        (rc = metrics_register(m, METRICS_COUNTER, "ballast_psc_reconciles_total",
                               "Reconcile passes that read the PSC and planned (whether or not "
                               "anything was to do, ok or error), by PSC.",
                               1, psc, &out->psc_reconciles, e)) < 0 ||
        (rc = metrics_register(m, METRICS_GAUGE, "ballast_leader",
                               "1 while this replica holds the leader Lease.", 0, NULL,
                               &out->leader, e)) < 0 ||
        (rc = metrics_register(m, METRICS_GAUGE, "ballast_cache_objects",
                               "Objects in the watch caches, by resource.", 1, resource,
                               &out->cache_objects, e)) < 0 ||
        (rc = metrics_register(m, METRICS_GAUGE, "ballast_cache_bytes",
                               "Bytes the watch caches' entries hold (compacted JSON text, keys, "
                               "owner uids; not the allocator's overhead), by resource.",
                               1, resource, &out->cache_bytes, e)) < 0)
        return rc;
    return 0;
}
