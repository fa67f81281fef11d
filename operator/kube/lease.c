/* lease.c — the election of lease.h: a pure decision on the Lease read, one GET + create/PUT per
 * attempt (the resourceVersion on the PUT makes the API server the referee), and a thread that
 * repeats the attempt every retry period and drops leadership when renewals stop succeeding. */
#include "kube/lease.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/flag.h"
#include "base/log.h"
#include "base/num.h"
#include "kube/client.h"

/* ---- pure part ---- */

static int take_digits(const char **p, int n, int *v)
{
    int x = 0;
    for (int i = 0; i < n; i++) {
        char ch = (*p)[i];
        if (ch < '0' || ch > '9')
            return -1;
        x = x * 10 + (ch - '0');
    }
    *p += n;
    *v = x;
    return 0;
}

static int expect(const char **p, char ch)
{
    if (**p != ch)
        return -1;
    (*p)++;
    return 0;
}

int kube_lease_parse_time(const char *s, double *out)
{
    if (!s || !out)
        return ERR_INVALID;
    const char *p = s;
    int Y, M, D, h, m, sec;
    if (take_digits(&p, 4, &Y) || expect(&p, '-') || take_digits(&p, 2, &M) || expect(&p, '-') ||
        take_digits(&p, 2, &D) || (*p != 'T' && *p != 't'))
        return ERR_INVALID;
    p++;
    if (take_digits(&p, 2, &h) || expect(&p, ':') || take_digits(&p, 2, &m) || expect(&p, ':') ||
        take_digits(&p, 2, &sec))
        return ERR_INVALID;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
        return ERR_INVALID;
    double frac = 0, scale = 0.1;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return ERR_INVALID;
        for (int i = 0; *p >= '0' && *p <= '9'; p++, i++) {
            if (i >= 12)
                return ERR_INVALID;
            frac += (*p - '0') * scale;
            scale /= 10;
        }
    }
    int off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om;
        p++;
        if (take_digits(&p, 2, &oh) || expect(&p, ':') || take_digits(&p, 2, &om) || oh > 23 ||
            om > 59)
            return ERR_INVALID;
        off = sign * (oh * 3600 + om * 60);
    } else {
        return ERR_INVALID;
    }
    if (*p != '\0')
        return ERR_INVALID;
    struct tm tm = {.tm_year = Y - 1900,
                    .tm_mon = M - 1,
                    .tm_mday = D,
                    .tm_hour = h,
                    .tm_min = m,
                    .tm_sec = sec};
    time_t t = timegm(&tm);
    *out = (double)t - off + frac;
    return 0;
}

void kube_lease_format_time(double t, char *out, size_t n)
{
    if (n == 0)
        return;
    time_t whole = (time_t)floor(t);
    long us = (long)((t - (double)whole) * 1e6);
    if (us < 0)
        us = 0;
    if (us > 999999)
        us = 999999;
    struct tm tm;
    if (!gmtime_r(&whole, &tm)) {
        out[0] = '\0';
        return;
    }
    char head[32];
    strftime(head, sizeof head, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%06ldZ", head, us);
}

static const cJSON *spec_item(const cJSON *lease, const char *field)
{
    return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(lease, "spec"), field);
}

enum kube_lease_action kube_lease_decide(const cJSON *lease, const char *identity,
                                         struct kube_lease_seen *seen, double now)
{
    if (!cJSON_IsObject(lease))
        return KUBE_LEASE_ACQUIRE;
    const char *holder = cJSON_GetStringValue(spec_item(lease, "holderIdentity"));
    if (!holder || !*holder)
        return KUBE_LEASE_ACQUIRE;
    if (identity && strcmp(holder, identity) == 0)
        return KUBE_LEASE_RENEW;
    const cJSON *dur = spec_item(lease, "leaseDurationSeconds");
    const char *renew_s = cJSON_GetStringValue(spec_item(lease, "renewTime"));
    double renew;
    int64_t d;
    /* an int32 in the API; 1e300 or NaN says nothing about the holder being alive */
    if (num_json_i64(dur, "leaseDurationSeconds", 1, INT32_MAX, &d, NULL) != 0 ||
        kube_lease_parse_time(renew_s, &renew) != 0)
        return KUBE_LEASE_ACQUIRE; /* nothing says it is alive; the rv-guarded PUT referees */
    /* renewTime is compared as text, as a change, never with our clock */
    const char *rv = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(lease, "metadata"), "resourceVersion"));
    char rec[sizeof seen->record];
    snprintf(rec, sizeof rec, "%.100s|%.255s|%.64s|%lld", rv ? rv : "", holder, renew_s,
             (long long)d);
    if (!seen->valid || strcmp(seen->record, rec) != 0) {
        snprintf(seen->record, sizeof seen->record, "%s", rec);
        seen->at = now;
        seen->valid = 1;
    }
    return seen->at + (double)d < now ? KUBE_LEASE_ACQUIRE : KUBE_LEASE_STANDBY;
}

int kube_lease_holds(double last_renew, double renew_deadline, double now)
{
    return now - last_renew < renew_deadline;
}

/* ---- the election ---- */

struct kube_lease {
    struct kube_config *cfg;
    struct kube_client *kc; /* used by one thread at a time: the election thread, or try/release */
    char *ns, *name, *identity;
    double dur, deadline, retry;
    int no_release;
    void (*on_started)(void *);
    void (*on_stopped)(void *);
    void (*on_new_leader)(const char *, void *);
    void *ud;

    pthread_t th;
    int running;
    volatile int stop;
    unsigned int seed;

    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC; wakes the sleeping thread on stop */
    int leader;
    double last_renew; /* monotonic time the last successful renewal was sent */
    char holder[256];
    struct kube_lease_seen seen; /* the other holder's record; election thread or try only */
};

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct kube_lease *kube_lease_new(struct kube_config *cfg, const struct kube_lease_opts *o,
                                  struct err *e)
{
    if (!cfg || !o || !o->ns || !*o->ns || !o->name || !*o->name || !o->identity || !*o->identity) {
        err_set(e, ERR_INVALID, "lease: namespace, name and identity are required");
        return NULL;
    }
    double dur = o->lease_duration > 0 ? o->lease_duration : 15;
    double deadline = o->renew_deadline > 0 ? o->renew_deadline : 10;
    double retry = o->retry_period > 0 ? o->retry_period : 2;
    if (deadline >= dur || retry >= deadline) {
        err_set(e, ERR_INVALID,
                "lease: need retry period (%.1fs) < renew deadline (%.1fs) < lease duration "
                "(%.1fs), or two replicas may lead at once",
                retry, deadline, dur);
        return NULL;
    }
    struct kube_lease *l = calloc(1, sizeof *l);
    if (!l)
        goto nomem;
    l->ns = strdup(o->ns);
    l->name = strdup(o->name);
    l->identity = strdup(o->identity);
    if (!l->ns || !l->name || !l->identity)
        goto nomem;
    l->kc = kube_client_new(cfg, e);
    if (!l->kc) {
        err_prefix(e, "lease");
        goto fail;
    }
    /* a renewal stuck in a slow request must not outlive the renew deadline by much */
    kube_client_set_limits(l->kc, (long)ceil(deadline / 2), 2);
    l->cfg = cfg;
    l->dur = dur;
    l->deadline = deadline;
    l->retry = retry;
    l->no_release = o->no_release;
    l->on_started = o->on_started_leading;
    l->on_stopped = o->on_stopped_leading;
    l->on_new_leader = o->on_new_leader;
    l->ud = o->ud;
    l->seed = (unsigned int)(uint64_t)(mono_now() * 1e6) ^ (unsigned int)(size_t)l;
    pthread_mutex_init(&l->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&l->cv, &ca);
    pthread_condattr_destroy(&ca);
    return l;
nomem:
    err_set(e, ERR_NOMEM, "lease: out of memory");
fail:
    if (l) {
        free(l->ns);
        free(l->name);
        free(l->identity);
        free(l);
    }
    return NULL;
}

static void note_holder(struct kube_lease *l, const char *holder)
{
    int changed;
    pthread_mutex_lock(&l->mu);
    changed = strcmp(l->holder, holder) != 0;
    if (changed)
        snprintf(l->holder, sizeof l->holder, "%s", holder);
    pthread_mutex_unlock(&l->mu);
    if (changed) {
        log_info("lease holder changed", "lease", l->name, "holder", holder, "me", l->identity);
        if (l->on_new_leader)
            l->on_new_leader(holder, l->ud);
    }
}

static int set_str(cJSON *obj, const char *k, const char *v)
{
    cJSON *s = cJSON_CreateString(v);
    if (!s)
        return ERR_NOMEM;
    if (cJSON_GetObjectItemCaseSensitive(obj, k))
        cJSON_ReplaceItemInObjectCaseSensitive(obj, k, s);
    else
        cJSON_AddItemToObject(obj, k, s);
    return 0;
}

static int set_num(cJSON *obj, const char *k, double v)
{
    cJSON *n = cJSON_CreateNumber(v);
    if (!n)
        return ERR_NOMEM;
    if (cJSON_GetObjectItemCaseSensitive(obj, k))
        cJSON_ReplaceItemInObjectCaseSensitive(obj, k, n);
    else
        cJSON_AddItemToObject(obj, k, n);
    return 0;
}

/* Fills spec for holder; `acquire` also sets acquireTime and bumps leaseTransitions when the
 * holder changes. */
static int fill_spec(cJSON *lease, const char *holder, double dur_s, double now, int acquire)
{
    cJSON *spec = cJSON_GetObjectItemCaseSensitive(lease, "spec");
    if (!cJSON_IsObject(spec)) {
        cJSON_DeleteItemFromObjectCaseSensitive(lease, "spec");
        spec = cJSON_AddObjectToObject(lease, "spec");
        if (!spec)
            return ERR_NOMEM;
    }
    char ts[40];
    kube_lease_format_time(now, ts, sizeof ts);
    const char *old =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(spec, "holderIdentity"));
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(spec, "leaseTransitions");
    int64_t tr_n = 0; /* an int32 in the API; garbage counts as 0 */
    (void)num_json_i64(tr, "leaseTransitions", 0, INT32_MAX - 1, &tr_n, NULL);
    double transitions = (double)tr_n;
    if (acquire && old && strcmp(old, holder) != 0)
        transitions += 1; /* as client-go: also when taking a released lease */
    if (set_num(spec, "leaseTransitions", transitions) || set_str(spec, "holderIdentity", holder) ||
        set_num(spec, "leaseDurationSeconds", dur_s) || set_str(spec, "renewTime", ts) ||
        (acquire && set_str(spec, "acquireTime", ts)))
        return ERR_NOMEM;
    return 0;
}

static int lease_dur_s(const struct kube_lease *l)
{
    int d = (int)ceil(l->dur);
    return d < 1 ? 1 : d;
}

/* One GET + create/PUT. 1 = we hold it (last_renew updated), 0 = another does, < 0 error. */
static int attempt(struct kube_lease *l, struct err *e)
{
    struct kube_resp r = {0};
    cJSON *obj = NULL;
    double sent = mono_now(), now = wall_now();
    int rc = kube_get(l->kc, &KUBE_LEASES, l->ns, l->name, &r);
    if (rc == ERR_NOTFOUND) {
        kube_resp_free(&r);
        obj = cJSON_CreateObject();
        cJSON *md = obj ? cJSON_AddObjectToObject(obj, "metadata") : NULL;
        if (!md || !cJSON_AddStringToObject(obj, "apiVersion", "coordination.k8s.io/v1") ||
            !cJSON_AddStringToObject(obj, "kind", "Lease") ||
            !cJSON_AddStringToObject(md, "name", l->name) ||
            !cJSON_AddStringToObject(md, "namespace", l->ns) ||
            fill_spec(obj, l->identity, lease_dur_s(l), now, 1)) {
            rc = err_set(e, ERR_NOMEM, "lease: out of memory");
            goto out;
        }
        rc = kube_create(l->kc, &KUBE_LEASES, l->ns, obj, &r);
        if (rc == ERR_CONFLICT) { /* AlreadyExists: another replica created it first */
            rc = 0;
            goto out;
        }
        if (rc < 0) {
            kube_resp_err(e, rc, &r, "create lease %s/%s", l->ns, l->name);
            goto out;
        }
        goto won;
    }
    if (rc < 0) {
        kube_resp_err(e, rc, &r, "get lease %s/%s", l->ns, l->name);
        goto out;
    }
    obj = r.body;
    r.body = NULL;
    const char *holder = cJSON_GetStringValue(spec_item(obj, "holderIdentity"));
    note_holder(l, holder ? holder : "");
    enum kube_lease_action act = kube_lease_decide(obj, l->identity, &l->seen, mono_now());
    if (act == KUBE_LEASE_STANDBY) {
        rc = 0;
        goto out;
    }
    if (fill_spec(obj, l->identity, lease_dur_s(l), now, act == KUBE_LEASE_ACQUIRE)) {
        rc = err_set(e, ERR_NOMEM, "lease: out of memory");
        goto out;
    }
    kube_resp_free(&r);
    rc = kube_update(l->kc, &KUBE_LEASES, l->ns, l->name, obj, &r);
    if (rc == ERR_CONFLICT) { /* someone wrote it since our GET: they won this round */
        rc = 0;
        goto out;
    }
    if (rc < 0) {
        kube_resp_err(e, rc, &r, "update lease %s/%s", l->ns, l->name);
        goto out;
    }
won:
    pthread_mutex_lock(&l->mu);
    l->last_renew = sent;
    pthread_mutex_unlock(&l->mu);
    note_holder(l, l->identity);
    rc = 1;
out:
    cJSON_Delete(obj);
    kube_resp_free(&r);
    return rc;
}

int kube_lease_try(struct kube_lease *l, struct err *e)
{
    if (!l)
        return err_set(e, ERR_INVALID, "lease: NULL");
    if (l->running)
        return err_set(e, ERR_INVALID, "lease: the election thread is running");
    int rc = attempt(l, e);
    pthread_mutex_lock(&l->mu);
    l->leader = rc == 1;
    pthread_mutex_unlock(&l->mu);
    return rc;
}

static int release(struct kube_lease *l, struct err *e)
{
    struct kube_resp r = {0};
    cJSON *obj = NULL;
    int rc = kube_get(l->kc, &KUBE_LEASES, l->ns, l->name, &r);
    if (rc == ERR_NOTFOUND) {
        rc = 0;
        goto out;
    }
    if (rc < 0) {
        kube_resp_err(e, rc, &r, "get lease %s/%s", l->ns, l->name);
        goto out;
    }
    obj = r.body;
    r.body = NULL;
    const char *holder = cJSON_GetStringValue(spec_item(obj, "holderIdentity"));
    if (!holder || strcmp(holder, l->identity) != 0)
        goto out; /* not ours: nothing to give back */
    /* as client-go: empty holder, 1 s duration, so the next replica need not wait */
    if (fill_spec(obj, "", 1, wall_now(), 0)) {
        rc = err_set(e, ERR_NOMEM, "lease: out of memory");
        goto out;
    }
    kube_resp_free(&r);
    rc = kube_update(l->kc, &KUBE_LEASES, l->ns, l->name, obj, &r);
    if (rc < 0)
        kube_resp_err(e, rc, &r, "release lease %s/%s", l->ns, l->name);
    else
        log_info("lease released", "lease", l->name, "me", l->identity);
out:
    cJSON_Delete(obj);
    kube_resp_free(&r);
    return rc;
}

int kube_lease_release(struct kube_lease *l, struct err *e)
{
    if (!l)
        return err_set(e, ERR_INVALID, "lease: NULL");
    if (l->running)
        return err_set(e, ERR_INVALID, "lease: the election thread is running");
    pthread_mutex_lock(&l->mu);
    l->leader = 0;
    pthread_mutex_unlock(&l->mu);
    return release(l, e);
}

int kube_lease_is_leader(struct kube_lease *l)
{
    if (!l)
        return 0;
    pthread_mutex_lock(&l->mu);
    int yes = l->leader && kube_lease_holds(l->last_renew, l->deadline, mono_now());
    pthread_mutex_unlock(&l->mu);
    return yes;
}

void kube_lease_holder(struct kube_lease *l, char *out, size_t n)
{
    if (!n)
        return;
    out[0] = '\0';
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    snprintf(out, n, "%s", l->holder);
    pthread_mutex_unlock(&l->mu);
}

static void sleep_until_stop(struct kube_lease *l, double seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long ns = (long)((seconds - floor(seconds)) * 1e9);
    ts.tv_sec += (time_t)floor(seconds);
    ts.tv_nsec += ns;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&l->mu);
    while (!flag_get(&l->stop)) {
        if (pthread_cond_timedwait(&l->cv, &l->mu, &ts) != 0)
            break; /* timed out */
    }
    pthread_mutex_unlock(&l->mu);
}

static void lose(struct kube_lease *l, const char *why)
{
    pthread_mutex_lock(&l->mu);
    int was = l->leader;
    l->leader = 0;
    pthread_mutex_unlock(&l->mu);
    if (was) {
        log_warn("stopped leading", "lease", l->name, "me", l->identity, "why", why);
        if (l->on_stopped)
            l->on_stopped(l->ud);
    }
}

static void *run(void *arg)
{
    struct kube_lease *l = arg;
    while (!flag_get(&l->stop)) {
        struct err e = {0};
        int rc = attempt(l, &e);
        pthread_mutex_lock(&l->mu);
        int was = l->leader;
        double since = mono_now() - l->last_renew;
        if (rc == 1)
            l->leader = 1;
        pthread_mutex_unlock(&l->mu);
        if (rc == 1 && !was) {
            log_info("started leading", "lease", l->name, "me", l->identity);
            if (l->on_started)
                l->on_started(l->ud);
        } else if (rc == 0 && was) {
            lose(l, "another replica holds the lease");
        } else if (rc < 0) {
            log_warn("lease attempt failed", "lease", l->name, "error", e.msg);
            if (was && since >= l->deadline)
                lose(l, "could not renew before the renew deadline");
        }
        /* standing by: jitter so replicas do not knock in step (client-go uses 1.2x) */
        double wait = l->retry;
        if (rc != 1)
            wait *= 1.0 + 0.2 * ((double)rand_r(&l->seed) / RAND_MAX);
        if (was && rc < 0) {
            /* renewals failing: try again sooner, but still before the deadline passes */
            double left = l->deadline - since;
            if (left > 0 && left < wait)
                wait = left;
            if (wait < 0.05)
                wait = 0.05;
        }
        sleep_until_stop(l, wait);
    }
    pthread_mutex_lock(&l->mu);
    int was = l->leader;
    pthread_mutex_unlock(&l->mu);
    if (was && !l->no_release) {
        struct err e = {0};
        if (release(l, &e) < 0)
            log_warn("could not release the lease", "lease", l->name, "error", e.msg);
    }
    lose(l, "shutting down");
    return NULL;
}

int kube_lease_start(struct kube_lease *l, struct err *e)
{
    if (!l)
        return err_set(e, ERR_INVALID, "lease: NULL");
    if (l->running)
        return err_set(e, ERR_INVALID, "lease: already started");
    flag_set(&l->stop, 0);
    if (pthread_create(&l->th, NULL, run, l) != 0)
        return err_set(e, ERR_IO, "lease: cannot start the election thread");
    l->running = 1;
    return 0;
}

void kube_lease_stop(struct kube_lease *l)
{
    if (!l || !l->running)
        return;
    pthread_mutex_lock(&l->mu);
    flag_set(&l->stop, 1);
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->th, NULL);
    l->running = 0;
}

void kube_lease_free(struct kube_lease *l)
{
    if (!l)
        return;
    kube_lease_stop(l);
    kube_client_free(l->kc);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    free(l->ns);
    free(l->name);
    free(l->identity);
    free(l);
}
