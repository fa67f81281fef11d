/* test_kube_lease.c — the pure part of leader election: the acquire / renew / stand-by decision on
 * a table of Lease objects (absent, free, expired, live, ours, malformed), MicroTime parsing and
 * formatting, and the argument checks of kube_lease_new. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kube/lease.h"

/* now = 2026-11-24T08:00:00Z */
#define NOW 1795507200.0

struct dcase {
    const char *name;
    const char *lease; /* JSON, or NULL = absent */
    const char *me;
    enum kube_lease_action want;
};

static const struct dcase dcases[] = {
    {"absent", NULL, "me", KUBE_LEASE_ACQUIRE},
    {"no spec", "{\"metadata\":{\"name\":\"l\"}}", "me", KUBE_LEASE_ACQUIRE},
    {"released (empty holder)",
     "{\"spec\":{\"holderIdentity\":\"\",\"leaseDurationSeconds\":1,"
     "\"renewTime\":\"2026-11-24T08:00:00.000000Z\"}}",
     "me", KUBE_LEASE_ACQUIRE},
    {"held by other, live",
     "{\"spec\":{\"holderIdentity\":\"other\",\"leaseDurationSeconds\":15,"
     "\"renewTime\":\"2026-11-24T07:59:50.000000Z\"}}",
     "me", KUBE_LEASE_STANDBY},
    {"held by other, exactly at expiry",
     "{\"spec\":{\"holderIdentity\":\"other\",\"leaseDurationSeconds\":15,"
     "\"renewTime\":\"2026-11-24T07:59:45.000000Z\"}}",
     "me", KUBE_LEASE_STANDBY},
    {"held by other, just expired",
     "{\"spec\":{\"holderIdentity\":\"other\",\"leaseDurationSeconds\":15,"
     "\"renewTime\":\"2026-11-24T07:59:44.999000Z\"}}",
     "me", KUBE_LEASE_ACQUIRE},
    {"held by other, long expired",
     "{\"spec\":{\"holderIdentity\":\"other\",\"leaseDurationSeconds\":15,"
     "\"renewTime\":\"2026-11-23T08:00:00Z\"}}",
     "me", KUBE_LEASE_ACQUIRE},
    {"held by other, renewed in the future (skew)",
     "{\"spec\":{\"holderIdentity\":\"other\",\"leaseDurationSeconds\":15,"
     "\"renewTime\":\"2026-11-24T08:00:30.000000Z\"}}",
     "me", KUBE_LEASE_STANDBY},
    {"held by other, offset time",
     "{\"spec\":{\"holderIdentity\":\"other\",\"leaseDurationSeconds\":15,"
     "\"renewTime\":\"2026-11-24T09:59:55.000000+02:00\"}}",
     "me", KUBE_LEASE_STANDBY},
    {"held by other, duration past int32 (1e300): says nothing",
     "{\"spec\":{\"holderIdentity\":\"other\",\"leaseDurationSeconds\":1e300,"
     "\"renewTime\":\"2026-11-24T07:00:00.000000Z\"}}",
     "me", KUBE_LEASE_ACQUIRE},
    {"ours, live",
     "{\"spec\":{\"holderIdentity\":\"me\",\"leaseDurationSeconds\":15,"
     "\"renewTime\":\"2026-11-24T07:59:58.000000Z\"}}",
     "me", KUBE_LEASE_RENEW},
    {"ours, expired: still ours to renew",
     "{\"spec\":{\"holderIdentity\":\"me\",\"leaseDurationSeconds\":15,"
     "\"renewTime\":\"2026-11-24T07:00:00.000000Z\"}}",
     "me", KUBE_LEASE_RENEW},
    {"holder is a prefix of me",
     "{\"spec\":{\"holderIdentity\":\"m\",\"leaseDurationSeconds\":15,"
     "\"renewTime\":\"2026-11-24T07:59:58.000000Z\"}}",
     "me", KUBE_LEASE_STANDBY},
    {"other, no renewTime", "{\"spec\":{\"holderIdentity\":\"other\",\"leaseDurationSeconds\":15}}",
     "me", KUBE_LEASE_ACQUIRE},
    {"other, no duration",
     "{\"spec\":{\"holderIdentity\":\"other\",\"renewTime\":\"2026-11-24T07:59:58Z\"}}", "me",
     KUBE_LEASE_ACQUIRE},
    {"other, zero duration",
     "{\"spec\":{\"holderIdentity\":\"other\",\"leaseDurationSeconds\":0,"
     "\"renewTime\":\"2026-11-24T07:59:58Z\"}}",
     "me", KUBE_LEASE_ACQUIRE},
    {"other, duration a string",
     "{\"spec\":{\"holderIdentity\":\"other\",\"leaseDurationSeconds\":\"15\","
     "\"renewTime\":\"2026-11-24T07:59:58Z\"}}",
     "me", KUBE_LEASE_ACQUIRE},
    {"other, garbage renewTime",
     "{\"spec\":{\"holderIdentity\":\"other\",\"leaseDurationSeconds\":15,"
     "\"renewTime\":\"yesterday\"}}",
     "me", KUBE_LEASE_ACQUIRE},
    {"holder a number",
     "{\"spec\":{\"holderIdentity\":7,\"leaseDurationSeconds\":15,"
     "\"renewTime\":\"2026-11-24T07:59:58Z\"}}",
     "me", KUBE_LEASE_ACQUIRE},
    {"spec an array", "{\"spec\":[1]}", "me", KUBE_LEASE_ACQUIRE},
    {"lease not an object", "[]", "me", KUBE_LEASE_ACQUIRE},
};

START_TEST(test_decide_table)
{
    const struct dcase *c = &dcases[_i];
    cJSON *lease = c->lease ? cJSON_Parse(c->lease) : NULL;
    ck_assert_msg(!c->lease || lease, "%s: bad test JSON", c->name);
    enum kube_lease_action got = kube_lease_decide(lease, c->me, NOW);
    ck_assert_msg(got == c->want, "%s: got %d, want %d", c->name, got, c->want);
    cJSON_Delete(lease);
}
END_TEST

struct tcase_ {
    const char *s;
    int rc;
    double want;
};

static const struct tcase_ tcases[] = {
    {"2026-11-24T08:00:00Z", 0, NOW},
    {"2026-11-24T08:00:00.000000Z", 0, NOW},
    {"2026-11-24T08:00:00.5Z", 0, NOW + 0.5},
    {"2026-11-24T08:00:00.123456789Z", 0, NOW + 0.123456789},
    {"2026-11-24t08:00:00z", 0, NOW},
    {"2026-11-24T10:00:00+02:00", 0, NOW},
    {"2026-11-24T07:30:00-00:30", 0, NOW},
    {"1970-01-01T00:00:00Z", 0, 0},
    {"", ERR_INVALID, 0},
    {"2026-11-24", ERR_INVALID, 0},
    {"2026-11-24T08:00:00", ERR_INVALID, 0},
    {"2026-11-24T08:00:00ZZ", ERR_INVALID, 0},
    {"2026-11-24T08:00:00.Z", ERR_INVALID, 0},
    {"2026-13-24T08:00:00Z", ERR_INVALID, 0},
    {"2026-11-24T25:00:00Z", ERR_INVALID, 0},
    {"2026-11-24T08:00:00+2:00", ERR_INVALID, 0},
    {" 2026-11-24T08:00:00Z", ERR_INVALID, 0},
    {"+026-11-24T08:00:00Z", ERR_INVALID, 0},
    {"2026-11-24T08:00:00.1234567890123Z", ERR_INVALID, 0},
};

START_TEST(test_parse_time)
{
    const struct tcase_ *c = &tcases[_i];
    double got = -1;
    int rc = kube_lease_parse_time(c->s, &got);
    ck_assert_msg(rc == c->rc, "%s: rc %d want %d", c->s, rc, c->rc);
    if (rc == 0)
        ck_assert_msg(fabs(got - c->want) < 1e-6, "%s: %.6f want %.6f", c->s, got, c->want);
}
END_TEST

START_TEST(test_format_time_roundtrip)
{
    char s[40];
    kube_lease_format_time(NOW + 0.25, s, sizeof s);
    ck_assert_str_eq(s, "2026-11-24T08:00:00.250000Z");
    double back = 0;
    ck_assert_int_eq(kube_lease_parse_time(s, &back), 0);
    ck_assert_msg(fabs(back - (NOW + 0.25)) < 1e-6, "%.6f", back);
    kube_lease_format_time(NOW, s, sizeof s);
    ck_assert_str_eq(s, "2026-11-24T08:00:00.000000Z");
    ck_assert_int_eq(kube_lease_parse_time(NULL, &back), ERR_INVALID);
}
END_TEST

START_TEST(test_new_checks_arguments)
{
    struct kube_config cfg;
    memset(&cfg, 0, sizeof cfg);
    struct err e = {0};
    struct kube_lease_opts o = {.ns = "ns", .name = "l", .identity = ""};
    ck_assert_ptr_null(kube_lease_new(&cfg, &o, &e));
    ck_assert_int_eq(e.code, ERR_INVALID);
    ck_assert_ptr_null(kube_lease_new(&cfg, NULL, &e));
    /* the renew deadline must be shorter than the lease, or two leaders may overlap */
    struct kube_lease_opts bad = {
        .ns = "ns", .name = "l", .identity = "me", .lease_duration = 5, .renew_deadline = 6};
    ck_assert_ptr_null(kube_lease_new(&cfg, &bad, &e));
    ck_assert_msg(strstr(e.msg, "renew deadline") != NULL, "%s", e.msg);
    struct kube_lease_opts bad2 = {
        .ns = "ns", .name = "l", .identity = "me", .renew_deadline = 3, .retry_period = 3};
    ck_assert_ptr_null(kube_lease_new(&cfg, &bad2, &e));
    ck_assert_int_eq(kube_lease_is_leader(NULL), 0);
    kube_lease_free(NULL);
    kube_lease_stop(NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kube_lease");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_decide_table, 0, (int)(sizeof dcases / sizeof dcases[0]));
    tcase_add_loop_test(tc, test_parse_time, 0, (int)(sizeof tcases / sizeof tcases[0]));
    tcase_add_test(tc, test_format_time_roundtrip);
    tcase_add_test(tc, test_new_checks_arguments);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
