/* cache.h — an informer's in-memory copy of one kind of object: cJSON objects owned by the cache,
 * found by "namespace/name" (or "name" when cluster-scoped), by the UID of an owner reference
 * (metadata.ownerReferences[].uid) and, when the cache was made with one, by the value of one
 * label within a namespace, so a controller finds a PSC's children without scanning.
 * Thread-safe (rwlock): one writer (the informer), many readers. Memory follows what is stored.
 *
 * Readers get either deep copies (kube_cache_get/list_*: caller frees with cJSON_Delete) or a
 * borrowed object inside a callback that runs under the read lock (kube_cache_with/each_*: the
 * callback must not keep the pointer, and must not call a writing kube_cache function). */
#ifndef BALLAST_KUBE_CACHE_H
#define BALLAST_KUBE_CACHE_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "base/err.h"

struct kube_cache;
/* Caller frees with kube_cache_free. NULL when out of memory. */
struct kube_cache *kube_cache_new(void);
/* The same, also indexed by the value of label (copied; NULL = no label index), per namespace. */
struct kube_cache *kube_cache_new_indexed(const char *label);
void kube_cache_free(struct kube_cache *c);

/* What an upsert did. */
enum kube_cache_change { KUBE_CACHE_SAME = 0, KUBE_CACHE_ADDED = 1, KUBE_CACHE_UPDATED = 2 };

/* Stores obj (owned: the cache takes it in every case, also on error) under its
 * metadata.namespace/name, replacing the stored one when the resourceVersion differs (or either
 * has none). Returns a kube_cache_change (>= 0), or ERR_INVALID when obj has no metadata.name
 * (obj is freed), ERR_NOMEM. */
int kube_cache_upsert(struct kube_cache *c, cJSON *obj, struct err *e);
/* Removes ns/name (ns NULL or "" when cluster-scoped). Returns 1 when it was there, 0 if not. */
int kube_cache_delete(struct kube_cache *c, const char *ns, const char *name);

/* A deep copy of ns/name (caller frees with cJSON_Delete), or NULL when absent/out of memory. */
cJSON *kube_cache_get(struct kube_cache *c, const char *ns, const char *name);
/* Copies ns/name's resourceVersion into rv (""); returns 1 when present, 0 when absent. */
int kube_cache_rv(struct kube_cache *c, const char *ns, const char *name, char *rv, size_t n);

/* obj is borrowed and valid only during the call, which runs under the read lock. Return 0 to go
 * on; anything else stops the walk and is returned. */
typedef int (*kube_cache_fn)(const cJSON *obj, void *ud);
/* fn on ns/name if present. Returns ERR_NOTFOUND when absent, else fn's value. */
int kube_cache_with(struct kube_cache *c, const char *ns, const char *name, kube_cache_fn fn,
                    void *ud);
/* fn on every object with an owner reference of this uid (O(children)). */
int kube_cache_each_owner(struct kube_cache *c, const char *uid, kube_cache_fn fn, void *ud);
/* fn on every object in ns ("" or NULL when cluster-scoped) whose indexed label has this value
 * (O(matches)). ERR_INVALID when the cache has no label index. */
int kube_cache_each_label(struct kube_cache *c, const char *ns, const char *value, kube_cache_fn fn,
                          void *ud);
/* fn on every object in ns (NULL = all namespaces; O(stored objects)). */
int kube_cache_each_ns(struct kube_cache *c, const char *ns, kube_cache_fn fn, void *ud);

/* Deep copies as a new cJSON array (caller frees with cJSON_Delete); NULL when out of memory. */
cJSON *kube_cache_list_owner(struct kube_cache *c, const char *uid);
cJSON *kube_cache_list_ns(struct kube_cache *c, const char *ns);
cJSON *kube_cache_list_label(struct kube_cache *c, const char *ns, const char *value);

/* The relist: make the cache hold exactly items (an owned array, consumed in every case). Any of
 * the out arrays may be NULL (not wanted); otherwise each receives a new array the caller frees
 * with cJSON_Delete: *gone the stored objects no longer listed (moved out of the cache, so a
 * DELETED can be sent with their last state), *added / *updated copies of the listed objects that
 * were absent / had another resourceVersion. Items without metadata.name are skipped. 0 or
 * ERR_INVALID (items not an array; the cache is unchanged), ERR_NOMEM. */
int kube_cache_replace(struct kube_cache *c, cJSON *items, cJSON **gone, cJSON **added,
                       cJSON **updated, struct err *e);

/* The same relist page by page, so a list of thousands of objects is never held whole: begin
 * returns a new generation; each page's items (owned, consumed in every case) are stored marked
 * with it, *added / *updated as above for that page; end removes every entry no page mentioned
 * (*gone as above). Between the calls readers see the listed objects already stored beside the
 * old ones not yet listed, each a state the server had. A failed page leaves the cache valid;
 * the next relist, with a new generation, sweeps what is left. The informer's thread alone calls
 * these. */
unsigned long kube_cache_replace_begin(struct kube_cache *c);
int kube_cache_replace_page(struct kube_cache *c, unsigned long gen, cJSON *items, cJSON **added,
                            cJSON **updated, struct err *e);
int kube_cache_replace_end(struct kube_cache *c, unsigned long gen, cJSON **gone, struct err *e);

size_t kube_cache_count(struct kube_cache *c);

/* What a cache holds: its objects, and the bytes its entries asked malloc for (struct, key,
 * text, resourceVersion, owner uids; not malloc's overhead nor the indexes). */
struct kube_cache_stats {
    size_t objects;
    size_t bytes;
};
void kube_cache_stats(struct kube_cache *c, struct kube_cache_stats *out);

/* "ns/name", or "name" when ns is NULL or "", into out (truncated to n). The same key the work
 * queue uses. Returns out. */
char *kube_cache_key(const char *ns, const char *name, char *out, size_t n);
/* The key of an object from its metadata; "" when it has no name. */
char *kube_cache_obj_key(const cJSON *obj, char *out, size_t n);

#endif
