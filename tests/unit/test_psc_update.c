/* test_psc_update.c — psc_validate_update on a table of (old spec, new spec, member
 * zones): volumes only grow, the storage class stays, and a zone with members stays. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "psc/psc.h"

/* psc_of builds a parsed PSC named "orders" from a few spec fields. */
static struct psc *psc_of(const char *size, const char *storage_class, const char *zones)
{
    char text[1024];
    char cls[128] = "";
    if (storage_class)
        snprintf(cls, sizeof cls, ",\"storageClassName\":\"%s\"", storage_class);
    snprintf(text, sizeof text,
             "{\"metadata\":{\"name\":\"orders\",\"namespace\":\"streaming\"},"
             "\"spec\":{\"replicas\":6,\"image\":\"apache/kafka:3.9.0\"%s%s%s,"
             "\"storage\":{\"size\":\"%s\"%s}}}",
             zones ? ",\"zones\":" : "", zones ? zones : "", "", size, cls);
    cJSON *j = cJSON_Parse(text);
    ck_assert_msg(j != NULL, "bad test JSON: %s", text);
    struct psc *p = NULL;
    struct err e = {0};
    ck_assert_msg(psc_parse(j, &p, &e) == 0, "%s: %s", text, e.msg);
    cJSON_Delete(j);
    return p;
}

#define ABC "[\"zone-a\",\"zone-b\",\"zone-c\"]"
#define AB  "[\"zone-a\",\"zone-b\"]"

static const char *const round_robin[] = {"zone-a", "zone-b", "zone-c",
                                          "zone-a", "zone-b", "zone-c"};
static const char *const two_zones[] = {"zone-a", "zone-b", "zone-a", "zone-b"};
static const char *const c_last[] = {"zone-a", "zone-b", "zone-a", "zone-b", "zone-c"};
static const char *const unknown[] = {NULL, NULL, NULL};

struct ucase {
    const char *name;
    const char *old_size, *old_class, *old_zones;
    const char *new_size, *new_class, *new_zones;
    const char *const *members;
    int nmembers;
    const char *want; /* NULL = allowed; else a substring of the message */
};

static const struct ucase cases[] = {
    {"unchanged", "100Gi", "ssd", ABC, "100Gi", "ssd", ABC, round_robin, 6, NULL},
    {"grow", "100Gi", NULL, NULL, "200Gi", NULL, NULL, NULL, 0, NULL},
    {"grow a byte", "100Gi", NULL, NULL, "107374182401", NULL, NULL, NULL, 0, NULL},
    {"same bytes, other spelling", "1Gi", NULL, NULL, "1073741824", NULL, NULL, NULL, 0, NULL},
    {"1G is smaller than 1Gi", "1Gi", NULL, NULL, "1G", NULL, NULL, NULL, 0,
     "spec.storage.size: cannot shrink from 1Gi to 1G"},
    {"shrink", "100Gi", NULL, NULL, "50Gi", NULL, NULL, NULL, 0,
     "spec.storage.size: cannot shrink from 100Gi to 50Gi: a PersistentVolumeClaim can only grow"},
    {"shrink by a byte", "100Gi", NULL, NULL, "107374182399", NULL, NULL, NULL, 0,
     "spec.storage.size: cannot shrink from 100Gi to 107374182399"},
    {"class set", "100Gi", NULL, NULL, "100Gi", "ssd", NULL, NULL, 0,
     "spec.storage.storageClassName: cannot change from (cluster default) to \"ssd\""},
    {"class unset", "100Gi", "ssd", NULL, "100Gi", NULL, NULL, NULL, 0,
     "spec.storage.storageClassName: cannot change from \"ssd\" to (cluster default)"},
    {"class changed", "100Gi", "ssd", NULL, "100Gi", "hdd", NULL, NULL, 0,
     "spec.storage.storageClassName: cannot change from \"ssd\" to \"hdd\""},
    {"class to empty", "100Gi", "ssd", NULL, "100Gi", "", NULL, NULL, 0,
     "spec.storage.storageClassName: cannot change from \"ssd\" to \"\""},
    {"zone removed with members", "100Gi", NULL, ABC, "100Gi", NULL, AB, round_robin, 6,
     "spec.zones: cannot remove zone \"zone-c\": members orders-2, orders-5 still live there"},
    {"zone removed, one member", "100Gi", NULL, ABC, "100Gi", NULL, AB, c_last, 5,
     "spec.zones: cannot remove zone \"zone-c\": member orders-4 still lives there"},
    {"zone removed without members", "100Gi", NULL, ABC, "100Gi", NULL, AB, two_zones, 4, NULL},
    {"zone added", "100Gi", NULL, AB, "100Gi", NULL, ABC, two_zones, 4, NULL},
    {"zones reordered", "100Gi", NULL, ABC, "100Gi", NULL, "[\"zone-c\",\"zone-b\",\"zone-a\"]",
     round_robin, 6, NULL},
    {"zone list dropped: every zone", "100Gi", NULL, ABC, "100Gi", NULL, NULL, round_robin, 6,
     NULL},
    {"zone list dropped via []", "100Gi", NULL, ABC, "100Gi", NULL, "[]", round_robin, 6, NULL},
    {"zone list set, members elsewhere", "100Gi", NULL, NULL, "100Gi", NULL, AB, round_robin, 6,
     "cannot remove zone \"zone-c\""},
    {"zone list set, members inside", "100Gi", NULL, NULL, "100Gi", NULL, AB, two_zones, 4, NULL},
    {"members of unknown zone", "100Gi", NULL, ABC, "100Gi", NULL, "[\"zone-a\"]", unknown, 3,
     NULL},
    {"no member list", "100Gi", NULL, ABC, "100Gi", NULL, "[\"zone-a\"]", NULL, 6, NULL},
    {"shrink reported before zones", "100Gi", NULL, ABC, "10Gi", NULL, AB, round_robin, 6,
     "spec.storage.size: cannot shrink"},
};

/* Scale-down never goes below the KRaft quorum of a cluster that has one of 3 voters. */
START_TEST(test_quorum_floor)
{
    static const struct {
        int from, to;
        bool ok;
    } steps[] = {{6, 3, true}, {6, 2, false}, {3, 1, false}, {2, 1, true}, {1, 3, true},
                 {3, 6, true}};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        struct psc *old = psc_of("1Gi", NULL, NULL), *upd = psc_of("1Gi", NULL, NULL);
        old->spec.replicas = steps[i].from;
        upd->spec.replicas = steps[i].to;
        struct err e = {0};
        int rc = psc_validate_update(old, upd, NULL, 0, &e);
        ck_assert_msg((rc == 0) == steps[i].ok, "%d -> %d: rc %d (%s)", steps[i].from,
                      steps[i].to, rc, e.msg);
        if (!steps[i].ok)
            ck_assert_ptr_nonnull(strstr(e.msg, "ballast never removes a voter"));
        psc_free(old);
        psc_free(upd);
    }
}
END_TEST

START_TEST(test_update)
{
    const struct ucase *c = &cases[_i];
    struct psc *old = psc_of(c->old_size, c->old_class, c->old_zones);
    struct psc *upd = psc_of(c->new_size, c->new_class, c->new_zones);
    struct err e = {0};
    int rc = psc_validate_update(old, upd, c->members, c->nmembers, &e);
    if (c->want == NULL) {
        ck_assert_msg(rc == 0, "%s: rejected: %s", c->name, e.msg);
    } else {
        ck_assert_msg(rc == ERR_INVALID, "%s: rc %d, want ERR_INVALID", c->name, rc);
        ck_assert_msg(strstr(e.msg, c->want) != NULL, "%s:\n  message: %s\n  want:    %s", c->name,
                      e.msg, c->want);
    }
    psc_free(old);
    psc_free(upd);
}
END_TEST

START_TEST(test_many_members_in_zone)
{
    /* 1000 members in zone-c: the message names some and counts the rest, within err's
     * 512 bytes. */
    struct psc *old = psc_of("1Gi", NULL, ABC);
    struct psc *upd = psc_of("1Gi", NULL, AB);
    static const char *zones[1000];
    for (int i = 0; i < 1000; i++)
        zones[i] = "zone-c";
    struct err e = {0};
    ck_assert_int_eq(psc_validate_update(old, upd, zones, 1000, &e), ERR_INVALID);
    ck_assert_msg(strstr(e.msg, "members orders-0, orders-1") != NULL, "%s", e.msg);
    ck_assert_msg(strstr(e.msg, "and 992 more") != NULL, "%s", e.msg);
    ck_assert_msg(strstr(e.msg, "keep \"zone-c\" in spec.zones") != NULL, "%s", e.msg);
    ck_assert_int_eq(psc_validate_update(NULL, upd, NULL, 0, &e), ERR_INVALID);
    psc_free(old);
    psc_free(upd);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("psc_update");
    TCase *tc = tcase_create("update");
    tcase_add_loop_test(tc, test_update, 0, (int)(sizeof cases / sizeof cases[0]));
    tcase_add_test(tc, test_many_members_in_zone);
    tcase_add_test(tc, test_quorum_floor);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
