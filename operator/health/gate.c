/* gate.c — evaluating health gates over members' parsed metrics; see gate.h.
 * Anything ballast cannot read counts as unhealthy: a roll must never proceed on a
 * guess that the data is safe. */
#include "health/gate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *gate_state_name(enum gate_state s)
{
    switch (s) {
    case GATE_HOLDS:
        return "holds";
    case GATE_FAILS:
        return "fails";
    case GATE_MISSING:
        return "missing";
    case GATE_UNSCRAPABLE:
        return "unscrapable";
    }
    return "unknown";
}

/* fmt_value prints a value the way Prometheus writes it: 3, 0.5, NaN, +Inf. */
static void fmt_value(char out[40], double v)
{
    if (isnan(v))
        snprintf(out, 40, "NaN");
    else if (isinf(v))
        snprintf(out, 40, "%cInf", v > 0 ? '+' : '-');
    else
        snprintf(out, 40, "%.15g", v);
}

static void describe_failure(struct gate_report *r, const struct gate_def *g,
                             const struct gate_member *m, const struct gate_result *res)
{
    char val[40], max[40];
    const char *who = m->name ? m->name : "(unnamed member)";
    fmt_value(val, res->value);
    fmt_value(max, g->max);
    switch (res->state) {
    case GATE_FAILS:
        snprintf(r->message, sizeof r->message, "%s: %s is %s (max %s)", who, g->metric, val, max);
        break;
    case GATE_MISSING:
        snprintf(r->message, sizeof r->message,
                 "%s: does not export %s, so it is not known to be healthy", who, g->metric);
        break;
    case GATE_UNSCRAPABLE:
        snprintf(r->message, sizeof r->message,
                 "%s: metrics could not be read (%s), so %s is unknown", who,
                 m->error && m->error[0] ? m->error : "no reason given", g->metric);
        break;
    case GATE_HOLDS:
        break;
    }
}

static struct gate_result eval_one(const struct gate_def *g, const struct gate_member *m)
{
    struct gate_result res = {.state = GATE_UNSCRAPABLE};
    if (!m->scraped)
        return res;
    bool found;
    double sum;
    prom_sum(m->samples, g->metric, &sum, &found);
    if (!found) {
        res.state = GATE_MISSING;
        return res;
    }
    res.value = sum;
    /* written so that NaN fails: every comparison with NaN is false */
    res.state = sum <= g->max ? GATE_HOLDS : GATE_FAILS;
    return res;
}

int gate_eval(const struct gate_def *gates, int ngates, const struct gate_member *members,
              int nmembers, struct gate_report *out, struct err *e)
{
    if (out == NULL)
        return err_set(e, ERR_INVALID, "gate_eval: out is NULL");
    memset(out, 0, sizeof *out);
    out->first_member = out->first_gate = -1;
    if (ngates < 0 || nmembers < 0 || (ngates > 0 && gates == NULL) ||
        (nmembers > 0 && members == NULL))
        return err_set(e, ERR_INVALID, "gate_eval: %d gates and %d members given without arrays",
                       ngates, nmembers);
    for (int g = 0; g < ngates; g++)
        if (gates[g].metric == NULL || gates[g].metric[0] == '\0')
            return err_set(e, ERR_INVALID, "health gate %d has no metric name", g);
    out->all_hold = true;
    if (ngates == 0 || nmembers == 0)
        return 0;
    out->results = calloc((size_t)ngates * (size_t)nmembers, sizeof *out->results);
    if (out->results == NULL)
        return err_set(e, ERR_NOMEM, "out of memory evaluating health gates");
    out->nmembers = nmembers;
    out->ngates = ngates;
    for (int m = 0; m < nmembers; m++) {
        for (int g = 0; g < ngates; g++) {
            struct gate_result *res = &out->results[(size_t)m * (size_t)ngates + (size_t)g];
            *res = eval_one(&gates[g], &members[m]);
            if (res->state == GATE_HOLDS || !out->all_hold)
                continue;
            out->all_hold = false;
            out->first_member = m;
            out->first_gate = g;
            describe_failure(out, &gates[g], &members[m], res);
        }
    }
    return 0;
}

void gate_report_free(struct gate_report *r)
{
    if (r == NULL)
        return;
    free(r->results);
    r->results = NULL;
    r->nmembers = r->ngates = 0;
}

const struct gate_result *gate_result_at(const struct gate_report *r, int m, int g)
{
    if (r == NULL || r->results == NULL || m < 0 || g < 0 || m >= r->nmembers || g >= r->ngates)
        return NULL;
    return &r->results[(size_t)m * (size_t)r->ngates + (size_t)g];
}

bool health_member_value(const struct gate_member *m, const char *metric, double *v)
{
    if (m == NULL || !m->scraped || metric == NULL)
        return false;
    bool found;
    double sum;
    prom_sum(m->samples, metric, &sum, &found);
    if (found && v)
        *v = sum;
    return found;
}
