/* test_server_admission.c — AdmissionReview in, answer out, on a table: allowed and
 * denied reviews (with the validator's message and code), what reaches the validator
 * on CREATE/UPDATE/DELETE, and malformed, empty, huge and truncated bodies. */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/admission.h"

#define REVIEW(op, extra)                                                                          \
    "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{"           \
    "\"uid\":\"705ab4f5-6393-11e8-b7cc-42010a800002\",\"operation\":\"" op "\"" extra "}}"

#define OBJ(replicas)                                                                              \
    "{\"apiVersion\":\"ballast.dev/v1alpha1\",\"kind\":\"PhysicalStatefulCluster\","               \
    "\"metadata\":{\"name\":\"orders\"},\"spec\":{\"replicas\":" replicas "}}"

/* The validator under test: denies replicas < 1 (422), replicas == 13 (403), and
 * replicas == 99 with no message (403, default message); on UPDATE it refuses a
 * shrink below the old count. Records what it saw. */
struct seen {
    int calls;
    bool had_old;
};

static int validator(const cJSON *old_obj, const cJSON *new_obj, char *msg, size_t msglen, void *ud)
{
    struct seen *s = ud;
    s->calls++;
    s->had_old = old_obj != NULL;
    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(new_obj, "spec");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(spec, "replicas");
    if (!cJSON_IsNumber(r)) {
        snprintf(msg, msglen, "spec.replicas must be a number");
        return ERR_INVALID;
    }
    if (r->valueint < 1) {
        snprintf(msg, msglen, "spec.replicas must be at least 1, got %d", r->valueint);
        return ERR_INVALID;
    }
    if (r->valueint == 13) {
        snprintf(msg, msglen, "unlucky \"13\"\n");
        return ERR_CONFLICT;
    }
    if (r->valueint == 99)
        return 1;
    if (r->valueint == 77) {
        snprintf(msg, msglen, "out of memory");
        return ERR_NOMEM;
    }
    if (old_obj != NULL) {
        const cJSON *os = cJSON_GetObjectItemCaseSensitive(old_obj, "spec");
        const cJSON *orr = cJSON_GetObjectItemCaseSensitive(os, "replicas");
        if (cJSON_IsNumber(orr) && r->valueint < orr->valueint) {
            snprintf(msg, msglen, "%s", "scale down by one member at a time");
            return ERR_INVALID;
        }
    }
    return 0;
}

struct review_case {
    const char *what;
    const char *body;
    int http;        /* expected HTTP status */
    int rc;          /* expected return */
    int allowed;     /* 1/0 for 200 answers */
    int code;        /* response.status.code when denied */
    const char *msg; /* substring of response.status.message, or of the Status message */
    int calls;       /* validator calls */
    bool had_old;
};

static const struct review_case cases[] = {
    {"create allowed", REVIEW("CREATE", ",\"object\":" OBJ("3")), 200, 0, 1, 0, NULL, 1, false},
    {"create denied 422", REVIEW("CREATE", ",\"object\":" OBJ("0")), 200, 0, 0, 422,
     "spec.replicas must be at least 1, got 0", 1, false},
    {"create denied 403 with quotes and newline", REVIEW("CREATE", ",\"object\":" OBJ("13")), 200,
     0, 0, 403, "unlucky \"13\"\n", 1, false},
    {"denied without message", REVIEW("CREATE", ",\"object\":" OBJ("99")), 200, 0, 0, 403,
     "denied by the ballast admission webhook", 1, false},
    {"validator out of memory", REVIEW("CREATE", ",\"object\":" OBJ("77")), 200, 0, 0, 500,
     "out of memory", 1, false},
    {"update allowed", REVIEW("UPDATE", ",\"object\":" OBJ("4") ",\"oldObject\":" OBJ("3")), 200, 0,
     1, 0, NULL, 1, true},
    {"update denied", REVIEW("UPDATE", ",\"object\":" OBJ("1") ",\"oldObject\":" OBJ("3")), 200, 0,
     0, 422, "scale down by one member", 1, true},
    {"update of status subresource skipped",
     REVIEW("UPDATE",
            ",\"subResource\":\"status\",\"object\":" OBJ("0") ",\"oldObject\":" OBJ("3")),
     200, 0, 1, 0, NULL, 0, false},
    {"delete allowed without validator",
     REVIEW("DELETE", ",\"object\":null,\"oldObject\":" OBJ("3")), 200, 0, 1, 0, NULL, 0, false},
    {"connect allowed", REVIEW("CONNECT", ""), 200, 0, 1, 0, NULL, 0, false},
    {"v1beta1 echoed",
     "{\"apiVersion\":\"admission.k8s.io/v1beta1\",\"kind\":\"AdmissionReview\",\"request\":{"
     "\"uid\":\"u1\",\"operation\":\"CREATE\",\"object\":" OBJ("2") "}}",
     200, 0, 1, 0, NULL, 1, false},
    {"whitespace around", "  \n" REVIEW("CREATE", ",\"object\":" OBJ("3")) "\r\n\t ", 200, 0, 1, 0,
     NULL, 1, false},

    {"empty body", "", 400, ERR_INVALID, -1, 0, "empty body", 0, false},
    {"not JSON", "hello", 400, ERR_INVALID, -1, 0, "not valid JSON", 0, false},
    {"truncated", "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"Adm", 400, ERR_INVALID, -1, 0,
     "not valid JSON", 0, false},
    {"trailing garbage", REVIEW("CREATE", ",\"object\":" OBJ("3")) "x", 400, ERR_INVALID, -1, 0,
     "after the JSON document", 0, false},
    {"array", "[1,2]", 400, ERR_INVALID, -1, 0, "not an AdmissionReview", 0, false},
    {"string", "\"AdmissionReview\"", 400, ERR_INVALID, -1, 0, "not an AdmissionReview", 0, false},
    {"wrong kind", "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"Pod\"}", 400, ERR_INVALID,
     -1, 0, "not an AdmissionReview", 0, false},
    {"wrong apiVersion", "{\"apiVersion\":\"v1\",\"kind\":\"AdmissionReview\",\"request\":{}}", 400,
     ERR_INVALID, -1, 0, "apiVersion must be admission.k8s.io/v1", 0, false},
    {"no request", "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"}", 400,
     ERR_INVALID, -1, 0, "no request object", 0, false},
    {"request not object",
     "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":[]}", 400,
     ERR_INVALID, -1, 0, "no request object", 0, false},
    {"missing uid",
     "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{"
     "\"operation\":\"CREATE\",\"object\":{}}}",
     400, ERR_INVALID, -1, 0, "request.uid", 0, false},
    {"uid not a string",
     "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{"
     "\"uid\":42,\"operation\":\"CREATE\",\"object\":{}}}",
     400, ERR_INVALID, -1, 0, "request.uid", 0, false},
    {"empty uid",
     "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{"
     "\"uid\":\"\",\"operation\":\"CREATE\",\"object\":{}}}",
     400, ERR_INVALID, -1, 0, "request.uid", 0, false},
    {"missing operation",
     "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{"
     "\"uid\":\"u\",\"object\":{}}}",
     400, ERR_INVALID, -1, 0, "request.operation is missing", 0, false},
    {"unknown operation", REVIEW("PATCH", ",\"object\":{}"), 400, ERR_INVALID, -1, 0,
     "is not CREATE", 0, false},
    {"create without object", REVIEW("CREATE", ""), 400, ERR_INVALID, -1, 0, "request.object", 0,
     false},
    {"create with string object", REVIEW("CREATE", ",\"object\":\"x\""), 400, ERR_INVALID, -1, 0,
     "request.object", 0, false},
    {"update without oldObject", REVIEW("UPDATE", ",\"object\":" OBJ("3")), 400, ERR_INVALID, -1, 0,
     "request.oldObject", 0, false},
};

static cJSON *item(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

START_TEST(test_review)
{
    const struct review_case *c = &cases[_i];
    struct seen seen = {0};
    struct buf out = {0};
    struct err e = {0};
    int http = 0;
    int rc = adm_review(c->body, strlen(c->body), validator, &seen, &out, &http, &e);
    ck_assert_msg(rc == c->rc, "%s: rc %d (%s)", c->what, rc, e.msg);
    ck_assert_msg(http == c->http, "%s: http %d", c->what, http);
    ck_assert_msg(seen.calls == c->calls, "%s: %d validator calls", c->what, seen.calls);
    ck_assert_msg(seen.had_old == c->had_old, "%s: old object passed: %d", c->what, seen.had_old);
    ck_assert_ptr_nonnull(out.data);
    cJSON *doc = cJSON_Parse(out.data);
    ck_assert_msg(doc != NULL, "%s: answer is not JSON: %s", c->what, out.data);

    if (http == 200) {
        cJSON *in = cJSON_Parse(c->body);
        ck_assert_str_eq(item(doc, "apiVersion")->valuestring, item(in, "apiVersion")->valuestring);
        ck_assert_str_eq(item(doc, "kind")->valuestring, "AdmissionReview");
        cJSON *r = item(doc, "response");
        ck_assert_str_eq(item(r, "uid")->valuestring,
                         item(item(in, "request"), "uid")->valuestring);
        ck_assert_msg(cJSON_IsBool(item(r, "allowed")), "%s", c->what);
        ck_assert_int_eq(cJSON_IsTrue(item(r, "allowed")), c->allowed);
        cJSON *st = item(r, "status");
        if (c->allowed) {
            ck_assert_ptr_null(st);
        } else {
            ck_assert_int_eq(item(st, "code")->valueint, c->code);
            ck_assert_msg(strstr(item(st, "message")->valuestring, c->msg) != NULL,
                          "%s: message %s", c->what, item(st, "message")->valuestring);
            ck_assert_str_eq(item(st, "reason")->valuestring, c->code == 422   ? "Invalid"
                                                              : c->code == 500 ? "InternalError"
                                                                               : "Forbidden");
        }
        cJSON_Delete(in);
        ck_assert_str_eq(e.msg, "");
    } else {
        ck_assert_str_eq(item(doc, "kind")->valuestring, "Status");
        ck_assert_int_eq(item(doc, "code")->valueint, c->http);
        ck_assert_msg(strstr(item(doc, "message")->valuestring, c->msg) != NULL, "%s: message %s",
                      c->what, item(doc, "message")->valuestring);
        ck_assert_msg(strstr(e.msg, c->msg) != NULL, "%s: err %s", c->what, e.msg);
    }
    cJSON_Delete(doc);
    buf_free(&out);
}
END_TEST

START_TEST(test_no_validator_allows)
{
    const char *body = REVIEW("CREATE", ",\"object\":" OBJ("0"));
    struct buf out = {0};
    int http = 0;
    ck_assert_int_eq(adm_review(body, strlen(body), NULL, NULL, &out, &http, NULL), 0);
    ck_assert_int_eq(http, 200);
    ck_assert_ptr_nonnull(strstr(out.data, "\"allowed\":true"));
    buf_free(&out);
}
END_TEST

START_TEST(test_huge_body)
{
    size_t n = ADM_MAX_BODY + 1;
    char *body = malloc(n);
    memset(body, ' ', n);
    struct buf out = {0};
    struct err e = {0};
    int http = 0;
    ck_assert_int_eq(adm_review(body, n, NULL, NULL, &out, &http, &e), ERR_INVALID);
    ck_assert_int_eq(http, 413);
    ck_assert_ptr_nonnull(strstr(out.data, "\"code\":413"));
    buf_free(&out);
    /* Exactly at the cap it is read (and is not JSON). */
    ck_assert_int_eq(adm_review(body, n - 1, NULL, NULL, &out, &http, &e), ERR_INVALID);
    ck_assert_int_eq(http, 400);
    buf_free(&out);
    /* NULL body */
    ck_assert_int_eq(adm_review(NULL, 10, NULL, NULL, &out, &http, &e), ERR_INVALID);
    ck_assert_int_eq(http, 400);
    buf_free(&out);
    free(body);
}
END_TEST

/* Deeply nested input must not blow the stack (cJSON has a nesting limit). */
START_TEST(test_deep_nesting)
{
    size_t depth = 100000;
    char *body = malloc(2 * depth + 1);
    memset(body, '[', depth);
    memset(body + depth, ']', depth);
    body[2 * depth] = '\0';
    struct buf out = {0};
    int http = 0;
    ck_assert_int_eq(adm_review(body, 2 * depth, NULL, NULL, &out, &http, NULL), ERR_INVALID);
    ck_assert_int_eq(http, 400);
    buf_free(&out);
    free(body);
}
END_TEST

/* Every prefix of a valid review, and bytes with embedded NULs, give an answer. */
START_TEST(test_every_prefix)
{
    const char *full = REVIEW("UPDATE", ",\"object\":" OBJ("4") ",\"oldObject\":" OBJ("3"));
    size_t n = strlen(full);
    struct seen seen = {0};
    for (size_t i = 0; i <= n; i++) {
        char *copy = malloc(i + 1); /* exact size so ASan sees any over-read */
        memcpy(copy, full, i);
        copy[i] = '\0';
        struct buf out = {0};
        int http = 0;
        int rc = adm_review(copy, i, validator, &seen, &out, &http, NULL);
        ck_assert_msg(rc == (i == n ? 0 : ERR_INVALID), "prefix %zu: rc %d", i, rc);
        ck_assert_int_eq(http, i == n ? 200 : 400);
        ck_assert_ptr_nonnull(out.data);
        buf_free(&out);
        free(copy);
    }
    char nul[] = "{\"a\":\0\"b\"}";
    struct buf out = {0};
    int http = 0;
    ck_assert_int_eq(adm_review(nul, sizeof(nul) - 1, NULL, NULL, &out, &http, NULL), ERR_INVALID);
    ck_assert_int_eq(http, 400);
    buf_free(&out);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("server_admission");
    TCase *tc = tcase_create("review");
    tcase_add_loop_test(tc, test_review, 0, sizeof cases / sizeof cases[0]);
    tcase_add_test(tc, test_no_validator_allows);
    tcase_add_test(tc, test_huge_body);
    tcase_add_test(tc, test_deep_nesting);
    tcase_add_test(tc, test_every_prefix);
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
