/* workqueue.c — the key queue of workqueue.h: one record per key (queued / processing / waiting /
 * back-off count) in a hash table, a FIFO of ready keys and a binary min-heap of waiting ones by
 * deadline (each record knows its heap slot, so "keep the earlier deadline" is a decrease-key), all
 * under one mutex: adds and get are O(log waiting). A record lives only while it has some state. */
#include "kube/workqueue.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/htab.h"

struct wq_item {
    struct htab_node node; /* node.key is key */
    char *key;
    struct wq_item *qnext; /* ready FIFO */
    int dirty;             /* wants processing: in the FIFO, or re-queued at done when processing */
    int processing;        /* handed out by get, done not yet called */
    int waiting;           /* in the heap, at heap[hidx] */
    int failures;
    size_t hidx;
    double due;
    uint64_t seq; /* breaks ties of due: the one whose deadline was set first comes out first */
};

struct kube_wq {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC */
    struct htab items; /* of struct wq_item */
    struct wq_item *qhead, *qtail;
    size_t qlen;
    struct wq_item **heap; /* owned array (the items are the table's); heap[0] is due first */
    size_t dlen, dcap;
    uint64_t dseq;
    int shutdown;
    double base_delay, max_delay;
    kube_wq_clock_fn clock;
    void *clock_ud;
};

double kube_wq_monotonic(void *ud)
{
    (void)ud;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct wq_item *find(struct kube_wq *q, const char *key)
{
    struct htab_node *n = htab_find(&q->items, key);
    return n ? HTAB_ENTRY(n, struct wq_item, node) : NULL;
}

static struct wq_item *find_or_add(struct kube_wq *q, const char *key)
{
    struct wq_item *it = find(q, key);
    if (it)
        return it;
    it = calloc(1, sizeof *it);
    if (!it)
        return NULL;
    it->key = strdup(key);
    if (!it->key) {
        free(it);
        return NULL;
    }
    it->node.key = it->key;
    htab_insert(&q->items, &it->node);
    return it;
}

/* Drops the record once nothing refers to it. */
static void maybe_free(struct kube_wq *q, struct wq_item *it)
{
    if (it->dirty || it->processing || it->waiting || it->failures)
        return;
    htab_remove(&q->items, &it->node);
    free(it->key);
    free(it);
}

static void push_ready(struct kube_wq *q, struct wq_item *it)
{
    it->qnext = NULL;
    if (q->qtail)
        q->qtail->qnext = it;
    else
        q->qhead = it;
    q->qtail = it;
    q->qlen++;
}

/* The add of client-go: mark dirty; queue unless a worker holds it (done re-queues it). */
static void add_locked(struct kube_wq *q, struct wq_item *it)
{
    if (it->dirty)
        return;
    it->dirty = 1;
    if (!it->processing) {
        push_ready(q, it);
        pthread_cond_signal(&q->cv);
    }
}

/* a comes out before b */
static int due_before(const struct wq_item *a, const struct wq_item *b)
{
    return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void heap_set(struct kube_wq *q, size_t i, struct wq_item *it)
{
    q->heap[i] = it;
    it->hidx = i;
}

static void sift_up(struct kube_wq *q, size_t i)
{
    struct wq_item *it = q->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!due_before(it, q->heap[parent]))
            break;
        heap_set(q, i, q->heap[parent]);
        i = parent;
    }
    heap_set(q, i, it);
}

static void sift_down(struct kube_wq *q, size_t i)
{
    struct wq_item *it = q->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= q->dlen)
            break;
        if (c + 1 < q->dlen && due_before(q->heap[c + 1], q->heap[c]))
            c++;
        if (!due_before(q->heap[c], it))
            break;
        heap_set(q, i, q->heap[c]);
        i = c;
    }
    heap_set(q, i, it);
}

/* Room for one more waiting key, so that insert_waiting cannot fail. 0 or ERR_NOMEM. */
static int heap_reserve(struct kube_wq *q)
{
    if (q->dlen < q->dcap)
        return 0;
    size_t cap = q->dcap ? q->dcap * 2 : 64;
    struct wq_item **h = realloc(q->heap, cap * sizeof *h);
    if (!h)
        return ERR_NOMEM;
    q->heap = h;
    q->dcap = cap;
    return 0;
}

static void unlink_waiting(struct kube_wq *q, struct wq_item *it)
{
    size_t i = it->hidx;
    struct wq_item *last = q->heap[--q->dlen];
    it->waiting = 0;
    if (i == q->dlen)
        return;
    /* the last leaf fills the hole, then moves whichever way restores the order */
    heap_set(q, i, last);
    if (i > 0 && due_before(last, q->heap[(i - 1) / 2]))
        sift_up(q, i);
    else
        sift_down(q, i);
}

/* The caller reserved a slot (heap_reserve). */
static void insert_waiting(struct kube_wq *q, struct wq_item *it, double due)
{
    if (it->waiting) {
        if (it->due <= due)
            return;
        /* decrease-key: as if removed and added again, so it goes after keys already due then */
        it->due = due;
        it->seq = q->dseq++;
        sift_up(q, it->hidx);
    } else {
        it->due = due;
        it->seq = q->dseq++;
        it->waiting = 1;
        heap_set(q, q->dlen++, it);
        sift_up(q, it->hidx);
    }
    /* a waiter may be sleeping until a later deadline */
    pthread_cond_broadcast(&q->cv);
}

/* Moves the waiting keys that are due into the FIFO, in deadline order. */
static void promote_due(struct kube_wq *q, double now)
{
    while (q->dlen > 0 && q->heap[0]->due <= now) {
        struct wq_item *it = q->heap[0];
        unlink_waiting(q, it);
        add_locked(q, it);
    }
}

struct kube_wq *kube_wq_new(const struct kube_wq_opts *o, struct err *e)
{
    struct kube_wq *q = calloc(1, sizeof *q);
    if (!q)
        goto nomem;
    if (htab_init(&q->items) < 0)
        goto nomem;
    q->base_delay = o && o->base_delay > 0 ? o->base_delay : 0.5;
    q->max_delay = o && o->max_delay > 0 ? o->max_delay : 300.0;
    q->clock = o && o->clock ? o->clock : kube_wq_monotonic;
    q->clock_ud = o ? o->clock_ud : NULL;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&q->mu, NULL);
    return q;
nomem:
    if (q)
        htab_free(&q->items);
    free(q);
    err_set(e, ERR_NOMEM, "work queue: out of memory");
    return NULL;
}

void kube_wq_free(struct kube_wq *q)
{
    if (!q)
        return;
    struct htab_iter hi;
    struct htab_node *n;
    htab_iter_init(&hi, &q->items);
    while ((n = htab_iter_next(&hi)) != NULL) {
        struct wq_item *it = HTAB_ENTRY(n, struct wq_item, node);
        free(it->key);
        free(it);
    }
    htab_free(&q->items);
    free(q->heap);
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    free(q);
}

int kube_wq_add_after(struct kube_wq *q, const char *key, double seconds)
{
    if (!q || !key || !*key)
        return ERR_INVALID;
    if (isnan(seconds))
        return ERR_INVALID;
    int rc = 0;
    pthread_mutex_lock(&q->mu);
    if (q->shutdown)
        goto out;
    /* reserved before any change, so an out-of-memory add leaves the queue as it was */
    struct wq_item *it = seconds > 0 && heap_reserve(q) < 0 ? NULL : find_or_add(q, key);
    if (!it) {
        rc = ERR_NOMEM;
        goto out;
    }
    if (seconds <= 0) {
        if (it->waiting)
            unlink_waiting(q, it); /* due now: the earlier deadline wins */
        add_locked(q, it);
    } else {
        insert_waiting(q, it, q->clock(q->clock_ud) + seconds);
    }
out:
    pthread_mutex_unlock(&q->mu);
    return rc;
}

int kube_wq_add(struct kube_wq *q, const char *key)
{
    return kube_wq_add_after(q, key, 0);
}

int kube_wq_add_rate_limited(struct kube_wq *q, const char *key, double *delay)
{
    if (!q || !key || !*key)
        return ERR_INVALID;
    int rc = 0;
    pthread_mutex_lock(&q->mu);
    if (q->shutdown)
        goto out;
    struct wq_item *it = heap_reserve(q) < 0 ? NULL : find_or_add(q, key);
    if (!it) {
        rc = ERR_NOMEM;
        goto out;
    }
    /* 2^failures stops mattering past the cap; clamp the exponent so it cannot overflow */
    double d = q->base_delay * ldexp(1.0, it->failures < 60 ? it->failures : 60);
    if (d > q->max_delay)
        d = q->max_delay;
    if (it->failures < 1000000)
        it->failures++;
    if (delay)
        *delay = d;
    insert_waiting(q, it, q->clock(q->clock_ud) + d);
out:
    pthread_mutex_unlock(&q->mu);
    return rc;
}

void kube_wq_forget(struct kube_wq *q, const char *key)
{
    if (!q || !key)
        return;
    pthread_mutex_lock(&q->mu);
    struct wq_item *it = find(q, key);
    if (it) {
        it->failures = 0;
        maybe_free(q, it);
    }
    pthread_mutex_unlock(&q->mu);
}

int kube_wq_requeues(struct kube_wq *q, const char *key)
{
    if (!q || !key)
        return 0;
    pthread_mutex_lock(&q->mu);
    struct wq_item *it = find(q, key);
    int n = it ? it->failures : 0;
    pthread_mutex_unlock(&q->mu);
    return n;
}

static void add_seconds(struct timespec *ts, double s)
{
    if (s > 1e6)
        s = 1e6; /* a waiting key a fortnight away still wakes us now and then */
    time_t whole = (time_t)s;
    long ns = (long)((s - (double)whole) * 1e9);
    ts->tv_sec += whole;
    ts->tv_nsec += ns;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

char *kube_wq_get(struct kube_wq *q, double timeout)
{
    if (!q)
        return NULL;
    char *key = NULL;
    double start = kube_wq_monotonic(NULL);
    pthread_mutex_lock(&q->mu);
    for (;;) {
        if (q->shutdown)
            break;
        promote_due(q, q->clock(q->clock_ud));
        if (q->qhead) {
            struct wq_item *it = q->qhead;
            q->qhead = it->qnext;
            if (!q->qhead)
                q->qtail = NULL;
            q->qlen--;
            it->qnext = NULL;
            key = strdup(it->key);
            if (!key) {
                push_ready(q, it); /* keep it for a later get */
                break;
            }
            it->dirty = 0;
            it->processing = 1;
            break;
        }
        double now = kube_wq_monotonic(NULL);
        double left = timeout < 0 ? 1e9 : start + timeout - now;
        if (left <= 0)
            break;
        /* sleep until the first waiting key is due (on q->clock's scale) or the timeout */
        if (q->dlen > 0) {
            double due_in = q->heap[0]->due - q->clock(q->clock_ud);
            if (due_in < left)
                left = due_in > 0.001 ? due_in : 0.001;
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        add_seconds(&ts, left);
        pthread_cond_timedwait(&q->cv, &q->mu, &ts);
    }
    pthread_mutex_unlock(&q->mu);
    return key;
}

void kube_wq_done(struct kube_wq *q, const char *key)
{
    if (!q || !key)
        return;
    pthread_mutex_lock(&q->mu);
    struct wq_item *it = find(q, key);
    if (it && it->processing) {
        it->processing = 0;
        if (it->dirty && !q->shutdown) {
            push_ready(q, it);
            pthread_cond_signal(&q->cv);
        }
        maybe_free(q, it);
    }
    pthread_mutex_unlock(&q->mu);
}

void kube_wq_shutdown(struct kube_wq *q)
{
    if (!q)
        return;
    pthread_mutex_lock(&q->mu);
    q->shutdown = 1;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

int kube_wq_shutting_down(struct kube_wq *q)
{
    if (!q)
        return 1;
    pthread_mutex_lock(&q->mu);
    int s = q->shutdown;
    pthread_mutex_unlock(&q->mu);
    return s;
}

size_t kube_wq_len(struct kube_wq *q)
{
    if (!q)
        return 0;
    pthread_mutex_lock(&q->mu);
    promote_due(q, q->clock(q->clock_ud));
    size_t n = q->qlen;
    pthread_mutex_unlock(&q->mu);
    return n;
}

size_t kube_wq_waiting(struct kube_wq *q)
{
    if (!q)
        return 0;
    pthread_mutex_lock(&q->mu);
    promote_due(q, q->clock(q->clock_ud));
    size_t n = q->dlen;
    pthread_mutex_unlock(&q->mu);
    return n;
}
