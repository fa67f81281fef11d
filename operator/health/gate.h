/* gate.h — deciding whether the members are healthy enough to restart one: every
 * gate {metric, max} must hold on every member. Pure: takes what was scraped and
 * parsed, returns a verdict per member per gate and one sentence for people. */
#ifndef BALLAST_HEALTH_GATE_H
#define BALLAST_HEALTH_GATE_H

#include <stdbool.h>

#include "base/err.h"
#include "health/promtext.h"

struct gate_def {
    const char *metric; /* metric family name; the gate sums all its series (borrowed) */
    double max;         /* holds when the sum is <= max */
};

/* What was read from one member (all borrowed). */
struct gate_member {
    const char *name;                   /* e.g. "orders-2", used in messages */
    bool scraped;                       /* false: unreachable, timed out, non-200 or unparsable */
    const char *error;                  /* why, when !scraped (may be NULL) */
    const struct prom_samples *samples; /* when scraped; NULL counts as no samples */
};

enum gate_state {
    GATE_HOLDS = 0,
    GATE_FAILS,      /* the value is above max, or NaN */
    GATE_MISSING,    /* the member does not export the metric: not known healthy */
    GATE_UNSCRAPABLE /* the member's metrics could not be read */
};

struct gate_result {
    enum gate_state state;
    double value; /* the sum, when state is HOLDS or FAILS; else 0 */
};

struct gate_report {
    struct gate_result *results; /* nmembers * ngates, row by member: [m * ngates + g] */
    int nmembers;
    int ngates;
    bool all_hold;
    int first_member; /* the first failure in member then gate order; -1 when all hold */
    int first_gate;
    /* one sentence for the first failure, e.g. "orders-2:
     * kafka_server_replicamanager_underreplicatedpartitions is 3 (max 0)"; "" when all hold */
    char message[512];
};

/* gate_eval evaluates every gate on every member into *out (caller frees with
 * gate_report_free, also after an error). A member that could not be scraped fails
 * every gate; a missing metric fails; NaN fails. No gates or no members: all hold.
 * Returns 0, ERR_INVALID (NULL gate metric, negative counts) or ERR_NOMEM. */
int gate_eval(const struct gate_def *gates, int ngates, const struct gate_member *members,
              int nmembers, struct gate_report *out, struct err *e);
void gate_report_free(struct gate_report *r);

/* gate_result_at returns the verdict for member m and gate g, or NULL when out of range. */
const struct gate_result *gate_result_at(const struct gate_report *r, int m, int g);

const char *gate_state_name(enum gate_state s); /* "holds", "fails", "missing", "unscrapable" */

/* health_member_value reads one metric (summed over its series) from a member, e.g.
 * the drained metric or kafka_server_kafkaserver_brokerstate for the planner.
 * Returns true and sets *v when the member was scraped and exports the metric. */
bool health_member_value(const struct gate_member *m, const char *metric, double *v);

#endif
