/* fuzz_watch.c — a watch body as the API server (or whatever sits between it and us)
 * streams it: kube_watch_decode, the decoder of kube_watch, on the bytes cut into pieces
 * where the input says, each event applied to a kube_cache as the informer applies it.
 * Input: byte 0 picks the piece size and the line cap, the rest is the stream. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/cache.h"
#include "kube/watch.h"

#define MAX_PIECES 4096

struct fz {
    struct kube_cache *cache;
    int events;
};

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_watch: %s\n", what);
        abort();
    }
}

/* informer.c's on_event, without the handler. */
static int on_event(enum kube_event_type t, const cJSON *obj, void *ud)
{
    struct fz *f = ud;
    check(obj != NULL && cJSON_IsObject(obj), "an event without an object");
    f->events++;
    if (t == KUBE_ADDED || t == KUBE_MODIFIED) {
        struct err e = {0};
        cJSON *copy = cJSON_Duplicate(obj, 1);
        if (copy == NULL)
            return ERR_NOMEM;
        kube_cache_upsert(f->cache, copy, &e);
    } else if (t == KUBE_DELETED) {
        const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(md, "name"));
        const char *ns = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(md, "namespace"));
        if (name)
            kube_cache_delete(f->cache, ns, name);
    }
    return f->events > 10000; /* a handler may end the watch */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *pieces[MAX_PIECES];
    static size_t lens[MAX_PIECES];
    if (size < 1)
        return 0;
    size_t piece = (size_t)(data[0] & 0x3f) + 1;
    size_t max_line = (data[0] & 0x40) ? 256 : 0;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    int n = 0;
    for (size_t off = 0; off < len && n < MAX_PIECES; off += piece, n++) {
        pieces[n] = body + off;
        lens[n] = len - off < piece ? len - off : piece;
    }
    if (n == MAX_PIECES)
        return 0;

    struct fz f = {.cache = kube_cache_new()};
    check(f.cache != NULL, "kube_cache_new");
    char rv[16] = "";
    struct err e = {0};
    int rc = kube_watch_decode(pieces, lens, n, max_line, on_event, &f, rv, sizeof rv, &e);
    check(rc == 0 || rc == ERR_INVALID || rc == ERR_GONE || rc == ERR_API || rc == ERR_CANCELLED ||
              rc == ERR_NOMEM,
          "unexpected code");
    check(rc == 0 || e.msg[0] != '\0', "an error without a message");
    check(strlen(rv) < sizeof rv, "last_rv overflow");
    cJSON *all = kube_cache_list_ns(f.cache, NULL);
    check(all != NULL && (size_t)cJSON_GetArraySize(all) == kube_cache_count(f.cache),
          "count and list disagree");
    cJSON_Delete(all);
    kube_cache_free(f.cache);
    return 0;
}
