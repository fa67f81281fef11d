/* reconcile.c — one reconcile pass: parse, scrape, plan, act; see reconcile.h.
 * Every member is scraped on every pass: Ready means "every gate holds", so the
 * status cannot be true without a fresh reading. Scrapes run concurrently and are
 * bounded in time (health/scrape.c), so a sick member slows a pass by at most that. */
#include "ctl/reconcile.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "act/act.h"
#include "base/log.h"
#include "base/num.h"
#include "health/scrape.h"
#include "psc/psc.h"

#define BROKER_STATE_METRIC "kafka_server_kafkaserver_brokerstate"

static const char *jstring(const cJSON *o, const char *a, const char *b)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
    if (b)
        x = cJSON_GetObjectItemCaseSensitive(x, b);
    return cJSON_IsString(x) ? x->valuestring : NULL;
}

static void fmt_time(time_t t, char out[32])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Member health: scrape every pod that has an IP, then read each gate metric, the
 * drained metric and the broker state. hs/readings are allocated here; the caller
 * frees both arrays. */
struct health_read {
    struct plan_member_health *hs;
    struct plan_reading *rd;
    char (*errors)[256]; /* why member i was not scraped; hs[i].error points here */
    int n;
};

static void health_read_free(struct health_read *h)
{
    free(h->hs);
    free(h->rd);
    free(h->errors);
}

static int read_health(const struct psc *p, const struct ctl_view *v, long timeout_ms,
                       struct health_read *out, struct err *e)
{
    int n = 0, rc = 0;
    const struct plan_input *o = &v->observed;
    struct scrape_target *t = calloc((size_t)o->npods + 1, sizeof *t);
    int *ord = calloc((size_t)o->npods + 1, sizeof *ord);
    struct scrape_result *res = calloc((size_t)o->npods + 1, sizeof *res);
    struct plan_member_health *hs = calloc((size_t)o->npods + 1, sizeof *hs);
    int ng = p->spec.ngates;
    struct plan_reading *rd = calloc((size_t)(o->npods * ng) + 1, sizeof *rd);
    char(*errors)[256] = calloc((size_t)o->npods + 1, sizeof *errors);
    if (!t || !ord || !res || !hs || !rd || !errors) {
        rc = err_set(e, ERR_NOMEM, "out of memory reading member health");
        goto out;
    }
    for (int i = 0; i < o->npods; i++) {
        const char *ip = jstring(o->pods[i], "status", "podIP");
        const cJSON *labels = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(o->pods[i], "metadata"), "labels");
        const char *os = jstring(labels, PSC_LABEL_ORDINAL, NULL);
        const char *name = jstring(o->pods[i], "metadata", "name");
        if (ip == NULL || *ip == '\0' || os == NULL || name == NULL)
            continue;
        char *end = NULL;
        long ordinal = strtol(os, &end, 10);
        if (end == os || *end != '\0' || ordinal < 0 || ordinal > 100000)
            continue;
        t[n] = (struct scrape_target){
            .name = name, .host = ip, .port = p->spec.metrics_port, .path = p->spec.metrics_path};
        ord[n] = (int)ordinal;
        n++;
    }
    /* What is read from every member: each gate's metric, the drained metric and the
     * broker state, in that order. */
    const char **names = calloc((size_t)ng + 2, sizeof *names);
    if (names == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory reading member health");
        goto out;
    }
    for (int g = 0; g < ng; g++)
        names[g] = p->spec.gates[g].metric;
    names[ng] = p->spec.drained_metric;
    names[ng + 1] = BROKER_STATE_METRIC;
    if (n > 0) {
        struct scrape_opts so = {.timeout_ms = timeout_ms, .metrics = names, .nmetrics = ng + 2};
        rc = scrape_all(t, n, &so, res, e);
    }
    free(names);
    if (rc != 0)
        goto out;
    for (int i = 0; i < n; i++) {
        hs[i].ordinal = ord[i];
        hs[i].gates = rd + (size_t)i * (size_t)ng;
        if (res[i].rc != 0) {
            hs[i].scraped = false;
            snprintf(errors[i], sizeof errors[i], "%s", res[i].error);
            hs[i].error = errors[i];
            log_debug("member not scraped", "member", t[i].name, "error", res[i].error);
            continue;
        }
        hs[i].scraped = true;
        for (int g = 0; g < ng; g++) {
            rd[(size_t)i * (size_t)ng + (size_t)g].value = res[i].values[g].sum;
            rd[(size_t)i * (size_t)ng + (size_t)g].present = res[i].values[g].found;
        }
        hs[i].drained = (struct plan_reading){.present = res[i].values[ng].found,
                                              .value = res[i].values[ng].sum};
        hs[i].broker_state = (struct plan_reading){.present = res[i].values[ng + 1].found,
                                                   .value = res[i].values[ng + 1].sum};
    }
out:
    scrape_results_free(res, n);
    free(res);
    free(t);
    free(ord);
    *out = (struct health_read){.hs = hs, .rd = rd, .errors = errors, .n = n};
    if (rc != 0)
        health_read_free(out);
    return rc;
}

static cJSON *condition(const char *type, const char *status, const char *reason, const char *msg,
                        long long gen, const char *probe, const char *transition)
{
    cJSON *k = cJSON_CreateObject();
    cJSON_AddStringToObject(k, "type", type);
    cJSON_AddStringToObject(k, "status", status);
    cJSON_AddStringToObject(k, "reason", reason);
    cJSON_AddStringToObject(k, "message", msg);
    cJSON_AddNumberToObject(k, "observedGeneration", (double)gen);
    cJSON_AddStringToObject(k, "lastProbeTime", probe);
    cJSON_AddStringToObject(k, "lastTransitionTime", transition);
    return k;
}

static const cJSON *find_condition(const cJSON *status, const char *type)
{
    const cJSON *k;
    cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(status, "conditions"))
    {
        const char *t = jstring(k, "type", NULL);
        if (t && strcmp(t, type) == 0)
            return k;
    }
    return NULL;
}

cJSON *ctl_invalid_status(const cJSON *prev, long long generation, const char *msg, time_t now,
                          bool *changed)
{
    char probe[32];
    fmt_time(now, probe);
    /* A previous status that is not an object is garbage: start from nothing. */
    cJSON *st = cJSON_IsObject(prev) ? cJSON_Duplicate(prev, 1) : cJSON_CreateObject();
    if (st == NULL)
        return NULL;
    cJSON_DeleteItemFromObjectCaseSensitive(st, "observedGeneration");
    cJSON_AddNumberToObject(st, "observedGeneration", (double)generation);
    cJSON *conds = cJSON_CreateArray();
    static const char *const types[] = {"Ready", "Resizing", "Rolling", "Degraded"};
    *changed = prev == NULL;
    const cJSON *pg = cJSON_GetObjectItemCaseSensitive(prev, "observedGeneration");
    if (!num_json_is(pg, generation))
        *changed = true;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        const cJSON *old = find_condition(prev, types[i]);
        const char *want_status = i == 3 ? "True" : "False";
        const char *reason = "InvalidSpec";
        const char *old_status = jstring(old, "status", NULL);
        const char *old_reason = jstring(old, "reason", NULL);
        const char *old_msg = jstring(old, "message", NULL);
        const char *old_tt = jstring(old, "lastTransitionTime", NULL);
        const char *old_probe = jstring(old, "lastProbeTime", NULL);
        const cJSON *old_gen = cJSON_GetObjectItemCaseSensitive(old, "observedGeneration");
        const char *tt =
            old_status && strcmp(old_status, want_status) == 0 && old_tt ? old_tt : probe;
        bool same = old_status && strcmp(old_status, want_status) == 0 && old_reason &&
                    strcmp(old_reason, reason) == 0 && old_msg && strcmp(old_msg, msg) == 0;
        if (!same)
            *changed = true;
        /* lastProbeTime: the pass that found what the condition says (see plan/status.c) */
        const char *pt = same && old_probe && num_json_is(old_gen, generation) ? old_probe : probe;
        cJSON_AddItemToArray(conds,
                             condition(types[i], want_status, reason, msg, generation, pt, tt));
    }
    cJSON_DeleteItemFromObjectCaseSensitive(st, "conditions");
    cJSON_AddItemToObject(st, "conditions", conds);
    return st;
}

/* The spec could not be parsed: say so in status (once), change nothing else. */
static int report_invalid(const struct act_api *api, const cJSON *obj, const char *msg, time_t now,
                          struct ctl_outcome *out, struct err *e)
{
    const char *ns = jstring(obj, "metadata", "namespace");
    const char *name = jstring(obj, "metadata", "name");
    const char *rv = jstring(obj, "metadata", "resourceVersion");
    const cJSON *gen = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "generation");
    int64_t g = 0; /* garbage (NaN, 1e300, negative) is "no generation" */
    (void)num_json_i64(gen, "metadata.generation", 0, INT64_MAX, &g, NULL);
    bool changed = false;
    if (ns == NULL || name == NULL)
        return err_set(e, ERR_INVALID, "PSC without metadata.namespace/name");
    cJSON *st =
        ctl_invalid_status(cJSON_GetObjectItemCaseSensitive(obj, "status"), g, msg, now, &changed);
    if (st == NULL)
        return err_set(e, ERR_NOMEM, "out of memory building status");
    int rc = 0;
    if (changed && api != NULL) {
        char key[300];
        snprintf(key, sizeof key, "%s/%s", ns, name);
        log_warn("invalid spec", "psc", key, "error", msg);
        rc = act_write_status(api, ns, name, g, rv, cJSON_GetObjectItemCaseSensitive(obj, "status"),
                              st, e);
        out->writes++;
        if (rc == ERR_CONFLICT) {
            out->conflict = true;
            rc = 0;
        }
    }
    cJSON_Delete(st);
    return rc;
}

/* The last spec ballast accepted, read back from the ConfigMap the planner keeps for it
 * (see plan.h), as a PSC with this object's own metadata and status: what a missing
 * member is recreated from while the spec as written is invalid. NULL when there is no
 * record (the PSC was never valid) or it no longer parses. A spec that says paused
 * still pauses, however invalid the rest. Caller frees with psc_free. */
static struct psc *accepted_psc(const struct ctl_view *v)
{
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(v->psc, "metadata");
    const char *name = jstring(md, "name", NULL);
    const char *uid = jstring(md, "uid", NULL);
    if (name == NULL || uid == NULL)
        return NULL;
    char cm[300];
    snprintf(cm, sizeof cm, "%s%s", name, PLAN_ACCEPTED_SUFFIX);
    const char *text = NULL;
    for (int i = 0; i < v->observed.nconfigmaps && text == NULL; i++) {
        const cJSON *o = v->observed.configmaps[i];
        const char *n = jstring(o, "metadata", "name");
        bool ours = false;
        const cJSON *ref;
        cJSON_ArrayForEach(
            ref, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "metadata"),
                                                  "ownerReferences"))
        {
            const char *ru = jstring(ref, "uid", NULL);
            ours |= ru != NULL && strcmp(ru, uid) == 0;
        }
        if (n != NULL && strcmp(n, cm) == 0 && ours)
            text = jstring(o, "data", PLAN_ACCEPTED_KEY);
    }
    cJSON *spec = text != NULL ? cJSON_Parse(text) : NULL;
    cJSON *obj = spec != NULL ? cJSON_CreateObject() : NULL;
    struct psc *p = NULL;
    if (obj == NULL) {
        cJSON_Delete(spec);
        return NULL;
    }
    /* borrowed parts are added as references: deleting obj leaves them alone */
    cJSON *st = cJSON_GetObjectItemCaseSensitive(v->psc, "status");
    struct err pe = {0};
    if (!cJSON_AddItemToObject(obj, "spec", spec)) {
        cJSON_Delete(spec);
        cJSON_Delete(obj);
        return NULL;
    }
    if (cJSON_AddItemReferenceToObject(obj, "metadata", (cJSON *)md) &&
        (st == NULL || cJSON_AddItemReferenceToObject(obj, "status", st)))
        psc_parse(obj, &p, &pe); /* p stays NULL when the record no longer parses */
    cJSON_Delete(obj);
    const cJSON *paused = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(v->psc, "spec"), "paused");
    if (p != NULL && cJSON_IsTrue(paused))
        p->paused = true;
    return p;
}

static bool condition_is(const cJSON *status, const char *type, const char *want,
                         const char *reason)
{
    const cJSON *k = find_condition(status, type);
    const char *s = jstring(k, "status", NULL);
    const char *r = jstring(k, "reason", NULL);
    return s && strcmp(s, want) == 0 && (!reason || (r && strcmp(r, reason) == 0));
}

int ctl_reconcile_pass(const struct act_api *api, const struct ctl_view *v,
                       const struct plan_member_health *health, int nhealth, time_t now,
                       struct ctl_outcome *out, struct err *e)
{
    struct psc *p = NULL;
    struct plan *pl = NULL;
    int rc;
    struct err pe = {0};

    char why[512] = "";
    memset(out, 0, sizeof *out);
    if (psc_parse(v->psc, &p, &pe) != 0) {
        /* Unparsable: plan from the last accepted spec, or only say so when there is none. */
        if ((p = accepted_psc(v)) == NULL)
            return report_invalid(api, v->psc, pe.msg, now, out, e);
        snprintf(why, sizeof why, "%s", pe.msg);
    }

    char key[300];
    snprintf(key, sizeof key, "%s/%s", p->ns, p->name);
    struct plan_input in = v->observed;
    in.psc = p;
    in.health = health;
    in.nhealth = nhealth;
    in.now = now;
    in.spec = why[0] == '\0' ? cJSON_GetObjectItemCaseSensitive(v->psc, "spec") : NULL;
    in.invalid = why[0] != '\0' ? why : NULL;
    rc = plan_compute(&in, &pl, e);
    if (rc == 0 && in.invalid == NULL && pl->invalid[0] != '\0') {
        /* Parsed, but the planner refused it (a zone without nodes, a shrinking volume):
         * the same fallback. */
        struct psc *a = accepted_psc(v);
        if (a != NULL) {
            snprintf(why, sizeof why, "%s", pl->invalid);
            plan_free(pl);
            pl = NULL;
            psc_free(p);
            p = a;
            in.psc = p;
            in.spec = NULL;
            in.invalid = why;
            rc = plan_compute(&in, &pl, e);
        }
    }
    if (rc != 0) {
        err_prefix(e, "plan %s", key);
        goto out;
    }
    if (in.invalid != NULL && pl->nactions > 0)
        log_warn("invalid spec: recreating what is missing from the last accepted spec", "psc", key,
                 "error", in.invalid);
    out->requeue_after = pl->requeue_after;
    out->actions = pl->nactions + (pl->restart.set ? 1 : 0);
    out->rolling = condition_is(pl->status, "Rolling", "True", NULL);
    out->blocked = condition_is(pl->status, "Rolling", "True", "RollBlocked");
    if (api == NULL) {
        if (out->actions > 0 || pl->status_changed)
            log_debug("not leading: plan not applied", "psc", key);
        goto out;
    }
    struct act_result ar;
    rc = act_execute(api, p, pl, now, &ar, e);
    out->writes = ar.writes;
    out->conflict = ar.conflict;
    out->failed = ar.failed + ar.name_conflicts;
    out->refused = ar.refused;
    out->not_leading = ar.not_leading;
    if (ar.requeue_after > 0 && (out->requeue_after == 0 || out->requeue_after > ar.requeue_after))
        out->requeue_after = ar.requeue_after;
    if (rc == 0 && ar.failed > 0)
        rc = err_set(e, ERR_API, "%s: %d actions failed, first: %s", key, ar.failed, ar.failure);
out:
    plan_free(pl);
    psc_free(p);
    return rc;
}

/* With the DNS check on: looks up <psc>-<i>.<ns>.svc, through this process's resolver
 * and search path (in a pod: the cluster's DNS, as the member's peers will), for each
 * wanted member that has a Service with an address and no pod; at most CTL_DNS_MAX a
 * pass (the rest wait for the next). Entries and their error strings are owned by d. */
#define CTL_DNS_MAX 64
struct dns_read {
    struct plan_member_dns d[CTL_DNS_MAX];
    char errors[CTL_DNS_MAX][96];
    int n;
};

static const cJSON *named(const cJSON *const *objs, int n, const char *name)
{
    for (int i = 0; i < n; i++) {
        const char *x = jstring(objs[i], "metadata", "name");
        if (x != NULL && strcmp(x, name) == 0)
            return objs[i];
    }
    return NULL;
}

static void read_dns(const struct psc *p, const struct plan_input *o, struct dns_read *out)
{
    out->n = 0;
    for (int i = 0; i < p->spec.replicas && out->n < CTL_DNS_MAX; i++) {
        char member[300], host[600];
        snprintf(member, sizeof member, "%s-%d", p->name, i);
        if (named(o->pods, o->npods, member) != NULL)
            continue;
        const char *ip = jstring(named(o->services, o->nservices, member), "spec", "clusterIP");
        if (ip == NULL || ip[0] == '\0' || strcmp(ip, "None") == 0)
            continue; /* the planner waits for the address first */
        snprintf(host, sizeof host, "%s.%s.svc", member, p->ns);
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
        struct addrinfo *res = NULL;
        int rc = getaddrinfo(host, NULL, &hints, &res);
        if (res != NULL)
            freeaddrinfo(res);
        struct plan_member_dns *d = &out->d[out->n];
        *d = (struct plan_member_dns){.ordinal = i, .resolved = rc == 0};
        if (rc != 0) {
            snprintf(out->errors[out->n], sizeof out->errors[0], "%s", gai_strerror(rc));
            d->error = out->errors[out->n];
            log_debug("member Service name does not resolve yet", "member", member, "name", host,
                      "error", d->error);
        }
        out->n++;
    }
}

int ctl_reconcile(const struct act_api *api, const struct ctl_view *v, long scrape_timeout_ms,
                  time_t now, struct ctl_outcome *out, struct err *e)
{
    struct psc *p = NULL;
    struct health_read hr = {0};
    struct err pe = {0};
    struct dns_read *dr = NULL;
    struct ctl_view vd = *v;

    memset(out, 0, sizeof *out);
    /* An unparsable spec is scraped as the last accepted one says (see ctl_reconcile_pass). */
    if (psc_parse(v->psc, &p, &pe) != 0 && (p = accepted_psc(v)) == NULL)
        return report_invalid(api, v->psc, pe.msg, now, out, e);
    int rc = read_health(p, v, scrape_timeout_ms, &hr, e);
    if (rc == 0 && v->observed.dns_check) {
        if ((dr = malloc(sizeof *dr)) == NULL)
            rc = err_set(e, ERR_NOMEM, "out of memory looking up member names");
        else {
            read_dns(p, &v->observed, dr);
            vd.observed.dns = dr->d;
            vd.observed.ndns = dr->n;
        }
    }
    psc_free(p);
    if (rc == 0)
        rc = ctl_reconcile_pass(api, &vd, hr.hs, hr.n, now, out, e);
    health_read_free(&hr);
    free(dr);
    return rc;
}
