/* promtext.c — Prometheus text format 0.0.4 parser; see promtext.h.
 * Splits the body into lines first, then parses each line with a cursor that never
 * reads past the line's end, so truncated or random input cannot read out of bounds. */
#include "health/promtext.h"
#include "base/buf.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* While parsing, strings live in one growing pool and are referred to by offset
 * (the pool moves when it grows); pointers are fixed up once at the end. */
struct raw_label {
    size_t name, value;
};

struct raw_sample {
    size_t name;
    int label0, nlabels;
    double value;
    bool has_ts;
    int64_t ts;
};

struct parser {
    struct prom_limits lim;
    struct buf pool;
    struct raw_sample *samples;
    int nsamples, capsamples;
    struct raw_label *labels;
    int nlabels, caplabels;
    int total; /* samples seen in the whole text (a reader forgets them line by line) */
    /* the line being parsed */
    size_t lineno;
    const char *line, *p, *end;
    struct err *e;
};

/* fail reports msg (plus an optional detail) at the cursor's line and column. */
static int fail(struct parser *ps, const char *msg, const char *detail)
{
    return err_set(ps->e, ERR_INVALID, "line %zu, column %zu: %s%s", ps->lineno,
                   (size_t)(ps->p - ps->line) + 1, msg, detail ? detail : "");
}

/* describe names the byte at the cursor for an error message without echoing raw
 * input: it may be binary garbage. */
static const char *describe(struct parser *ps, char out[32])
{
    if (ps->p >= ps->end)
        return "end of line";
    unsigned char c = (unsigned char)*ps->p;
    if (c >= 0x21 && c < 0x7f)
        snprintf(out, 32, "'%c'", c);
    else if (c == ' ')
        return "a space";
    else
        snprintf(out, 32, "byte 0x%02x", c);
    return out;
}

static void skip_blanks(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t'))
        ps->p++;
}

static bool at_end(const struct parser *ps)
{
    return ps->p >= ps->end;
}

static bool is_name_start(char c, bool metric)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (metric && c == ':');
}

static bool is_name_char(char c, bool metric)
{
    return is_name_start(c, metric) || (c >= '0' && c <= '9');
}

/* read_name advances over a metric (metric=true) or label name; returns its length. */
static size_t read_name(struct parser *ps, bool metric)
{
    const char *s = ps->p;
    if (ps->p < ps->end && is_name_start(*ps->p, metric)) {
        ps->p++;
        while (ps->p < ps->end && is_name_char(*ps->p, metric))
            ps->p++;
    }
    return (size_t)(ps->p - s);
}

/* read_token advances over a run of non-blank bytes; returns its length. */
static size_t read_token(struct parser *ps)
{
    const char *s = ps->p;
    while (ps->p < ps->end && *ps->p != ' ' && *ps->p != '\t')
        ps->p++;
    return (size_t)(ps->p - s);
}

static int pool_add(struct parser *ps, const char *s, size_t n, size_t *off)
{
    *off = ps->pool.len;
    if (buf_append(&ps->pool, s, n) < 0 || buf_append(&ps->pool, "", 1) < 0)
        return err_set(ps->e, ERR_NOMEM, "out of memory parsing metrics");
    return 0;
}

static bool utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t k;
        unsigned int cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            k = 1, cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            k = 2, cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            k = 3, cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i <= k)
            return false;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + j] & 0x3f);
        }
        /* overlong forms, surrogates and values past U+10FFFF */
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += k + 1;
    }
    return true;
}

/* read_label_value reads from just after the opening quote to just after the closing
 * one, unescaping \\ \" \n into the pool. */
static int read_label_value(struct parser *ps, const char *label, size_t *off)
{
    *off = ps->pool.len;
    const char *run = ps->p; /* start of bytes not yet copied */
    for (;;) {
        if (at_end(ps)) {
            err_set(ps->e, ERR_INVALID,
                    "line %zu: the value of label %s is not closed (missing '\"'; "
                    "is the text cut off?)",
                    ps->lineno, label);
            return ERR_INVALID;
        }
        char c = *ps->p;
        if (c != '"' && c != '\\') {
            ps->p++;
            continue;
        }
        if (buf_append(&ps->pool, run, (size_t)(ps->p - run)) < 0)
            return err_set(ps->e, ERR_NOMEM, "out of memory parsing metrics");
        if (c == '"') {
            ps->p++;
            break;
        }
        ps->p++; /* the backslash */
        char out;
        if (at_end(ps))
            return fail(ps, "label value: a backslash ends the line", NULL);
        switch (*ps->p) {
        case '\\':
            out = '\\';
            break;
        case '"':
            out = '"';
            break;
        case 'n':
            out = '\n';
            break;
        default: {
            char d[32];
            return fail(ps, "label value: invalid escape after '\\': ", describe(ps, d));
        }
        }
        if (buf_append(&ps->pool, &out, 1) < 0)
            return err_set(ps->e, ERR_NOMEM, "out of memory parsing metrics");
        ps->p++;
        run = ps->p;
    }
    if (!utf8_valid((const unsigned char *)ps->pool.data + *off, ps->pool.len - *off))
        return err_set(ps->e, ERR_INVALID, "line %zu: the value of label %s is not valid UTF-8",
                       ps->lineno, label);
    if (buf_append(&ps->pool, "", 1) < 0)
        return err_set(ps->e, ERR_NOMEM, "out of memory parsing metrics");
    return 0;
}

static int parse_labels(struct parser *ps, struct raw_sample *s)
{
    ps->p++; /* '{' */
    for (;;) {
        char d[32];
        skip_blanks(ps);
        if (at_end(ps))
            return fail(ps, "the label set is not closed (missing '}'; is the text cut off?)",
                        NULL);
        if (*ps->p == '}') {
            ps->p++;
            return 0;
        }
        const char *nm = ps->p;
        size_t nlen = read_name(ps, false);
        if (nlen == 0)
            return fail(ps, "expected a label name or '}', got ", describe(ps, d));
        char label[72];
        snprintf(label, sizeof label, "%.*s%s", (int)(nlen > 64 ? 64 : nlen), nm,
                 nlen > 64 ? "..." : "");
        skip_blanks(ps);
        if (at_end(ps) || *ps->p != '=') {
            err_set(ps->e, ERR_INVALID, "line %zu, column %zu: expected '=' after label name %s",
                    ps->lineno, (size_t)(ps->p - ps->line) + 1, label);
            return ERR_INVALID;
        }
        ps->p++;
        skip_blanks(ps);
        if (at_end(ps) || *ps->p != '"') {
            err_set(ps->e, ERR_INVALID,
                    "line %zu, column %zu: expected '\"' to open the value of label %s", ps->lineno,
                    (size_t)(ps->p - ps->line) + 1, label);
            return ERR_INVALID;
        }
        ps->p++;
        if (s->nlabels >= ps->lim.max_labels)
            return err_set(ps->e, ERR_INVALID, "line %zu: more than %d labels on one sample",
                           ps->lineno, ps->lim.max_labels);
        for (int i = s->label0; i < s->label0 + s->nlabels; i++) {
            const char *other = ps->pool.data + ps->labels[i].name;
            if (strlen(other) == nlen && memcmp(other, nm, nlen) == 0)
                return err_set(ps->e, ERR_INVALID, "line %zu: label %s appears twice", ps->lineno,
                               label);
        }
        if (ps->nlabels == ps->caplabels) {
            if (ps->caplabels > INT_MAX / 2)
                return err_set(ps->e, ERR_INVALID, "line %zu: too many labels", ps->lineno);
            int cap = ps->caplabels ? ps->caplabels * 2 : 64;
            void *q = realloc(ps->labels, (size_t)cap * sizeof *ps->labels);
            if (q == NULL)
                return err_set(ps->e, ERR_NOMEM, "out of memory parsing metrics");
            ps->labels = q;
            ps->caplabels = cap;
        }
        struct raw_label *l = &ps->labels[ps->nlabels];
        int rc = pool_add(ps, nm, nlen, &l->name);
        if (rc == 0)
            rc = read_label_value(ps, label, &l->value);
        if (rc < 0)
            return rc;
        ps->nlabels++;
        s->nlabels++;
        skip_blanks(ps);
        if (!at_end(ps) && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (!at_end(ps) && *ps->p == '}')
            continue;
        err_set(ps->e, ERR_INVALID,
                "line %zu, column %zu: expected ',' or '}' after the value of label %s, got %s",
                ps->lineno, (size_t)(ps->p - ps->line) + 1, label, describe(ps, d));
        return ERR_INVALID;
    }
}

static int parse_value(struct parser *ps, const char *tok, size_t n, double *out)
{
    char b[64];
    if (n >= sizeof b)
        return fail(ps, "the sample value is too long to be a number", NULL);
    memcpy(b, tok, n);
    b[n] = '\0';
    /* strtod also takes "nan(...)" and leading spaces, which Prometheus does not;
     * the token has no blanks, so only the parenthesis needs refusing. */
    char *endp;
    errno = 0;
    double v = strtod(b, &endp);
    if (n == 0 || endp != b + n || memchr(b, '(', n) != NULL)
        return fail(ps, "the sample value is not a number (expected e.g. 3, 1.5e3, NaN, +Inf)",
                    NULL);
    if (errno == ERANGE && isinf(v))
        return fail(ps, "the sample value is out of range of a double", NULL);
    *out = v;
    return 0;
}

static int parse_timestamp(struct parser *ps, const char *tok, size_t n, int64_t *out)
{
    char b[32];
    if (n >= sizeof b)
        return fail(ps, "the timestamp is too long", NULL);
    memcpy(b, tok, n);
    b[n] = '\0';
    size_t i = (b[0] == '-' || b[0] == '+') ? 1 : 0;
    if (i == n)
        return fail(ps, "the timestamp is not an integer (milliseconds)", NULL);
    for (; i < n; i++)
        if (b[i] < '0' || b[i] > '9')
            return fail(ps, "the timestamp is not an integer (milliseconds)", NULL);
    errno = 0;
    long long v = strtoll(b, NULL, 10);
    if (errno == ERANGE)
        return fail(ps, "the timestamp is out of range", NULL);
    *out = (int64_t)v;
    return 0;
}

static int parse_sample(struct parser *ps)
{
    char d[32];
    const char *nm = ps->p;
    size_t nlen = read_name(ps, true);
    if (nlen == 0)
        return fail(ps, "expected a metric name, got ", describe(ps, d));
    if (!at_end(ps) && *ps->p != ' ' && *ps->p != '\t' && *ps->p != '{')
        return fail(ps, "unexpected character after the metric name: ", describe(ps, d));
    if (ps->total >= ps->lim.max_series)
        return err_set(ps->e, ERR_INVALID, "line %zu: more than %d series in one scrape",
                       ps->lineno, ps->lim.max_series);
    if (ps->nsamples == ps->capsamples) {
        if (ps->capsamples > INT_MAX / 2)
            return err_set(ps->e, ERR_INVALID, "line %zu: too many samples", ps->lineno);
        int cap = ps->capsamples ? ps->capsamples * 2 : 64;
        void *q = realloc(ps->samples, (size_t)cap * sizeof *ps->samples);
        if (q == NULL)
            return err_set(ps->e, ERR_NOMEM, "out of memory parsing metrics");
        ps->samples = q;
        ps->capsamples = cap;
    }
    struct raw_sample *s = &ps->samples[ps->nsamples];
    memset(s, 0, sizeof *s);
    s->label0 = ps->nlabels;
    int rc = pool_add(ps, nm, nlen, &s->name);
    if (rc < 0)
        return rc;
    skip_blanks(ps);
    if (!at_end(ps) && *ps->p == '{') {
        if ((rc = parse_labels(ps, s)) < 0)
            return rc;
        skip_blanks(ps);
    }
    const char *tok = ps->p;
    size_t tlen = read_token(ps);
    if (tlen == 0)
        return fail(ps, "the sample has no value", NULL);
    ps->p = tok; /* report errors at the value's column */
    if ((rc = parse_value(ps, tok, tlen, &s->value)) < 0)
        return rc;
    ps->p = tok + tlen;
    skip_blanks(ps);
    if (!at_end(ps)) {
        tok = ps->p;
        tlen = read_token(ps);
        ps->p = tok;
        if ((rc = parse_timestamp(ps, tok, tlen, &s->ts)) < 0)
            return rc;
        s->has_ts = true;
        ps->p = tok + tlen;
        skip_blanks(ps);
        if (!at_end(ps))
            return fail(ps, "unexpected text after the timestamp", NULL);
    }
    ps->nsamples++;
    ps->total++;
    return 0;
}

static bool token_is(const char *t, size_t n, const char *word)
{
    return strlen(word) == n && memcmp(t, word, n) == 0;
}

/* parse_comment checks HELP and TYPE lines (a malformed one means the exporter is
 * broken, so its numbers are not trusted either); other comments are ignored. */
static int parse_comment(struct parser *ps)
{
    char d[32];
    ps->p++; /* '#' */
    skip_blanks(ps);
    const char *kw = ps->p;
    size_t kwlen = read_token(ps);
    bool help = token_is(kw, kwlen, "HELP"), type = token_is(kw, kwlen, "TYPE");
    if (!help && !type)
        return 0;
    skip_blanks(ps);
    if (read_name(ps, true) == 0)
        return fail(ps,
                    help ? "# HELP needs a metric name, got " : "# TYPE needs a metric name, got ",
                    describe(ps, d));
    if (!at_end(ps) && *ps->p != ' ' && *ps->p != '\t')
        return fail(ps, "unexpected character after the metric name: ", describe(ps, d));
    skip_blanks(ps);
    if (type) {
        const char *t = ps->p;
        size_t tlen = read_token(ps);
        static const char *const types[] = {"counter", "gauge", "histogram", "summary", "untyped"};
        bool known = false;
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            known = known || token_is(t, tlen, types[i]);
        ps->p = t;
        if (!known)
            return fail(ps,
                        "# TYPE: unknown metric type (expected counter, gauge, histogram, "
                        "summary or untyped)",
                        NULL);
        ps->p = t + tlen;
        skip_blanks(ps);
        if (!at_end(ps))
            return fail(ps, "unexpected text after the # TYPE line's type", NULL);
        return 0;
    }
    /* HELP text: only \\ and \n are escapes */
    while (!at_end(ps)) {
        if (*ps->p == '\\') {
            ps->p++;
            if (at_end(ps))
                return fail(ps, "# HELP: a backslash ends the line", NULL);
            if (*ps->p != '\\' && *ps->p != 'n')
                return fail(ps, "# HELP: invalid escape after '\\': ", describe(ps, d));
        }
        ps->p++;
    }
    return 0;
}

static int parse_line(struct parser *ps)
{
    skip_blanks(ps);
    if (at_end(ps))
        return 0;
    if (*ps->p == '#')
        return parse_comment(ps);
    return parse_sample(ps);
}

static int finish(struct parser *ps, struct prom_samples **out)
{
    struct prom_samples *r = calloc(1, sizeof *r);
    if (r == NULL)
        return err_set(ps->e, ERR_NOMEM, "out of memory parsing metrics");
    if (ps->nsamples) {
        r->v = calloc((size_t)ps->nsamples, sizeof *r->v);
        if (ps->nlabels)
            r->label_store = calloc((size_t)ps->nlabels, sizeof *r->label_store);
        if (r->v == NULL || (ps->nlabels && r->label_store == NULL)) {
            prom_samples_free(r);
            return err_set(ps->e, ERR_NOMEM, "out of memory parsing metrics");
        }
    }
    r->str_store = buf_steal(&ps->pool);
    for (int i = 0; i < ps->nlabels; i++) {
        r->label_store[i].name = r->str_store + ps->labels[i].name;
        r->label_store[i].value = r->str_store + ps->labels[i].value;
    }
    for (int i = 0; i < ps->nsamples; i++) {
        const struct raw_sample *s = &ps->samples[i];
        r->v[i].name = r->str_store + s->name;
        r->v[i].labels = s->nlabels ? r->label_store + s->label0 : NULL;
        r->v[i].nlabels = s->nlabels;
        r->v[i].value = s->value;
        r->v[i].has_timestamp = s->has_ts;
        r->v[i].timestamp_ms = s->ts;
    }
    r->n = ps->nsamples;
    *out = r;
    return 0;
}

static void apply_defaults(struct prom_limits *l)
{
    if (l->max_body == 0)
        l->max_body = PROM_MAX_BODY_DEFAULT;
    if (l->max_line == 0)
        l->max_line = PROM_MAX_LINE_DEFAULT;
    if (l->max_series <= 0)
        l->max_series = PROM_MAX_SERIES_DEFAULT;
    if (l->max_labels <= 0)
        l->max_labels = PROM_MAX_LABELS_DEFAULT;
}

static int cut_off(struct parser *ps)
{
    return err_set(ps->e, ERR_INVALID,
                   "line %zu: the text ends without a newline: the body was cut off "
                   "(the last line could hold a wrong value)",
                   ps->lineno);
}

/* parse_text_line checks and parses the line [start, nl), nl pointing at its '\n'. */
static int parse_text_line(struct parser *ps, const char *start, const char *nl)
{
    const char *lend = nl;
    if (lend > start && lend[-1] == '\r')
        lend--;
    if ((size_t)(lend - start) > ps->lim.max_line)
        return err_set(ps->e, ERR_INVALID, "line %zu: longer than the limit of %zu bytes",
                       ps->lineno, ps->lim.max_line);
    if (memchr(start, '\0', (size_t)(lend - start)) != NULL)
        return err_set(ps->e, ERR_INVALID, "line %zu: contains a NUL byte: not metrics text",
                       ps->lineno);
    ps->line = ps->p = start;
    ps->end = lend;
    return parse_line(ps);
}

int prom_parse(const char *text, size_t len, const struct prom_limits *lim,
               struct prom_samples **out, struct err *e)
{
    if (out == NULL)
        return err_set(e, ERR_INVALID, "prom_parse: out is NULL");
    *out = NULL;
    if (text == NULL && len > 0)
        return err_set(e, ERR_INVALID, "prom_parse: text is NULL");
    struct parser ps = {.e = e};
    if (lim)
        ps.lim = *lim;
    apply_defaults(&ps.lim);
    if (len > ps.lim.max_body)
        return err_set(e, ERR_INVALID, "metrics text is %zu bytes, more than the limit of %zu", len,
                       ps.lim.max_body);
    /* The pool never holds more than the text plus one NUL per string. */
    if (buf_append(&ps.pool, "", 0) < 0)
        return err_set(e, ERR_NOMEM, "out of memory parsing metrics");

    int rc = 0;
    size_t pos = 0;
    while (pos < len) {
        ps.lineno++;
        const char *start = text + pos;
        const char *nl = memchr(start, '\n', len - pos);
        if (nl == NULL) {
            /* As prom_reader says, which cannot keep an over-long tail to see it end: a
             * line is at most max_line bytes plus a '\r'. */
            if (len - pos > ps.lim.max_line + 1)
                rc = err_set(e, ERR_INVALID, "line %zu: longer than the limit of %zu bytes",
                             ps.lineno, ps.lim.max_line);
            else
                rc = cut_off(&ps);
            goto out;
        }
        if ((rc = parse_text_line(&ps, start, nl)) < 0)
            goto out;
        pos = (size_t)(nl - text) + 1;
    }
    rc = finish(&ps, out);
out:
    buf_free(&ps.pool);
    free(ps.samples);
    free(ps.labels);
    return rc;
}

void prom_samples_free(struct prom_samples *s)
{
    if (s == NULL)
        return;
    free(s->v);
    free(s->label_store);
    free(s->str_store);
    free(s);
}

void prom_sum(const struct prom_samples *s, const char *name, double *sum, bool *found)
{
    double t = 0;
    bool f = false;
    for (int i = 0; s && name && i < s->n; i++) {
        if (strcmp(s->v[i].name, name) == 0) {
            t += s->v[i].value;
            f = true;
        }
    }
    if (sum)
        *sum = t;
    if (found)
        *found = f;
}

const char *prom_label_value(const struct prom_sample *x, const char *name)
{
    for (int i = 0; x && name && i < x->nlabels; i++)
        if (strcmp(x->labels[i].name, name) == 0)
            return x->labels[i].value;
    return NULL;
}

/* ---- the streaming reader ---- */

struct prom_reader {
    struct parser ps;
    const char **names; /* borrowed from the caller */
    int nnames;
    double *sums;
    bool *found;
    struct buf partial; /* the line that a chunk ended in the middle of */
    size_t total;       /* bytes fed */
    int rc;             /* the first error; the reader refuses everything after it */
    struct err err;
};

struct prom_reader *prom_reader_new(const char *const *names, int nnames,
                                    const struct prom_limits *lim)
{
    if (nnames < 0 || (nnames > 0 && names == NULL))
        return NULL;
    struct prom_reader *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->names = (const char **)names;
    r->nnames = nnames;
    r->sums = calloc((size_t)nnames + 1, sizeof *r->sums);
    r->found = calloc((size_t)nnames + 1, sizeof *r->found);
    if (r->sums == NULL || r->found == NULL) {
        prom_reader_free(r);
        return NULL;
    }
    if (lim)
        r->ps.lim = *lim;
    apply_defaults(&r->ps.lim);
    r->ps.e = &r->err;
    return r;
}

void prom_reader_free(struct prom_reader *r)
{
    if (r == NULL)
        return;
    buf_free(&r->ps.pool);
    free(r->ps.samples);
    free(r->ps.labels);
    buf_free(&r->partial);
    free(r->sums);
    free(r->found);
    free(r);
}

static int reader_fail(struct prom_reader *r, int rc, struct err *e)
{
    r->rc = rc;
    if (e != NULL)
        *e = r->err;
    return rc;
}

/* One complete line: parse it, add its sample to the sums asked for, forget it. */
static int reader_line(struct prom_reader *r, const char *start, const char *nl)
{
    struct parser *ps = &r->ps;
    ps->lineno++;
    int rc = parse_text_line(ps, start, nl);
    if (rc < 0)
        return rc;
    for (int i = 0; i < ps->nsamples; i++) {
        const char *name = ps->pool.data + ps->samples[i].name;
        for (int k = 0; k < r->nnames; k++) {
            if (r->names[k] != NULL && strcmp(r->names[k], name) == 0) {
                r->sums[k] += ps->samples[i].value;
                r->found[k] = true;
            }
        }
    }
    ps->nsamples = 0;
    ps->nlabels = 0;
    buf_reset(&ps->pool);
    return 0;
}

int prom_reader_feed(struct prom_reader *r, const char *data, size_t len, struct err *e)
{
    if (r == NULL || (data == NULL && len > 0))
        return err_set(e, ERR_INVALID, "prom_reader_feed: NULL argument");
    if (r->rc != 0) {
        if (e != NULL)
            *e = r->err;
        return r->rc;
    }
    if (len > r->ps.lim.max_body - r->total) {
        err_set(&r->err, ERR_INVALID, "metrics text is more than the limit of %zu bytes",
                r->ps.lim.max_body);
        return reader_fail(r, ERR_INVALID, e);
    }
    r->total += len;
    /* A line is at most max_line bytes plus a '\r': a longer tail is refused before it
     * is kept, so a line without end costs no more than the limit. */
    size_t keep_max = r->ps.lim.max_line + 1;
    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        size_t upto = nl ? (size_t)(nl - data) : len;
        int rc = 0;
        if (r->partial.len + upto > keep_max) {
            err_set(&r->err, ERR_INVALID, "line %zu: longer than the limit of %zu bytes",
                    r->ps.lineno + 1, r->ps.lim.max_line);
            return reader_fail(r, ERR_INVALID, e);
        }
        if (nl == NULL) {
            if (buf_append(&r->partial, data, len) < 0) {
                err_set(&r->err, ERR_NOMEM, "out of memory reading metrics");
                return reader_fail(r, ERR_NOMEM, e);
            }
            return 0;
        }
        if (r->partial.len > 0) {
            if (buf_append(&r->partial, data, upto) < 0) {
                err_set(&r->err, ERR_NOMEM, "out of memory reading metrics");
                return reader_fail(r, ERR_NOMEM, e);
            }
            rc = reader_line(r, r->partial.data, r->partial.data + r->partial.len);
            buf_reset(&r->partial);
        } else {
            rc = reader_line(r, data, nl);
        }
        if (rc < 0)
            return reader_fail(r, rc, e);
        data = nl + 1;
        len -= upto + 1;
    }
    return 0;
}

int prom_reader_finish(struct prom_reader *r, struct err *e)
{
    if (r == NULL)
        return err_set(e, ERR_INVALID, "prom_reader_finish: NULL reader");
    if (r->rc == 0 && r->partial.len > 0) {
        r->ps.lineno++;
        cut_off(&r->ps);
        return reader_fail(r, ERR_INVALID, e);
    }
    if (r->rc != 0 && e != NULL)
        *e = r->err;
    return r->rc;
}

void prom_reader_sum(const struct prom_reader *r, int i, double *sum, bool *found)
{
    bool ok = r != NULL && i >= 0 && i < r->nnames;
    if (sum)
        *sum = ok ? r->sums[i] : 0;
    if (found)
        *found = ok && r->found[i];
}

size_t prom_reader_bytes(const struct prom_reader *r)
{
    return r ? r->total : 0;
}
