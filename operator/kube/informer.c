/* informer.c — the list/watch loop of informer.h. The thread alone writes the cache, so it can read
 * the cache before writing without holding a lock across the two. Errors never end the loop: only
 * stop does; every failure is counted, logged and followed by a jittered back-off. */
#include "kube/informer.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/flag.h"
#include "base/log.h"

struct kube_informer {
    struct kube_client *kc; /* used only by the informer thread once started */
    struct kube_cache *cache;
    const struct kube_res *res;
    char *ns, *label_selector, *field_selector;
    int metadata_only, watch_timeout;
    kube_informer_fn handler;
    void (*compact)(cJSON *obj);
    void *ud;
    double backoff_min, backoff_max;
    char what[128]; /* "configmaps in ns" for logs */

    pthread_t th;
    int running;
    volatile int stop;
    unsigned int seed;

    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC; stop and synced wake it */
    int synced;
    struct kube_informer_stats st;
    char last_error[512];
};

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *dup_or_null(const char *s, int *fail)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *fail = 1;
    return d;
}

struct kube_informer *kube_informer_new(struct kube_config *cfg, const struct kube_informer_opts *o,
                                        struct err *e)
{
    if (!cfg || !o || !o->res) {
        err_set(e, ERR_INVALID, "informer: config and resource are required");
        return NULL;
    }
    struct kube_informer *inf = calloc(1, sizeof *inf);
    int fail = 0;
    if (!inf) {
        err_set(e, ERR_NOMEM, "informer: out of memory");
        return NULL;
    }
    inf->ns = dup_or_null(o->ns, &fail);
    inf->label_selector = dup_or_null(o->label_selector, &fail);
    inf->field_selector = dup_or_null(o->field_selector, &fail);
    inf->cache = kube_cache_new_indexed(o->index_label);
    if (fail || !inf->cache) {
        err_set(e, ERR_NOMEM, "informer: out of memory");
        goto fail;
    }
    inf->kc = kube_client_new(cfg, e);
    if (!inf->kc) {
        err_prefix(e, "informer");
        goto fail;
    }
    inf->res = o->res;
    inf->metadata_only = o->metadata_only;
    inf->watch_timeout = o->watch_timeout_seconds > 0 ? o->watch_timeout_seconds : 0;
    inf->handler = o->handler;
    inf->compact = o->compact;
    inf->ud = o->ud;
    inf->backoff_min = o->backoff_min > 0 ? o->backoff_min : 1.0;
    inf->backoff_max = o->backoff_max > 0 ? o->backoff_max : 30.0;
    if (inf->backoff_max < inf->backoff_min)
        inf->backoff_max = inf->backoff_min;
    snprintf(inf->what, sizeof inf->what, "%s%s%s", o->res->resource, o->ns ? " in " : "",
             o->ns ? o->ns : "");
    inf->seed = (unsigned int)(uint64_t)(mono_now() * 1e6) ^ (unsigned int)(size_t)inf;
    pthread_mutex_init(&inf->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&inf->cv, &ca);
    pthread_condattr_destroy(&ca);
    return inf;
fail:
    kube_cache_free(inf->cache);
    free(inf->ns);
    free(inf->label_selector);
    free(inf->field_selector);
    free(inf);
    return NULL;
}

static void note_error(struct kube_informer *inf, const char *msg)
{
    pthread_mutex_lock(&inf->mu);
    inf->st.errors++;
    snprintf(inf->last_error, sizeof inf->last_error, "%s", msg);
    pthread_mutex_unlock(&inf->mu);
    log_warn("informer error", "resource", inf->what, "error", msg);
}

static void emit(struct kube_informer *inf, enum kube_event_type t, const cJSON *obj)
{
    pthread_mutex_lock(&inf->mu);
    inf->st.events++;
    pthread_mutex_unlock(&inf->mu);
    if (inf->handler)
        inf->handler(t, obj, inf->ud);
}

static void emit_all(struct kube_informer *inf, enum kube_event_type t, const cJSON *arr)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        emit(inf, t, it);
    }
}

struct relist_page {
    struct kube_informer *inf;
    unsigned long gen;
    struct err *e;
};

/* One page of the list into the cache, and to the handler what it added or changed. */
static int relist_page(cJSON *items, void *ud)
{
    struct relist_page *p = ud;
    cJSON *added = NULL, *updated = NULL;
    int rc = kube_cache_replace_page(p->inf->cache, p->gen, items, &added, &updated, p->e);
    if (rc < 0)
        return rc;
    emit_all(p->inf, KUBE_ADDED, added);
    emit_all(p->inf, KUBE_MODIFIED, updated);
    cJSON_Delete(added);
    cJSON_Delete(updated);
    return 0;
}

/* List everything and make the cache exactly that, telling the handler what changed. Page by
 * page: the whole list is never held at once, so a restart beside thousands of objects costs
 * one page more than the steady caches, not the list a second time. A page is parsed whole
 * before it is compacted, at several times its text in cJSON nodes, and every informer relists
 * at once after a restart. With pages of 100 (and pods and engine ConfigMaps cached smaller),
 * a restart's peak at 100 x 6 fell from 58-59 to 30 MiB (hack/bench.sh, 3 restarts each, one
 * cluster), against 19 MiB steady; caught up in 0.9 s against 0.7-1.0 s. It costs more
 * requests (60 for 6,000 pods), each cheaper. */
#define RELIST_PAGE 100
static int relist(struct kube_informer *inf, char *rv, size_t rv_len, struct err *e)
{
    struct kube_list_opts lo = {.label_selector = inf->label_selector,
                                .field_selector = inf->field_selector,
                                .limit = RELIST_PAGE,
                                .metadata_only = inf->metadata_only,
                                .compact = inf->compact};
    struct kube_resp r = {0};
    struct err pe = {0};
    struct relist_page p = {.inf = inf, .gen = kube_cache_replace_begin(inf->cache), .e = &pe};
    cJSON *gone = NULL;
    int rc = kube_list_pages(inf->kc, inf->res, inf->ns, &lo, relist_page, &p, rv, rv_len, &r);
    if (rc < 0) {
        if (pe.code != 0)
            *e = pe; /* the cache's own error (out of memory) */
        else
            kube_resp_err(e, rc, &r, "list %s", inf->what);
        kube_resp_free(&r);
        return rc;
    }
    kube_resp_free(&r);
    rc = kube_cache_replace_end(inf->cache, p.gen, &gone, e);
    if (rc < 0)
        return rc;
    /* synced only once the handler has seen the whole list, as client-go's HasSynced: a
     * controller that waits for it then has every initial key queued */
    emit_all(inf, KUBE_DELETED, gone);
    cJSON_Delete(gone);
    pthread_mutex_lock(&inf->mu);
    if (inf->st.lists++ > 0)
        inf->st.relists++;
    int first = !inf->synced;
    inf->synced = 1;
    inf->last_error[0] = '\0';
    pthread_cond_broadcast(&inf->cv);
    pthread_mutex_unlock(&inf->mu);
    if (first)
        log_info("informer synced", "resource", inf->what, "resourceVersion", rv);
    return 0;
}

static int on_event(enum kube_event_type t, const cJSON *obj, void *ud)
{
    struct kube_informer *inf = ud;
    if (flag_get(&inf->stop))
        return ERR_CANCELLED;
    if (t == KUBE_ADDED || t == KUBE_MODIFIED) {
        cJSON *copy = cJSON_Duplicate(obj, 1);
        struct err e = {0};
        if (!copy)
            return ERR_NOMEM; /* ends the watch; the loop relists */
        if (inf->compact)
            inf->compact(copy);
        int rc = kube_cache_upsert(inf->cache, copy, &e);
        if (rc < 0) {
            note_error(inf, e.msg);
            return 0; /* a nameless object: nothing to cache, nothing to tell */
        }
        if (rc == KUBE_CACHE_SAME)
            return 0; /* a replay of what we have */
        emit(inf, t, obj);
    } else if (t == KUBE_DELETED) {
        const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(md, "name"));
        const char *ns = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(md, "namespace"));
        if (name)
            kube_cache_delete(inf->cache, ns, name);
        emit(inf, t, obj);
    }
    return 0; /* bookmarks only move last_rv, which kube_watch does */
}

/* Sleeps up to seconds; returns early on stop. */
static void pause_for(struct kube_informer *inf, double seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)floor(seconds);
    ts.tv_nsec += (long)((seconds - floor(seconds)) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&inf->mu);
    while (!flag_get(&inf->stop)) {
        if (pthread_cond_timedwait(&inf->cv, &inf->mu, &ts) != 0)
            break;
    }
    pthread_mutex_unlock(&inf->mu);
}

/* The k-th back-off: min * 2^k capped at max, then jittered to 80..120 % within [min, max]. */
static double backoff(struct kube_informer *inf, int k)
{
    double d = inf->backoff_min * ldexp(1.0, k < 30 ? k : 30);
    if (d > inf->backoff_max)
        d = inf->backoff_max;
    d *= 0.8 + 0.4 * ((double)rand_r(&inf->seed) / RAND_MAX);
    if (d < inf->backoff_min)
        d = inf->backoff_min;
    if (d > inf->backoff_max)
        d = inf->backoff_max;
    return d;
}

static void *run(void *arg)
{
    struct kube_informer *inf = arg;
    char rv[128] = "";
    int need_list = 1, failures = 0, watches = 0;
    while (!flag_get(&inf->stop)) {
        struct err e = {0};
        if (need_list) {
            if (relist(inf, rv, sizeof rv, &e) < 0) {
                note_error(inf, e.msg);
                pause_for(inf, backoff(inf, failures++));
                continue;
            }
            need_list = 0;
        }
        struct kube_watch_opts wo = {.label_selector = inf->label_selector,
                                     .field_selector = inf->field_selector,
                                     .timeout_seconds = inf->watch_timeout,
                                     .metadata_only = inf->metadata_only,
                                     .stop = &inf->stop};
        if (watches++ > 0) {
            pthread_mutex_lock(&inf->mu);
            inf->st.watch_restarts++;
            pthread_mutex_unlock(&inf->mu);
        }
        double started = mono_now();
        int rc = kube_watch(inf->kc, inf->res, inf->ns, &wo, on_event, inf, rv, sizeof rv, &e);
        if (flag_get(&inf->stop))
            break;
        if (rc == 0) {
            failures = 0;
            /* a server that ends every watch at once must not make us spin */
            if (mono_now() - started < 1.0)
                pause_for(inf, backoff(inf, 0));
            continue;
        }
        if (rc == ERR_GONE) {
            log_info("watch expired, relisting", "resource", inf->what, "resourceVersion", rv);
            need_list = 1;
            failures = 0;
            continue;
        }
        note_error(inf, e.msg[0] ? e.msg : "watch failed");
        /* a transport failure resumes from last_rv; anything else (an API error, a line we could
         * not read, our handler out of memory: ERR_CANCELLED without stop) may have lost events,
         * so list again */
        if (rc != ERR_IO)
            need_list = 1;
        pause_for(inf, backoff(inf, failures++));
    }
    return NULL;
}

int kube_informer_start(struct kube_informer *inf, struct err *e)
{
    if (!inf)
        return err_set(e, ERR_INVALID, "informer: NULL");
    if (inf->running)
        return err_set(e, ERR_INVALID, "informer for %s: already started", inf->what);
    flag_set(&inf->stop, 0);
    if (pthread_create(&inf->th, NULL, run, inf) != 0)
        return err_set(e, ERR_IO, "informer for %s: cannot start its thread", inf->what);
    inf->running = 1;
    return 0;
}

void kube_informer_request_stop(struct kube_informer *inf)
{
    if (!inf || !inf->running)
        return;
    pthread_mutex_lock(&inf->mu);
    flag_set(&inf->stop, 1);
    pthread_cond_broadcast(&inf->cv);
    pthread_mutex_unlock(&inf->mu);
}

void kube_informer_stop(struct kube_informer *inf)
{
    if (!inf || !inf->running)
        return;
    kube_informer_request_stop(inf);
    pthread_join(inf->th, NULL);
    inf->running = 0;
}

void kube_informer_free(struct kube_informer *inf)
{
    if (!inf)
        return;
    kube_informer_stop(inf);
    kube_client_free(inf->kc);
    kube_cache_free(inf->cache);
    pthread_cond_destroy(&inf->cv);
    pthread_mutex_destroy(&inf->mu);
    free(inf->ns);
    free(inf->label_selector);
    free(inf->field_selector);
    free(inf);
}

int kube_informer_synced(struct kube_informer *inf)
{
    if (!inf)
        return 0;
    pthread_mutex_lock(&inf->mu);
    int s = inf->synced;
    pthread_mutex_unlock(&inf->mu);
    return s;
}

int kube_informer_wait_synced(struct kube_informer *inf, double timeout, volatile int *stop)
{
    if (!inf)
        return 0;
    double end = mono_now() + timeout;
    pthread_mutex_lock(&inf->mu);
    while (!inf->synced && !flag_get(stop)) {
        double left = end - mono_now();
        if (left <= 0)
            break;
        if (left > 0.1)
            left = 0.1; /* *stop is set without our lock: look at it often */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += (long)(left * 1e9);
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&inf->cv, &inf->mu, &ts);
    }
    int s = inf->synced;
    pthread_mutex_unlock(&inf->mu);
    return s;
}

struct kube_cache *kube_informer_cache(struct kube_informer *inf)
{
    return inf ? inf->cache : NULL;
}

void kube_informer_get_stats(struct kube_informer *inf, struct kube_informer_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (!inf)
        return;
    pthread_mutex_lock(&inf->mu);
    *out = inf->st;
    pthread_mutex_unlock(&inf->mu);
}

void kube_informer_last_error(struct kube_informer *inf, char *out, size_t n)
{
    if (!n)
        return;
    out[0] = '\0';
    if (!inf)
        return;
    pthread_mutex_lock(&inf->mu);
    snprintf(out, n, "%s", inf->last_error);
    pthread_mutex_unlock(&inf->mu);
}
