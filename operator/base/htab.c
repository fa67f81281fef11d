/* htab.c — the intrusive string-keyed hash table of htab.h. Chains are singly linked with new nodes
 * at the head; the bucket count doubles when count would pass it, and a failed grow only lengthens
 * chains, so an insert never fails once the table is initialised. */
#include "base/htab.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"

enum { HTAB_INITIAL = 16 };

/* FNV-1a, 64 bit. Nothing may depend on walk order; the hash is an implementation detail. */
uint64_t htab_hash(const char *s)
{
    uint64_t h = 14695981039346656037ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

int htab_init(struct htab *h)
{
    h->count = 0;
    h->nb = 0;
    h->b = calloc(HTAB_INITIAL, sizeof *h->b);
    if (!h->b)
        return ERR_NOMEM;
    h->nb = HTAB_INITIAL;
    return 0;
}

void htab_free(struct htab *h)
{
    if (!h)
        return;
    free(h->b);
    h->b = NULL;
    h->nb = h->count = 0;
}

static struct htab_node **bucket(const struct htab *h, const char *key)
{
    return &h->b[htab_hash(key) & (h->nb - 1)];
}

struct htab_node *htab_find(const struct htab *h, const char *key)
{
    if (!h || !key || h->nb == 0)
        return NULL;
    for (struct htab_node *n = *bucket(h, key); n; n = n->next)
        if (strcmp(n->key, key) == 0)
            return n;
    return NULL;
}

static void grow(struct htab *h)
{
    size_t nb = h->nb * 2;
    struct htab_node **b = calloc(nb, sizeof *b);
    if (!b)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < h->nb; i++) {
        struct htab_node *n = h->b[i];
        while (n) {
            struct htab_node *next = n->next;
            size_t k = htab_hash(n->key) & (nb - 1);
            n->next = b[k];
            b[k] = n;
            n = next;
        }
    }
    free(h->b);
    h->b = b;
    h->nb = nb;
}

void htab_insert(struct htab *h, struct htab_node *n)
{
    if (h->count >= h->nb)
        grow(h);
    struct htab_node **pp = bucket(h, n->key);
    n->next = *pp;
    *pp = n;
    h->count++;
}

int htab_remove(struct htab *h, struct htab_node *n)
{
    if (!h || !n || h->nb == 0)
        return 0;
    struct htab_node **pp = bucket(h, n->key);
    while (*pp && *pp != n)
        pp = &(*pp)->next;
    if (!*pp)
        return 0;
    *pp = n->next;
    n->next = NULL;
    h->count--;
    return 1;
}

void htab_iter_init(struct htab_iter *it, const struct htab *h)
{
    it->h = h;
    it->i = 0;
    it->next = NULL;
}

struct htab_node *htab_iter_next(struct htab_iter *it)
{
    /* next is read before handing a node out, so the caller may unlink or free that node */
    while (!it->next && it->h && it->i < it->h->nb)
        it->next = it->h->b[it->i++];
    struct htab_node *n = it->next;
    if (n)
        it->next = n->next;
    return n;
}
