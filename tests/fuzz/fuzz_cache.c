/* fuzz_cache.c — API answers decoded into an informer's cache: the input is JSON, either
 * a list answer ({"items": [...]}, what kube_list_all hands to kube_cache_replace) or an
 * array of steps, each a list answer, a watch event ({"type", "object"}, applied as the
 * informer applies it) or an object to upsert. After every step the cache must agree
 * with itself: count, list, get, resourceVersion, and the owner index both ways. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/cache.h"

#define MAX_UIDS 16

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_cache: %s\n", what);
        abort();
    }
}

static const char *md_str(const cJSON *obj, const char *field)
{
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(md, field));
}

static int owned_by(const cJSON *obj, const char *uid)
{
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    const cJSON *refs = cJSON_GetObjectItemCaseSensitive(md, "ownerReferences"), *r;
    cJSON_ArrayForEach(r, refs)
    {
        const char *u = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "uid"));
        if (u && *u && strcmp(u, uid) == 0) /* the index ignores an empty uid: no owner has it */
            return 1;
    }
    return 0;
}

/* The owner uids the input mentions, to ask the index about. */
static void collect_uids(const cJSON *j, const char **uids, int *n)
{
    if (j == NULL)
        return;
    if (cJSON_IsObject(j)) {
        const char *u = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "uid"));
        int seen = u == NULL || *u == '\0';
        for (int i = 0; !seen && i < *n; i++)
            seen = strcmp(uids[i], u) == 0;
        if (!seen && *n < MAX_UIDS)
            uids[(*n)++] = u;
    }
    const cJSON *c;
    cJSON_ArrayForEach(c, j)
    {
        collect_uids(c, uids, n);
    }
}

static void consistent(struct kube_cache *c, const char *const *uids, int nuids)
{
    cJSON *all = kube_cache_list_ns(c, NULL), *x;
    check(all != NULL && (size_t)cJSON_GetArraySize(all) == kube_cache_count(c),
          "count and list disagree");
    cJSON_ArrayForEach(x, all)
    {
        char key[512], rv[64];
        check(kube_cache_obj_key(x, key, sizeof key)[0] != '\0', "a stored object without a name");
        const char *ns = md_str(x, "namespace"), *name = md_str(x, "name");
        cJSON *got = kube_cache_get(c, ns, name);
        check(got != NULL, "a listed object is not found by its name");
        cJSON_Delete(got);
        check(kube_cache_rv(c, ns, name, rv, sizeof rv) == 1,
              "kube_cache_rv misses a listed object");
    }
    for (int i = 0; i < nuids; i++) {
        cJSON *kids = kube_cache_list_owner(c, uids[i]), *k;
        check(kids != NULL, "kube_cache_list_owner");
        int n = 0, want = 0;
        cJSON_ArrayForEach(k, kids)
        {
            check(owned_by(k, uids[i]), "the owner index lists an object its owner does not own");
            n++;
        }
        cJSON_ArrayForEach(x, all)
        {
            want += owned_by(x, uids[i]);
        }
        check(n == want, "the owner index misses an owned object");
        cJSON_Delete(kids);
    }
    cJSON_Delete(all);
}

static void step(struct kube_cache *c, const cJSON *s)
{
    struct err e = {0};
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(s, "items");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(s, "type");
    const cJSON *obj = cJSON_GetObjectItemCaseSensitive(s, "object");
    if (items != NULL) {
        cJSON *gone = NULL, *added = NULL, *updated = NULL;
        size_t before = kube_cache_count(c);
        int rc = kube_cache_replace(c, cJSON_Duplicate(items, 1), &gone, &added, &updated, &e);
        check(rc == 0 || rc == ERR_INVALID || rc == ERR_NOMEM, "replace: unexpected code");
        if (rc == 0)
            check(before - (size_t)cJSON_GetArraySize(gone) + (size_t)cJSON_GetArraySize(added) ==
                      kube_cache_count(c),
                  "replace: gone and added do not add up");
        else
            check(kube_cache_count(c) == before, "a failed replace changed the cache");
        cJSON_Delete(gone);
        cJSON_Delete(added);
        cJSON_Delete(updated);
    } else if (cJSON_IsString(type) && cJSON_IsObject(obj)) {
        if (strcmp(type->valuestring, "DELETED") == 0) {
            const char *name = md_str(obj, "name");
            if (name)
                kube_cache_delete(c, md_str(obj, "namespace"), name);
        } else {
            kube_cache_upsert(c, cJSON_Duplicate(obj, 1), &e);
        }
    } else {
        int rc = kube_cache_upsert(c, cJSON_Duplicate(s, 1), &e);
        check(rc >= 0 || rc == ERR_INVALID || rc == ERR_NOMEM, "upsert: unexpected code");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *in = cJSON_ParseWithLength((const char *)data, size);
    if (in == NULL)
        return 0;
    const char *uids[MAX_UIDS];
    int nuids = 0;
    collect_uids(in, uids, &nuids);
    struct kube_cache *c = kube_cache_new();
    check(c != NULL, "kube_cache_new");
    if (cJSON_IsArray(in)) {
        const cJSON *s;
        cJSON_ArrayForEach(s, in)
        {
            step(c, s);
            consistent(c, uids, nuids);
        }
    } else {
        step(c, in);
        consistent(c, uids, nuids);
    }
    kube_cache_free(c);
    cJSON_Delete(in);
    return 0;
}
