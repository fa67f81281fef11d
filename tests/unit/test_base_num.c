/* test_base_num.c — doubles from JSON read as integers: a table of values at and past the
 * edges of int64 (2^63 exactly, the largest double below it, -2^63), NaN, infinities,
 * fractions, negative zero, and ranges; non-numbers and NULL; num_json_is never casting. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "base/num.h"

struct ncase {
    const char *name;
    double d;
    int64_t min, max;
    int rc;
    int64_t want;
};

static const struct ncase ncases[] = {
    {"zero", 0.0, 0, 10, 0, 0},
    {"negative zero", -0.0, 0, 10, 0, 0},
    {"in range", 7.0, 0, 10, 0, 7},
    {"at max", 10.0, 0, 10, 0, 10},
    {"past max", 11.0, 0, 10, ERR_INVALID, 0},
    {"below min", -1.0, 0, 10, ERR_INVALID, 0},
    {"fraction", 1.5, 0, 10, ERR_INVALID, 0},
    {"NaN", NAN, INT64_MIN, INT64_MAX, ERR_INVALID, 0},
    {"+Inf", INFINITY, INT64_MIN, INT64_MAX, ERR_INVALID, 0},
    {"-Inf", -INFINITY, INT64_MIN, INT64_MAX, ERR_INVALID, 0},
    {"2^63 (one past INT64_MAX)", 9223372036854775808.0, INT64_MIN, INT64_MAX, ERR_INVALID, 0},
    {"largest double below 2^63", 9223372036854774784.0, INT64_MIN, INT64_MAX, 0,
     INT64_C(9223372036854774784)},
    {"-2^63 (INT64_MIN)", -9223372036854775808.0, INT64_MIN, INT64_MAX, 0, INT64_MIN},
    {"below -2^63", -9223372036854777856.0, INT64_MIN, INT64_MAX, ERR_INVALID, 0},
    {"1e300", 1e300, INT64_MIN, INT64_MAX, ERR_INVALID, 0},
    {"2^53", 9007199254740992.0, 0, INT64_MAX, 0, INT64_C(9007199254740992)},
    {"int32 max", 2147483647.0, 0, INT32_MAX, 0, INT32_MAX},
    {"int32 max + 1", 2147483648.0, 0, INT32_MAX, ERR_INVALID, 0},
};

START_TEST(test_to_i64_table)
{
    const struct ncase *c = &ncases[_i];
    int64_t out = -42;
    int rc = num_to_i64(c->d, c->min, c->max, &out);
    ck_assert_msg(rc == c->rc, "%s: rc %d, want %d", c->name, rc, c->rc);
    ck_assert_msg(out == (c->rc == 0 ? c->want : -42), "%s: out %lld", c->name, (long long)out);
}
END_TEST

START_TEST(test_json_reads_and_says_why)
{
    cJSON *o = cJSON_Parse("{\"a\":3,\"big\":1e300,\"neg\":-4,\"s\":\"3\",\"f\":2.5,\"n\":null}");
    ck_assert_ptr_nonnull(o);
    struct err e = {0};
    int64_t x = -1;
    ck_assert_int_eq(num_json_i64(cJSON_GetObjectItem(o, "a"), "a", 0, 5, &x, &e), 0);
    ck_assert_int_eq(x, 3);
    ck_assert_int_eq(num_json_i64(cJSON_GetObjectItem(o, "big"), "status.observedGeneration", 0,
                                  INT64_MAX, &x, &e),
                     ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(e.msg, "status.observedGeneration"));
    ck_assert_ptr_nonnull(strstr(e.msg, "1e+300"));
    ck_assert_int_eq(num_json_i64(cJSON_GetObjectItem(o, "s"), "s", 0, 5, &x, &e), ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(e.msg, "must be an integer"));
    ck_assert_int_eq(num_json_i64(cJSON_GetObjectItem(o, "f"), "f", 0, 5, &x, &e), ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(e.msg, "whole number"));
    ck_assert_int_eq(num_json_i64(NULL, "missing", 0, 5, &x, NULL), ERR_INVALID);
    ck_assert_int_eq(x, 3); /* untouched by every refusal */
    int i = -1;
    ck_assert_int_eq(num_json_int(cJSON_GetObjectItem(o, "neg"), "neg", -10, 10, &i, NULL), 0);
    ck_assert_int_eq(i, -4);
    ck_assert_int_eq(
        num_json_int(cJSON_GetObjectItem(o, "big"), "big", INT32_MIN, INT32_MAX, &i, NULL),
        ERR_INVALID);
    ck_assert_int_eq(i, -4);
    ck_assert_int_eq(num_json_get(o, "a", 0, 5, 9), 3);
    ck_assert_int_eq(num_json_get(o, "big", 0, INT64_MAX, 9), 9);
    ck_assert_int_eq(num_json_get(o, "n", 0, 5, 9), 9);
    ck_assert_int_eq(num_json_get(o, "absent", 0, 5, 9), 9);
    cJSON_Delete(o);
}
END_TEST

START_TEST(test_json_is)
{
    cJSON *o = cJSON_Parse("[3, 1e300, -1e300, 3.5, \"3\", 9223372036854775807]");
    ck_assert_ptr_nonnull(o);
    ck_assert(num_json_is(cJSON_GetArrayItem(o, 0), 3));
    ck_assert(!num_json_is(cJSON_GetArrayItem(o, 0), 4));
    ck_assert(!num_json_is(cJSON_GetArrayItem(o, 1), INT64_MAX));
    ck_assert(!num_json_is(cJSON_GetArrayItem(o, 2), INT64_MIN));
    ck_assert(!num_json_is(cJSON_GetArrayItem(o, 3), 3));
    ck_assert(!num_json_is(cJSON_GetArrayItem(o, 4), 3));
    /* the text 2^63-1 reads as the double 2^63: not an int64 */
    ck_assert(!num_json_is(cJSON_GetArrayItem(o, 5), INT64_MAX));
    ck_assert(!num_json_is(NULL, 0));
    cJSON_Delete(o);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("base_num");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_to_i64_table, 0, (int)(sizeof ncases / sizeof ncases[0]));
    tcase_add_test(tc, test_json_reads_and_says_why);
    tcase_add_test(tc, test_json_is);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
