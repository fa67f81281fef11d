/* admission.h — the validating admission webhook's logic, without the HTTP: an
 * admission.k8s.io/v1 AdmissionReview body in, the AdmissionReview answer (or a 4xx
 * error) out. The PSC rules themselves come in as a callback. Pure: no I/O, no globals. */
#ifndef BALLAST_SERVER_ADMISSION_H
#define BALLAST_SERVER_ADMISSION_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "base/buf.h"
#include "base/err.h"

#define ADM_MAX_BODY (1024 * 1024) /* bytes; a PSC review is a few KiB */

/* adm_validate_fn judges one object. old_obj is NULL on CREATE; both are borrowed.
 * Return 0 to allow; otherwise write a sentence for the user into msg (msglen bytes,
 * NUL-terminated) and return ERR_INVALID (denied as 422 Invalid: the spec is wrong),
 * ERR_NOMEM (500 InternalError) or any other non-zero value (403 Forbidden). */
typedef int (*adm_validate_fn)(const cJSON *old_obj, const cJSON *new_obj, char *msg, size_t msglen,
                               void *ud);

/* adm_review judges the AdmissionReview in body[0..len). It always sets *http_status
 * and appends a JSON body to out:
 * - 200 and an AdmissionReview with response {uid, allowed, status} when the review
 *   is well formed (whatever the verdict); returns 0. CREATE and UPDATE of the main
 *   resource go to fn; DELETE, CONNECT and subresources are allowed without it.
 * - 400 (malformed JSON, wrong kind/apiVersion, missing uid/operation/object) or
 *   413 (body over ADM_MAX_BODY) and a metav1.Status body; returns ERR_INVALID with
 *   e saying what is wrong.
 * - 500 when out of memory; returns ERR_NOMEM.
 * fn == NULL allows everything well formed. out should start empty (on failure to
 * allocate it is reset). */
int adm_review(const char *body, size_t len, adm_validate_fn fn, void *ud, struct buf *out,
               int *http_status, struct err *e);

#endif
