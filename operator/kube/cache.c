/* cache.c — the object store of cache.h: a hash table of entries by key, a second hash table
 * from owner UID to the entries that name it, and (optionally) a third from "ns/label value" to
 * the entries that carry it, all under one rwlock. A relist marks the entries it
 * sees with a new generation and sweeps the rest out, so vanished objects come back as "gone".
 * An entry keeps its object as compact JSON text, parsed again for each reader: a parsed cJSON
 * tree costs several times the bytes of its text (a node, a key and a value allocation per
 * field), and a fleet's worth of cached children is most of the operator's memory. */
#include "kube/cache.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/htab.h"

struct centry {
    struct htab_node node; /* node.key is key */
    char *key;
    char *text;    /* owned: the object, unformatted JSON */
    char *rv;      /* owned: its metadata.resourceVersion, NULL when it has none */
    char **owners; /* owner uids (owned strings) */
    size_t nowners;
    char *lkey; /* "ns/value" of the indexed label (owned), NULL when absent */
    unsigned long gen;
    size_t bytes; /* what entry_bytes counted when it was stored */
};

/* The entries that share one index key (an owner uid, or "ns/label value"). */
struct owner_set {
    struct htab_node node; /* node.key is uid */
    char *uid;
    struct centry **v;
    size_t n, cap;
};

struct kube_cache {
    pthread_rwlock_t lock;
    struct htab entries; /* of struct centry */
    struct htab owners;  /* of struct owner_set, by owner uid */
    struct htab labels;  /* of struct owner_set, by "ns/value" of label */
    char *label;         /* the indexed label key, NULL = none */
    unsigned long gen;
    size_t bytes; /* the entries' entry_bytes, summed */
};

char *kube_cache_key(const char *ns, const char *name, char *out, size_t n)
{
    if (n == 0)
        return out;
    if (ns && *ns)
        snprintf(out, n, "%s/%s", ns, name ? name : "");
    else
        snprintf(out, n, "%s", name ? name : "");
    return out;
}

static const char *md_str(const cJSON *obj, const char *field)
{
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(md, field));
}

char *kube_cache_obj_key(const cJSON *obj, char *out, size_t n)
{
    const char *name = md_str(obj, "name");
    if (!name || !*name) {
        if (n)
            out[0] = '\0';
        return out;
    }
    return kube_cache_key(md_str(obj, "namespace"), name, out, n);
}

/* A malloc'ed key, so no name length can truncate it. */
static char *key_dup(const char *ns, const char *name)
{
    size_t n = (ns ? strlen(ns) : 0) + strlen(name) + 2;
    char *k = malloc(n);
    if (k)
        kube_cache_key(ns, name, k, n);
    return k;
}

struct kube_cache *kube_cache_new_indexed(const char *label)
{
    struct kube_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (htab_init(&c->entries) < 0 || htab_init(&c->owners) < 0 || htab_init(&c->labels) < 0 ||
        (label && !(c->label = strdup(label)))) {
        htab_free(&c->entries);
        htab_free(&c->owners);
        htab_free(&c->labels);
        free(c);
        return NULL;
    }
    pthread_rwlock_init(&c->lock, NULL);
    return c;
}

struct kube_cache *kube_cache_new(void)
{
    return kube_cache_new_indexed(NULL);
}

static void entry_free(struct centry *en)
{
    if (!en)
        return;
    for (size_t i = 0; i < en->nowners; i++)
        free(en->owners[i]);
    free(en->owners);
    free(en->lkey);
    free(en->text);
    free(en->rv);
    free(en->key);
    free(en);
}

static void owner_set_free(struct owner_set *os)
{
    free(os->uid);
    free(os->v);
    free(os);
}

void kube_cache_free(struct kube_cache *c)
{
    if (!c)
        return;
    struct htab_iter it;
    struct htab_node *n;
    htab_iter_init(&it, &c->entries);
    while ((n = htab_iter_next(&it)) != NULL)
        entry_free(HTAB_ENTRY(n, struct centry, node));
    htab_iter_init(&it, &c->owners);
    while ((n = htab_iter_next(&it)) != NULL)
        owner_set_free(HTAB_ENTRY(n, struct owner_set, node));
    htab_iter_init(&it, &c->labels);
    while ((n = htab_iter_next(&it)) != NULL)
        owner_set_free(HTAB_ENTRY(n, struct owner_set, node));
    htab_free(&c->entries);
    htab_free(&c->owners);
    htab_free(&c->labels);
    free(c->label);
    pthread_rwlock_destroy(&c->lock);
    free(c);
}

/* ---- entries by key ---- */

static struct centry *efind(struct kube_cache *c, const char *key)
{
    struct htab_node *n = htab_find(&c->entries, key);
    return n ? HTAB_ENTRY(n, struct centry, node) : NULL;
}

/* ---- owner index ---- */

static struct owner_set *ofind(struct htab *h, const char *uid)
{
    struct htab_node *n = htab_find(h, uid);
    return n ? HTAB_ENTRY(n, struct owner_set, node) : NULL;
}

static int oadd(struct htab *h, const char *uid, struct centry *en)
{
    struct owner_set *os = ofind(h, uid);
    if (!os) {
        os = calloc(1, sizeof *os);
        if (!os)
            return ERR_NOMEM;
        os->uid = strdup(uid);
        if (!os->uid) {
            free(os);
            return ERR_NOMEM;
        }
        os->node.key = os->uid;
        htab_insert(h, &os->node);
    }
    if (os->n == os->cap) {
        size_t cap = os->cap ? os->cap * 2 : 4;
        struct centry **v = realloc(os->v, cap * sizeof *v);
        if (!v)
            return ERR_NOMEM;
        os->v = v;
        os->cap = cap;
    }
    os->v[os->n++] = en;
    return 0;
}

static void oremove(struct htab *h, const char *uid, struct centry *en)
{
    struct owner_set *os = ofind(h, uid);
    if (!os)
        return;
    for (size_t i = 0; i < os->n; i++) {
        if (os->v[i] == en) {
            os->v[i] = os->v[--os->n];
            break;
        }
    }
    if (os->n > 0)
        return;
    htab_remove(h, &os->node);
    owner_set_free(os);
}

static void unindex_owners(struct kube_cache *c, struct centry *en)
{
    for (size_t i = 0; i < en->nowners; i++) {
        oremove(&c->owners, en->owners[i], en);
        free(en->owners[i]);
    }
    free(en->owners);
    en->owners = NULL;
    en->nowners = 0;
    if (en->lkey) {
        oremove(&c->labels, en->lkey, en);
        free(en->lkey);
        en->lkey = NULL;
    }
}

/* Indexes en under "ns/value" of the cache's label, when it has that label. */
static int index_label(struct kube_cache *c, struct centry *en, const cJSON *obj)
{
    if (!c->label)
        return 0;
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    const char *v = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(md, "labels"), c->label));
    if (!v)
        return 0;
    char *k = key_dup(md_str(obj, "namespace"), v);
    if (!k)
        return ERR_NOMEM;
    if (oadd(&c->labels, k, en) < 0) {
        free(k);
        return ERR_NOMEM;
    }
    en->lkey = k;
    return 0;
}

/* Indexes en under the distinct owner uids of obj (en's object). On ERR_NOMEM the index holds what
 * it could and en->owners lists exactly those, so a later unindex stays consistent. */
static int index_owners(struct kube_cache *c, struct centry *en, const cJSON *obj)
{
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    const cJSON *refs = cJSON_GetObjectItemCaseSensitive(md, "ownerReferences");
    if (!cJSON_IsArray(refs))
        return 0;
    int n = cJSON_GetArraySize(refs);
    if (n <= 0)
        return 0;
    en->owners = calloc((size_t)n, sizeof *en->owners);
    if (!en->owners)
        return ERR_NOMEM;
    const cJSON *ref;
    cJSON_ArrayForEach(ref, refs)
    {
        const char *uid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ref, "uid"));
        if (!uid || !*uid)
            continue;
        int dup = 0;
        for (size_t i = 0; i < en->nowners; i++)
            dup |= strcmp(en->owners[i], uid) == 0;
        if (dup)
            continue;
        char *u = strdup(uid);
        if (!u)
            return ERR_NOMEM;
        if (oadd(&c->owners, u, en) < 0) {
            free(u);
            return ERR_NOMEM;
        }
        en->owners[en->nowners++] = u;
    }
    return 0;
}

/* ---- writes ---- */

static size_t str_bytes(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

/* The bytes an entry asks malloc for (its struct, strings and owner list; not malloc's own
 * overhead nor the indexes' share): what kube_cache_stats reports, so that a figure of the
 * operator's memory can be told apart into kinds of object. */
static size_t entry_bytes(const struct centry *en)
{
    size_t n = sizeof *en + str_bytes(en->key) + str_bytes(en->text) + str_bytes(en->rv) +
               str_bytes(en->lkey) + en->nowners * sizeof *en->owners;
    for (size_t i = 0; i < en->nowners; i++)
        n += str_bytes(en->owners[i]);
    return n;
}

/* After en's strings changed: the cache's sum follows. */
static void account(struct kube_cache *c, struct centry *en)
{
    c->bytes -= en->bytes;
    en->bytes = entry_bytes(en);
    c->bytes += en->bytes;
}

static int same_rv(const char *stored, const cJSON *obj)
{
    const char *rv = md_str(obj, "resourceVersion");
    return stored && rv && *rv && strcmp(stored, rv) == 0;
}

/* The stored form of obj: its text and resourceVersion (both malloc'ed). 0 or ERR_NOMEM (nothing
 * allocated). */
static int encode(const cJSON *obj, char **text, char **rv)
{
    const char *v = md_str(obj, "resourceVersion");
    *text = cJSON_PrintUnformatted(obj);
    *rv = v ? strdup(v) : NULL;
    if (*text && (*rv || !v))
        return 0;
    free(*text);
    free(*rv);
    *text = *rv = NULL;
    return ERR_NOMEM;
}

/* A new tree of en's object (the caller owns it), NULL when out of memory. */
static cJSON *decode(const struct centry *en)
{
    return cJSON_Parse(en->text);
}

/* Takes obj. *change gets what happened; *out_en the entry (for the relist's generation mark). */
static int upsert_locked(struct kube_cache *c, cJSON *obj, enum kube_cache_change *change,
                         struct centry **out_en, struct err *e)
{
    const char *name = md_str(obj, "name");
    if (!cJSON_IsObject(obj) || !name || !*name) {
        cJSON_Delete(obj);
        return err_set(e, ERR_INVALID, "cache: object without metadata.name");
    }
    char *key = key_dup(md_str(obj, "namespace"), name);
    if (!key) {
        cJSON_Delete(obj);
        return err_set(e, ERR_NOMEM, "cache: out of memory");
    }
    struct centry *en = efind(c, key);
    if (en && same_rv(en->rv, obj)) {
        free(key);
        *out_en = en;
        cJSON_Delete(obj);
        *change = KUBE_CACHE_SAME;
        return 0;
    }
    char *text, *rv;
    /* encoded first: out of memory here leaves the stored entry as it was */
    if (encode(obj, &text, &rv) < 0 || (!en && !(en = calloc(1, sizeof *en)))) {
        if (text) {
            free(text);
            free(rv);
        }
        *out_en = efind(c, key);
        free(key);
        cJSON_Delete(obj);
        return err_set(e, ERR_NOMEM, "cache: out of memory");
    }
    if (en->key) {
        free(key);
        unindex_owners(c, en);
        free(en->text);
        free(en->rv);
        *change = KUBE_CACHE_UPDATED;
    } else {
        en->key = key;
        en->node.key = key;
        htab_insert(&c->entries, &en->node);
        *change = KUBE_CACHE_ADDED;
    }
    en->text = text;
    en->rv = rv;
    *out_en = en;
    int rc = index_owners(c, en, obj) < 0 || index_label(c, en, obj) < 0 ? ERR_NOMEM : 0;
    account(c, en);
    cJSON_Delete(obj);
    if (rc < 0)
        return err_set(e, ERR_NOMEM, "cache: out of memory indexing %s", en->key);
    return 0;
}

int kube_cache_upsert(struct kube_cache *c, cJSON *obj, struct err *e)
{
    if (!c) {
        cJSON_Delete(obj);
        return err_set(e, ERR_INVALID, "cache: NULL cache");
    }
    enum kube_cache_change ch = KUBE_CACHE_SAME;
    struct centry *en = NULL;
    pthread_rwlock_wrlock(&c->lock);
    int rc = upsert_locked(c, obj, &ch, &en, e);
    pthread_rwlock_unlock(&c->lock);
    return rc < 0 ? rc : (int)ch;
}

/* {"metadata":{"namespace":ns,"name":name}} from "ns/name" (or "name"); NULL when out of memory. */
static cJSON *stub(const char *key)
{
    const char *slash = strchr(key, '/');
    cJSON *o = cJSON_CreateObject();
    cJSON *md = cJSON_AddObjectToObject(o, "metadata");
    if (md && slash) {
        char *ns = strndup(key, (size_t)(slash - key));
        if (!ns || !cJSON_AddStringToObject(md, "namespace", ns))
            md = NULL;
        free(ns);
    }
    if (!md || !cJSON_AddStringToObject(md, "name", slash ? slash + 1 : key)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static void remove_entry(struct kube_cache *c, struct centry *en)
{
    c->bytes -= en->bytes;
    en->bytes = 0;
    unindex_owners(c, en);
    htab_remove(&c->entries, &en->node);
}

int kube_cache_delete(struct kube_cache *c, const char *ns, const char *name)
{
    if (!c || !name)
        return 0;
    char *key = key_dup(ns, name);
    if (!key)
        return 0;
    pthread_rwlock_wrlock(&c->lock);
    struct centry *en = efind(c, key);
    if (en)
        remove_entry(c, en);
    pthread_rwlock_unlock(&c->lock);
    free(key);
    entry_free(en);
    return en != NULL;
}

unsigned long kube_cache_replace_begin(struct kube_cache *c)
{
    if (!c)
        return 0;
    pthread_rwlock_wrlock(&c->lock);
    unsigned long gen = ++c->gen;
    pthread_rwlock_unlock(&c->lock);
    return gen;
}

/* Moves each item of items into the cache marked with gen; copies of the added / changed ones
 * go to a / u when wanted. Called with the write lock held. */
static int replace_items_locked(struct kube_cache *c, unsigned long gen, cJSON *items, cJSON *a,
                                cJSON *u, struct err *e)
{
    cJSON *it;
    while ((it = cJSON_DetachItemFromArray(items, 0)) != NULL) {
        enum kube_cache_change ch;
        struct centry *en = NULL;
        struct err ue = {0};
        cJSON *copy = NULL;
        /* copies are taken before the cache owns it; only for added/updated, decided after */
        if ((a || u) && md_str(it, "name") && !(copy = cJSON_Duplicate(it, 1))) {
            cJSON_Delete(it);
            return err_set(e, ERR_NOMEM, "cache: out of memory");
        }
        int r = upsert_locked(c, it, &ch, &en, &ue);
        if (en)
            en->gen = gen;
        if (r == ERR_NOMEM) {
            cJSON_Delete(copy);
            return err_set(e, ERR_NOMEM, "%s", ue.msg);
        }
        if (r < 0 || ch == KUBE_CACHE_SAME) {
            cJSON_Delete(copy); /* nameless items are skipped */
            continue;
        }
        cJSON *to = ch == KUBE_CACHE_ADDED ? a : u;
        if (to)
            cJSON_AddItemToArray(to, copy);
        else
            cJSON_Delete(copy);
    }
    return 0;
}

int kube_cache_replace_page(struct kube_cache *c, unsigned long gen, cJSON *items, cJSON **added,
                            cJSON **updated, struct err *e)
{
    cJSON *a = NULL, *u = NULL;
    if (added)
        *added = NULL;
    if (updated)
        *updated = NULL;
    if (!c || !cJSON_IsArray(items)) {
        cJSON_Delete(items);
        return err_set(e, ERR_INVALID, "cache: replace needs an array of objects");
    }
    if ((added && !(a = cJSON_CreateArray())) || (updated && !(u = cJSON_CreateArray()))) {
        cJSON_Delete(items);
        cJSON_Delete(a);
        cJSON_Delete(u);
        return err_set(e, ERR_NOMEM, "cache: out of memory");
    }
    pthread_rwlock_wrlock(&c->lock);
    int rc = replace_items_locked(c, gen, items, a, u, e);
    pthread_rwlock_unlock(&c->lock);
    cJSON_Delete(items);
    if (rc < 0) {
        cJSON_Delete(a);
        cJSON_Delete(u);
        return rc;
    }
    if (added)
        *added = a;
    if (updated)
        *updated = u;
    return 0;
}

/* Removes every entry not marked gen; their last states go to g when it is not NULL. Called
 * with the write lock held. */
static void sweep_locked(struct kube_cache *c, unsigned long gen, cJSON *g)
{
    struct htab_iter hi;
    struct htab_node *n;
    htab_iter_init(&hi, &c->entries);
    while ((n = htab_iter_next(&hi)) != NULL) {
        struct centry *en = HTAB_ENTRY(n, struct centry, node);
        if (en->gen == gen)
            continue;
        remove_entry(c, en);
        if (g) {
            /* its last state, or (out of memory) at least its name for the DELETED */
            cJSON *last = decode(en);
            if (!last)
                last = stub(en->key);
            if (last)
                cJSON_AddItemToArray(g, last);
        }
        entry_free(en);
    }
}

int kube_cache_replace_end(struct kube_cache *c, unsigned long gen, cJSON **gone, struct err *e)
{
    cJSON *g = NULL;
    if (gone)
        *gone = NULL;
    if (!c)
        return err_set(e, ERR_INVALID, "cache: replace needs a cache");
    if (gone && !(g = cJSON_CreateArray()))
        return err_set(e, ERR_NOMEM, "cache: out of memory");
    pthread_rwlock_wrlock(&c->lock);
    sweep_locked(c, gen, g);
    pthread_rwlock_unlock(&c->lock);
    if (gone)
        *gone = g;
    return 0;
}

int kube_cache_replace(struct kube_cache *c, cJSON *items, cJSON **gone, cJSON **added,
                       cJSON **updated, struct err *e)
{
    int rc = 0;
    cJSON *g = NULL, *a = NULL, *u = NULL;
    if (gone)
        *gone = NULL;
    if (added)
        *added = NULL;
    if (updated)
        *updated = NULL;
    if (!c || !cJSON_IsArray(items)) {
        cJSON_Delete(items);
        return err_set(e, ERR_INVALID, "cache: replace needs an array of objects");
    }
    if ((gone && !(g = cJSON_CreateArray())) || (added && !(a = cJSON_CreateArray())) ||
        (updated && !(u = cJSON_CreateArray()))) {
        rc = err_set(e, ERR_NOMEM, "cache: out of memory");
        goto out;
    }
    /* one lock over the whole switch: a reader sees the old set or the new one */
    pthread_rwlock_wrlock(&c->lock);
    unsigned long gen = ++c->gen;
    rc = replace_items_locked(c, gen, items, a, u, e);
    if (rc == 0)
        sweep_locked(c, gen, g);
    pthread_rwlock_unlock(&c->lock);
out:
    cJSON_Delete(items);
    if (rc < 0) {
        cJSON_Delete(g);
        cJSON_Delete(a);
        cJSON_Delete(u);
        return rc;
    }
    if (gone)
        *gone = g;
    if (added)
        *added = a;
    if (updated)
        *updated = u;
    return 0;
}

/* ---- reads ---- */

cJSON *kube_cache_get(struct kube_cache *c, const char *ns, const char *name)
{
    if (!c || !name)
        return NULL;
    char *key = key_dup(ns, name);
    if (!key)
        return NULL;
    pthread_rwlock_rdlock(&c->lock);
    struct centry *en = efind(c, key);
    cJSON *copy = en ? decode(en) : NULL;
    pthread_rwlock_unlock(&c->lock);
    free(key);
    return copy;
}

int kube_cache_rv(struct kube_cache *c, const char *ns, const char *name, char *rv, size_t n)
{
    if (n)
        rv[0] = '\0';
    if (!c || !name)
        return 0;
    char *key = key_dup(ns, name);
    if (!key)
        return 0;
    pthread_rwlock_rdlock(&c->lock);
    struct centry *en = efind(c, key);
    if (en && n)
        snprintf(rv, n, "%s", en->rv ? en->rv : "");
    pthread_rwlock_unlock(&c->lock);
    free(key);
    return en != NULL;
}

/* fn on a tree of en's object, freed after. */
static int call(const struct centry *en, kube_cache_fn fn, void *ud)
{
    cJSON *obj = decode(en);
    if (!obj)
        return ERR_NOMEM;
    int rc = fn(obj, ud);
    cJSON_Delete(obj);
    return rc;
}

/* Whether the entry of key is in namespace ns ("" = cluster-scoped): keys are "ns/name" or "name",
 * and neither part holds a '/'. */
static int in_ns(const char *key, const char *ns)
{
    size_t n = strlen(ns);
    if (n == 0)
        return strchr(key, '/') == NULL;
    return strncmp(key, ns, n) == 0 && key[n] == '/';
}

int kube_cache_with(struct kube_cache *c, const char *ns, const char *name, kube_cache_fn fn,
                    void *ud)
{
    if (!c || !name || !fn)
        return ERR_INVALID;
    char *key = key_dup(ns, name);
    if (!key)
        return ERR_NOMEM;
    pthread_rwlock_rdlock(&c->lock);
    struct centry *en = efind(c, key);
    int rc = en ? call(en, fn, ud) : ERR_NOTFOUND;
    pthread_rwlock_unlock(&c->lock);
    free(key);
    return rc;
}

/* The walks below call an entry_fn on each entry they select, under the read lock. */
typedef int (*entry_fn)(const struct centry *en, void *ud);

static int walk_set(struct htab *h, const char *k, entry_fn fn, void *ud)
{
    int rc = 0;
    struct owner_set *os = ofind(h, k);
    for (size_t i = 0; os && i < os->n && rc == 0; i++)
        rc = fn(os->v[i], ud);
    return rc;
}

static int walk_owner(struct kube_cache *c, const char *uid, entry_fn fn, void *ud)
{
    if (!c || !uid)
        return ERR_INVALID;
    pthread_rwlock_rdlock(&c->lock);
    int rc = walk_set(&c->owners, uid, fn, ud);
    pthread_rwlock_unlock(&c->lock);
    return rc;
}

static int walk_label(struct kube_cache *c, const char *ns, const char *value, entry_fn fn,
                      void *ud)
{
    if (!c || !value || !c->label)
        return ERR_INVALID;
    char *k = key_dup(ns, value);
    if (!k)
        return ERR_NOMEM;
    pthread_rwlock_rdlock(&c->lock);
    int rc = walk_set(&c->labels, k, fn, ud);
    pthread_rwlock_unlock(&c->lock);
    free(k);
    return rc;
}

static int walk_ns(struct kube_cache *c, const char *ns, entry_fn fn, void *ud)
{
    if (!c)
        return ERR_INVALID;
    int rc = 0;
    pthread_rwlock_rdlock(&c->lock);
    struct htab_iter hi;
    struct htab_node *n;
    htab_iter_init(&hi, &c->entries);
    while (rc == 0 && (n = htab_iter_next(&hi)) != NULL) {
        const struct centry *en = HTAB_ENTRY(n, struct centry, node);
        if (!ns || in_ns(en->key, ns))
            rc = fn(en, ud);
    }
    pthread_rwlock_unlock(&c->lock);
    return rc;
}

struct user_fn {
    kube_cache_fn fn;
    void *ud;
};

static int call_user(const struct centry *en, void *ud)
{
    const struct user_fn *u = ud;
    return call(en, u->fn, u->ud);
}

int kube_cache_each_owner(struct kube_cache *c, const char *uid, kube_cache_fn fn, void *ud)
{
    struct user_fn u = {fn, ud};
    return fn ? walk_owner(c, uid, call_user, &u) : ERR_INVALID;
}

int kube_cache_each_label(struct kube_cache *c, const char *ns, const char *value, kube_cache_fn fn,
                          void *ud)
{
    struct user_fn u = {fn, ud};
    return fn ? walk_label(c, ns, value, call_user, &u) : ERR_INVALID;
}

int kube_cache_each_ns(struct kube_cache *c, const char *ns, kube_cache_fn fn, void *ud)
{
    struct user_fn u = {fn, ud};
    return fn ? walk_ns(c, ns, call_user, &u) : ERR_INVALID;
}

/* ud is the array of a list_* reader: the entry's own new tree goes into it */
static int add_decoded(const struct centry *en, void *ud)
{
    cJSON *obj = decode(en);
    if (!obj)
        return ERR_NOMEM;
    cJSON_AddItemToArray(ud, obj);
    return 0;
}

/* arr (taken) when the walk's rc is 0, else NULL */
static cJSON *list_or_null(cJSON *arr, int rc)
{
    if (rc >= 0)
        return arr;
    cJSON_Delete(arr);
    return NULL;
}

cJSON *kube_cache_list_owner(struct kube_cache *c, const char *uid)
{
    cJSON *arr = cJSON_CreateArray();
    return arr ? list_or_null(arr, walk_owner(c, uid, add_decoded, arr)) : NULL;
}

cJSON *kube_cache_list_label(struct kube_cache *c, const char *ns, const char *value)
{
    cJSON *arr = cJSON_CreateArray();
    return arr ? list_or_null(arr, walk_label(c, ns, value, add_decoded, arr)) : NULL;
}

cJSON *kube_cache_list_ns(struct kube_cache *c, const char *ns)
{
    cJSON *arr = cJSON_CreateArray();
    return arr ? list_or_null(arr, walk_ns(c, ns, add_decoded, arr)) : NULL;
}

void kube_cache_stats(struct kube_cache *c, struct kube_cache_stats *out)
{
    *out = (struct kube_cache_stats){0};
    if (!c)
        return;
    pthread_rwlock_rdlock(&c->lock);
    out->objects = c->entries.count;
    out->bytes = c->bytes;
    pthread_rwlock_unlock(&c->lock);
}

size_t kube_cache_count(struct kube_cache *c)
{
    if (!c)
        return 0;
    pthread_rwlock_rdlock(&c->lock);
    size_t n = c->entries.count;
    pthread_rwlock_unlock(&c->lock);
    return n;
}
