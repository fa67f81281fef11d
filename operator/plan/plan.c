/* plan.c — plan_compute: indexes the observed children by member, then runs the
 * deciding steps in the order a pass acts (placement, children, pods, scale-down,
 * roll, status) and collects their output. Owns the plan's memory rules. */
#include "plan/internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *plan_kind_name(enum plan_kind k)
{
    switch (k) {
    case PLAN_CONFIGMAP:
        return "ConfigMap";
    case PLAN_SERVICE:
        return "Service";
    case PLAN_PDB:
        return "PodDisruptionBudget";
    case PLAN_PVC:
        return "PersistentVolumeClaim";
    case PLAN_POD:
        return "Pod";
    }
    return "?";
}

const char *plan_verb_name(enum plan_verb v)
{
    switch (v) {
    case PLAN_CREATE:
        return "create";
    case PLAN_UPDATE:
        return "update";
    case PLAN_DELETE:
        return "delete";
    case PLAN_EVICT:
        return "evict";
    }
    return "?";
}

static const char *kind_resource(enum plan_kind k)
{
    switch (k) {
    case PLAN_CONFIGMAP:
        return "configmaps";
    case PLAN_SERVICE:
        return "services";
    case PLAN_PDB:
        return "poddisruptionbudgets";
    case PLAN_PVC:
        return "persistentvolumeclaims";
    case PLAN_POD:
        return "pods";
    }
    return "?";
}

int plan_out_action(struct pctx *c, enum plan_verb verb, enum plan_kind kind, const char *name,
                    cJSON *obj, const char *uid, const char *why)
{
    struct plan *p = c->out;
    if (c->recreate_only && verb != PLAN_CREATE) {
        cJSON_Delete(obj); /* the last accepted spec only fills gaps */
        return 0;
    }
    struct plan_action *a = realloc(p->actions, (size_t)(p->nactions + 1) * sizeof *a);
    if (a == NULL) {
        cJSON_Delete(obj);
        return ERR_NOMEM;
    }
    p->actions = a;
    a = &p->actions[p->nactions];
    memset(a, 0, sizeof *a);
    a->verb = verb;
    a->kind = kind;
    a->api_version = kind == PLAN_PDB ? "policy/v1" : "v1";
    a->resource = kind_resource(kind);
    a->object = obj;
    a->ns = plan_strdup(c->psc->ns);
    a->name = plan_strdup(name);
    a->uid = plan_strdup(uid);
    a->why = plan_strdup(why);
    p->nactions++; /* counted before the checks so plan_free releases what was set */
    if (a->ns == NULL || a->name == NULL || (uid != NULL && a->uid == NULL) ||
        (why != NULL && a->why == NULL))
        return ERR_NOMEM;
    return 0;
}

int plan_out_event(struct pctx *c, enum plan_event_type type, const char *reason, const char *fmt,
                   ...)
{
    struct plan *p = c->out;
    struct plan_event *ev = realloc(p->events, (size_t)(p->nevents + 1) * sizeof *ev);
    if (ev == NULL)
        return ERR_NOMEM;
    p->events = ev;
    ev = &p->events[p->nevents++];
    memset(ev, 0, sizeof *ev);
    ev->type = type;
    ev->reason = plan_strdup(reason);
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&ev->message, fmt, ap) < 0)
        ev->message = NULL;
    va_end(ap);
    return ev->reason && ev->message ? 0 : ERR_NOMEM;
}

int plan_out_restart(struct pctx *c, const struct pmember *m, const char *reason)
{
    struct plan_restart *r = &c->out->restart;
    r->set = true;
    r->ordinal = m->ordinal;
    r->ns = plan_strdup(c->psc->ns);
    r->pod = plan_strdup(m->name);
    r->uid = plan_strdup(plan_jstr(m->pod, "metadata", "uid", (const char *)NULL));
    r->reason = plan_strdup(reason);
    c->disruption = true;
    if (r->ns == NULL || r->pod == NULL || r->reason == NULL)
        return ERR_NOMEM;
    return 0;
}

void plan_event_about(struct pctx *c, const char *condition, int action)
{
    if (c->out->nevents > 0) {
        c->out->events[c->out->nevents - 1].condition = condition;
        c->out->events[c->out->nevents - 1].action = action;
    }
}

/* When pod's Ready condition last turned True; 0 when unknown (then taken as settled). */
time_t plan_ready_since(const cJSON *pod)
{
    const cJSON *k;
    cJSON_ArrayForEach(k, plan_jget(pod, "status", "conditions", (const char *)NULL))
    {
        const char *t = plan_jstr(k, "type", (const char *)NULL);
        time_t since;
        if (t != NULL && strcmp(t, "Ready") == 0 &&
            plan_parse_time(plan_jstr(k, "lastTransitionTime", (const char *)NULL), &since) == 0)
            return since;
    }
    return 0;
}

void plan_out_requeue(struct pctx *c, int seconds)
{
    if (seconds > 0 && (c->out->requeue_after == 0 || seconds < c->out->requeue_after))
        c->out->requeue_after = seconds;
}

void plan_free(struct plan *p)
{
    if (p == NULL)
        return;
    for (int i = 0; i < p->nactions; i++) {
        cJSON_Delete(p->actions[i].object);
        free(p->actions[i].ns);
        free(p->actions[i].name);
        free(p->actions[i].uid);
        free(p->actions[i].why);
    }
    free(p->actions);
    for (int i = 0; i < p->nevents; i++) {
        free(p->events[i].reason);
        free(p->events[i].message);
    }
    free(p->events);
    free(p->restart.ns);
    free(p->restart.pod);
    free(p->restart.uid);
    free(p->restart.reason);
    cJSON_Delete(p->status);
    free(p);
}

struct pmember *plan_member_at(struct pctx *c, int ordinal)
{
    if (ordinal >= 0 && ordinal < c->nm && c->m[ordinal].ordinal == ordinal)
        return &c->m[ordinal]; /* wanted members sit at their ordinal */
    for (int i = 0; i < c->nm; i++)
        if (c->m[i].ordinal == ordinal)
            return &c->m[i];
    return NULL;
}

/* The ordinal in "<prefix><digits>", or -1. Leading zeros are not ours ("x-01"). */
static int name_ordinal(const char *name, const char *prefix)
{
    size_t n = strlen(prefix);
    if (name == NULL || strncmp(name, prefix, n) != 0)
        return -1;
    const char *d = name + n;
    size_t len = strlen(d);
    if (len == 0 || len > 6 || (d[0] == '0' && len > 1))
        return -1;
    for (size_t i = 0; i < len; i++)
        if (!isdigit((unsigned char)d[i]))
            return -1;
    return atoi(d);
}

static int add_member(struct pctx *c, int ordinal, bool wanted)
{
    struct pmember *m = realloc(c->m, (size_t)(c->nm + 1) * sizeof *m);
    if (m == NULL)
        return ERR_NOMEM;
    c->m = m;
    m = &c->m[c->nm];
    memset(m, 0, sizeof *m);
    m->ordinal = ordinal;
    m->wanted = wanted;
    m->name = plan_asprintf("%s-%d", c->psc->name, ordinal);
    c->nm++;
    return m->name != NULL ? 0 : ERR_NOMEM;
}

static int cmp_member(const void *a, const void *b)
{
    const struct pmember *x = a, *y = b;
    return (x->ordinal > y->ordinal) - (x->ordinal < y->ordinal);
}

/* Index one list of observed objects by "<prefix><ordinal>" name into member slot `which`. */
static int index_objects(struct pctx *c, const cJSON *const *objs, int n, const char *prefix,
                         int which)
{
    for (int i = 0; i < n; i++) {
        int ord = name_ordinal(plan_jstr(objs[i], "metadata", "name", (const char *)NULL), prefix);
        if (ord < 0)
            continue;
        struct pmember *m = plan_member_at(c, ord);
        if (m == NULL) {
            int rc = add_member(c, ord, false);
            if (rc != 0)
                return rc;
            m = &c->m[c->nm - 1];
        }
        if (which == 0)
            m->pod = objs[i];
        else if (which == 1)
            m->pvc = objs[i];
        else
            m->svc = objs[i];
    }
    return 0;
}

static bool pod_ready(const cJSON *pod)
{
    const cJSON *cond;
    cJSON_ArrayForEach(cond, plan_jget(pod, "status", "conditions", (const char *)NULL))
    {
        const char *t = plan_jstr(cond, "type", (const char *)NULL);
        const char *s = plan_jstr(cond, "status", (const char *)NULL);
        if (t != NULL && strcmp(t, "Ready") == 0)
            return s != NULL && strcmp(s, "True") == 0;
    }
    return false;
}

void plan_pod_wait(const struct pctx *c, const struct pmember *m, char *out, size_t n)
{
    if (m->svc_named)
        snprintf(out, n, "%s", "");
    else if (!m->svc_address)
        snprintf(out, n, "its Service %s has no address yet", m->name);
    else
        snprintf(out, n,
                 "ballast creates it once the name %s.%s.svc resolves where ballast runs (%s)",
                 m->name, c->psc->ns, m->dns_error ? m->dns_error : "not looked up yet");
}

void plan_no_pod_why(const struct pctx *c, const struct pmember *m, char *why, size_t n)
{
    char wait[400];
    plan_pod_wait(c, m, wait, sizeof wait);
    snprintf(why, n, "member %s has no pod yet%s%s", m->name, wait[0] ? ": " : "", wait);
}

static void member_flags(struct pctx *c, struct pmember *m)
{
    for (int h = 0; h < c->in->nhealth; h++)
        if (c->in->health[h].ordinal == m->ordinal)
            m->health = &c->in->health[h];
    const char *ip = plan_jstr(m->svc, "spec", "clusterIP", (const char *)NULL);
    m->svc_address = ip != NULL && ip[0] != '\0' && strcmp(ip, "None") != 0;
    m->svc_named = m->svc_address && !c->in->dns_check;
    for (int d = 0; m->svc_address && c->in->dns_check && d < c->in->ndns; d++)
        if (c->in->dns[d].ordinal == m->ordinal) {
            m->svc_named = c->in->dns[d].resolved;
            m->dns_error = m->svc_named ? NULL : c->in->dns[d].error;
        }
    if (m->pod == NULL)
        return;
    const char *phase = plan_jstr(m->pod, "status", "phase", (const char *)NULL);
    m->terminating = plan_jget(m->pod, "metadata", "deletionTimestamp", (const char *)NULL) != NULL;
    m->dead = phase != NULL && (strcmp(phase, "Failed") == 0 || strcmp(phase, "Succeeded") == 0);
    m->ready = !m->terminating && !m->dead && pod_ready(m->pod);
    /* A pod can be Ready (its port open) while the broker behind it is still starting
     * or already shutting down; the PSC is Ready only when its brokers serve. */
    const struct plan_member_health *h = m->health;
    m->serving = m->ready && !(h != NULL && h->scraped && h->broker_state.present &&
                               h->broker_state.value != PLAN_BROKER_STATE_RUNNING);
    const char *rev = plan_jlabel(m->pod, PSC_LABEL_REVISION);
    const char *tok = plan_jlabel(m->pod, PSC_LABEL_RESTART);
    m->needs_restart = m->wanted && !m->terminating &&
                       (rev == NULL || strcmp(rev, c->revision) != 0 ||
                        strcmp(tok != NULL ? tok : "", c->restart_label) != 0);
}

static int check_input(const struct plan_input *in, struct err *e)
{
    if (in == NULL || in->psc == NULL)
        return err_set(e, ERR_INVALID, "plan_compute: no PSC given");
    const struct psc *p = in->psc;
    if (p->name == NULL || p->name[0] == '\0' || p->ns == NULL || p->uid == NULL)
        return err_set(e, ERR_INVALID, "plan_compute: PSC without metadata.name, namespace or uid");
    if ((in->npods > 0 && in->pods == NULL) || (in->npvcs > 0 && in->pvcs == NULL) ||
        (in->nservices > 0 && in->services == NULL) ||
        (in->nconfigmaps > 0 && in->configmaps == NULL) || (in->npdbs > 0 && in->pdbs == NULL) ||
        (in->nnodes > 0 && in->nodes == NULL) || (in->nhealth > 0 && in->health == NULL) ||
        in->npods < 0 || in->npvcs < 0 || in->nservices < 0 || in->nconfigmaps < 0 ||
        in->npdbs < 0 || in->nnodes < 0 || in->nhealth < 0)
        return err_set(e, ERR_INVALID, "plan_compute: a child list has a count but no array");
    for (int i = 0; i < in->nhealth; i++)
        if (in->health[i].scraped && in->health[i].gates == NULL && p->spec.ngates > 0)
            return err_set(e, ERR_INVALID,
                           "plan_compute: member %d is scraped but has no gate readings",
                           in->health[i].ordinal);
    return 0;
}

static int build_members(struct pctx *c)
{
    int want = c->psc->spec.replicas;
    if (want < 1 || want > PLAN_MAX_REPLICAS) {
        c->invalid = true;
        snprintf(c->invalid_msg, sizeof c->invalid_msg,
                 "spec.replicas is %d; ballast manages 1 to %d members: set spec.replicas in "
                 "that range",
                 want, PLAN_MAX_REPLICAS);
        want = want < 1 ? 0 : PLAN_MAX_REPLICAS;
    }
    for (int i = 0; i < want; i++)
        if (add_member(c, i, true) != 0)
            return ERR_NOMEM;
    char prefix[300];
    int rc;
    snprintf(prefix, sizeof prefix, "%s-", c->psc->name);
    if ((rc = index_objects(c, c->in->pods, c->in->npods, prefix, 0)) != 0 ||
        (rc = index_objects(c, c->in->services, c->in->nservices, prefix, 2)) != 0)
        return rc;
    snprintf(prefix, sizeof prefix, "data-%s-", c->psc->name);
    if ((rc = index_objects(c, c->in->pvcs, c->in->npvcs, prefix, 1)) != 0)
        return rc;
    if (c->nm > want)
        qsort(c->m + want, (size_t)(c->nm - want), sizeof *c->m, cmp_member);
    for (int i = 0; i < c->nm; i++)
        member_flags(c, &c->m[i]);
    return 0;
}

/* A member's pod needs its volume and its Service: when either is created in this pass,
 * the pod waits for that create to take effect. A create refused because the name is
 * taken by an object ballast does not own then never places the member: its pod would
 * mount a volume of unknown zone and content. */
static void link_pod_needs(struct pctx *c)
{
    struct plan *p = c->out;
    for (int i = 0; i < p->nactions; i++) {
        struct plan_action *pod = &p->actions[i];
        if (pod->verb != PLAN_CREATE || pod->kind != PLAN_POD)
            continue;
        char pvc[320];
        snprintf(pvc, sizeof pvc, "data-%s", pod->name);
        for (int k = 0; k < i; k++) {
            const struct plan_action *a = &p->actions[k];
            if (a->verb == PLAN_CREATE &&
                ((a->kind == PLAN_PVC && strcmp(a->name, pvc) == 0) ||
                 (a->kind == PLAN_SERVICE && strcmp(a->name, pod->name) == 0)))
                pod->needs = k + 1; /* the last one created before the pod */
        }
    }
}

/* The KRaft quorum is chosen once, when the cluster is created: 3 voters (ordinals 0-2),
 * or 1 below 3 members; every PVC records it (PLAN_LABEL_VOTERS), so a later scale-up
 * from 1 member keeps its single voter and an operator restart reads it back. */
static int kraft_voters(const struct pctx *c)
{
    for (int i = 0; i < c->nm; i++) {
        const char *v = c->m[i].pvc ? plan_jlabel(c->m[i].pvc, PLAN_LABEL_VOTERS) : NULL;
        if (v != NULL && (strcmp(v, "1") == 0 || strcmp(v, "3") == 0))
            return v[0] - '0';
    }
    return c->psc->spec.replicas >= 3 ? 3 : 1;
}

int plan_compute(const struct plan_input *in, struct plan **out, struct err *e)
{
    struct pctx c = {0};
    int rc = check_input(in, e);
    *out = NULL;
    if (rc != 0)
        return rc;
    c.in = in;
    c.psc = in->psc;
    c.out = calloc(1, sizeof *c.out);
    if (c.out == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    plan_revision(c.psc, c.revision);
    plan_restart_label(c.psc->restart_token, c.restart_label);
    snprintf(c.out->update_revision, sizeof c.out->update_revision, "%s", c.revision);
    rc = ERR_NOMEM;
    if (c.revision[0] == '\0' || build_members(&c) != 0) {
        err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((rc = plan_place_members(&c, e)) != 0)
        goto out;
    c.voters = kraft_voters(&c);
    plan_cluster_id(c.psc, c.cluster_id);
    if (in->invalid != NULL && !c.invalid) {
        /* The PSC as written is invalid and psc is the last one accepted: keep the members
         * it describes alive, and say that the spec is wrong. */
        c.invalid = true;
        c.recreate_only = !c.psc->paused;
        snprintf(c.invalid_msg, sizeof c.invalid_msg, "%s", in->invalid);
    }
    c.can_act = !c.invalid && !c.psc->paused;
    /* The executor applies actions as listed, each independently of the others but for
     * what it `needs`; everything a pod needs comes before the pod. */
    if ((rc = plan_sync_children(&c, e)) != 0)
        goto out;
    int acts0 = c.out->nactions, evs0 = c.out->nevents;
    if ((rc = plan_sync_pods(&c, e)) != 0)
        goto out;
    link_pod_needs(&c);
    /* each pod created comes with one event telling of it: tie the two */
    if (c.out->nactions - acts0 == c.out->nevents - evs0)
        for (int k = 0; k < c.out->nactions - acts0; k++)
            c.out->events[evs0 + k].action = acts0 + k + 1;
    if ((rc = plan_decide_resize(&c, e)) != 0 || (rc = plan_decide_roll(&c, e)) != 0 ||
        (rc = plan_build_status(&c, e)) != 0)
        goto out;
    if (c.invalid)
        snprintf(c.out->invalid, sizeof c.out->invalid, "%s", c.invalid_msg);
    *out = c.out;
    c.out = NULL;
    rc = 0;
out:
    if (rc == ERR_NOMEM && e != NULL && e->code != ERR_NOMEM)
        err_set(e, ERR_NOMEM, "out of memory while planning %s/%s", c.psc->ns, c.psc->name);
    plan_free(c.out);
    for (int i = 0; i < c.nm; i++)
        free(c.m[i].name);
    free(c.m);
    free(c.zones);
    return rc;
}
