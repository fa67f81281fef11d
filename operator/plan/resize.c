/* resize.c — adding and removing members. Adding needs no decision beyond what
 * children.c creates; here we only say when it is over. Removing goes highest ordinal
 * first, one member at a time, and only once the member reports it hosts no
 * partitions: deleting a broker that still holds data loses replicas. */
#include "plan/internal.h"

#include <stdio.h>
#include <string.h>

/* Up is in progress while a wanted member has no volume yet, and stays so (per the
 * last written status) until every wanted member is Ready and every gate holds. */
/* Seconds to the next pass while a scale-up waits. For pods: 15 (their events wake a pass
 * sooner). For what Ready members report (serving, gates): no event will come, so the members
 * are read again every UP_POLL_SECONDS while the newest Ready pod turned Ready less than
 * UP_POLL_WINDOW seconds ago, then every 15 s, so a member that never serves costs no more. */
#define UP_WAIT_SECONDS 15
#define UP_POLL_SECONDS 2
#define UP_POLL_WINDOW  60

static int metrics_wait(const struct pctx *c)
{
    time_t newest = 0;
    for (int i = 0; i < c->nm; i++) {
        time_t t = c->m[i].pod != NULL && c->m[i].ready ? plan_ready_since(c->m[i].pod) : 0;
        newest = t > newest ? t : newest;
    }
    return newest > 0 && c->in->now - newest < UP_POLL_WINDOW ? UP_POLL_SECONDS : UP_WAIT_SECONDS;
}

/* Whether a scale-up is under way; then why says what it waits for and *wait when to look
 * again. */
static bool up_in_progress(struct pctx *c, char *why, size_t n, int *wait)
{
    *wait = UP_WAIT_SECONDS;
    bool fresh = false;
    for (int i = 0; i < c->nm; i++)
        if (c->m[i].wanted && c->m[i].pvc == NULL)
            fresh = true;
    const cJSON *prev = plan_prev_condition(c->psc, "Resizing");
    const char *st = plan_jstr(prev, "status", (const char *)NULL);
    const char *reason = plan_jstr(prev, "reason", (const char *)NULL);
    bool was = st && reason && strcmp(st, "True") == 0 && strcmp(reason, "ScalingUp") == 0;
    if (!fresh && !was)
        return false;
    for (int i = 0; i < c->nm; i++) {
        const struct pmember *m = &c->m[i];
        if (!m->wanted)
            continue;
        if (m->pod == NULL) {
            plan_no_pod_why(c, m, why, n);
            return true;
        }
        if (!m->ready) {
            snprintf(why, n, "member %s is not Ready yet", m->name);
            return true;
        }
        if (!m->serving) {
            snprintf(why, n, "member %s is Ready but its broker is not serving yet", m->name);
            *wait = metrics_wait(c);
            return true;
        }
    }
    for (int i = 0; i < c->nm; i++)
        if (c->m[i].pod != NULL && !plan_gates_hold(c, &c->m[i], why, n)) {
            *wait = metrics_wait(c);
            return true;
        }
    return false;
}

/* Whether m may be removed now: Ready, its broker RUNNING and reporting its drained
 * metric at exactly 0. A member that is not Ready may be recovering its logs, and a
 * recovering broker reports no partitions yet while its volume holds them all. */
static bool drained(const struct pctx *c, const struct pmember *m, char *why, size_t n)
{
    const char *metric = c->psc->spec.drained_metric ? c->psc->spec.drained_metric
                                                     : "kafka_server_replicamanager_partitioncount";
    if (!m->ready) {
        snprintf(why, n,
                 "member %s is not Ready; ballast removes a member only while it is Ready, "
                 "serving and reports that it hosts no partitions",
                 m->name);
        return false;
    }
    if (m->health == NULL || !m->health->scraped) {
        snprintf(why, n,
                 "member %s cannot be read (metrics port %d), so ballast cannot tell "
                 "whether it still hosts partitions; make it reachable or Ready",
                 m->name, c->psc->spec.metrics_port);
        return false;
    }
    if (!m->health->broker_state.present ||
        m->health->broker_state.value != PLAN_BROKER_STATE_RUNNING) {
        if (m->health->broker_state.present)
            snprintf(why, n,
                     "member %s reports kafka_server_kafkaserver_brokerstate=%g; ballast removes "
                     "a member only while its broker is running (3)",
                     m->name, m->health->broker_state.value);
        else
            snprintf(why, n,
                     "member %s does not report kafka_server_kafkaserver_brokerstate; ballast "
                     "removes a member only while its broker says it is running (3)",
                     m->name);
        return false;
    }
    if (!m->health->drained.present) {
        snprintf(why, n,
                 "member %s does not report %s; ballast removes a member only once it "
                 "reports 0",
                 m->name, metric);
        return false;
    }
    if (m->health->drained.value != 0) {
        /* no count here: it falls while partitions move, and status would follow it */
        snprintf(why, n,
                 "member %s still hosts partitions (%s is not 0); move them to the members "
                 "that stay (e.g. kafka-reassign-partitions.sh) and ballast removes it",
                 m->name, metric);
        return false;
    }
    return true;
}

/* The member's Service, and its volume when deleteClaimOnScaleDown asks. `needs` (0 or
 * 1 + an action index) is the eviction they follow: a refused eviction keeps them. With
 * the pod already gone (needs 0) the volume is kept: nothing says its member was drained
 * before its pod went, and a volume that may hold data is never deleted. */
static int remove_rest(struct pctx *c, const struct pmember *m, int needs)
{
    int rc = 0;
    if (m->svc != NULL) {
        rc = plan_out_action(c, PLAN_DELETE, PLAN_SERVICE, m->name, NULL,
                             plan_jstr(m->svc, "metadata", "uid", (const char *)NULL),
                             "member removed");
        if (rc == 0)
            c->out->actions[c->out->nactions - 1].needs = needs;
    }
    if (rc == 0 && needs > 0 && m->pvc != NULL && c->psc->spec.delete_claim_on_scale_down) {
        char name[300];
        snprintf(name, sizeof name, "data-%s", m->name);
        rc = plan_out_action(c, PLAN_DELETE, PLAN_PVC, name, NULL,
                             plan_jstr(m->pvc, "metadata", "uid", (const char *)NULL),
                             "spec.storage.deleteClaimOnScaleDown");
        if (rc == 0)
            c->out->actions[c->out->nactions - 1].needs = needs;
    }
    return rc;
}

int plan_decide_resize(struct pctx *c, struct err *e)
{
    (void)e;
    char why[512], msg[640];
    int replicas = c->psc->spec.replicas;
    /* extras that still have a pod or a Service are leaving (a volume left behind is
     * kept: see remove_rest) */
    struct pmember *top = NULL;
    int leaving = 0;
    for (int i = 0; i < c->nm; i++) {
        struct pmember *m = &c->m[i];
        if (m->wanted || (m->pod == NULL && m->svc == NULL))
            continue;
        leaving++;
        top = m; /* extras are sorted: the last one is the highest ordinal */
    }
    int up_wait = UP_WAIT_SECONDS;
    c->scaling_up = up_in_progress(c, why, sizeof why, &up_wait);
    if (c->scaling_up && !c->can_act) {
        snprintf(msg, sizeof msg, "Scaling up to %d members waits: %s.", replicas,
                 c->invalid ? "fix the spec first (see the Degraded condition)"
                            : "set spec.paused to false to continue");
        plan_cond_set(&c->resizing, false, c->invalid ? "InvalidSpec" : "Paused", msg);
    } else if (c->scaling_up) {
        snprintf(msg, sizeof msg,
                 "Scaling up to %d members: %s; Resizing ends when every member "
                 "is Ready and every gate holds.",
                 replicas, why);
        plan_cond_set(&c->resizing, true, "ScalingUp", msg);
        plan_out_requeue(c, up_wait);
    } else {
        snprintf(msg, sizeof msg, "%d members, as spec.replicas asks.", replicas);
        plan_cond_set(&c->resizing, false, "Stable", msg);
    }
    if (top == NULL)
        return 0;
    if (!c->can_act) {
        snprintf(msg, sizeof msg, "%d members wait for removal (spec.replicas is %d); %s.", leaving,
                 replicas,
                 c->invalid ? "fix the spec first (see the Degraded condition)"
                            : "set spec.paused to false to continue");
        plan_cond_set(&c->resizing, false, c->invalid ? "InvalidSpec" : "Paused", msg);
        return 0;
    }
    if (top->ordinal < c->voters) {
        /* the webhook refuses this; a PSC that got here anyway (webhook off) holds */
        snprintf(msg, sizeof msg,
                 "Scaling down to %d members holds: %s is one of the %d KRaft controller "
                 "voters (members 0-%d), and ballast never removes a voter; set spec.replicas "
                 "to at least %d.",
                 replicas, top->name, c->voters, c->voters - 1, c->voters);
        plan_cond_set(&c->resizing, true, "QuorumVoter", msg);
        return 0;
    }
    if (top->pod == NULL) {
        /* the pod is gone: its Service (and volume) follow */
        snprintf(msg, sizeof msg, "Scaling down to %d members: removing what is left of %s.",
                 replicas, top->name);
        plan_cond_set(&c->resizing, true, "ScalingDown", msg);
        return remove_rest(c, top, 0);
    }
    for (int i = 0; i < c->nm; i++)
        if (c->m[i].terminating) {
            snprintf(msg, sizeof msg,
                     "Scaling down to %d members: waiting for pod %s to "
                     "terminate.",
                     replicas, c->m[i].name);
            plan_cond_set(&c->resizing, true, "ScalingDown", msg);
            plan_out_requeue(c, 5);
            return 0;
        }
    if (top->dead) {
        /* A pod that has ended never becomes Ready, so it is never seen drained: waiting
         * for that would wait forever, and every roll with it. It is down already, so
         * removing it disrupts nothing; its volume is kept, as for a pod that vanished:
         * nothing says the member was drained before it ended. */
        int rc = plan_out_action(c, PLAN_EVICT, PLAN_POD, top->name, NULL,
                                 plan_jstr(top->pod, "metadata", "uid", (const char *)NULL),
                                 "member removed: its pod has ended");
        int evict = c->out->nactions;
        if (rc == 0)
            rc = remove_rest(c, top, 0);
        if (rc != 0)
            return rc;
        c->disruption = true;
        snprintf(msg, sizeof msg,
                 "Scaling down to %d members: removing %s, whose pod has phase %s; its volume "
                 "is kept.",
                 replicas, top->name, plan_jstr(top->pod, "status", "phase", (const char *)NULL));
        plan_cond_set(&c->resizing, true, "ScalingDown", msg);
        plan_out_requeue(c, 5);
        rc = plan_out_event(c, PLAN_EVENT_NORMAL, "MemberRemoved",
                            "Removing member %s (its pod has ended; its volume is kept).",
                            top->name);
        plan_event_about(c, "Resizing", evict);
        return rc;
    }
    if (!drained(c, top, why, sizeof why)) {
        snprintf(msg, sizeof msg, "Scaling down to %d members: %s.", replicas, why);
        const cJSON *prev = plan_prev_condition(c->psc, "Resizing");
        const char *pr = plan_jstr(prev, "reason", (const char *)NULL);
        plan_cond_set(&c->resizing, true, "WaitingForDrain", msg);
        plan_out_requeue(c, 15);
        if (pr == NULL || strcmp(pr, "WaitingForDrain") != 0) {
            int erc = plan_out_event(c, PLAN_EVENT_NORMAL, "WaitingForDrain", "%s", msg);
            plan_event_about(c, "Resizing", 0);
            return erc;
        }
        return 0;
    }
    /* The rest of the cluster must be as safe as before a restart: every other member
     * Ready, every gate holding, no member missing. */
    if (plan_cluster_unsafe(c, NULL, why, sizeof why)) {
        snprintf(msg, sizeof msg,
                 "Scaling down to %d members: %s hosts no partitions and is removed once the "
                 "rest of the cluster is safe: %s.",
                 replicas, top->name, why);
        plan_cond_set(&c->resizing, true, "ScaleDownBlocked", msg);
        plan_out_requeue(c, 15);
        return 0;
    }
    int rc = plan_out_action(c, PLAN_EVICT, PLAN_POD, top->name, NULL,
                             plan_jstr(top->pod, "metadata", "uid", (const char *)NULL),
                             "member removed: it hosts no partitions");
    if (rc == 0)
        rc = remove_rest(c, top, c->out->nactions);
    if (rc != 0)
        return rc;
    c->disruption = true;
    snprintf(msg, sizeof msg,
             "Scaling down to %d members: removing %s, which hosts no "
             "partitions.",
             replicas, top->name);
    plan_cond_set(&c->resizing, true, "ScalingDown", msg);
    plan_out_requeue(c, 5);
    int evict = c->out->nactions; /* 1 + index: remove_rest came after the eviction */
    for (int i = 0; i < c->out->nactions; i++)
        if (c->out->actions[i].verb == PLAN_EVICT)
            evict = i + 1;
    rc =
        plan_out_event(c, PLAN_EVENT_NORMAL, "MemberRemoved", "Removing member %s (%s).", top->name,
                       c->psc->spec.delete_claim_on_scale_down
                           ? "its volume is deleted too, as deleteClaimOnScaleDown asks"
                           : "its volume is kept");
    plan_event_about(c, "Resizing", evict);
    return rc;
}
