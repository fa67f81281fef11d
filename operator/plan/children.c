/* children.c — create or update the objects around the members (ConfigMap, Services,
 * PDB, PVCs) and create missing member pods. Only the fields ballast owns are
 * compared, because the API server fills in defaults (protocol, clusterIPs, ...) that
 * would otherwise look like drift and make steady state write every pass. */
#include "plan/internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const cJSON *find_named(const cJSON *const *objs, int n, const char *name)
{
    for (int i = 0; i < n; i++) {
        const char *on = plan_jstr(objs[i], "metadata", "name", (const char *)NULL);
        if (on != NULL && strcmp(on, name) == 0)
            return objs[i];
    }
    return NULL;
}

static bool num_is(const cJSON *v, double want)
{
    return cJSON_IsNumber(v) && fabs(v->valuedouble - want) < 1e-9;
}

static bool ports_match(const cJSON *want, const cJSON *have)
{
    if (cJSON_GetArraySize(want) != cJSON_GetArraySize(have))
        return false;
    const cJSON *w, *h;
    cJSON_ArrayForEach(w, want)
    {
        const char *name = plan_jstr(w, "name", (const char *)NULL);
        bool found = false;
        cJSON_ArrayForEach(h, have)
        {
            const char *hn = plan_jstr(h, "name", (const char *)NULL);
            if (hn == NULL || name == NULL || strcmp(hn, name) != 0)
                continue;
            const char *proto = plan_jstr(h, "protocol", (const char *)NULL);
            found = num_is(plan_jget(h, "port", (const char *)NULL),
                           plan_jget(w, "port", (const char *)NULL)->valuedouble) &&
                    num_is(plan_jget(h, "targetPort", (const char *)NULL),
                           plan_jget(w, "targetPort", (const char *)NULL)->valuedouble) &&
                    (proto == NULL || strcmp(proto, "TCP") == 0);
            break;
        }
        if (!found)
            return false;
    }
    return true;
}

/* A child ballast owns carries our owner reference, except a PVC, which carries none
 * (see render.c): the one it has or lacks is then not ours to change. */
static bool wants_owner(const cJSON *want)
{
    return plan_jget(want, "metadata", "ownerReferences", (const char *)NULL) != NULL;
}

static bool meta_match(struct pctx *c, const cJSON *want, const cJSON *have)
{
    return (!wants_owner(want) || plan_jhas_owner(have, c->psc->uid)) &&
           plan_jlabels_contain(have, plan_jget(want, "metadata", "labels", (const char *)NULL));
}

/* The update body: the observed object with ballast's labels, owner reference and the
 * listed spec fields of `want` written over it (other people's labels survive). */
static cJSON *merged(struct pctx *c, const cJSON *want, const cJSON *have,
                     const char *const *fields)
{
    cJSON *o = cJSON_Duplicate(have, true);
    cJSON *md = o ? cJSON_GetObjectItemCaseSensitive(o, "metadata") : NULL;
    if (md == NULL || !cJSON_IsObject(md))
        goto fail;
    cJSON_DeleteItemFromObjectCaseSensitive(o, "status");
    cJSON_DeleteItemFromObjectCaseSensitive(md, "managedFields");
    cJSON *labels = cJSON_GetObjectItemCaseSensitive(md, "labels");
    if (!cJSON_IsObject(labels) && (labels = plan_jobj_add(md, "labels")) == NULL)
        goto fail;
    const cJSON *l;
    cJSON_ArrayForEach(l, plan_jget(want, "metadata", "labels", (const char *)NULL))
    {
        if (plan_jset_str(labels, l->string, l->valuestring) != 0)
            goto fail;
    }
    if (wants_owner(want) && !plan_jhas_owner(have, c->psc->uid)) {
        cJSON *refs = cJSON_GetObjectItemCaseSensitive(md, "ownerReferences");
        if (!cJSON_IsArray(refs) && (refs = plan_jarr_add(md, "ownerReferences")) == NULL)
            goto fail;
        const cJSON *ref = cJSON_GetArrayItem(
            plan_jget(want, "metadata", "ownerReferences", (const char *)NULL), 0);
        cJSON *dup = cJSON_Duplicate(ref, true);
        if (dup == NULL || !cJSON_AddItemToArray(refs, dup)) {
            cJSON_Delete(dup);
            goto fail;
        }
    }
    for (int i = 0; fields[i] != NULL; i++) {
        /* "spec.selector" style paths, two levels at most */
        char top[64], sub[64];
        const char *dot = strchr(fields[i], '.');
        snprintf(top, sizeof top, "%.*s", dot ? (int)(dot - fields[i]) : (int)strlen(fields[i]),
                 fields[i]);
        snprintf(sub, sizeof sub, "%s", dot ? dot + 1 : "");
        const cJSON *src = sub[0] ? plan_jget(want, top, sub, (const char *)NULL)
                                  : plan_jget(want, top, (const char *)NULL);
        if (src == NULL)
            continue;
        cJSON *dst = o;
        if (sub[0]) {
            dst = cJSON_GetObjectItemCaseSensitive(o, top);
            if (!cJSON_IsObject(dst) && (dst = plan_jobj_add(o, top)) == NULL)
                goto fail;
        }
        if (plan_jset(dst, sub[0] ? sub : top, cJSON_Duplicate(src, true)) != 0)
            goto fail;
    }
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

/* Emit create (have == NULL) or update (when !same) for one desired object `want` (taken). */
static int converge(struct pctx *c, enum plan_kind kind, cJSON *want, const cJSON *have, bool same,
                    const char *const *fields, const char *why)
{
    if (want == NULL)
        return ERR_NOMEM;
    const char *name = plan_jstr(want, "metadata", "name", (const char *)NULL);
    char nm[300];
    snprintf(nm, sizeof nm, "%s", name ? name : "");
    if (have == NULL)
        return plan_out_action(c, PLAN_CREATE, kind, nm, want, NULL, why);
    if (same || plan_jget(have, "metadata", "deletionTimestamp", (const char *)NULL) != NULL) {
        cJSON_Delete(want);
        return 0;
    }
    cJSON *body = merged(c, want, have, fields);
    cJSON_Delete(want);
    if (body == NULL)
        return ERR_NOMEM;
    return plan_out_action(c, PLAN_UPDATE, kind, nm, body, NULL, "drifted from the spec");
}

static bool service_same(struct pctx *c, const cJSON *want, const cJSON *have)
{
    return meta_match(c, want, have) &&
           cJSON_Compare(plan_jget(want, "spec", "selector", (const char *)NULL),
                         plan_jget(have, "spec", "selector", (const char *)NULL), true) &&
           cJSON_IsTrue(plan_jget(have, "spec", "publishNotReadyAddresses", (const char *)NULL)) &&
           ports_match(plan_jget(want, "spec", "ports", (const char *)NULL),
                       plan_jget(have, "spec", "ports", (const char *)NULL));
}

static const char *const svc_fields[] = {"spec.selector", "spec.ports",
                                         "spec.publishNotReadyAddresses", NULL};

static int sync_service(struct pctx *c, cJSON *want, const cJSON *have, const char *why)
{
    bool same = want != NULL && have != NULL && service_same(c, want, have);
    return converge(c, PLAN_SERVICE, want, have, same, svc_fields, why);
}

static int sync_pvc(struct pctx *c, const struct pmember *m)
{
    static const char *const fields[] = {NULL};
    cJSON *want = plan_render_pvc(c, m);
    if (want == NULL)
        return ERR_NOMEM;
    bool same = true, grow = false;
    if (m->pvc != NULL) {
        const char *have =
            plan_jstr(m->pvc, "spec", "resources", "requests", "storage", (const char *)NULL);
        long long bytes = 0;
        struct err qe = {0};
        /* shrinking was refused as InvalidSpec before we got here; growing is an update */
        grow = have == NULL || psc_parse_quantity(have, &bytes, &qe) != 0 ||
               bytes < c->psc->spec.storage_bytes;
        same = !grow && meta_match(c, want, m->pvc);
    }
    char why[300];
    snprintf(why, sizeof why, "member %s needs its volume", m->name);
    int before = c->out->nactions;
    int rc = converge(c, PLAN_PVC, want, m->pvc, same, fields, why);
    if (rc != 0 || !grow || c->out->nactions == before ||
        c->out->actions[before].verb != PLAN_UPDATE)
        return rc;
    /* The PVC spec is immutable but for the storage request: write only that. */
    cJSON *body = c->out->actions[before].object;
    cJSON *spec = cJSON_GetObjectItemCaseSensitive(body, "spec");
    cJSON *res = spec ? cJSON_GetObjectItemCaseSensitive(spec, "resources") : NULL;
    if (spec != NULL && !cJSON_IsObject(res))
        res = plan_jobj_add(spec, "resources");
    cJSON *req = res ? cJSON_GetObjectItemCaseSensitive(res, "requests") : NULL;
    if (res != NULL && !cJSON_IsObject(req))
        req = plan_jobj_add(res, "requests");
    if (req == NULL)
        return ERR_NOMEM;
    return plan_jset_str(req, "storage", c->psc->spec.storage_size);
}

/* The record of the spec this pass acts on, so that a later invalid spec still leaves
 * ballast something to recreate missing members from. Compared as JSON values: the
 * API server's key order is no change. */
static int sync_accepted(struct pctx *c)
{
    char name[300];
    snprintf(name, sizeof name, "%s%s", c->psc->name, PLAN_ACCEPTED_SUFFIX);
    const cJSON *have = find_named(c->in->configmaps, c->in->nconfigmaps, name);
    cJSON *want = plan_render_accepted(c);
    bool same = false;
    if (want != NULL && have != NULL && meta_match(c, want, have)) {
        cJSON *rec = cJSON_Parse(plan_jstr(have, "data", PLAN_ACCEPTED_KEY, (const char *)NULL));
        same = rec != NULL && cJSON_Compare(rec, c->in->spec, true);
        cJSON_Delete(rec);
    }
    static const char *const fields[] = {"data", NULL};
    return converge(c, PLAN_CONFIGMAP, want, have, same, fields, "the last accepted spec");
}

static bool pod_mounts(const cJSON *pod, const char *cm)
{
    const cJSON *v;
    cJSON_ArrayForEach(v, plan_jget(pod, "spec", "volumes", (const char *)NULL))
    {
        const char *n = plan_jstr(v, "configMap", "name", (const char *)NULL);
        if (n != NULL && strcmp(n, cm) == 0)
            return true;
    }
    return false;
}

/* An engine ConfigMap of another revision (or the single "<psc>-config" of ballast
 * before per-revision configs) is deleted once no pod mounts it. */
static int gc_configs(struct pctx *c, const char *current)
{
    const struct plan_input *in = c->in;
    char prefix[300], legacy[300];
    snprintf(prefix, sizeof prefix, "%s-config-", c->psc->name);
    snprintf(legacy, sizeof legacy, "%s-config", c->psc->name);
    for (int i = 0; i < in->nconfigmaps; i++) {
        const cJSON *cm = in->configmaps[i];
        const char *name = plan_jstr(cm, "metadata", "name", (const char *)NULL);
        const char *uid = plan_jstr(cm, "metadata", "uid", (const char *)NULL);
        if (name == NULL || strcmp(name, current) == 0 || !plan_jhas_owner(cm, c->psc->uid) ||
            plan_jget(cm, "metadata", "deletionTimestamp", (const char *)NULL) != NULL)
            continue;
        bool ours = strcmp(name, legacy) == 0 || (strncmp(name, prefix, strlen(prefix)) == 0 &&
                                                  plan_jlabel(cm, PSC_LABEL_REVISION) != NULL);
        if (!ours)
            continue;
        bool used = false;
        for (int k = 0; k < in->npods && !used; k++)
            used = pod_mounts(in->pods[k], name);
        if (used)
            continue;
        char why[300];
        snprintf(why, sizeof why, "no pod uses the engine config %s any more", name);
        int rc = plan_out_action(c, PLAN_DELETE, PLAN_CONFIGMAP, name, NULL, uid, why);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int plan_sync_children(struct pctx *c, struct err *e)
{
    (void)e;
    if (!c->can_act && !c->recreate_only)
        return 0;
    const struct plan_input *in = c->in;
    char name[300];
    int rc;

    /* The engine config of the revision members run or are rolled onto: created once and
     * never changed (immutable), so a member sees a new config only when it restarts. */
    cJSON *cm = plan_render_configmap(c);
    if (cm == NULL)
        return ERR_NOMEM;
    plan_config_name(c, c->revision, name, sizeof name);
    const cJSON *have = find_named(in->configmaps, in->nconfigmaps, name);
    if (have == NULL) {
        char why[300];
        snprintf(why, sizeof why, "engine config of revision %s", c->revision);
        if ((rc = plan_out_action(c, PLAN_CREATE, PLAN_CONFIGMAP, name, cm, NULL, why)) != 0)
            return rc;
    } else {
        cJSON_Delete(cm);
    }
    if (c->can_act && (rc = gc_configs(c, name)) != 0)
        return rc;

    snprintf(name, sizeof name, "%s-headless", c->psc->name);
    if ((rc = sync_service(c, plan_render_headless(c),
                           find_named(in->services, in->nservices, name), "members' DNS names")) !=
        0)
        return rc;

    static const char *const pdb_fields[] = {"spec.minAvailable", "spec.selector", NULL};
    cJSON *pdb = plan_render_pdb(c);
    have = find_named(in->pdbs, in->npdbs, c->psc->name);
    const cJSON *min = plan_jget(pdb, "spec", "minAvailable", (const char *)NULL);
    bool same =
        pdb != NULL && have != NULL && meta_match(c, pdb, have) && cJSON_IsNumber(min) &&
        num_is(plan_jget(have, "spec", "minAvailable", (const char *)NULL), min->valuedouble) &&
        plan_jget(have, "spec", "maxUnavailable", (const char *)NULL) == NULL &&
        cJSON_Compare(plan_jget(pdb, "spec", "selector", "matchLabels", (const char *)NULL),
                      plan_jget(have, "spec", "selector", "matchLabels", (const char *)NULL), true);
    int before = c->out->nactions;
    if ((rc = converge(c, PLAN_PDB, pdb, have, same, pdb_fields, "one member down at most")) != 0)
        return rc;
    if (c->out->nactions > before && c->out->actions[before].verb == PLAN_UPDATE)
        /* a PDB sets minAvailable or maxUnavailable, never both (and older ballast set max) */
        cJSON_DeleteItemFromObjectCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(c->out->actions[before].object, "spec"),
            "maxUnavailable");

    for (int i = 0; i < c->nm; i++) {
        const struct pmember *m = &c->m[i];
        if (!m->wanted || m->zone == NULL)
            continue;
        char why[300];
        snprintf(why, sizeof why, "member %s needs its address", m->name);
        if ((rc = sync_service(c, plan_render_member_service(c, m), m->svc, why)) != 0)
            return rc;
    }
    for (int i = 0; i < c->nm; i++)
        if (c->m[i].wanted && c->m[i].zone != NULL && (rc = sync_pvc(c, &c->m[i])) != 0)
            return rc;
    if (c->can_act && c->in->spec != NULL)
        return sync_accepted(c);
    return 0;
}

static bool placed_before(const struct pctx *c, const struct pmember *m)
{
    const cJSON *zone;
    cJSON_ArrayForEach(zone, plan_jget(c->psc->status, "placement", (const char *)NULL))
    {
        const cJSON *name;
        cJSON_ArrayForEach(name, plan_jget(zone, "pods", (const char *)NULL))
        {
            if (cJSON_IsString(name) && strcmp(name->valuestring, m->name) == 0)
                return true;
        }
    }
    return false;
}

int plan_sync_pods(struct pctx *c, struct err *e)
{
    (void)e;
    if (!c->can_act && !c->recreate_only)
        return 0;
    for (int i = 0; i < c->nm; i++) {
        const struct pmember *m = &c->m[i];
        if (!m->wanted || m->pod != NULL || m->zone == NULL)
            continue;
        if (!m->svc_named) {
            /* Peers and clients reach the member by name from its first start: wait until
             * its Service has an address (and, with the DNS check, its name resolves). */
            plan_out_requeue(c, 5);
            continue;
        }
        char why[300];
        snprintf(why, sizeof why, "member %s has no pod", m->name);
        cJSON *pod = plan_render_pod(c, m);
        if (pod == NULL)
            return ERR_NOMEM;
        int rc = plan_out_action(c, PLAN_CREATE, PLAN_POD, m->name, pod, NULL, why);
        if (rc != 0)
            return rc;
        /* a member the last status placed existed before: its pod went missing */
        if (placed_before(c, m))
            rc = plan_out_event(
                c, PLAN_EVENT_WARNING, "MemberRecreated",
                "Pod %s was missing; recreating it in zone %s on its volume data-%s.", m->name,
                m->zone, m->name);
        else
            rc = plan_out_event(c, PLAN_EVENT_NORMAL, "MemberCreated",
                                "Creating pod %s in zone %s.", m->name, m->zone);
        if (rc != 0)
            return rc;
    }
    return 0;
}
