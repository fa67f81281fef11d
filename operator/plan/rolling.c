/* rolling.c — the restart decision ("can this member roll now?"), kept apart from the
 * mechanics of deleting a pod. Progress is read only from the pods' revision and
 * restart labels, so a restarted operator resumes where the last one stopped, and at
 * most one member is ever taken down by a restart. */
#include "plan/internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Whether any scraped member reports gate g. An optional gate's metric may be missing
 * on members that do not own it (KRaft controller metrics on broker-only nodes); one
 * nobody reports is a typo or a missing exporter rule, and must not pass silently. */
static bool someone_reports(const struct pctx *c, int g)
{
    for (int i = 0; i < c->nm; i++) {
        const struct plan_member_health *h = c->m[i].health;
        if (c->m[i].pod != NULL && h != NULL && h->scraped && h->gates[g].present)
            return true;
    }
    return false;
}

bool plan_gates_hold(const struct pctx *c, const struct pmember *m, char *why, size_t n)
{
    const struct psc_spec *s = &c->psc->spec;
    if (m->health == NULL || !m->health->scraped) {
        const char *cause = m->health != NULL ? m->health->error : NULL;
        if (why != NULL && cause != NULL && cause[0] != '\0')
            snprintf(why, n,
                     "the metrics of member %s could not be read (%s), so no gate can be checked",
                     m->name, cause);
        else if (why != NULL)
            snprintf(why, n,
                     "the metrics of member %s could not be read (port %d, path %s), so no gate "
                     "can be checked",
                     m->name, s->metrics_port, s->metrics_path ? s->metrics_path : "/metrics");
        return false;
    }
    for (int g = 0; g < s->ngates; g++) {
        const struct plan_reading *r = &m->health->gates[g];
        if (!r->present && !s->gates[g].optional) {
            if (why != NULL)
                snprintf(why, n,
                         "member %s does not report metric %s, and every member must; check "
                         "the gate's metric name and the exporter's rules, or set optional: "
                         "true on a gate only some members report",
                         m->name, s->gates[g].metric);
            return false;
        }
        if (!r->present) {
            if (someone_reports(c, g))
                continue; /* optional: e.g. controller metrics exist on controllers only */
            if (why != NULL)
                snprintf(why, n,
                         "no member reports metric %s (member %s was read), and an optional "
                         "gate needs at least one; check the gate's metric name and the "
                         "exporter's rules",
                         s->gates[g].metric, m->name);
            return false;
        }
        if (!(r->value <= s->gates[g].max)) { /* NaN fails too */
            /* No value in the message: it goes into conditions, and a count that moves
             * while the gate keeps failing would rewrite status every pass. NaN is
             * named, as it says the exporter is broken rather than the data unsafe. */
            if (why != NULL && isnan(r->value))
                snprintf(why, n, "member %s reports %s=NaN, not a number at most %g", m->name,
                         s->gates[g].metric, s->gates[g].max);
            else if (why != NULL)
                snprintf(why, n, "member %s reports %s above its max %g", m->name,
                         s->gates[g].metric, s->gates[g].max);
            return false;
        }
    }
    return true;
}

static bool recovering(const struct pmember *m)
{
    return m->health != NULL && m->health->scraped && m->health->broker_state.present &&
           m->health->broker_state.value == PLAN_BROKER_STATE_RECOVERY;
}

/* Whether a member became Ready less than PLAN_SETTLE_SECONDS ago: no restart until it
 * has stayed Ready that long (the timer requeues for the moment it has). */
static bool settling(struct pctx *c, char *why, size_t n)
{
    for (int i = 0; i < c->nm; i++) {
        const struct pmember *m = &c->m[i];
        time_t since = m->pod != NULL && m->ready ? plan_ready_since(m->pod) : 0;
        if (since > 0 && c->in->now - since < PLAN_SETTLE_SECONDS) {
            snprintf(why, n,
                     "member %s became Ready less than %ds ago and must stay Ready that long",
                     m->name, PLAN_SETTLE_SECONDS);
            plan_out_requeue(c, (int)(PLAN_SETTLE_SECONDS - (c->in->now - since)) + 1);
            return true;
        }
    }
    return false;
}

/* The first reason the cluster, leaving out member `skip` (may be NULL), is not safe
 * to take one more member down, or false. */
bool plan_cluster_unsafe(struct pctx *c, const struct pmember *skip, char *why, size_t n)
{
    for (int i = 0; i < c->nm; i++) {
        const struct pmember *m = &c->m[i];
        if (m == skip)
            continue;
        if (m->wanted && m->pod == NULL) {
            plan_no_pod_why(c, m, why, n);
            return true;
        }
        if (m->pod != NULL && !m->ready) {
            if (recovering(m))
                snprintf(why, n,
                         "member %s is not Ready: it is recovering its logs (brokerstate 2)",
                         m->name);
            else
                snprintf(why, n, "member %s is not Ready", m->name);
            return true;
        }
    }
    for (int i = 0; i < c->nm; i++)
        if (&c->m[i] != skip && c->m[i].pod != NULL && !plan_gates_hold(c, &c->m[i], why, n))
            return true;
    /* A broker that says it is not serving (starting, shutting down) is not healthy,
     * whatever its other metrics say: they may be the last words of a dying process. */
    for (int i = 0; i < c->nm; i++) {
        const struct plan_member_health *h = c->m[i].health;
        if (&c->m[i] == skip)
            continue;
        if (c->m[i].pod != NULL && h != NULL && h->scraped && h->broker_state.present &&
            h->broker_state.value != PLAN_BROKER_STATE_RUNNING) {
            snprintf(why, n,
                     "member %s reports kafka_server_kafkaserver_brokerstate=%g (3 is running)",
                     c->m[i].name, h->broker_state.value);
            return true;
        }
    }
    return false;
}

/* When the roll started waiting: the status's rollBlockedSince while the last written
 * Rolling condition still says the roll is blocked (or stuck), else now. Read back from
 * the cluster, so a restarted operator keeps the clock; a roll that proceeds in between
 * starts it again. */
static time_t blocked_since(const struct pctx *c)
{
    const cJSON *prev = plan_prev_condition(c->psc, "Rolling");
    const char *st = plan_jstr(prev, "status", (const char *)NULL);
    const char *reason = plan_jstr(prev, "reason", (const char *)NULL);
    time_t t;
    if (st != NULL && strcmp(st, "True") == 0 && reason != NULL &&
        (strcmp(reason, "RollBlocked") == 0 || strcmp(reason, "RollStuck") == 0) &&
        plan_parse_time(plan_jstr(c->psc->status, "rollBlockedSince", (const char *)NULL), &t) ==
            0 &&
        t <= c->in->now)
        return t;
    return c->in->now;
}

/* The roll waits for `why` before restarting `next`. The message carries the moment it
 * started waiting, never a running count of seconds: status is written when the state
 * changes, not every pass. */
static int blocked(struct pctx *c, const char *next, const char *why)
{
    char msg[512], since_s[32];
    time_t since = blocked_since(c);
    long waited = (long)(c->in->now - since);
    int limit = c->psc->spec.roll_timeout_seconds;
    const cJSON *prev = plan_prev_condition(c->psc, "Rolling");
    const char *prev_reason = plan_jstr(prev, "reason", (const char *)NULL);
    const char *reason;
    c->roll_blocked_since = since;
    plan_fmt_time(since, since_s);
    if (limit > 0 && waited > limit) {
        reason = "RollStuck";
        snprintf(msg, sizeof msg,
                 "Roll to revision %s is stuck: blocked since %s, longer than "
                 "rollTimeoutSeconds %d: %s; %s waits and ballast will not proceed until it "
                 "is fixed.",
                 c->revision, since_s, limit, why, next);
        plan_out_requeue(c, 30);
    } else {
        reason = "RollBlocked";
        snprintf(msg, sizeof msg,
                 "Roll to revision %s is blocked: %s; %s restarts once every member is Ready and "
                 "every gate holds.",
                 c->revision, why, next);
        /* come back by the time the wait turns into RollStuck, if not sooner */
        plan_out_requeue(c, limit > 0 && limit - waited + 1 < 15 ? (int)(limit - waited + 1) : 15);
    }
    plan_cond_set(&c->rolling, true, reason, msg);
    if (prev_reason == NULL || strcmp(prev_reason, reason) != 0) {
        int rc = plan_out_event(c, PLAN_EVENT_WARNING, reason, "%s", msg);
        plan_event_about(c, "Rolling", 0);
        return rc;
    }
    return 0;
}

static int restart(struct pctx *c, const struct pmember *m, const char *reason, int done, int total)
{
    char msg[512];
    int rc = plan_out_restart(c, m, reason);
    if (rc != 0)
        return rc;
    snprintf(msg, sizeof msg, "Restarting %s onto revision %s (%d of %d members up to date): %s.",
             m->name, c->revision, done, total, reason);
    plan_cond_set(&c->rolling, true, "RollInProgress", msg);
    plan_out_requeue(c, 10);
    rc = plan_out_event(c, PLAN_EVENT_NORMAL, "MemberRestarting", "%s", msg);
    plan_event_about(c, "Rolling", -1);
    return rc;
}

static void restart_reason(const struct pctx *c, const struct pmember *m, char *out, size_t n)
{
    const char *rev = plan_jlabel(m->pod, PSC_LABEL_REVISION);
    if (m->dead)
        snprintf(out, n, "pod %s has phase %s and will not come back by itself", m->name,
                 plan_jstr(m->pod, "status", "phase", (const char *)NULL));
    else if (rev == NULL || strcmp(rev, c->revision) != 0)
        snprintf(out, n, "revision %s -> %s", rev ? rev : "(none)", c->revision);
    else
        snprintf(out, n, "restart requested (annotation %s)", PSC_ANN_RESTART);
}

int plan_decide_roll(struct pctx *c, struct err *e)
{
    (void)e;
    char why[512], msg[512], reason[512];
    int total = 0, done = 0, pending = 0;
    for (int i = 0; i < c->nm; i++) {
        const struct pmember *m = &c->m[i];
        if (!m->wanted)
            continue;
        total++;
        if (m->pod != NULL && (m->needs_restart || m->dead))
            pending++;
        else if (m->pod != NULL && !m->terminating)
            done++;
    }
    c->roll_pending = pending > 0;
    if (!c->roll_pending) {
        /* The roll is over only once the last restarted member is Ready and the gates
         * hold again, as after every other restart. */
        const cJSON *prev = plan_prev_condition(c->psc, "Rolling");
        const char *pst = plan_jstr(prev, "status", (const char *)NULL);
        if (pst != NULL && strcmp(pst, "True") == 0 && !c->invalid &&
            (settling(c, why, sizeof why) || plan_cluster_unsafe(c, NULL, why, sizeof why))) {
            snprintf(msg, sizeof msg,
                     "Every member runs revision %s; the roll ends when every "
                     "member is Ready and every gate holds: %s.",
                     c->revision, why);
            plan_cond_set(&c->rolling, true, "RollFinishing", msg);
            plan_out_requeue(c, 15);
            return 0;
        }
        snprintf(msg, sizeof msg, "Every member runs revision %s.", c->revision);
        plan_cond_set(&c->rolling, false, "UpToDate", msg);
        return 0;
    }
    if (c->invalid) {
        snprintf(msg, sizeof msg,
                 "%d members wait for a restart onto revision %s; fix the spec "
                 "first (see the Degraded condition).",
                 pending, c->revision);
        plan_cond_set(&c->rolling, false, "InvalidSpec", msg);
        return 0;
    }
    if (c->psc->paused) {
        snprintf(msg, sizeof msg,
                 "%d members wait for a restart onto revision %s; set "
                 "spec.paused to false (and remove the %s annotation) to continue.",
                 pending, c->revision, PSC_ANN_PAUSED);
        plan_cond_set(&c->rolling, false, "Paused", msg);
        return 0;
    }
    for (int i = 0; i < c->nm; i++)
        if (c->m[i].terminating) {
            snprintf(msg, sizeof msg,
                     "Waiting for pod %s to terminate before the next restart "
                     "onto revision %s (%d of %d members up to date).",
                     c->m[i].name, c->revision, done, total);
            plan_cond_set(&c->rolling, true, "RollInProgress", msg);
            plan_out_requeue(c, 5);
            return 0;
        }
    if (c->disruption) {
        snprintf(msg, sizeof msg,
                 "Waiting for the member being removed before restarting members "
                 "onto revision %s.",
                 c->revision);
        plan_cond_set(&c->rolling, true, "RollInProgress", msg);
        plan_out_requeue(c, 5);
        return 0;
    }

    /* A member that is already down is restarted first: it cannot make things worse —
     * but only while every other member is Ready and the gates hold there, or a member
     * that blinked while another is still coming back would make two down. A pod that
     * has ended (Failed/Succeeded) is down for good and is always replaced. Never one
     * recovering its logs: restarting it would start recovery from zero. */
    const struct pmember *waiting = NULL;
    for (int i = 0; i < c->nm; i++) {
        const struct pmember *m = &c->m[i];
        if (!m->wanted || m->pod == NULL || !(m->needs_restart || m->dead) || m->ready)
            continue;
        if (!m->dead && recovering(m)) {
            if (waiting == NULL)
                waiting = m;
            continue;
        }
        if (!m->dead && plan_cluster_unsafe(c, m, why, sizeof why))
            return blocked(c, m->name, why);
        if (!m->dead && settling(c, why, sizeof why)) {
            snprintf(msg, sizeof msg,
                     "Restarting members onto revision %s (%d of %d up to date): %s before %s "
                     "restarts.",
                     c->revision, done, total, why, m->name);
            plan_cond_set(&c->rolling, true, "RollInProgress", msg);
            return 0;
        }
        restart_reason(c, m, why, sizeof why);
        snprintf(reason, sizeof reason,
                 "%s; it is not Ready and every other member is, so restarting it first "
                 "cannot make things worse",
                 why);
        return restart(c, m, reason, done, total);
    }
    const struct pmember *next = NULL;
    for (int i = 0; i < c->nm && next == NULL; i++)
        if (c->m[i].wanted && c->m[i].pod != NULL && c->m[i].needs_restart)
            next = &c->m[i];
    if (next == NULL)
        return 0; /* unreachable: every pending member is dead, down or ready */
    if (waiting != NULL && next == waiting) {
        snprintf(why, sizeof why,
                 "member %s is recovering its logs (brokerstate 2) and is "
                 "waited for, never restarted",
                 waiting->name);
        return blocked(c, waiting->name, why);
    }
    if (settling(c, why, sizeof why)) {
        snprintf(
            msg, sizeof msg,
            "Restarting members onto revision %s (%d of %d up to date): %s before %s restarts.",
            c->revision, done, total, why, next->name);
        plan_cond_set(&c->rolling, true, "RollInProgress", msg);
        return 0;
    }
    if (plan_cluster_unsafe(c, NULL, why, sizeof why))
        return blocked(c, next->name, why);
    restart_reason(c, next, why, sizeof why);
    return restart(c, next, why, done, total);
}
