/* fuzz_admission.c — the webhook's body, which anyone who can reach the webhook port
 * writes: adm_review with the validator ballast registers (psc_parse of object and
 * oldObject, psc_validate_update). Whatever the bytes, the answer is one of the promised
 * statuses with a JSON body; a 200 answers the request's uid. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "psc/psc.h"
#include "server/admission.h"

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_admission: %s\n", what);
        abort();
    }
}

/* ctl.c's validate_psc without the PVC cache (no member zones known). */
static int validate(const cJSON *old_obj, const cJSON *new_obj, char *msg, size_t msglen, void *ud)
{
    (void)ud;
    struct psc *np = NULL, *op = NULL;
    struct err e = {0};
    int rc = psc_parse(new_obj, &np, &e);
    if (rc == 0 && old_obj != NULL && (rc = psc_parse(old_obj, &op, &e)) == 0)
        rc = psc_validate_update(op, np, NULL, 0, &e);
    if (rc != 0)
        snprintf(msg, msglen, "%s", e.msg);
    psc_free(np);
    psc_free(op);
    return rc == 0 ? 0 : ERR_INVALID;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct buf out = {0};
    struct err e = {0};
    int status = 0;
    int rc = adm_review((const char *)data, size, validate, NULL, &out, &status, &e);
    check(status == 200 || status == 400 || status == 413 || status == 500, "unexpected status");
    check((rc == 0) == (status == 200), "rc and status disagree");
    cJSON *ans = out.data ? cJSON_ParseWithLength(out.data, out.len) : NULL;
    check(ans != NULL, "the answer is not JSON");
    if (status == 200) {
        cJSON *req = cJSON_ParseWithLength((const char *)data, size);
        const cJSON *uid = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(req, "request"), "uid");
        const cJSON *resp = cJSON_GetObjectItemCaseSensitive(ans, "response");
        const cJSON *auid = cJSON_GetObjectItemCaseSensitive(resp, "uid");
        check(cJSON_IsString(uid) && cJSON_IsString(auid) &&
                  strcmp(uid->valuestring, auid->valuestring) == 0,
              "the answer's uid is not the request's");
        check(cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(resp, "allowed")), "no allowed");
        cJSON_Delete(req);
    }
    cJSON_Delete(ans);
    buf_free(&out);
    return 0;
}
