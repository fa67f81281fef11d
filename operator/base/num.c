/* num.c — double -> integer conversions that check before they cast (see num.h).
 * The bounds are compared as doubles that are exact: -2^63 and 2^63 are powers of
 * two, so "d >= 2^63" is exact where "d > (double)INT64_MAX" would round and let 2^63
 * through to the cast. */
#include "base/num.h"

#include <limits.h>
#include <math.h>

#define TWO_63 9223372036854775808.0

int num_to_i64(double d, int64_t min, int64_t max, int64_t *out)
{
    if (!isfinite(d) || d != floor(d) || d < -TWO_63 || d >= TWO_63)
        return ERR_INVALID;
    int64_t v = (int64_t)d;
    if (v < min || v > max)
        return ERR_INVALID;
    *out = v;
    return 0;
}

int num_json_i64(const cJSON *v, const char *what, int64_t min, int64_t max, int64_t *out,
                 struct err *e)
{
    if (!cJSON_IsNumber(v))
        return err_set(e, ERR_INVALID, "%s: must be an integer", what);
    double d = v->valuedouble;
    if (!isfinite(d) || d != floor(d))
        return err_set(e, ERR_INVALID, "%s: must be a whole number, got %g", what, d);
    if (num_to_i64(d, min, max, out) != 0)
        return err_set(e, ERR_INVALID, "%s: must be in %lld..%lld, got %.17g", what, (long long)min,
                       (long long)max, d);
    return 0;
}

int num_json_int(const cJSON *v, const char *what, int min, int max, int *out, struct err *e)
{
    int64_t x;
    int rc = num_json_i64(v, what, min, max, &x, e);
    if (rc == 0)
        *out = (int)x;
    return rc;
}

bool num_json_is(const cJSON *v, int64_t want)
{
    int64_t x;
    return cJSON_IsNumber(v) && num_to_i64(v->valuedouble, INT64_MIN, INT64_MAX, &x) == 0 &&
           x == want;
}

int64_t num_json_get(const cJSON *obj, const char *key, int64_t min, int64_t max, int64_t def)
{
    int64_t x;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return num_json_i64(v, key, min, max, &x, NULL) == 0 ? x : def;
}
