/* status.c — the PSC's .status as a person on call reads it: counts, revisions,
 * where each member lives, and the Ready/Resizing/Rolling/Degraded conditions.
 * lastTransitionTime moves only when a condition's status flips, lastProbeTime only when
 * what a condition says changes, and messages carry no number that moves while the
 * state stays, so a steady cluster — healthy, degraded or stuck — is not written every
 * pass. */
#include "plan/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/num.h"

void plan_cond_set(struct pcond *k, bool status, const char *reason, const char *msg)
{
    k->status = status;
    snprintf(k->reason, sizeof k->reason, "%s", reason);
    snprintf(k->message, sizeof k->message, "%s", msg);
}

const cJSON *plan_prev_condition(const struct psc *p, const char *type)
{
    const cJSON *k;
    cJSON_ArrayForEach(k, plan_jget(p->status, "conditions", (const char *)NULL))
    {
        const char *t = plan_jstr(k, "type", (const char *)NULL);
        if (t != NULL && strcmp(t, type) == 0)
            return k;
    }
    return NULL;
}

static void decide_ready_degraded(struct pctx *c)
{
    char why[512], msg[640];
    int wanted = 0, ready = 0;
    const struct pmember *missing = NULL, *down = NULL, *gate = NULL;
    char gate_why[512] = "";
    for (int i = 0; i < c->nm; i++) {
        const struct pmember *m = &c->m[i];
        if (m->wanted) {
            wanted++;
            if (m->serving)
                ready++;
            else if (m->pod == NULL && missing == NULL)
                missing = m;
            else if (m->pod != NULL && down == NULL)
                down = m;
        }
        if (m->ready && gate == NULL && !plan_gates_hold(c, m, gate_why, sizeof gate_why))
            gate = m;
    }
    if (c->invalid && c->recreate_only) {
        snprintf(msg, sizeof msg,
                 "%s; until the spec is fixed, ballast changes nothing but recreating missing "
                 "members from the last spec it accepted (ConfigMap %s%s).",
                 c->invalid_msg, c->psc->name, PLAN_ACCEPTED_SUFFIX);
        plan_cond_set(&c->degraded, true, "InvalidSpec", msg);
        snprintf(msg, sizeof msg, "The spec cannot be applied: %s.", c->invalid_msg);
        plan_cond_set(&c->ready, false, "InvalidSpec", msg);
        return;
    }
    if (c->invalid) {
        plan_cond_set(&c->degraded, true, "InvalidSpec", c->invalid_msg);
        snprintf(msg, sizeof msg, "The spec cannot be applied: %s.", c->invalid_msg);
        plan_cond_set(&c->ready, false, "InvalidSpec", msg);
        return;
    }
    if (c->zone_down_msg[0] != '\0') {
        /* The root cause of the members missing there: say it rather than the symptom. */
        snprintf(msg, sizeof msg, "%s.", c->zone_down_msg);
        plan_cond_set(&c->degraded, true, "ZoneUnavailable", msg);
    } else if (gate != NULL) {
        snprintf(msg, sizeof msg, "A gate fails: %s; check that member's replicas and logs.",
                 gate_why);
        plan_cond_set(&c->degraded, true, "GateFailing", msg);
    } else if (missing != NULL && !c->scaling_up) {
        char wait[400];
        plan_pod_wait(c, missing, wait, sizeof wait);
        if (wait[0] == '\0')
            snprintf(wait, sizeof wait, "%s", "ballast is recreating it in its zone");
        snprintf(msg, sizeof msg, "Member %s has no pod%s%s.", missing->name,
                 c->psc->paused ? " and the cluster is paused: set spec.paused to false and "
                                  "remove the " PSC_ANN_PAUSED " annotation to recreate it"
                                : "; ",
                 c->psc->paused ? "" : wait);
        plan_cond_set(&c->degraded, true, "MemberMissing", msg);
    } else if (down != NULL && !c->scaling_up && down->ready) {
        snprintf(msg, sizeof msg,
                 "Member %s is Ready but its broker is not serving "
                 "(kafka_server_kafkaserver_brokerstate=%g, 3 is running); check its logs.",
                 down->name, down->health->broker_state.value);
        plan_cond_set(&c->degraded, true, "MemberNotReady", msg);
    } else if (down != NULL && !c->scaling_up) {
        snprintf(msg, sizeof msg, "Member %s is not Ready; check its pod's events and logs.",
                 down->name);
        plan_cond_set(&c->degraded, true, "MemberNotReady", msg);
    } else {
        plan_cond_set(&c->degraded, false, "Healthy",
                      "Every member is Ready and every gate holds.");
    }
    if (ready == wanted && gate == NULL) {
        snprintf(msg, sizeof msg, "%d of %d members are Ready and every gate holds.", ready,
                 wanted);
        plan_cond_set(&c->ready, true, "AllMembersReady", msg);
    } else if (ready < wanted) {
        const struct pmember *m = missing != NULL ? missing : down;
        snprintf(why, sizeof why, "%s", m ? m->name : "?");
        snprintf(msg, sizeof msg, "%d of %d members are Ready; %s is %s.", ready, wanted, why,
                 m && m->pod == NULL ? "not created yet"
                 : m && m->ready     ? "Ready but its broker is not serving yet"
                                     : "not Ready");
        plan_cond_set(&c->ready, false, "MembersNotReady", msg);
    } else {
        snprintf(msg, sizeof msg, "Every member is Ready but a gate fails: %s.", gate_why);
        plan_cond_set(&c->ready, false, "GateFailing", msg);
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* zone -> the members whose pod exists there, as the reference design lists them */
static cJSON *placement(struct pctx *c)
{
    cJSON *pl = cJSON_CreateObject();
    const char **zs = calloc(c->nm > 0 ? (size_t)c->nm : 1, sizeof *zs);
    int nz = 0;
    if (pl == NULL || zs == NULL)
        goto fail;
    for (int i = 0; i < c->nm; i++)
        if (c->m[i].zone != NULL && c->m[i].pod != NULL)
            zs[nz++] = c->m[i].zone;
    qsort(zs, (size_t)nz, sizeof *zs, cmp_str);
    for (int z = 0; z < nz; z++) {
        if (z > 0 && strcmp(zs[z], zs[z - 1]) == 0)
            continue;
        cJSON *entry = plan_jobj_add(pl, zs[z]);
        cJSON *pods = entry ? plan_jarr_add(entry, "pods") : NULL;
        if (pods == NULL)
            goto fail;
        /* members are sorted by ordinal, so the names come out in ordinal order */
        for (int i = 0; i < c->nm; i++) {
            const struct pmember *m = &c->m[i];
            if (m->zone == NULL || strcmp(m->zone, zs[z]) != 0 || m->pod == NULL)
                continue;
            cJSON *s = cJSON_CreateString(m->name);
            if (s == NULL || !cJSON_AddItemToArray(pods, s)) {
                cJSON_Delete(s);
                goto fail;
            }
        }
    }
    free(zs);
    return pl;
fail:
    free(zs);
    cJSON_Delete(pl);
    return NULL;
}

static void current_revision(struct pctx *c, char *out, size_t n)
{
    const char *best = NULL;
    int best_count = 0;
    for (int i = 0; i < c->nm; i++) {
        const char *r = plan_jlabel(c->m[i].pod, PSC_LABEL_REVISION);
        if (r == NULL)
            continue;
        int count = 0;
        for (int k = 0; k < c->nm; k++) {
            const char *o = plan_jlabel(c->m[k].pod, PSC_LABEL_REVISION);
            count += o != NULL && strcmp(o, r) == 0;
        }
        /* ties go to the update revision, then to the smaller name, so it is stable */
        if (best == NULL || count > best_count ||
            (count == best_count && strcmp(r, c->revision) == 0) ||
            (count == best_count && strcmp(best, c->revision) != 0 && strcmp(r, best) < 0)) {
            best = r;
            best_count = count;
        }
    }
    snprintf(out, n, "%s", best != NULL ? best : c->revision);
}

static bool same_str(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* lastTransitionTime: when status last flipped. lastProbeTime: the probe (pass) that
 * found what the condition says now; a later pass that finds the same keeps it, so a
 * steady condition is never rewritten only to move a clock. */
static int add_condition(struct pctx *c, cJSON *arr, const char *type, const struct pcond *k)
{
    char now[32], ltt[32], probe[32];
    plan_fmt_time(c->in->now, now);
    snprintf(ltt, sizeof ltt, "%s", now);
    snprintf(probe, sizeof probe, "%s", now);
    const char *st = k->status ? "True" : "False";
    const char *reason = k->reason[0] ? k->reason : "Unknown";
    const cJSON *prev = plan_prev_condition(c->psc, type);
    const char *pst = plan_jstr(prev, "status", (const char *)NULL);
    const char *pltt = plan_jstr(prev, "lastTransitionTime", (const char *)NULL);
    const cJSON *pgen = plan_jget(prev, "observedGeneration", (const char *)NULL);
    time_t t;
    if (same_str(pst, st) && pltt != NULL && plan_parse_time(pltt, &t) == 0)
        plan_fmt_time(t, ltt);
    if (same_str(pst, st) && same_str(plan_jstr(prev, "reason", (const char *)NULL), reason) &&
        same_str(plan_jstr(prev, "message", (const char *)NULL), k->message) &&
        num_json_is(pgen, c->psc->generation) &&
        plan_parse_time(plan_jstr(prev, "lastProbeTime", (const char *)NULL), &t) == 0)
        plan_fmt_time(t, probe);
    cJSON *o = cJSON_CreateObject();
    if (o == NULL || !cJSON_AddItemToArray(arr, o)) {
        cJSON_Delete(o);
        return ERR_NOMEM;
    }
    if (plan_jset_str(o, "type", type) != 0 || plan_jset_str(o, "status", st) != 0 ||
        plan_jset_str(o, "reason", reason) != 0 || plan_jset_str(o, "message", k->message) != 0 ||
        plan_jset(o, "observedGeneration", cJSON_CreateNumber((double)c->psc->generation)) != 0 ||
        plan_jset_str(o, "lastProbeTime", probe) != 0 ||
        plan_jset_str(o, "lastTransitionTime", ltt) != 0)
        return ERR_NOMEM;
    return 0;
}

static void strip_probe_times(cJSON *status)
{
    cJSON *k;
    cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(status, "conditions"))
    {
        if (cJSON_IsObject(k))
            cJSON_DeleteItemFromObjectCaseSensitive(k, "lastProbeTime");
    }
}

/* Equal to the last written status but for lastProbeTime? Then keep the old times. */
static int settle(struct pctx *c)
{
    if (c->psc->status == NULL) {
        c->out->status_changed = true;
        return 0;
    }
    cJSON *a = cJSON_Duplicate(c->out->status, true);
    cJSON *b = cJSON_Duplicate(c->psc->status, true);
    if (a == NULL || b == NULL) {
        cJSON_Delete(a);
        cJSON_Delete(b);
        return ERR_NOMEM;
    }
    strip_probe_times(a);
    strip_probe_times(b);
    bool same = cJSON_Compare(a, b, true);
    cJSON_Delete(a);
    cJSON_Delete(b);
    c->out->status_changed = !same;
    if (same) {
        cJSON *old = cJSON_Duplicate(c->psc->status, true);
        if (old == NULL)
            return ERR_NOMEM;
        cJSON_Delete(c->out->status);
        c->out->status = old;
    }
    return 0;
}

static int transition_events(struct pctx *c)
{
    const cJSON *prev = plan_prev_condition(c->psc, "Degraded");
    const char *pr = plan_jstr(prev, "reason", (const char *)NULL);
    const char *pm = plan_jstr(prev, "message", (const char *)NULL);
    if (c->degraded.status && (pr == NULL || strcmp(pr, c->degraded.reason) != 0 ||
                               (c->invalid && (pm == NULL || strcmp(pm, c->degraded.message))))) {
        int rc =
            plan_out_event(c, PLAN_EVENT_WARNING, c->degraded.reason, "%s", c->degraded.message);
        plan_event_about(c, "Degraded", 0);
        return rc;
    }
    prev = plan_prev_condition(c->psc, "Ready");
    const char *ps = plan_jstr(prev, "status", (const char *)NULL);
    if (c->ready.status && (ps == NULL || strcmp(ps, "True") != 0))
        return plan_out_event(c, PLAN_EVENT_NORMAL, "ClusterReady", "%s", c->ready.message);
    return 0;
}

int plan_build_status(struct pctx *c, struct err *e)
{
    (void)e;
    decide_ready_degraded(c);
    int pods = 0, ready = 0;
    for (int i = 0; i < c->nm; i++) {
        pods += c->m[i].pod != NULL;
        ready += c->m[i].ready;
    }
    char cur[64], since[32] = "";
    current_revision(c, cur, sizeof cur);
    if (c->roll_blocked_since > 0)
        plan_fmt_time(c->roll_blocked_since, since);
    cJSON *s = cJSON_CreateObject();
    c->out->status = s;
    cJSON *conds = NULL;
    if (s == NULL ||
        plan_jset(s, "observedGeneration", cJSON_CreateNumber((double)c->psc->generation)) != 0 ||
        plan_jset(s, "replicas", cJSON_CreateNumber(pods)) != 0 ||
        plan_jset(s, "readyReplicas", cJSON_CreateNumber(ready)) != 0 ||
        plan_jset_str(s, "currentRevision", cur) != 0 ||
        plan_jset_str(s, "updateRevision", c->revision) != 0 ||
        plan_jset(s, "placement", placement(c)) != 0 ||
        (since[0] != '\0' && plan_jset_str(s, "rollBlockedSince", since) != 0) ||
        (conds = plan_jarr_add(s, "conditions")) == NULL ||
        add_condition(c, conds, "Ready", &c->ready) != 0 ||
        add_condition(c, conds, "Resizing", &c->resizing) != 0 ||
        add_condition(c, conds, "Rolling", &c->rolling) != 0 ||
        add_condition(c, conds, "Degraded", &c->degraded) != 0)
        return ERR_NOMEM;
    /* Gates are metrics: no watch event says they changed, so they are re-read on a
     * timer — sooner while something waits on them, every minute when all is well. */
    if (c->degraded.status)
        plan_out_requeue(c, 30);
    plan_out_requeue(c, PLAN_RESYNC_SECONDS);
    int rc = settle(c);
    return rc != 0 ? rc : transition_events(c);
}
