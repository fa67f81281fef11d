/* test_kube_lease.c — the pure part of leader election: the acquire / renew / stand-by decision on
 * a table of Lease objects (absent, free, live, ours, malformed) seen for the first time, expiry
 * timed on the follower's own fake clock (clock skew either way), the leader's renew deadline,
 * MicroTime parsing and formatting, and the argument checks of kube_lease_new. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kube/lease.h"

/* now = 2026-11-24T08:00:00Z */
#define NOW 1795507200.0
/* the follower's monotonic clock: unrelated to anyone's wall clock */
#define MONO 5000.0

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
    {"held by other, renewTime 15.001 s ago: first sight, a full duration",
     "{\"spec\":{\"holderIdentity\":\"other\",\"leaseDurationSeconds\":15,"
     "\"renewTime\":\"2026-11-24T07:59:44.999000Z\"}}",
     "me", KUBE_LEASE_STANDBY},
    {"held by other, renewTime a day ago (skewed clock): first sight",
     "{\"spec\":{\"holderIdentity\":\"other\",\"leaseDurationSeconds\":15,"
     "\"renewTime\":\"2026-11-23T08:00:00Z\"}}",
     "me", KUBE_LEASE_STANDBY},
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
    struct kube_lease_seen seen = {0};
    enum kube_lease_action got = kube_lease_decide(lease, c->me, &seen, MONO);
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

static cJSON *held(const char *rv, const char *holder, const char *renew)
{
    char j[512];
    snprintf(j, sizeof j,
             "{\"metadata\":{\"resourceVersion\":\"%s\"},\"spec\":{\"holderIdentity\":"
             "\"%s\",\"leaseDurationSeconds\":15,\"renewTime\":\"%s\"}}",
             rv, holder, renew);
    cJSON *o = cJSON_Parse(j);
    ck_assert_ptr_nonnull(o);
    return o;
}

static enum kube_lease_action decide_at(struct kube_lease_seen *seen, const char *rv,
                                        const char *renew, double t)
{
    cJSON *o = held(rv, "other", renew);
    enum kube_lease_action a = kube_lease_decide(o, "me", seen, t);
    cJSON_Delete(o);
    return a;
}

/* Expiry on the follower's own clock: 15 s of an unchanged record, whatever renewTime says. */
START_TEST(test_follower_times_expiry_locally)
{
    struct kube_lease_seen seen = {0};
    const char *r1 = "2026-11-24T08:00:00.000000Z";
    ck_assert_int_eq(decide_at(&seen, "1", r1, MONO), KUBE_LEASE_STANDBY);
    ck_assert_int_eq(decide_at(&seen, "1", r1, MONO + 10), KUBE_LEASE_STANDBY);
    ck_assert_int_eq(decide_at(&seen, "1", r1, MONO + 15), KUBE_LEASE_STANDBY);
    ck_assert_int_eq(decide_at(&seen, "1", r1, MONO + 15.001), KUBE_LEASE_ACQUIRE);
    /* a renewal seen late: the clock starts again from when we saw it */
    ck_assert_int_eq(decide_at(&seen, "2", "2026-11-24T08:00:02.000000Z", MONO + 16),
                     KUBE_LEASE_STANDBY);
    ck_assert_int_eq(decide_at(&seen, "2", "2026-11-24T08:00:02.000000Z", MONO + 31),
                     KUBE_LEASE_STANDBY);
    ck_assert_int_eq(decide_at(&seen, "2", "2026-11-24T08:00:02.000000Z", MONO + 31.5),
                     KUBE_LEASE_ACQUIRE);
}
END_TEST

/* A holder whose clock is an hour behind (renewTime always "old") but renews: never taken. A
 * holder whose clock is an hour ahead (renewTime "in the future") that stopped: taken after
 * 15 s, not after an hour. */
START_TEST(test_clock_skew_tolerated)
{
    struct kube_lease_seen seen = {0};
    char renew[40], rv[16];
    for (int i = 0; i < 50; i++) {
        kube_lease_format_time(NOW - 3600 + 2 * i, renew, sizeof renew);
        snprintf(rv, sizeof rv, "%d", 100 + i);
        ck_assert_int_eq(decide_at(&seen, rv, renew, MONO + 2 * i), KUBE_LEASE_STANDBY);
    }
    struct kube_lease_seen ahead = {0};
    kube_lease_format_time(NOW + 3600, renew, sizeof renew);
    ck_assert_int_eq(decide_at(&ahead, "7", renew, MONO), KUBE_LEASE_STANDBY);
    ck_assert_int_eq(decide_at(&ahead, "7", renew, MONO + 14), KUBE_LEASE_STANDBY);
    ck_assert_int_eq(decide_at(&ahead, "7", renew, MONO + 16), KUBE_LEASE_ACQUIRE);
    /* the same record under a new resourceVersion (any write) counts as a renewal */
    ck_assert_int_eq(decide_at(&ahead, "8", renew, MONO + 17), KUBE_LEASE_STANDBY);
    /* a released lease is free at once; ours is ours */
    cJSON *o = held("9", "", renew);
    ck_assert_int_eq(kube_lease_decide(o, "me", &ahead, MONO + 18), KUBE_LEASE_ACQUIRE);
    cJSON_Delete(o);
    o = held("9", "me", renew);
    ck_assert_int_eq(kube_lease_decide(o, "me", &ahead, MONO + 18), KUBE_LEASE_RENEW);
    cJSON_Delete(o);
}
END_TEST

/* The leader side: it leads while its last renewal (sent at) is younger than the deadline. */
START_TEST(test_leader_stops_at_renew_deadline)
{
    ck_assert(kube_lease_holds(MONO, 10, MONO));
    ck_assert(kube_lease_holds(MONO, 10, MONO + 9.999));
    ck_assert(!kube_lease_holds(MONO, 10, MONO + 10));
    ck_assert(!kube_lease_holds(MONO, 10, MONO + 3600));
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
    tcase_add_test(tc, test_follower_times_expiry_locally);
    tcase_add_test(tc, test_clock_skew_tolerated);
    tcase_add_test(tc, test_leader_stops_at_renew_deadline);
    tcase_add_test(tc, test_new_checks_arguments);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
