/* expect.c — a pass's writes until the caches show them; see expect.h. */
#include "ctl/expect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

struct expect {
    struct expect *next;
    int kind;
    struct act_wrote w; /* its strings point into text */
    char text[];
};

static size_t len0(const char *s)
{
    return s != NULL ? strlen(s) + 1 : 0;
}

static const char *put(char **p, const char *s)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s) + 1;
    memcpy(*p, s, n);
    const char *r = *p;
    *p += n;
    return r;
}

int expect_add(struct expect_list *l, int kind, const struct act_wrote *w, time_t now)
{
    int nold = w->nold < 0 ? 0 : w->nold > 3 ? 3 : w->nold;
    size_t n = len0(w->ns) + len0(w->name) + len0(w->uid);
    for (int i = 0; i < nold; i++)
        n += len0(w->old_rv[i]);
    struct expect *x = malloc(sizeof *x + n);
    if (x == NULL)
        return ERR_NOMEM;
    char *p = x->text;
    x->kind = kind;
    x->w = (struct act_wrote){.psc = w->psc, .kind = w->kind, .op = w->op, .nold = nold};
    x->w.ns = put(&p, w->ns);
    x->w.name = put(&p, w->name);
    x->w.uid = put(&p, w->uid);
    for (int i = 0; i < nold; i++)
        x->w.old_rv[i] = put(&p, w->old_rv[i]);
    x->next = l->head;
    l->head = x;
    if (l->n++ == 0)
        l->since = now;
    return 0;
}

static void copy_meta(const cJSON *md, const char *field, char *out, size_t n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(md, field);
    snprintf(out, n, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

void expect_seen_of(const cJSON *obj, struct expect_seen *out)
{
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    out->present = obj != NULL;
    out->terminating = cJSON_GetObjectItemCaseSensitive(md, "deletionTimestamp") != NULL;
    copy_meta(md, "uid", out->uid, sizeof out->uid);
    copy_meta(md, "resourceVersion", out->rv, sizeof out->rv);
}

bool expect_shown(const struct act_wrote *w, const struct expect_seen *s)
{
    switch (w->op) {
    case ACT_WROTE_CREATED:
        return s->present;
    case ACT_WROTE_UPDATED:
        if (!s->present)
            return true; /* deleted since: that came after the write */
        for (int i = 0; i < w->nold; i++)
            if (w->old_rv[i] != NULL && strcmp(s->rv, w->old_rv[i]) == 0)
                return false;
        return true;
    case ACT_WROTE_DELETED:
        return !s->present || s->terminating || (w->uid != NULL && strcmp(s->uid, w->uid) != 0);
    }
    return true;
}

static void describe(const struct expect *x, char *out, size_t n)
{
    static const char *const op[] = {"created", "updated", "deleted"};
    snprintf(out, n, "%s %s/%s %s",
             x->w.psc ? "PhysicalStatefulCluster" : plan_kind_name(x->w.kind),
             x->w.ns ? x->w.ns : "", x->w.name ? x->w.name : "",
             (unsigned)x->w.op < 3 ? op[x->w.op] : "written");
}

int expect_prune(struct expect_list *l, expect_look_fn look, void *ud, char *what, size_t n)
{
    struct expect **pp = &l->head;
    if (what != NULL && n > 0)
        what[0] = '\0';
    while (*pp != NULL) {
        struct expect *x = *pp;
        struct expect_seen s = {0};
        if (look(ud, x->kind, x->w.ns, x->w.name, &s) == 0 && expect_shown(&x->w, &s)) {
            *pp = x->next;
            free(x);
            l->n--;
            continue;
        }
        if (what != NULL && n > 0 && what[0] == '\0')
            describe(x, what, n);
        pp = &x->next;
    }
    return l->n;
}

enum expect_verdict expect_check(struct expect_list *l, expect_look_fn look, void *ud, time_t now,
                                 int max_wait, char *what, size_t n)
{
    if (expect_prune(l, look, ud, what, n) == 0)
        return EXPECT_GO;
    if (now - l->since < max_wait)
        return EXPECT_WAIT;
    expect_clear(l);
    return EXPECT_LATE;
}

void expect_clear(struct expect_list *l)
{
    while (l->head != NULL) {
        struct expect *x = l->head;
        l->head = x->next;
        free(x);
    }
    l->n = 0;
}
