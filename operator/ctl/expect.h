/* expect.h — the writes of a PSC's last pass that its caches do not show yet. Watches of
 * different resources arrive in no common order: the PSC's own status write can come back
 * before the pod it evicted a moment earlier looks terminating, and a pass planned from
 * that view restarts the same member again. So a pass's writes are kept here, and the
 * next pass of that PSC waits until each is seen (or, should a watch never bring one, for
 * at most a deadline). Equality of resourceVersions only, never their order: they are
 * opaque. Not thread-safe: one list belongs to one PSC key, which one worker holds. */
#ifndef BALLAST_CTL_EXPECT_H
#define BALLAST_CTL_EXPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "act/act.h"

/* How long a pass waits for the caches to show the previous pass's writes before it plans
 * anyway (a watch that never brings one, e.g. an object created and deleted by someone
 * else before ballast's watch saw it). */
#define EXPECT_MAX_WAIT_SECONDS 30

/* What a cache holds under one name, as expect_prune asks for it. */
struct expect_seen {
    bool present;
    bool terminating; /* metadata.deletionTimestamp is set */
    char uid[64];     /* "" when unknown */
    char rv[64];      /* "" when unknown */
};

/* What obj (a cached object, or NULL when absent) shows: fills every field of *out. */
void expect_seen_of(const cJSON *obj, struct expect_seen *out);

/* Fills *out for kind (the caller's numbering, as given to expect_add), ns, name. Returns
 * 0, or an error (the expectation then stays). */
typedef int (*expect_look_fn)(void *ud, int kind, const char *ns, const char *name,
                              struct expect_seen *out);

struct expect;
struct expect_list {
    struct expect *head; /* owned */
    int n;
    time_t since; /* when the oldest kept write was made */
};

/* Keeps w (copied) as a write that kind's cache must show. 0, or ERR_NOMEM (nothing kept;
 * the caller goes on as if the cache were fresh). */
int expect_add(struct expect_list *l, int kind, const struct act_wrote *w, time_t now);

/* Whether what look sees of this write shows it. Pure. */
bool expect_shown(const struct act_wrote *w, const struct expect_seen *s);

/* Drops every kept write that look shows; returns how many remain. When some remain, what
 * (may be NULL) describes the first, e.g. "pod default/orders-0 deleted". */
int expect_prune(struct expect_list *l, expect_look_fn look, void *ud, char *what, size_t n);

/* The verdict before a pass: prunes what look shows; GO when nothing remains, WAIT while
 * something does for less than max_wait seconds since the oldest kept write, LATE (and l
 * cleared) after that: the pass goes ahead, and the caller says which write never showed
 * (what, as expect_prune). */
enum expect_verdict { EXPECT_GO = 0, EXPECT_WAIT, EXPECT_LATE };
enum expect_verdict expect_check(struct expect_list *l, expect_look_fn look, void *ud, time_t now,
                                 int max_wait, char *what, size_t n);

void expect_clear(struct expect_list *l);

#endif
