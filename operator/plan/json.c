/* json.c — the planner's small cJSON helpers: walking observed objects without
 * trusting their shape (any field may be missing or of the wrong type), a canonical
 * encoding for hashing, and RFC3339 times. Pure: no clock, no I/O. */
#include "plan/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

const cJSON *plan_jget(const cJSON *o, ...)
{
    va_list ap;
    va_start(ap, o);
    const char *k;
    while (o != NULL && (k = va_arg(ap, const char *)) != NULL) {
        if (!cJSON_IsObject(o)) {
            o = NULL;
            break;
        }
        o = cJSON_GetObjectItemCaseSensitive(o, k);
    }
    va_end(ap);
    return o;
}

const char *plan_jstr(const cJSON *o, ...)
{
    va_list ap;
    va_start(ap, o);
    const char *k;
    while (o != NULL && (k = va_arg(ap, const char *)) != NULL) {
        if (!cJSON_IsObject(o)) {
            o = NULL;
            break;
        }
        o = cJSON_GetObjectItemCaseSensitive(o, k);
    }
    va_end(ap);
    return cJSON_IsString(o) ? o->valuestring : NULL;
}

const char *plan_jlabel(const cJSON *o, const char *key)
{
    return plan_jstr(o, "metadata", "labels", key, (const char *)NULL);
}

int plan_jset(cJSON *obj, const char *key, cJSON *v)
{
    if (v == NULL)
        return ERR_NOMEM;
    if (cJSON_GetObjectItemCaseSensitive(obj, key) != NULL) {
        if (!cJSON_ReplaceItemInObjectCaseSensitive(obj, key, v)) {
            cJSON_Delete(v);
            return ERR_NOMEM;
        }
        return 0;
    }
    if (!cJSON_AddItemToObject(obj, key, v)) {
        cJSON_Delete(v);
        return ERR_NOMEM;
    }
    return 0;
}

int plan_jset_str(cJSON *obj, const char *key, const char *s)
{
    return plan_jset(obj, key, cJSON_CreateString(s != NULL ? s : ""));
}

cJSON *plan_jobj_add(cJSON *obj, const char *key)
{
    cJSON *o = cJSON_CreateObject();
    return plan_jset(obj, key, o) == 0 ? o : NULL;
}

cJSON *plan_jarr_add(cJSON *obj, const char *key)
{
    cJSON *o = cJSON_CreateArray();
    return plan_jset(obj, key, o) == 0 ? o : NULL;
}

static int cmp_keys(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    return strcmp(x->string, y->string);
}

static int canon_str(struct buf *b, const char *s)
{
    /* Length-prefixed so that no two different trees encode the same. */
    return buf_printf(b, "s%zu:%s", strlen(s), s);
}

int plan_jcanon(struct buf *b, const cJSON *v)
{
    if (v == NULL || cJSON_IsNull(v))
        return buf_puts(b, "n");
    if (cJSON_IsFalse(v))
        return buf_puts(b, "f");
    if (cJSON_IsTrue(v))
        return buf_puts(b, "t");
    if (cJSON_IsNumber(v))
        return buf_printf(b, "d%.17g;", v->valuedouble);
    if (cJSON_IsString(v))
        return canon_str(b, v->valuestring);
    if (cJSON_IsArray(v)) {
        if (buf_puts(b, "[") < 0)
            return -1;
        for (const cJSON *it = v->child; it != NULL; it = it->next)
            if (plan_jcanon(b, it) < 0)
                return -1;
        return buf_puts(b, "]");
    }
    if (cJSON_IsObject(v)) {
        int n = cJSON_GetArraySize(v), i = 0, rc = -1;
        const cJSON **items = calloc(n > 0 ? (size_t)n : 1, sizeof *items);
        if (items == NULL)
            return -1;
        for (const cJSON *it = v->child; it != NULL && i < n; it = it->next)
            items[i++] = it;
        qsort(items, (size_t)i, sizeof *items, cmp_keys);
        if (buf_puts(b, "{") < 0)
            goto out;
        for (int k = 0; k < i; k++)
            if (canon_str(b, items[k]->string) < 0 || plan_jcanon(b, items[k]) < 0)
                goto out;
        rc = buf_puts(b, "}");
    out:
        free(items);
        return rc;
    }
    return buf_puts(b, "?");
}

bool plan_jhas_owner(const cJSON *obj, const char *uid)
{
    const cJSON *refs = plan_jget(obj, "metadata", "ownerReferences", (const char *)NULL);
    const cJSON *r;
    cJSON_ArrayForEach(r, refs)
    {
        const char *u = plan_jstr(r, "uid", (const char *)NULL);
        const cJSON *ctl = plan_jget(r, "controller", (const char *)NULL);
        if (u != NULL && uid != NULL && strcmp(u, uid) == 0 && cJSON_IsTrue(ctl))
            return true;
    }
    return false;
}

bool plan_jlabels_contain(const cJSON *obj, const cJSON *want)
{
    const cJSON *l;
    cJSON_ArrayForEach(l, want)
    {
        const char *have = plan_jlabel(obj, l->string);
        if (have == NULL || !cJSON_IsString(l) || strcmp(have, l->valuestring) != 0)
            return false;
    }
    return true;
}

char *plan_strdup(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

char *plan_asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

/* plan_parse_time reads RFC3339 "2026-01-02T03:04:05Z" (fraction and offset tolerated). */
int plan_parse_time(const char *s, time_t *out)
{
    struct tm tm = {0};
    if (s == NULL)
        return -1;
    const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (rest == NULL)
        return -1;
    if (*rest == '.') {
        rest++;
        while (*rest >= '0' && *rest <= '9')
            rest++;
    }
    long off = 0;
    if (*rest == '+' || *rest == '-') {
        int hh = 0, mm = 0;
        if (sscanf(rest + 1, "%2d:%2d", &hh, &mm) != 2)
            return -1;
        off = (hh * 3600L + mm * 60L) * (*rest == '-' ? -1 : 1);
    } else if (*rest != 'Z' && *rest != 'z') {
        return -1;
    }
    *out = timegm(&tm) - off;
    return 0;
}

void plan_fmt_time(time_t t, char out[32])
{
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, 32, "1970-01-01T00:00:00Z");
}
