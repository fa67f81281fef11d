/* admission.c — AdmissionReview in, AdmissionReview out; see admission.h. The API
 * server only reads response.uid/allowed/status, so that is all this writes; anything
 * it cannot read as a review is a 400 with a message saying which field is wrong. */
#include "server/admission.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define ADM_MAX_UID 256

/* status_json builds a metav1.Status; the caller owns the result (cJSON_Delete). */
static cJSON *status_json(int code, const char *reason, const char *message)
{
    cJSON *st = cJSON_CreateObject();
    if (st == NULL)
        return NULL;
    bool ok = cJSON_AddObjectToObject(st, "metadata") != NULL &&
              cJSON_AddStringToObject(st, "status", code < 300 ? "Success" : "Failure") != NULL &&
              cJSON_AddStringToObject(st, "message", message) != NULL &&
              cJSON_AddStringToObject(st, "reason", reason) != NULL &&
              cJSON_AddNumberToObject(st, "code", code) != NULL;
    if (!ok) {
        cJSON_Delete(st);
        return NULL;
    }
    return st;
}

/* put_json prints doc (borrowed) into out; ERR_NOMEM when it cannot. */
static int put_json(const cJSON *doc, struct buf *out)
{
    char *s = doc ? cJSON_PrintUnformatted(doc) : NULL;
    int rc = (s != NULL && buf_puts(out, s) == 0) ? 0 : ERR_NOMEM;
    cJSON_free(s);
    return rc;
}

/* fail answers a review that cannot be judged: an HTTP error with a Status body. */
static int fail(struct buf *out, int *http_status, struct err *e, int status, const char *reason,
                const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int fail(struct buf *out, int *http_status, struct err *e, int status, const char *reason,
                const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    cJSON *st = status_json(status, reason, msg);
    if (st != NULL) {
        cJSON_AddStringToObject(st, "kind", "Status");
        cJSON_AddStringToObject(st, "apiVersion", "v1");
    }
    int rc = put_json(st, out);
    cJSON_Delete(st);
    if (rc < 0) {
        *http_status = 500;
        buf_reset(out);
        return err_set(e, ERR_NOMEM, "admission review: out of memory answering: %s", msg);
    }
    *http_status = status;
    return err_set(e, ERR_INVALID, "admission review: %s", msg);
}

static bool is_object(const cJSON *j)
{
    return j != NULL && cJSON_IsObject(j);
}

static const char *get_string(const cJSON *obj, const char *key)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(j) ? j->valuestring : NULL;
}

int adm_review(const char *body, size_t len, adm_validate_fn fn, void *ud, struct buf *out,
               int *http_status, struct err *e)
{
    cJSON *review = NULL, *resp = NULL;
    int rc = 0;
    char msg[1024] = "";

    if (body == NULL || len == 0)
        return fail(out, http_status, e, 400, "BadRequest",
                    "empty body: expected an admission.k8s.io/v1 AdmissionReview");
    if (len > ADM_MAX_BODY)
        return fail(out, http_status, e, 413, "RequestEntityTooLarge",
                    "body is %zu bytes, over the %d byte limit", len, ADM_MAX_BODY);

    const char *end = NULL;
    review = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (review == NULL) {
        size_t at = end && end >= body ? (size_t)(end - body) : 0;
        return fail(out, http_status, e, 400, "BadRequest",
                    "body is not valid JSON (error near byte %zu)", at);
    }
    for (; end && end < body + len; end++) {
        if (*end != ' ' && *end != '\t' && *end != '\r' && *end != '\n') {
            rc = fail(out, http_status, e, 400, "BadRequest",
                      "body has data after the JSON document (at byte %zu)", (size_t)(end - body));
            goto out;
        }
    }

    const char *api = get_string(review, "apiVersion"), *kind = get_string(review, "kind");
    if (!is_object(review) || kind == NULL || strcmp(kind, "AdmissionReview") != 0) {
        rc = fail(out, http_status, e, 400, "BadRequest",
                  "body is not an AdmissionReview (kind must be \"AdmissionReview\")");
        goto out;
    }
    if (api == NULL ||
        (strcmp(api, "admission.k8s.io/v1") != 0 && strcmp(api, "admission.k8s.io/v1beta1") != 0)) {
        rc = fail(out, http_status, e, 400, "BadRequest",
                  "AdmissionReview apiVersion must be admission.k8s.io/v1, got \"%.64s\"",
                  api ? api : "(missing)");
        goto out;
    }
    const cJSON *req = cJSON_GetObjectItemCaseSensitive(review, "request");
    if (!is_object(req)) {
        rc = fail(out, http_status, e, 400, "BadRequest", "AdmissionReview has no request object");
        goto out;
    }
    const char *uid = get_string(req, "uid");
    if (uid == NULL || uid[0] == '\0' || strlen(uid) > ADM_MAX_UID) {
        rc = fail(out, http_status, e, 400, "BadRequest",
                  "AdmissionReview request.uid is missing, empty or longer than %d bytes",
                  ADM_MAX_UID);
        goto out;
    }
    const char *op = get_string(req, "operation");
    if (op == NULL) {
        rc = fail(out, http_status, e, 400, "BadRequest",
                  "AdmissionReview request.operation is missing");
        goto out;
    }
    const char *sub = get_string(req, "subResource");
    const cJSON *obj = cJSON_GetObjectItemCaseSensitive(req, "object");
    const cJSON *old = cJSON_GetObjectItemCaseSensitive(req, "oldObject");

    int verdict = 0;
    if (strcmp(op, "CREATE") == 0 || strcmp(op, "UPDATE") == 0) {
        bool update = op[0] == 'U';
        if (!is_object(obj) || (update && !is_object(old))) {
            rc = fail(out, http_status, e, 400, "BadRequest",
                      "AdmissionReview %s request needs request.object%s as JSON objects", op,
                      update ? " and request.oldObject" : "");
            goto out;
        }
        /* The status subresource is ballast's own writing; only the spec is judged. */
        if (fn != NULL && (sub == NULL || sub[0] == '\0')) {
            verdict = fn(update ? old : NULL, obj, msg, sizeof(msg), ud);
            msg[sizeof(msg) - 1] = '\0';
        }
    } else if (strcmp(op, "DELETE") != 0 && strcmp(op, "CONNECT") != 0) {
        rc = fail(out, http_status, e, 400, "BadRequest",
                  "AdmissionReview request.operation \"%.32s\" is not CREATE, UPDATE, DELETE "
                  "or CONNECT",
                  op);
        goto out;
    }

    resp = cJSON_CreateObject();
    cJSON *r = NULL;
    bool ok = resp != NULL && cJSON_AddStringToObject(resp, "apiVersion", api) != NULL &&
              cJSON_AddStringToObject(resp, "kind", "AdmissionReview") != NULL &&
              (r = cJSON_AddObjectToObject(resp, "response")) != NULL &&
              cJSON_AddStringToObject(r, "uid", uid) != NULL &&
              cJSON_AddBoolToObject(r, "allowed", verdict == 0) != NULL;
    if (ok && verdict != 0) {
        int code = verdict == ERR_INVALID ? 422 : verdict == ERR_NOMEM ? 500 : 403;
        const char *reason = code == 422 ? "Invalid" : code == 500 ? "InternalError" : "Forbidden";
        if (msg[0] == '\0')
            snprintf(msg, sizeof(msg), "denied by the ballast admission webhook");
        cJSON *st = status_json(code, reason, msg);
        ok = st != NULL;
        if (ok)
            cJSON_AddItemToObject(r, "status", st);
    }
    if (!ok || put_json(resp, out) < 0) {
        buf_reset(out);
        *http_status = 500;
        rc = err_set(e, ERR_NOMEM, "admission review %s: out of memory answering", uid);
        goto out;
    }
    *http_status = 200;

out:
    cJSON_Delete(resp);
    cJSON_Delete(review);
    return rc;
}
