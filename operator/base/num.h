/* num.h — numbers read from JSON, range-checked before any cast to an integer.
 * cJSON keeps every number as a double; casting one that is NaN, infinite or out of
 * the target type's range is undefined behaviour in C, and the API server (or anyone
 * who can write an object) chooses those numbers. Every integer ballast reads from an
 * API object goes through here. */
#ifndef BALLAST_BASE_NUM_H
#define BALLAST_BASE_NUM_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"

/* num_to_i64 stores d in *out when d is finite, whole and within [min, max], and
 * returns 0; otherwise it returns ERR_INVALID and leaves *out alone. No cast happens
 * before the range is known to fit int64. */
int num_to_i64(double d, int64_t min, int64_t max, int64_t *out);

/* num_json_i64 reads v (a cJSON number) as an integer in [min, max]. Not a number,
 * fractional, NaN/Inf or out of range: ERR_INVALID with a message naming `what` (e.g.
 * "status.observedGeneration") and the range; *out is left alone. v may be NULL. */
int num_json_i64(const cJSON *v, const char *what, int64_t min, int64_t max, int64_t *out,
                 struct err *e);

/* num_json_int: the same, for an int. */
int num_json_int(const cJSON *v, const char *what, int min, int max, int *out, struct err *e);

/* num_json_is: true when v is a number equal to the integer want (never casts v). */
bool num_json_is(const cJSON *v, int64_t want);

/* num_json_get: obj[key] read with num_json_i64, or def when it is absent, null or
 * out of range: for numbers whose garbage is best treated as "not said". */
int64_t num_json_get(const cJSON *obj, const char *key, int64_t min, int64_t max, int64_t def);

#endif
