/* test_base_htab.c — the intrusive hash table: a table of insert/find/remove scripts, growth past
 * several doublings with 10k keys, removing (and freeing) each node as the walk returns it, empty
 * keys, and calls on a zeroed or NULL table. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/htab.h"

struct ent {
    int val;
    struct htab_node node;
    char key[24];
};

static struct ent *ent_of(struct htab_node *n)
{
    return n ? HTAB_ENTRY(n, struct ent, node) : NULL;
}

/* ---- scripted cases: 'i' insert, 'r' remove, 'f' expect found, 'm' expect missing ---- */

struct step {
    char op;
    const char *key;
};

struct script {
    const char *name;
    struct step steps[8];
    size_t count; /* expected count at the end */
};

static const struct script scripts[] = {
    {"empty table finds nothing", {{'m', "a"}, {'m', ""}}, 0},
    {"insert then find", {{'i', "a"}, {'f', "a"}, {'m', "b"}}, 1},
    {"empty key is a key", {{'i', ""}, {'f', ""}, {'m', "a"}, {'r', ""}, {'m', ""}}, 0},
    {"remove one of two", {{'i', "a"}, {'i', "b"}, {'r', "a"}, {'m', "a"}, {'f', "b"}}, 1},
    {"remove then insert again", {{'i', "x"}, {'r', "x"}, {'i', "x"}, {'f', "x"}}, 1},
    {"prefixes are different keys",
     {{'i', "ab"}, {'m', "a"}, {'m', "abc"}, {'i', "a"}, {'f', "a"}},
     2},
    {"keys with slashes", {{'i', "ns/a"}, {'i', "a"}, {'f', "ns/a"}, {'r', "a"}, {'f', "ns/a"}}, 1},
};

START_TEST(test_scripts)
{
    const struct script *sc = &scripts[_i];
    struct htab h;
    struct ent pool[8];
    size_t used = 0;
    ck_assert_int_eq(htab_init(&h), 0);
    for (size_t i = 0; i < 8 && sc->steps[i].op; i++) {
        const struct step *st = &sc->steps[i];
        struct htab_node *n = htab_find(&h, st->key);
        switch (st->op) {
        case 'i': {
            ck_assert_msg(n == NULL, "%s: %s already there", sc->name, st->key);
            struct ent *e = &pool[used++];
            snprintf(e->key, sizeof e->key, "%s", st->key);
            e->val = (int)i;
            e->node.key = e->key;
            htab_insert(&h, &e->node);
            break;
        }
        case 'r':
            ck_assert_msg(n != NULL, "%s: %s missing for remove", sc->name, st->key);
            ck_assert_int_eq(htab_remove(&h, n), 1);
            ck_assert_int_eq(htab_remove(&h, n), 0); /* a second remove changes nothing */
            break;
        case 'f':
            ck_assert_msg(n != NULL, "%s: %s not found", sc->name, st->key);
            ck_assert_str_eq(n->key, st->key);
            break;
        case 'm':
            ck_assert_msg(n == NULL, "%s: %s found", sc->name, st->key);
            break;
        }
    }
    ck_assert_msg(h.count == sc->count, "%s: count %zu want %zu", sc->name, h.count, sc->count);
    htab_free(&h);
    ck_assert_ptr_null(h.b);
}
END_TEST

/* ---- growth ---- */

enum { NKEYS = 10000 };

static struct ent *make_ents(size_t n)
{
    struct ent *v = calloc(n, sizeof *v);
    ck_assert_ptr_nonnull(v);
    for (size_t i = 0; i < n; i++) {
        snprintf(v[i].key, sizeof v[i].key, "ns-%zu/pod-%zu", i % 7, i);
        v[i].val = (int)i;
        v[i].node.key = v[i].key;
    }
    return v;
}

START_TEST(test_growth_10k)
{
    struct htab h;
    struct ent *v = make_ents(NKEYS);
    ck_assert_int_eq(htab_init(&h), 0);
    size_t nb0 = h.nb;
    for (size_t i = 0; i < NKEYS; i++) {
        htab_insert(&h, &v[i].node);
        ck_assert_msg(h.count <= h.nb, "load past 1 at %zu: %zu/%zu", i, h.count, h.nb);
    }
    ck_assert_uint_eq(h.count, NKEYS);
    ck_assert_uint_ge(h.nb, nb0 * 512); /* 16 -> 16384: nine doublings */
    ck_assert_uint_eq(h.nb & (h.nb - 1), 0);
    char k[24];
    for (size_t i = 0; i < NKEYS; i++) {
        snprintf(k, sizeof k, "ns-%zu/pod-%zu", i % 7, i);
        struct ent *e = ent_of(htab_find(&h, k));
        ck_assert_ptr_nonnull(e);
        ck_assert_int_eq(e->val, (int)i);
    }
    ck_assert_ptr_null(htab_find(&h, "ns-0/pod-10000"));
    /* remove the even ones; the odd ones stay findable */
    for (size_t i = 0; i < NKEYS; i += 2)
        ck_assert_int_eq(htab_remove(&h, &v[i].node), 1);
    ck_assert_uint_eq(h.count, NKEYS / 2);
    for (size_t i = 0; i < NKEYS; i++) {
        snprintf(k, sizeof k, "ns-%zu/pod-%zu", i % 7, i);
        ck_assert_int_eq(htab_find(&h, k) != NULL, (int)(i % 2));
    }
    htab_free(&h);
    free(v);
}
END_TEST

/* ---- iteration ---- */

START_TEST(test_iter_visits_each_once)
{
    struct htab h;
    struct ent *v = make_ents(1000);
    ck_assert_int_eq(htab_init(&h), 0);
    for (size_t i = 0; i < 1000; i++)
        htab_insert(&h, &v[i].node);
    char *seen = calloc(1000, 1);
    ck_assert_ptr_nonnull(seen);
    struct htab_iter it;
    struct htab_node *n;
    size_t visits = 0;
    htab_iter_init(&it, &h);
    while ((n = htab_iter_next(&it)) != NULL) {
        struct ent *e = ent_of(n);
        ck_assert_int_eq(seen[e->val], 0);
        seen[e->val] = 1;
        visits++;
    }
    ck_assert_uint_eq(visits, 1000);
    ck_assert_ptr_null(htab_iter_next(&it)); /* stays at the end */
    free(seen);
    htab_free(&h);
    free(v);
}
END_TEST

/* Removing and freeing the node just returned is how the cache sweeps and frees itself. */
START_TEST(test_iter_remove_and_free)
{
    struct htab h;
    ck_assert_int_eq(htab_init(&h), 0);
    for (int i = 0; i < 300; i++) {
        struct ent *e = calloc(1, sizeof *e);
        ck_assert_ptr_nonnull(e);
        snprintf(e->key, sizeof e->key, "k%d", i);
        e->val = i;
        e->node.key = e->key;
        htab_insert(&h, &e->node);
    }
    /* first pass: drop the multiples of three */
    struct htab_iter it;
    struct htab_node *n;
    htab_iter_init(&it, &h);
    while ((n = htab_iter_next(&it)) != NULL) {
        struct ent *e = ent_of(n);
        if (e->val % 3 != 0)
            continue;
        ck_assert_int_eq(htab_remove(&h, n), 1);
        free(e);
    }
    ck_assert_uint_eq(h.count, 200);
    ck_assert_ptr_null(htab_find(&h, "k0"));
    ck_assert_ptr_nonnull(htab_find(&h, "k1"));
    /* second pass: free everything, as a destructor does */
    size_t left = 0;
    htab_iter_init(&it, &h);
    while ((n = htab_iter_next(&it)) != NULL) {
        ck_assert_int_ne(ent_of(n)->val % 3, 0);
        free(ent_of(n));
        left++;
    }
    ck_assert_uint_eq(left, 200);
    htab_free(&h);
}
END_TEST

/* ---- edges ---- */

START_TEST(test_zeroed_and_null)
{
    struct htab h = {0};
    struct ent e = {.node = {.key = "a"}};
    ck_assert_ptr_null(htab_find(&h, "a"));
    ck_assert_ptr_null(htab_find(NULL, "a"));
    ck_assert_int_eq(htab_remove(&h, &e.node), 0);
    ck_assert_int_eq(htab_remove(NULL, &e.node), 0);
    struct htab_iter it;
    htab_iter_init(&it, &h);
    ck_assert_ptr_null(htab_iter_next(&it));
    htab_free(&h);
    htab_free(NULL);
    /* an initialised table: NULL key finds nothing, an unlinked node is not removed */
    ck_assert_int_eq(htab_init(&h), 0);
    ck_assert_ptr_null(htab_find(&h, NULL));
    ck_assert_int_eq(htab_remove(&h, NULL), 0);
    ck_assert_int_eq(htab_remove(&h, &e.node), 0);
    ck_assert_uint_eq(h.count, 0);
    htab_free(&h);
}
END_TEST

/* Same-bucket neighbours: removing the middle of a chain keeps the rest. */
START_TEST(test_chain_middle_remove)
{
    struct htab h;
    ck_assert_int_eq(htab_init(&h), 0);
    struct ent v[64];
    size_t nb = h.nb, same = 0;
    uint64_t want = htab_hash("seed") & (nb - 1);
    char k[24];
    /* pick keys that share the first key's bucket at the initial size (few enough not to grow) */
    for (int i = 0; same < 3 && i < 100000; i++) {
        snprintf(k, sizeof k, "c%d", i);
        if ((htab_hash(k) & (nb - 1)) != want)
            continue;
        snprintf(v[same].key, sizeof v[same].key, "%s", k);
        v[same].node.key = v[same].key;
        htab_insert(&h, &v[same].node);
        same++;
    }
    ck_assert_uint_eq(same, 3);
    ck_assert_uint_eq(h.nb, nb);
    ck_assert_int_eq(htab_remove(&h, &v[1].node), 1);
    ck_assert_ptr_eq(htab_find(&h, v[0].key), &v[0].node);
    ck_assert_ptr_eq(htab_find(&h, v[2].key), &v[2].node);
    ck_assert_ptr_null(htab_find(&h, v[1].key));
    htab_free(&h);
}
END_TEST

START_TEST(test_hash_fnv1a)
{
    /* FNV-1a 64's published test vectors */
    ck_assert_uint_eq(htab_hash(""), 0xcbf29ce484222325ULL);
    ck_assert_uint_eq(htab_hash("a"), 0xaf63dc4c8601ec8cULL);
    ck_assert_uint_eq(htab_hash("foobar"), 0x85944171f73967e8ULL);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("base_htab");
    TCase *tc = tcase_create("htab");
    tcase_set_timeout(tc, 20);
    tcase_add_loop_test(tc, test_scripts, 0, (int)(sizeof scripts / sizeof scripts[0]));
    tcase_add_test(tc, test_growth_10k);
    tcase_add_test(tc, test_iter_visits_each_once);
    tcase_add_test(tc, test_iter_remove_and_free);
    tcase_add_test(tc, test_zeroed_and_null);
    tcase_add_test(tc, test_chain_middle_remove);
    tcase_add_test(tc, test_hash_fnv1a);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
