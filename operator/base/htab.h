/* htab.h — a small intrusive hash table of string keys (chained, power-of-two buckets, FNV-1a
 * style), shared by the kube cache and the work queue. Entries embed a struct htab_node and stay
 * owned by their container; the table owns only its bucket array. Not thread-safe: callers lock. */
#ifndef BALLAST_BASE_HTAB_H
#define BALLAST_BASE_HTAB_H

#include <stddef.h>
#include <stdint.h>

struct htab_node {
    struct htab_node *next; /* chain; the table's business */
    const char *key; /* borrowed from the entry; must stay valid and unchanged while linked */
};

struct htab {
    struct htab_node **b; /* owned */
    size_t nb, count;     /* nb is a power of two */
};

/* The entry that embeds node n as member m: HTAB_ENTRY(n, struct foo, node). n must not be NULL. */
#define HTAB_ENTRY(n, type, m) ((type *)(void *)((char *)(n)-offsetof(type, m)))

/* FNV-1a, 64 bits, with a nonstandard offset basis (see htab.c). Pure. */
uint64_t htab_hash(const char *s);

/* Allocates 16 buckets. Returns 0, or ERR_NOMEM leaving h empty (htab_free is still safe). */
int htab_init(struct htab *h);
/* Frees the bucket array only; the entries are the caller's: free them first, by iterating. */
void htab_free(struct htab *h);

/* The node with this key, or NULL. Safe on a zeroed table. */
struct htab_node *htab_find(const struct htab *h, const char *key);
/* Links n (n->key set, not already present: the caller finds first). h must be initialised.
 * Doubles the buckets when the load would pass 1; if that allocation fails the chains just get
 * longer, so insertion itself never fails. */
void htab_insert(struct htab *h, struct htab_node *n);
/* Unlinks n; returns 1 if it was in the table, 0 if not (nothing changes then). */
int htab_remove(struct htab *h, struct htab_node *n);

/* Walks every node in bucket order. The node just returned may be removed (or freed) before the
 * next call; no other insert or remove is allowed during the walk. */
struct htab_iter {
    const struct htab *h;
    size_t i;
    struct htab_node *next;
};
void htab_iter_init(struct htab_iter *it, const struct htab *h);
struct htab_node *htab_iter_next(struct htab_iter *it); /* NULL at the end */

#endif
