/* test_psc_quantity.c — psc_parse_quantity against a table of Kubernetes quantities:
 * every suffix, fractions rounding up, exponents, overflow, and garbage. */
#include <check.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "psc/psc.h"

struct qcase {
    const char *in;
    long long want;
};

static const struct qcase valid[] = {
    {"0", 0},
    {"1", 1},
    {"+5", 5},
    {"-0", 0},
    {"000123", 123},
    {"100Gi", 100LL << 30},
    {"1Ki", 1024},
    {"1Mi", 1LL << 20},
    {"1Gi", 1LL << 30},
    {"1Ti", 1LL << 40},
    {"1Pi", 1LL << 50},
    {"1Ei", 1LL << 60},
    {"7Ei", 7LL << 60},
    {"1.5Gi", 1610612736},
    {"1.1Gi", 1181116007}, /* 1181116006.4 rounds up */
    {"0.5Ki", 512},
    {".5Ki", 512},
    {"1.Ki", 1024},
    {"1k", 1000},
    {"1M", 1000000},
    {"1G", 1000000000},
    {"1.5G", 1500000000},
    {"1T", 1000000000000LL},
    {"1P", 1000000000000000LL},
    {"1E", 1000000000000000000LL},
    {"9E", 9000000000000000000LL},
    {"500m", 1},
    {"1000m", 1},
    {"1001m", 2},
    {"2500m", 3},
    {"1u", 1},
    {"1n", 1},
    {"0m", 0},
    {"0.1", 1},
    {"1e3", 1000},
    {"1E3", 1000},
    {"1e+3", 1000},
    {"1.5e3", 1500},
    {"15e-1", 2},
    {"1e-3", 1},
    {"1e-400", 1},
    {"0e400", 0},
    {"12e0", 12},
    {"9223372036854775807", LLONG_MAX},
    {"9223372036854775806.5", LLONG_MAX},
    {"0.000000000000000000000000000000000000000000000000000001", 1},
};

static const char *const invalid[] = {
    "",
    " ",
    "Gi",
    "1 Gi",
    " 1Gi",
    "1Gi ",
    "1gi",
    "1K",   /* k is lowercase in Kubernetes */
    "1KiB", /* no B */
    "1GB",
    "1.2.3",
    "1..2",
    "--1",
    "+-1",
    "-1",
    "-1Gi",
    "-0.5",
    "1e",
    "1e+",
    "1e3.5",
    "1ee3",
    "0x10",
    "1,5Gi",
    "abc",
    ".",
    "+",
    "1Gi1",
    "1mi",
    "∞",
    "1\n",
    "1Ei1e18",
    "00000000000000000000000000000000000000000000000000000000000000000000000001x",
};

static const char *const overflow[] = {
    "9223372036854775808",
    "8Ei",
    "10E",
    "1e19",
    "1e400",
    "99999999999999999999999999999999999999999999999999999999999999",
    "9223372036854775807.1",
};

START_TEST(test_valid)
{
    const struct qcase *c = &valid[_i];
    struct err e = {0};
    long long got = -42;
    int rc = psc_parse_quantity(c->in, &got, &e);
    ck_assert_msg(rc == 0, "\"%s\": rc %d: %s", c->in, rc, e.msg);
    ck_assert_msg(got == c->want, "\"%s\": got %lld, want %lld", c->in, got, c->want);
}
END_TEST

START_TEST(test_invalid)
{
    struct err e = {0};
    long long got = -42;
    int rc = psc_parse_quantity(invalid[_i], &got, &e);
    ck_assert_msg(rc == ERR_INVALID, "\"%s\": rc %d (got %lld), want ERR_INVALID", invalid[_i], rc,
                  got);
    ck_assert_msg(e.msg[0] != '\0', "\"%s\": no message", invalid[_i]);
    ck_assert_int_eq(got, -42); /* *out untouched on error */
}
END_TEST

START_TEST(test_overflow)
{
    struct err e = {0};
    long long got = -42;
    int rc = psc_parse_quantity(overflow[_i], &got, &e);
    ck_assert_msg(rc == ERR_INVALID, "\"%s\": rc %d (got %lld), want ERR_INVALID", overflow[_i], rc,
                  got);
    ck_assert_msg(e.msg[0] != '\0', "\"%s\": no message", overflow[_i]);
}
END_TEST

START_TEST(test_overflow_message)
{
    struct err e = {0};
    long long got;
    ck_assert_int_eq(psc_parse_quantity("8Ei", &got, &e), ERR_INVALID);
    ck_assert_msg(strstr(e.msg, "too large") != NULL, "message: %s", e.msg);
    ck_assert_int_eq(psc_parse_quantity("-1Gi", &got, &e), ERR_INVALID);
    ck_assert_msg(strstr(e.msg, "negative") != NULL, "message: %s", e.msg);
    ck_assert_int_eq(psc_parse_quantity("1GB", &got, &e), ERR_INVALID);
    ck_assert_msg(strstr(e.msg, "\"GB\"") != NULL, "message names the suffix: %s", e.msg);
}
END_TEST

START_TEST(test_null_and_huge)
{
    struct err e = {0};
    long long got;
    ck_assert_int_eq(psc_parse_quantity(NULL, &got, &e), ERR_INVALID);
    /* A megabyte of digits is refused quickly, not parsed. */
    size_t n = 1 << 20;
    char *big = malloc(n + 1);
    ck_assert_ptr_nonnull(big);
    memset(big, '7', n);
    big[n] = '\0';
    ck_assert_int_eq(psc_parse_quantity(big, &got, &e), ERR_INVALID);
    memset(big, '0', n - 1); /* leading zeros then "7": still one significant digit */
    ck_assert_int_eq(psc_parse_quantity(big, &got, &e), 0);
    ck_assert_int_eq(got, 7);
    free(big);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("psc_quantity");
    TCase *tc = tcase_create("table");
    tcase_add_loop_test(tc, test_valid, 0, (int)(sizeof valid / sizeof valid[0]));
    tcase_add_loop_test(tc, test_invalid, 0, (int)(sizeof invalid / sizeof invalid[0]));
    tcase_add_loop_test(tc, test_overflow, 0, (int)(sizeof overflow / sizeof overflow[0]));
    tcase_add_test(tc, test_overflow_message);
    tcase_add_test(tc, test_null_and_huge);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
