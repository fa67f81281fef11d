/* scrape.c — concurrent, bounded GETs of members' metrics endpoints; see scrape.h.
 * libcurl enforces each scrape's timeout; the loop here also keeps its own deadline
 * per scrape so that nothing can hold a reconcile longer than the timeout. Each body
 * goes through a prom_reader as it arrives, so no body is ever held whole. */
#include "health/scrape.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef BALLAST_VERSION
#define BALLAST_VERSION "dev"
#endif

/* Past libcurl's own timeout, how long before the loop gives up on a scrape itself. */
#define SCRAPE_GRACE_MS 250

struct xfer {
    CURL *h;
    struct scrape_result *res;
    const struct scrape_target *t;
    struct prom_reader *reader; /* NULL until the scrape starts */
    size_t got;                 /* body bytes received, any status */
    size_t max_body;
    bool status_checked; /* the first body byte arrived: status read */
    bool not_ok;         /* status other than 200: the body is not read */
    bool too_big;
    bool bad_text; /* the reader refused the text; parse_err says why */
    struct err parse_err;
    double t0;       /* monotonic seconds when started */
    long timeout_ms; /* this scrape's share of the call's budget */
    char errbuf[CURL_ERROR_SIZE];
};

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *who(const struct scrape_target *t)
{
    return t->name && t->name[0] ? t->name : "member";
}

int scrape_url(const struct scrape_target *t, char *out, size_t cap, struct err *e)
{
    if (t == NULL || out == NULL || cap == 0)
        return err_set(e, ERR_INVALID, "scrape_url: NULL argument");
    out[0] = '\0';
    const char *host = t->host;
    if (host == NULL || host[0] == '\0')
        return err_set(e, ERR_INVALID, "%s has no address to scrape yet", who(t));
    bool v6 = false;
    for (const char *c = host; *c; c++) {
        bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                  (*c >= '0' && *c <= '9') || *c == '.' || *c == '-' || *c == ':';
        if (!ok)
            return err_set(e, ERR_INVALID, "%s: address \"%.64s\" is not an IP or host name",
                           who(t), host);
        v6 = v6 || *c == ':';
    }
    if (t->port < 1 || t->port > 65535)
        return err_set(e, ERR_INVALID, "%s: metrics port %d is not in 1..65535", who(t), t->port);
    const char *path = t->path ? t->path : "/metrics";
    if (path[0] != '/')
        return err_set(e, ERR_INVALID, "%s: metrics path \"%.64s\" must start with '/'", who(t),
                       path);
    for (const char *c = path; *c; c++)
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f || *c == '#')
            return err_set(e, ERR_INVALID,
                           "%s: metrics path \"%.64s\" has a space, control character, '#' "
                           "or non-ASCII byte",
                           who(t), path);
    int n = snprintf(out, cap, v6 ? "http://[%s]:%d%s" : "http://%s:%d%s", host, t->port, path);
    if (n < 0 || (size_t)n >= cap) {
        out[0] = '\0';
        return err_set(e, ERR_INVALID, "%s: metrics URL is longer than %zu bytes", who(t), cap);
    }
    return 0;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct xfer *x = ud;
    size_t n = size * nmemb;
    if (!x->status_checked) {
        long status = 0;
        curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
        x->status_checked = true;
        x->not_ok = status != 200;
    }
    if (n > x->max_body - x->got) {
        x->too_big = true;
        return 0; /* aborts the transfer: the endpoint is not serving sane metrics */
    }
    x->got += n;
    if (x->not_ok)
        return n; /* an error page: read (bounded) so the connection ends cleanly, never parsed */
    if (prom_reader_feed(x->reader, ptr, n, &x->parse_err) < 0) {
        x->bad_text = true;
        return 0; /* the rest cannot make it metrics text again */
    }
    return n;
}

static int xfer_setup(struct xfer *x, const struct scrape_opts *o, struct curl_slist *hdrs)
{
    x->h = curl_easy_init();
    if (x->h == NULL)
        return -1;
    CURL *h = x->h;
    CURLcode c = CURLE_OK;
    /* Collect every setopt result: any failure means libcurl lacks something we rely on. */
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (c == CURLE_OK)                                                                         \
            c = curl_easy_setopt(h, opt, val);                                                     \
    } while (0)
    SET(CURLOPT_URL, x->res->url);
    SET(CURLOPT_PRIVATE, x);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, x);
    SET(CURLOPT_ERRORBUFFER, x->errbuf);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_CONNECTTIMEOUT_MS,
        o->connect_timeout_ms < x->timeout_ms ? o->connect_timeout_ms : x->timeout_ms);
    SET(CURLOPT_TIMEOUT_MS, x->timeout_ms);
    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_body);
    SET(CURLOPT_HTTPHEADER, hdrs);
    SET(CURLOPT_USERAGENT, "ballast/" BALLAST_VERSION);
    /* Pod IPs are reached directly: an http_proxy in the operator's environment must
     * not send scrapes elsewhere. Only plain HTTP, no redirects. */
    SET(CURLOPT_PROXY, "");
    SET(CURLOPT_PROTOCOLS_STR, "http");
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    /* Compressed bodies are welcome; the cap in on_body applies to the decoded text. */
    SET(CURLOPT_ACCEPT_ENCODING, "");
#undef SET
    return c == CURLE_OK ? 0 : -1;
}

/* drop_durations cuts libcurl's timings (" after 3 ms", " after 2001 milliseconds") out
 * of an error text in place: the text reaches status conditions, which must not change
 * while the member keeps failing the same way. */
static void drop_durations(char *s)
{
    static const char *const units[] = {" milliseconds", " ms"};
    char *p = s;
    while ((p = strstr(p, " after ")) != NULL) {
        char *d = p + strlen(" after "), *q = d;
        while (*q >= '0' && *q <= '9')
            q++;
        size_t cut = 0;
        for (size_t u = 0; u < sizeof units / sizeof units[0] && q > d && cut == 0; u++)
            if (strncmp(q, units[u], strlen(units[u])) == 0)
                cut = (size_t)(q - p) + strlen(units[u]);
        if (cut == 0) {
            p++;
            continue;
        }
        memmove(p, p + cut, strlen(p + cut) + 1);
    }
}

/* finish records one scrape's outcome from libcurl's result code. */
static void finish(struct xfer *x, CURLcode cc, bool forced, const struct scrape_opts *o)
{
    struct scrape_result *r = x->res;
    r->seconds = mono_now() - x->t0;
    r->body_len = x->got;
    if (x->h != NULL)
        curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &r->status);
    const char *why = x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc);
    if (forced || cc == CURLE_OPERATION_TIMEDOUT) {
        r->rc = ERR_TIMEOUT;
        snprintf(r->error, sizeof r->error, "no complete answer from %s within %.1fs", r->url,
                 (double)x->timeout_ms / 1000.0);
    } else if (x->too_big || cc == CURLE_FILESIZE_EXCEEDED) {
        r->rc = ERR_INVALID;
        snprintf(r->error, sizeof r->error, "%s sent a body larger than %zu bytes", r->url,
                 o->max_body);
    } else if (x->bad_text) {
        r->rc = x->parse_err.code == ERR_NOMEM ? ERR_NOMEM : ERR_INVALID;
        snprintf(r->error, sizeof r->error, "metrics from %s: %s", r->url, x->parse_err.msg);
    } else if (cc != CURLE_OK) {
        r->rc = ERR_IO;
        snprintf(r->error, sizeof r->error, "GET %s failed: %s", r->url, why);
        drop_durations(r->error);
    } else if (r->status != 200) {
        r->rc = ERR_IO;
        snprintf(r->error, sizeof r->error, "GET %s answered HTTP %ld, expected 200", r->url,
                 r->status);
    } else if (prom_reader_finish(x->reader, &x->parse_err) < 0) {
        r->rc = ERR_INVALID;
        snprintf(r->error, sizeof r->error, "metrics from %s: %s", r->url, x->parse_err.msg);
    } else {
        r->values = calloc((size_t)o->nmetrics + 1, sizeof *r->values);
        if (r->values == NULL) {
            r->rc = ERR_NOMEM;
            snprintf(r->error, sizeof r->error, "out of memory reading %s", r->url);
        } else {
            for (int k = 0; k < o->nmetrics; k++)
                prom_reader_sum(x->reader, k, &r->values[k].sum, &r->values[k].found);
            r->rc = 0;
        }
    }
    prom_reader_free(x->reader);
    x->reader = NULL;
}

int scrape_all(const struct scrape_target *targets, int n, const struct scrape_opts *opts,
               struct scrape_result *results, struct err *e)
{
    if (n < 0 || (n > 0 && (targets == NULL || results == NULL)))
        return err_set(e, ERR_INVALID, "scrape_all: %d targets given without arrays", n);
    if (n == 0)
        return 0;
    memset(results, 0, (size_t)n * sizeof *results);
    struct scrape_opts o = {0};
    if (opts)
        o = *opts;
    if (o.connect_timeout_ms <= 0)
        o.connect_timeout_ms = SCRAPE_CONNECT_TIMEOUT_MS_DEFAULT;
    if (o.timeout_ms <= 0)
        o.timeout_ms = SCRAPE_TIMEOUT_MS_DEFAULT;
    if (o.max_body == 0)
        o.max_body = SCRAPE_MAX_BODY_DEFAULT;
    if (o.nmetrics < 0 || (o.nmetrics > 0 && o.metrics == NULL))
        return err_set(e, ERR_INVALID, "scrape_all: %d metrics given without names", o.nmetrics);
    struct prom_limits lim = {0};
    if (o.limits != NULL)
        lim = *o.limits;
    lim.max_body = o.max_body;
    if (o.max_parallel <= 0)
        o.max_parallel = SCRAPE_MAX_PARALLEL_DEFAULT;

    int rc = 0;
    CURLM *multi = NULL;
    struct curl_slist *hdrs = NULL;
    struct xfer *xs = calloc((size_t)n, sizeof *xs);
    if (xs == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory starting %d scrapes", n);
        goto out;
    }
    /* Ask for the 0.0.4 text format: some exporters offer OpenMetrics or protobuf. */
    hdrs = curl_slist_append(NULL, "Accept: text/plain;version=0.0.4;q=1,*/*;q=0.1");
    multi = curl_multi_init();
    if (hdrs == NULL || multi == NULL) {
        rc = err_set(e, ERR_IO, "libcurl could not set up a multi handle for scraping");
        goto out;
    }

    /* Resolve every target's URL first; an invalid target is done right away. */
    for (int i = 0; i < n; i++) {
        struct xfer *x = &xs[i];
        x->res = &results[i];
        x->t = &targets[i];
        x->max_body = o.max_body;
        char url[1400];
        struct err ue = {0};
        if (scrape_url(&targets[i], url, sizeof url, &ue) < 0) {
            results[i].rc = ERR_INVALID;
            snprintf(results[i].error, sizeof results[i].error, "%s", ue.msg);
            continue;
        }
        results[i].url = strdup(url);
        if (results[i].url == NULL) {
            rc = err_set(e, ERR_NOMEM, "out of memory starting %d scrapes", n);
            goto out;
        }
    }

    /* One budget for the whole call: a scrape queued behind max_parallel slow ones gets
     * what is left of it, so a reconcile never waits more than about timeout_ms. */
    int next = 0, active = 0, finished = 0;
    const double deadline = mono_now() + (double)o.timeout_ms / 1000.0;
    for (;;) {
        while (next < n && active < o.max_parallel) {
            struct xfer *x = &xs[next++];
            if (x->res->url == NULL) {
                finished++;
                continue;
            }
            x->t0 = mono_now();
            x->timeout_ms = (long)((deadline - x->t0) * 1000.0);
            if (x->timeout_ms > o.timeout_ms)
                x->timeout_ms = o.timeout_ms;
            if (x->timeout_ms < 50) {
                x->res->rc = ERR_TIMEOUT;
                snprintf(x->res->error, sizeof x->res->error,
                         "%s was not scraped: the %.1fs budget ran out waiting for members "
                         "that were slow to answer",
                         x->res->url, (double)o.timeout_ms / 1000.0);
                finished++;
                continue;
            }
            x->reader = prom_reader_new(o.metrics, o.nmetrics, &lim);
            if (x->reader == NULL) {
                rc = err_set(e, ERR_NOMEM, "out of memory starting %d scrapes", n);
                goto out;
            }
            if (xfer_setup(x, &o, hdrs) < 0 || curl_multi_add_handle(multi, x->h) != CURLM_OK) {
                rc = err_set(e, ERR_IO, "libcurl could not start a scrape of %s", x->res->url);
                goto out;
            }
            active++;
        }
        if (finished == n)
            break;
        int running = 0;
        CURLMcode mc = curl_multi_perform(multi, &running);
        if (mc != CURLM_OK) {
            rc = err_set(e, ERR_IO, "scraping metrics: %s", curl_multi_strerror(mc));
            goto out;
        }
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            char *priv = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
            struct xfer *x = (struct xfer *)priv;
            CURLcode cc = msg->data.result;
            curl_multi_remove_handle(multi, x->h);
            finish(x, cc, false, &o);
            curl_easy_cleanup(x->h);
            x->h = NULL;
            active--;
            finished++;
        }
        /* Our own deadline, in case libcurl's ever slips (e.g. a stuck resolver). */
        double now = mono_now();
        for (int i = 0; i < next; i++) {
            struct xfer *x = &xs[i];
            if (x->h == NULL || now - x->t0 < (double)(x->timeout_ms + SCRAPE_GRACE_MS) / 1000.0)
                continue;
            curl_multi_remove_handle(multi, x->h);
            finish(x, CURLE_OPERATION_TIMEDOUT, true, &o);
            curl_easy_cleanup(x->h);
            x->h = NULL;
            active--;
            finished++;
        }
        if (finished == n)
            break;
        if (active > 0) {
            mc = curl_multi_poll(multi, NULL, 0, 100, NULL);
            if (mc != CURLM_OK) {
                rc = err_set(e, ERR_IO, "scraping metrics: %s", curl_multi_strerror(mc));
                goto out;
            }
        }
    }
out:
    for (int i = 0; xs && i < n; i++) {
        if (xs[i].h) {
            curl_multi_remove_handle(multi, xs[i].h);
            curl_easy_cleanup(xs[i].h);
        }
        prom_reader_free(xs[i].reader);
    }
    free(xs);
    if (multi)
        curl_multi_cleanup(multi);
    curl_slist_free_all(hdrs);
    return rc;
}

void scrape_results_free(struct scrape_result *results, int n)
{
    for (int i = 0; results && i < n; i++) {
        free(results[i].url);
        free(results[i].values);
        results[i].url = NULL;
        results[i].values = NULL;
    }
}
