/* test_kube_cache.c — the object cache: upsert by resourceVersion, get/with/list by key, namespace,
 * owner UID and instance label (the indexes follow changes, deletes and relists), the relist diff
 * (gone / added / updated), bad objects refused without a crash, and readers racing a writer. */
#include <check.h>
#include <time.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/cache.h"

/* A ConfigMap-like object: owners is "" or a comma-separated list of uids. */
static cJSON *mk(const char *ns, const char *name, const char *rv, const char *owners)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *md = cJSON_AddObjectToObject(o, "metadata");
    if (ns)
        cJSON_AddStringToObject(md, "namespace", ns);
    cJSON_AddStringToObject(md, "name", name);
    if (rv)
        cJSON_AddStringToObject(md, "resourceVersion", rv);
    if (owners && *owners) {
        cJSON *refs = cJSON_AddArrayToObject(md, "ownerReferences");
        char buf[256];
        snprintf(buf, sizeof buf, "%s", owners);
        for (char *save = NULL, *u = strtok_r(buf, ",", &save); u; u = strtok_r(NULL, ",", &save)) {
            cJSON *ref = cJSON_CreateObject();
            cJSON_AddStringToObject(ref, "kind", "PhysicalStatefulCluster");
            cJSON_AddStringToObject(ref, "uid", u);
            cJSON_AddItemToArray(refs, ref);
        }
    }
    return o;
}

static const char *rv_of(const cJSON *o)
{
    return cJSON_GetStringValue(
        cJSON_GetObjectItem(cJSON_GetObjectItem(o, "metadata"), "resourceVersion"));
}

/* Sorted "ns/name" keys of an array, space separated. */
static void keys_of(const cJSON *arr, char *out, size_t n)
{
    char keys[64][128];
    int k = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        if (k < 64)
            kube_cache_obj_key(it, keys[k++], sizeof keys[0]);
    }
    for (int i = 1; i < k; i++)
        for (int j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
            char t[128];
            memcpy(t, keys[j], sizeof t);
            memcpy(keys[j], keys[j - 1], sizeof t);
            memcpy(keys[j - 1], t, sizeof t);
        }
    out[0] = '\0';
    for (int i = 0; i < k; i++) {
        strncat(out, keys[i], n - strlen(out) - 1);
        if (i + 1 < k)
            strncat(out, " ", n - strlen(out) - 1);
    }
}

static void expect_owner(struct kube_cache *c, const char *uid, const char *want)
{
    char got[1024];
    cJSON *l = kube_cache_list_owner(c, uid);
    ck_assert_ptr_nonnull(l);
    keys_of(l, got, sizeof got);
    ck_assert_msg(strcmp(got, want) == 0, "owner %s: got [%s], want [%s]", uid, got, want);
    cJSON_Delete(l);
}

static void expect_ns(struct kube_cache *c, const char *ns, const char *want)
{
    char got[1024];
    cJSON *l = kube_cache_list_ns(c, ns);
    ck_assert_ptr_nonnull(l);
    keys_of(l, got, sizeof got);
    ck_assert_msg(strcmp(got, want) == 0, "ns %s: got [%s], want [%s]", ns ? ns : "(all)", got,
                  want);
    cJSON_Delete(l);
}

START_TEST(test_upsert_get_delete)
{
    struct kube_cache *c = kube_cache_new();
    struct err e = {0};
    ck_assert_int_eq(kube_cache_upsert(c, mk("a", "x", "1", ""), &e), KUBE_CACHE_ADDED);
    ck_assert_int_eq(kube_cache_upsert(c, mk("a", "x", "1", ""), &e), KUBE_CACHE_SAME);
    ck_assert_int_eq(kube_cache_upsert(c, mk("a", "x", "2", ""), &e), KUBE_CACHE_UPDATED);
    /* no resourceVersion: always a change */
    ck_assert_int_eq(kube_cache_upsert(c, mk("a", "y", NULL, ""), &e), KUBE_CACHE_ADDED);
    ck_assert_int_eq(kube_cache_upsert(c, mk("a", "y", NULL, ""), &e), KUBE_CACHE_UPDATED);
    /* same name, other namespace or cluster-scoped: other objects */
    ck_assert_int_eq(kube_cache_upsert(c, mk("b", "x", "1", ""), &e), KUBE_CACHE_ADDED);
    ck_assert_int_eq(kube_cache_upsert(c, mk(NULL, "x", "1", ""), &e), KUBE_CACHE_ADDED);
    ck_assert_uint_eq(kube_cache_count(c), 4);

    cJSON *got = kube_cache_get(c, "a", "x");
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(rv_of(got), "2");
    cJSON_Delete(got); /* a copy: the cache keeps its own */
    got = kube_cache_get(c, "a", "x");
    ck_assert_ptr_nonnull(got);
    cJSON_Delete(got);
    got = kube_cache_get(c, NULL, "x");
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(rv_of(got), "1");
    cJSON_Delete(got);
    got = kube_cache_get(c, "", "x"); /* "" = cluster-scoped too */
    ck_assert_ptr_nonnull(got);
    cJSON_Delete(got);
    ck_assert_ptr_null(kube_cache_get(c, "a", "nope"));

    char rv[16];
    ck_assert_int_eq(kube_cache_rv(c, "b", "x", rv, sizeof rv), 1);
    ck_assert_str_eq(rv, "1");
    ck_assert_int_eq(kube_cache_rv(c, "b", "nope", rv, sizeof rv), 0);
    ck_assert_str_eq(rv, "");

    ck_assert_int_eq(kube_cache_delete(c, "a", "x"), 1);
    ck_assert_int_eq(kube_cache_delete(c, "a", "x"), 0);
    ck_assert_ptr_null(kube_cache_get(c, "a", "x"));
    ck_assert_uint_eq(kube_cache_count(c), 3);
    kube_cache_free(c);
}
END_TEST

static int count_fn(const cJSON *obj, void *ud)
{
    (void)obj;
    (*(int *)ud)++;
    return 0;
}

static int stop_fn(const cJSON *obj, void *ud)
{
    (void)obj;
    (*(int *)ud)++;
    return 7;
}

static int name_fn(const cJSON *obj, void *ud)
{
    kube_cache_obj_key(obj, ud, 64);
    return 0;
}

START_TEST(test_with_and_each)
{
    struct kube_cache *c = kube_cache_new();
    kube_cache_upsert(c, mk("a", "p-0", "1", "u1"), NULL);
    kube_cache_upsert(c, mk("a", "p-1", "1", "u1"), NULL);
    kube_cache_upsert(c, mk("b", "p-0", "1", "u2"), NULL);
    char key[64] = "";
    ck_assert_int_eq(kube_cache_with(c, "a", "p-1", name_fn, key), 0);
    ck_assert_str_eq(key, "a/p-1");
    ck_assert_int_eq(kube_cache_with(c, "a", "zz", name_fn, key), ERR_NOTFOUND);
    int n = 0;
    ck_assert_int_eq(kube_cache_each_owner(c, "u1", count_fn, &n), 0);
    ck_assert_int_eq(n, 2);
    n = 0;
    ck_assert_int_eq(kube_cache_each_ns(c, NULL, count_fn, &n), 0);
    ck_assert_int_eq(n, 3);
    n = 0;
    ck_assert_int_eq(kube_cache_each_ns(c, "a", stop_fn, &n), 7);
    ck_assert_int_eq(n, 1); /* stopped at the first */
    n = 0;
    ck_assert_int_eq(kube_cache_each_owner(c, "nobody", count_fn, &n), 0);
    ck_assert_int_eq(n, 0);
    kube_cache_free(c);
}
END_TEST

START_TEST(test_owner_index_follows_changes)
{
    struct kube_cache *c = kube_cache_new();
    kube_cache_upsert(c, mk("a", "p-0", "1", "u1"), NULL);
    kube_cache_upsert(c, mk("a", "p-1", "1", "u1,u2"), NULL);
    kube_cache_upsert(c, mk("a", "svc", "1", "u2,u2"), NULL); /* a duplicate ref counts once */
    kube_cache_upsert(c, mk("b", "lone", "1", ""), NULL);
    expect_owner(c, "u1", "a/p-0 a/p-1");
    expect_owner(c, "u2", "a/p-1 a/svc");
    expect_owner(c, "u3", "");
    /* owner changed: index moves */
    kube_cache_upsert(c, mk("a", "p-0", "2", "u3"), NULL);
    expect_owner(c, "u1", "a/p-1");
    expect_owner(c, "u3", "a/p-0");
    /* same rv: the stored object (and index) stays */
    kube_cache_upsert(c, mk("a", "p-0", "2", "u9"), NULL);
    expect_owner(c, "u3", "a/p-0");
    expect_owner(c, "u9", "");
    /* deleted: gone from the index */
    kube_cache_delete(c, "a", "p-1");
    expect_owner(c, "u1", "");
    expect_owner(c, "u2", "a/svc");
    /* owner refs removed */
    kube_cache_upsert(c, mk("a", "svc", "5", ""), NULL);
    expect_owner(c, "u2", "");
    expect_ns(c, "a", "a/p-0 a/svc");
    expect_ns(c, "b", "b/lone");
    expect_ns(c, "zzz", "");
    expect_ns(c, NULL, "a/p-0 a/svc b/lone");
    kube_cache_free(c);
}
END_TEST

/* mk with the instance label set to inst (NULL = no labels). */
static cJSON *mkl(const char *ns, const char *name, const char *rv, const char *owners,
                  const char *inst)
{
    cJSON *o = mk(ns, name, rv, owners);
    if (inst) {
        cJSON *l = cJSON_AddObjectToObject(cJSON_GetObjectItem(o, "metadata"), "labels");
        cJSON_AddStringToObject(l, "app.kubernetes.io/instance", inst);
        cJSON_AddStringToObject(l, "other", "x");
    }
    return o;
}

static void expect_label(struct kube_cache *c, const char *ns, const char *v, const char *want)
{
    char got[1024];
    cJSON *l = kube_cache_list_label(c, ns, v);
    ck_assert_ptr_nonnull(l);
    keys_of(l, got, sizeof got);
    ck_assert_msg(strcmp(got, want) == 0, "label %s/%s: got [%s], want [%s]", ns ? ns : "", v, got,
                  want);
    /* the callback form visits the same objects */
    int n = 0, words = *want ? 1 : 0;
    for (const char *p = want; *p; p++)
        words += *p == ' ';
    ck_assert_int_eq(kube_cache_each_label(c, ns, v, count_fn, &n), 0);
    ck_assert_int_eq(n, words);
    cJSON_Delete(l);
}

START_TEST(test_label_index_follows_changes)
{
    struct kube_cache *c = kube_cache_new_indexed("app.kubernetes.io/instance");
    kube_cache_upsert(c, mkl("a", "orders-0", "1", "u1", "orders"), NULL);
    kube_cache_upsert(c, mkl("a", "orders-1", "1", "u1", "orders"), NULL);
    kube_cache_upsert(c, mkl("a", "pay-0", "1", "u2", "pay"), NULL);
    kube_cache_upsert(c, mkl("b", "orders-0", "1", "u3", "orders"), NULL); /* same name, other ns */
    kube_cache_upsert(c, mkl("a", "bare", "1", "", NULL), NULL);
    expect_label(c, "a", "orders", "a/orders-0 a/orders-1");
    expect_label(c, "b", "orders", "b/orders-0");
    expect_label(c, "a", "pay", "a/pay-0");
    expect_label(c, "a", "nobody", "");
    expect_label(c, "c", "orders", "");
    /* label value changed: the entry moves, the owner index is untouched by it */
    kube_cache_upsert(c, mkl("a", "orders-1", "2", "u1", "pay"), NULL);
    expect_label(c, "a", "orders", "a/orders-0");
    expect_label(c, "a", "pay", "a/orders-1 a/pay-0");
    expect_owner(c, "u1", "a/orders-0 a/orders-1");
    /* same rv: stored object (and index) kept */
    kube_cache_upsert(c, mkl("a", "orders-1", "2", "u1", "zzz"), NULL);
    expect_label(c, "a", "zzz", "");
    /* label removed, then added back */
    kube_cache_upsert(c, mkl("a", "pay-0", "2", "u2", NULL), NULL);
    expect_label(c, "a", "pay", "a/orders-1");
    kube_cache_upsert(c, mkl("a", "pay-0", "3", "u2", "pay"), NULL);
    expect_label(c, "a", "pay", "a/orders-1 a/pay-0");
    /* delete */
    ck_assert_int_eq(kube_cache_delete(c, "a", "orders-0"), 1);
    expect_label(c, "a", "orders", "");
    /* relist: one gone, one moved, one new; the index matches the list exactly */
    cJSON *items = cJSON_CreateArray();
    cJSON_AddItemToArray(items, mkl("a", "orders-1", "9", "u1", "orders"));
    cJSON_AddItemToArray(items, mkl("a", "orders-7", "1", "u1", "orders"));
    cJSON_AddItemToArray(items, mkl("b", "orders-0", "1", "u3", "orders"));
    cJSON *gone = NULL;
    ck_assert_int_eq(kube_cache_replace(c, items, &gone, NULL, NULL, NULL), 0);
    char got[256];
    keys_of(gone, got, sizeof got);
    ck_assert_str_eq(got, "a/bare a/pay-0");
    cJSON_Delete(gone);
    expect_label(c, "a", "orders", "a/orders-1 a/orders-7");
    expect_label(c, "a", "pay", "");
    expect_label(c, "b", "orders", "b/orders-0");
    /* relist to empty: nothing indexed */
    ck_assert_int_eq(kube_cache_replace(c, cJSON_CreateArray(), NULL, NULL, NULL, NULL), 0);
    expect_label(c, "a", "orders", "");
    expect_label(c, "b", "orders", "");
    kube_cache_free(c);
}
END_TEST

START_TEST(test_label_index_absent)
{
    struct kube_cache *c = kube_cache_new();
    kube_cache_upsert(c, mkl("a", "orders-0", "1", "u1", "orders"), NULL);
    int n = 0;
    ck_assert_int_eq(kube_cache_each_label(c, "a", "orders", count_fn, &n), ERR_INVALID);
    ck_assert_ptr_null(kube_cache_list_label(c, "a", "orders"));
    kube_cache_free(c);
    /* cluster-scoped objects: ns NULL and "" are the same */
    c = kube_cache_new_indexed("app.kubernetes.io/instance");
    kube_cache_upsert(c, mkl(NULL, "n1", "1", "", "z"), NULL);
    expect_label(c, NULL, "z", "n1");
    expect_label(c, "", "z", "n1");
    kube_cache_free(c);
}
END_TEST

#define INST "app.kubernetes.io/instance"

/* What the indexes must agree with: a scan of every stored object. */
struct scan {
    const char *ns, *inst, *uid;
    cJSON *out;
};

static int scan_fn(const cJSON *obj, void *ud)
{
    struct scan *s = ud;
    const cJSON *md = cJSON_GetObjectItem(obj, "metadata");
    const char *ns = cJSON_GetStringValue(cJSON_GetObjectItem(md, "namespace"));
    if (s->inst) {
        const char *v =
            cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(md, "labels"), INST));
        if (v && strcmp(v, s->inst) == 0 && strcmp(ns ? ns : "", s->ns) == 0)
            cJSON_AddItemToArray(s->out, cJSON_Duplicate(obj, 1));
        return 0;
    }
    const cJSON *ref;
    cJSON_ArrayForEach(ref, cJSON_GetObjectItem(md, "ownerReferences"))
    {
        const char *u = cJSON_GetStringValue(cJSON_GetObjectItem(ref, "uid"));
        if (u && strcmp(u, s->uid) == 0) {
            cJSON_AddItemToArray(s->out, cJSON_Duplicate(obj, 1));
            break;
        }
    }
    return 0;
}

static void expect_indexes_match_scan(struct kube_cache *c, int step)
{
    static const char *const nss[] = {"a", "b"}, *const vals[] = {"p0", "p1", "p2", "p3"};
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++) {
            struct scan s = {.ns = nss[i], .inst = vals[j], .out = cJSON_CreateArray()};
            kube_cache_each_ns(c, NULL, scan_fn, &s);
            cJSON *idx = kube_cache_list_label(c, nss[i], vals[j]);
            char want[1024], got[1024];
            keys_of(s.out, want, sizeof want);
            keys_of(idx, got, sizeof got);
            ck_assert_msg(strcmp(want, got) == 0, "step %d label %s/%s: index [%s] scan [%s]", step,
                          nss[i], vals[j], got, want);
            cJSON_Delete(idx);
            cJSON_Delete(s.out);
        }
    for (int j = 0; j < 4; j++) {
        char uid[8];
        snprintf(uid, sizeof uid, "u%d", j);
        struct scan s = {.uid = uid, .out = cJSON_CreateArray()};
        kube_cache_each_ns(c, NULL, scan_fn, &s);
        cJSON *idx = kube_cache_list_owner(c, uid);
        char want[1024], got[1024];
        keys_of(s.out, want, sizeof want);
        keys_of(idx, got, sizeof got);
        ck_assert_msg(strcmp(want, got) == 0, "step %d owner %s: index [%s] scan [%s]", step, uid,
                      got, want);
        cJSON_Delete(idx);
        cJSON_Delete(s.out);
    }
}

/* A random object among 2 namespaces x 12 names, with a random label value and owner. */
static cJSON *rnd_obj(unsigned int *seed, int rv)
{
    static const char *const nss[] = {"a", "b"};
    char name[16], rvs[16], inst[8], uid[8];
    snprintf(name, sizeof name, "o%d", rand_r(seed) % 12);
    snprintf(rvs, sizeof rvs, "%d", rv);
    snprintf(inst, sizeof inst, "p%d", rand_r(seed) % 4);
    snprintf(uid, sizeof uid, "u%d", rand_r(seed) % 4);
    int r = rand_r(seed) % 5;
    cJSON *o = mkl(nss[rand_r(seed) % 2], name, rvs, "", r == 0 ? NULL : inst);
    if (r != 1) {
        cJSON *refs = cJSON_AddArrayToObject(cJSON_GetObjectItem(o, "metadata"), "ownerReferences");
        cJSON *ref = cJSON_CreateObject();
        cJSON_AddStringToObject(ref, "uid", uid);
        cJSON_AddItemToArray(refs, ref);
    }
    return o;
}

/* The byte count kept step by step equals that of a cache built afresh from what c holds. */
static void expect_stats_match_rebuild(struct kube_cache *c, int step)
{
    struct kube_cache *fresh = kube_cache_new_indexed(INST);
    cJSON *all = kube_cache_list_ns(c, NULL), *it;
    while ((it = cJSON_DetachItemFromArray(all, 0)) != NULL)
        ck_assert_int_ge(kube_cache_upsert(fresh, it, NULL), 0);
    cJSON_Delete(all);
    struct kube_cache_stats got, want;
    kube_cache_stats(c, &got);
    kube_cache_stats(fresh, &want);
    ck_assert_msg(got.objects == want.objects && got.bytes == want.bytes,
                  "step %d: %zu objects / %zu bytes, rebuilt %zu / %zu", step, got.objects,
                  got.bytes, want.objects, want.bytes);
    ck_assert_uint_eq(got.objects, kube_cache_count(c));
    ck_assert(got.objects == 0 ? got.bytes == 0 : got.bytes > got.objects * 8);
    kube_cache_free(fresh);
}

START_TEST(test_indexes_match_scan_under_random_changes)
{
    struct kube_cache *c = kube_cache_new_indexed(INST);
    unsigned int seed = 12345;
    for (int step = 0; step < 600; step++) {
        int op = rand_r(&seed) % 10;
        if (op < 6) {
            kube_cache_upsert(c, rnd_obj(&seed, step), NULL);
        } else if (op < 9) {
            char name[16];
            snprintf(name, sizeof name, "o%d", rand_r(&seed) % 12);
            kube_cache_delete(c, rand_r(&seed) % 2 ? "a" : "b", name);
        } else {
            cJSON *items = cJSON_CreateArray();
            for (int k = rand_r(&seed) % 10; k > 0; k--)
                cJSON_AddItemToArray(items, rnd_obj(&seed, step));
            cJSON *g = NULL, *a = NULL, *u = NULL;
            ck_assert_int_eq(kube_cache_replace(c, items, &g, &a, &u, NULL), 0);
            cJSON_Delete(g);
            cJSON_Delete(a);
            cJSON_Delete(u);
        }
        expect_indexes_match_scan(c, step);
        expect_stats_match_rebuild(c, step);
    }
    cJSON *none = cJSON_CreateArray();
    ck_assert_int_eq(kube_cache_replace(c, none, NULL, NULL, NULL, NULL), 0);
    expect_stats_match_rebuild(c, -1);
    kube_cache_free(c);
}
END_TEST

/* Relist table: stored state, listed state, expected diff and result. */
struct rcase {
    const char *name;
    const char *stored; /* "ns/name@rv ..." */
    const char *listed;
    const char *gone, *added, *updated, *after;
};

static const struct rcase rcases[] = {
    {"empty to some", "", "a/x@1 a/y@1", "", "a/x a/y", "", "a/x a/y"},
    {"some to empty", "a/x@1 a/y@1", "", "a/x a/y", "", "", ""},
    {"nothing changed", "a/x@1 a/y@1", "a/x@1 a/y@1", "", "", "", "a/x a/y"},
    {"mixed", "a/x@1 a/y@1 b/z@4", "a/x@2 b/z@4 b/new@9", "a/y", "b/new", "a/x", "a/x b/new b/z"},
    {"duplicates in list", "", "a/x@1 a/x@2", "", "a/x", "a/x", "a/x"},
};

static cJSON *parse_state(const char *spec)
{
    cJSON *arr = cJSON_CreateArray();
    char buf[512];
    snprintf(buf, sizeof buf, "%s", spec);
    for (char *save = NULL, *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        char *slash = strchr(t, '/'), *at = strchr(t, '@');
        *slash = '\0';
        *at = '\0';
        cJSON_AddItemToArray(arr, mk(t, slash + 1, at + 1, "u"));
    }
    return arr;
}

START_TEST(test_replace_table)
{
    const struct rcase *rc = &rcases[_i];
    struct kube_cache *c = kube_cache_new();
    struct err e = {0};
    cJSON *stored = parse_state(rc->stored), *it;
    cJSON_ArrayForEach(it, stored)
    {
        kube_cache_upsert(c, cJSON_Duplicate(it, 1), NULL);
    }
    cJSON_Delete(stored);
    cJSON *gone = NULL, *added = NULL, *updated = NULL;
    ck_assert_int_eq(kube_cache_replace(c, parse_state(rc->listed), &gone, &added, &updated, &e),
                     0);
    char got[512];
    keys_of(gone, got, sizeof got);
    ck_assert_msg(strcmp(got, rc->gone) == 0, "%s: gone [%s] want [%s]", rc->name, got, rc->gone);
    keys_of(added, got, sizeof got);
    ck_assert_msg(strcmp(got, rc->added) == 0, "%s: added [%s] want [%s]", rc->name, got,
                  rc->added);
    keys_of(updated, got, sizeof got);
    ck_assert_msg(strcmp(got, rc->updated) == 0, "%s: updated [%s] want [%s]", rc->name, got,
                  rc->updated);
    expect_ns(c, NULL, rc->after);
    /* the owner index matches what is stored */
    cJSON *owned = kube_cache_list_owner(c, "u");
    ck_assert_int_eq(cJSON_GetArraySize(owned), (int)kube_cache_count(c));
    cJSON_Delete(owned);
    cJSON_Delete(gone);
    cJSON_Delete(added);
    cJSON_Delete(updated);
    kube_cache_free(c);
}
END_TEST

START_TEST(test_replace_outputs_optional_and_gone_keeps_last_state)
{
    struct kube_cache *c = kube_cache_new();
    kube_cache_upsert(c, mk("a", "old", "41", ""), NULL);
    kube_cache_upsert(c, mk("a", "keep", "1", ""), NULL);
    cJSON *gone = NULL;
    cJSON *items = cJSON_CreateArray();
    cJSON_AddItemToArray(items, mk("a", "keep", "1", ""));
    cJSON_AddItemToArray(items, cJSON_CreateString("not an object"));
    cJSON_AddItemToArray(items, cJSON_CreateObject()); /* no name: skipped */
    ck_assert_int_eq(kube_cache_replace(c, items, &gone, NULL, NULL, NULL), 0);
    ck_assert_int_eq(cJSON_GetArraySize(gone), 1);
    ck_assert_str_eq(rv_of(cJSON_GetArrayItem(gone, 0)), "41");
    cJSON_Delete(gone);
    ck_assert_uint_eq(kube_cache_count(c), 1);
    ck_assert_int_eq(kube_cache_replace(c, cJSON_CreateArray(), NULL, NULL, NULL, NULL), 0);
    ck_assert_uint_eq(kube_cache_count(c), 0);
    kube_cache_free(c);
}
END_TEST

/* "key=rv ..." of every object of namespaces a and b, sorted by key */
static void state_of(struct kube_cache *c, char *out, size_t n)
{
    out[0] = '\0';
    for (int k = 0; k < 2; k++) {
        cJSON *arr = kube_cache_list_ns(c, k ? "b" : "a");
        char keys[512];
        keys_of(arr, keys, sizeof keys);
        for (char *save = NULL, *key = strtok_r(keys, " ", &save); key;
             key = strtok_r(NULL, " ", &save)) {
            const char *slash = strchr(key, '/');
            cJSON *o = kube_cache_get(c, k ? "b" : "a", slash + 1);
            char one[160];
            snprintf(one, sizeof one, "%s=%s ", key, o ? rv_of(o) : "?");
            strncat(out, one, n - strlen(out) - 1);
            cJSON_Delete(o);
        }
        cJSON_Delete(arr);
    }
}

static void indexes_of(struct kube_cache *c, char *out, size_t n)
{
    char one[512];
    out[0] = '\0';
    for (int i = 0; i < 4; i++) {
        char v[8];
        snprintf(v, sizeof v, "u%d", i);
        cJSON *arr = kube_cache_list_owner(c, v);
        keys_of(arr, one, sizeof one);
        cJSON_Delete(arr);
        strncat(out, one, n - strlen(out) - 1);
        strncat(out, "|", n - strlen(out) - 1);
        snprintf(v, sizeof v, "p%d", i);
        for (int k = 0; k < 2; k++) {
            arr = kube_cache_list_label(c, k ? "b" : "a", v);
            keys_of(arr, one, sizeof one);
            cJSON_Delete(arr);
            strncat(out, one, n - strlen(out) - 1);
            strncat(out, "|", n - strlen(out) - 1);
        }
    }
}

/* The informer's relist goes page by page (replace_begin / _page / _end): for random caches,
 * lists and page sizes it ends where one whole replace ends, with the same gone, added and
 * updated objects, and the indexes agree. */
START_TEST(test_paged_replace_matches_whole)
{
    for (unsigned int seed0 = 1; seed0 <= 300; seed0++) {
        unsigned int seed = seed0;
        struct kube_cache *whole = kube_cache_new(), *paged = kube_cache_new();
        int rv = 1;
        for (int i = rand_r(&seed) % 16; i > 0; i--, rv++) {
            unsigned int s2 = seed;
            kube_cache_upsert(whole, rnd_obj(&seed, rv), NULL);
            kube_cache_upsert(paged, rnd_obj(&s2, rv), NULL);
        }
        cJSON *items = cJSON_CreateArray();
        for (int i = rand_r(&seed) % 16; i > 0; i--)
            cJSON_AddItemToArray(items, rnd_obj(&seed, rand_r(&seed) % 3 ? rv++ : 1));
        cJSON *copy = cJSON_Duplicate(items, 1);
        cJSON *g1, *a1, *u1;
        ck_assert_int_eq(kube_cache_replace(whole, items, &g1, &a1, &u1, NULL), 0);

        cJSON *a2 = cJSON_CreateArray(), *u2 = cJSON_CreateArray(), *g2 = NULL;
        unsigned long gen = kube_cache_replace_begin(paged);
        int per = 1 + rand_r(&seed) % 5;
        while (cJSON_GetArraySize(copy) > 0 || rand_r(&seed) % 4 == 0) { /* empty pages too */
            cJSON *page = cJSON_CreateArray(), *it;
            for (int k = 0; k < per && (it = cJSON_DetachItemFromArray(copy, 0)); k++)
                cJSON_AddItemToArray(page, it);
            cJSON *pa, *pu;
            ck_assert_int_eq(kube_cache_replace_page(paged, gen, page, &pa, &pu, NULL), 0);
            while ((it = cJSON_DetachItemFromArray(pa, 0)))
                cJSON_AddItemToArray(a2, it);
            while ((it = cJSON_DetachItemFromArray(pu, 0)))
                cJSON_AddItemToArray(u2, it);
            cJSON_Delete(pa);
            cJSON_Delete(pu);
        }
        cJSON_Delete(copy);
        ck_assert_int_eq(kube_cache_replace_end(paged, gen, &g2, NULL), 0);

        char x[2048], y[2048];
        state_of(whole, x, sizeof x);
        state_of(paged, y, sizeof y);
        ck_assert_msg(strcmp(x, y) == 0, "seed %u: cache %s vs %s", seed0, x, y);
        indexes_of(whole, x, sizeof x);
        indexes_of(paged, y, sizeof y);
        ck_assert_msg(strcmp(x, y) == 0, "seed %u: indexes %s vs %s", seed0, x, y);
        cJSON *pairs[3][2] = {{g1, g2}, {a1, a2}, {u1, u2}};
        for (int k = 0; k < 3; k++) {
            keys_of(pairs[k][0], x, sizeof x);
            keys_of(pairs[k][1], y, sizeof y);
            ck_assert_msg(strcmp(x, y) == 0, "seed %u: diff %d %s vs %s", seed0, k, x, y);
            cJSON_Delete(pairs[k][0]);
            cJSON_Delete(pairs[k][1]);
        }
        kube_cache_free(whole);
        kube_cache_free(paged);
    }
}
END_TEST

START_TEST(test_bad_input)
{
    struct kube_cache *c = kube_cache_new();
    struct err e = {0};
    ck_assert_int_eq(kube_cache_upsert(c, NULL, &e), ERR_INVALID);
    ck_assert_int_eq(kube_cache_upsert(c, cJSON_CreateString("x"), &e), ERR_INVALID);
    ck_assert_int_eq(kube_cache_upsert(c, cJSON_Parse("{\"metadata\":{\"name\":5}}"), &e),
                     ERR_INVALID);
    ck_assert_int_eq(kube_cache_upsert(c, cJSON_Parse("{\"metadata\":{\"name\":\"\"}}"), &e),
                     ERR_INVALID);
    ck_assert_int_eq(kube_cache_upsert(c, cJSON_Parse("{\"metadata\":[1,2]}"), &e), ERR_INVALID);
    ck_assert_msg(strstr(e.msg, "metadata.name") != NULL, "message: %s", e.msg);
    /* wrong types in owner refs / namespace are tolerated, not indexed */
    ck_assert_int_eq(kube_cache_upsert(c,
                                       cJSON_Parse("{\"metadata\":{\"name\":\"n\",\"namespace\":3,"
                                                   "\"ownerReferences\":[1,{\"uid\":2},{},"
                                                   "{\"uid\":\"\"},{\"uid\":\"ok\"}]}}"),
                                       &e),
                     KUBE_CACHE_ADDED);
    expect_owner(c, "ok", "n");
    ck_assert_int_eq(kube_cache_upsert(c,
                                       cJSON_Parse("{\"metadata\":{\"name\":\"m\","
                                                   "\"ownerReferences\":{\"uid\":\"x\"}}}"),
                                       &e),
                     KUBE_CACHE_ADDED);
    expect_owner(c, "x", "");
    /* replace with a non-array: refused, cache unchanged, input freed */
    cJSON *gone = (cJSON *)1;
    ck_assert_int_eq(kube_cache_replace(c, cJSON_CreateObject(), &gone, NULL, NULL, &e),
                     ERR_INVALID);
    ck_assert_ptr_null(gone);
    ck_assert_int_eq(kube_cache_replace(c, NULL, NULL, NULL, NULL, &e), ERR_INVALID);
    ck_assert_uint_eq(kube_cache_count(c), 2);
    /* NULL arguments */
    ck_assert_int_eq(kube_cache_upsert(NULL, mk("a", "b", "1", ""), &e), ERR_INVALID);
    ck_assert_ptr_null(kube_cache_get(NULL, "a", "b"));
    ck_assert_ptr_null(kube_cache_get(c, "a", NULL));
    ck_assert_int_eq(kube_cache_delete(c, "a", NULL), 0);
    ck_assert_int_eq(kube_cache_with(c, "a", "b", NULL, NULL), ERR_INVALID);
    ck_assert_ptr_null(kube_cache_list_owner(c, NULL));
    ck_assert_uint_eq(kube_cache_count(NULL), 0);
    kube_cache_free(NULL);
    /* long names: keys are not truncated */
    char big[2000];
    memset(big, 'n', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ck_assert_int_eq(kube_cache_upsert(c, mk("a", big, "1", ""), &e), KUBE_CACHE_ADDED);
    big[1000] = '\0';
    ck_assert_ptr_null(kube_cache_get(c, "a", big));
    kube_cache_free(c);
}
END_TEST

/* Stored as text, read back as trees: every reader gets what was stored, value for value, in
 * the same order, and its own tree (changing it changes nothing stored). */
START_TEST(test_reads_give_back_what_was_stored)
{
    static const char *const text =
        "{\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\",\"resourceVersion\":\"7\","
        "\"ownerReferences\":[{\"uid\":\"u1\"}],\"labels\":{\"l\":\"v\"}},\"spec\":{\"n\":[0,-0.5,"
        "12345678901,1e300,3.141592653589793,-7],\"b\":[true,false,null],\"s\":\"tab\\t quote\\\" "
        "back\\\\ \\u00e9\\u2603 nl\\n\",\"e\":{},\"a\":[],\"deep\":[[[{\"x\":[1]}]]]}}";
    cJSON *want = cJSON_Parse(text);
    ck_assert_ptr_nonnull(want);
    struct kube_cache *c = kube_cache_new_indexed("l");
    ck_assert_int_eq(kube_cache_upsert(c, cJSON_Duplicate(want, 1), NULL), KUBE_CACHE_ADDED);
    cJSON *got = kube_cache_get(c, "ns", "p");
    ck_assert(cJSON_Compare(want, got, 1));
    char *a = cJSON_PrintUnformatted(want), *b = cJSON_PrintUnformatted(got);
    ck_assert_str_eq(a, b); /* key order too */
    free(a);
    free(b);
    cJSON_DeleteItemFromObjectCaseSensitive(got, "spec");
    cJSON_Delete(got);
    cJSON *lists[] = {kube_cache_list_owner(c, "u1"), kube_cache_list_label(c, "ns", "v"),
                      kube_cache_list_ns(c, "ns"), kube_cache_list_ns(c, NULL)};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        ck_assert_int_eq(cJSON_GetArraySize(lists[i]), 1);
        ck_assert(cJSON_Compare(want, cJSON_GetArrayItem(lists[i], 0), 1));
        cJSON_Delete(lists[i]);
    }
    char rv[16];
    ck_assert_int_eq(kube_cache_rv(c, "ns", "p", rv, sizeof rv), 1);
    ck_assert_str_eq(rv, "7");
    /* cluster-scoped and namespaced apart: "" is the objects without a namespace */
    ck_assert_int_eq(kube_cache_upsert(c, mk(NULL, "nsx", "1", NULL), NULL), KUBE_CACHE_ADDED);
    expect_ns(c, "", "nsx");
    expect_ns(c, "n", "");
    cJSON *gone = NULL;
    ck_assert_int_eq(kube_cache_replace(c, cJSON_CreateArray(), &gone, NULL, NULL, NULL), 0);
    ck_assert_int_eq(cJSON_GetArraySize(gone), 2);
    const cJSON *g;
    int matched = 0;
    cJSON_ArrayForEach(g, gone) matched += cJSON_Compare(want, g, 1);
    ck_assert_int_eq(matched, 1);
    cJSON_Delete(gone);
    cJSON_Delete(want);
    kube_cache_free(c);
}
END_TEST

START_TEST(test_keys)
{
    char k[16];
    ck_assert_str_eq(kube_cache_key("ns", "n", k, sizeof k), "ns/n");
    ck_assert_str_eq(kube_cache_key(NULL, "n", k, sizeof k), "n");
    ck_assert_str_eq(kube_cache_key("", "n", k, sizeof k), "n");
    ck_assert_str_eq(kube_cache_key("a-very-long-namespace", "n", k, sizeof k), "a-very-long-nam");
    cJSON *o = mk("ns", "x", "1", "");
    ck_assert_str_eq(kube_cache_obj_key(o, k, sizeof k), "ns/x");
    cJSON_Delete(o);
    ck_assert_str_eq(kube_cache_obj_key(NULL, k, sizeof k), "");
}
END_TEST

struct race {
    struct kube_cache *c;
    int stop; /* __atomic: the writer sets it, the readers poll it */
    int reads;
};

static void *reader(void *arg)
{
    struct race *r = arg;
    while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
        cJSON *l = kube_cache_list_owner(r->c, "u");
        cJSON_Delete(l);
        cJSON *g = kube_cache_get(r->c, "a", "k3");
        cJSON_Delete(g);
        __atomic_add_fetch(&r->reads, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

START_TEST(test_readers_and_writer)
{
    struct race r = {.c = kube_cache_new()};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, reader, &r);
    /* The writes must overlap the reads: wait (bounded) until a reader is running, or a
     * slow start (valgrind, a loaded machine) lets the writer finish alone. */
    for (int i = 0; i < 2000 && __atomic_load_n(&r.reads, __ATOMIC_RELAXED) == 0; i++) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    char name[16], rv[16];
    for (int i = 0; i < 3000; i++) {
        snprintf(name, sizeof name, "k%d", i % 50);
        snprintf(rv, sizeof rv, "%d", i);
        kube_cache_upsert(r.c, mk("a", name, rv, i % 3 ? "u" : "v"), NULL);
        if (i % 7 == 0)
            kube_cache_delete(r.c, "a", name);
        if (i % 1000 == 999)
            kube_cache_replace(r.c, parse_state("a/k3@1 a/k4@1"), NULL, NULL, NULL, NULL);
    }
    __atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    ck_assert_int_gt(r.reads, 0);
    kube_cache_free(r.c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kube_cache");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_upsert_get_delete);
    tcase_add_test(tc, test_with_and_each);
    tcase_add_test(tc, test_owner_index_follows_changes);
    tcase_add_test(tc, test_label_index_follows_changes);
    tcase_add_test(tc, test_indexes_match_scan_under_random_changes);
    tcase_add_test(tc, test_label_index_absent);
    tcase_add_loop_test(tc, test_replace_table, 0, (int)(sizeof rcases / sizeof rcases[0]));
    tcase_add_test(tc, test_replace_outputs_optional_and_gone_keeps_last_state);
    tcase_add_test(tc, test_paged_replace_matches_whole);
    tcase_add_test(tc, test_bad_input);
    tcase_add_test(tc, test_reads_give_back_what_was_stored);
    tcase_add_test(tc, test_keys);
    tcase_add_test(tc, test_readers_and_writer);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
