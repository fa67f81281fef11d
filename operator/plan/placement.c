/* placement.c — which zone each member lives in. A member's zone is chosen once and
 * then read back from its PVC's topology.kubernetes.io/zone label for life, so an
 * operator restart or a zone list edit never moves a member away from its data.
 * Also the spec checks only the observed world can make (zones vs nodes, shrink). */
#include "plan/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int plan_zone_order(const struct psc *p, const struct plan_node *nodes, int nnodes,
                    const char *const *member_zones, int nmembers, const char ***zones, int *nzones,
                    char *down, size_t downlen, struct err *e)
{
    *zones = NULL;
    *nzones = 0;
    if (down != NULL && downlen > 0)
        down[0] = '\0';
    if (p->spec.nzones > 0) {
        const char **z = calloc((size_t)p->spec.nzones, sizeof *z);
        if (z == NULL)
            return err_set(e, ERR_NOMEM, "out of memory");
        int n = 0;
        /* Every requested zone must have at least one node (schedulable or not: a zone
         * whose nodes are all cordoned is a maintenance, not a wrong spec). */
        for (int i = 0; i < p->spec.nzones; i++) {
            const char *zone = p->spec.zones[i];
            bool found = false;
            for (int k = 0; k < nnodes && !found; k++)
                found = nodes[k].zone != NULL && strcmp(nodes[k].zone, zone) == 0;
            if (found) {
                z[n++] = zone;
                continue;
            }
            int lives = -1;
            for (int m = 0; m < nmembers && lives < 0; m++)
                if (member_zones[m] != NULL && strcmp(member_zones[m], zone) == 0)
                    lives = m;
            if (lives < 0) {
                free(z);
                return err_set(e, ERR_INVALID,
                               "spec.zones[%d] \"%s\" has no nodes (no node carries "
                               "topology.kubernetes.io/zone=%s): fix the zone name or remove it "
                               "from spec.zones",
                               i, zone, zone);
            }
            if (down != NULL && down[0] == '\0')
                snprintf(down, downlen,
                         "Zone %s has no nodes, and members with volumes there (ordinal %d "
                         "first) cannot run until nodes return to it; new members go to the "
                         "other zones",
                         zone, lives);
        }
        *zones = z;
        *nzones = n;
        return 0;
    }
    const char **z = calloc(nnodes > 0 ? (size_t)nnodes : 1, sizeof *z);
    if (z == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    int n = 0;
    for (int k = 0; k < nnodes; k++)
        if (nodes[k].schedulable && nodes[k].zone != NULL && nodes[k].zone[0] != '\0')
            z[n++] = nodes[k].zone;
    qsort(z, (size_t)n, sizeof *z, cmp_str);
    int u = 0;
    for (int i = 0; i < n; i++)
        if (u == 0 || strcmp(z[u - 1], z[i]) != 0)
            z[u++] = z[i];
    *zones = z;
    *nzones = u;
    return 0;
}

int plan_place_new(const char **member_zones, int n, const char *const *zones, int nzones,
                   struct err *e)
{
    int *count = calloc(nzones > 0 ? (size_t)nzones : 1, sizeof *count);
    if (count == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++)
        for (int z = 0; member_zones[i] != NULL && z < nzones; z++)
            if (strcmp(member_zones[i], zones[z]) == 0)
                count[z]++;
    int rc = 0;
    for (int i = 0; i < n; i++) {
        if (member_zones[i] != NULL)
            continue;
        if (nzones == 0) {
            rc = err_set(e, ERR_INVALID,
                         "no zone to place member %d in: no schedulable node carries "
                         "topology.kubernetes.io/zone; label the nodes or set spec.zones",
                         i);
            break;
        }
        int best = 0;
        for (int z = 1; z < nzones; z++)
            if (count[z] < count[best])
                best = z;
        member_zones[i] = zones[best];
        count[best]++;
    }
    free(count);
    return rc;
}

/* The zone a pod was pinned to by its required node affinity, or NULL. */
static const char *pod_zone(const cJSON *pod)
{
    const cJSON *terms = plan_jget(pod, "spec", "affinity", "nodeAffinity",
                                   "requiredDuringSchedulingIgnoredDuringExecution",
                                   "nodeSelectorTerms", (const char *)NULL);
    const cJSON *t, *x;
    cJSON_ArrayForEach(t, terms)
    {
        cJSON_ArrayForEach(x, plan_jget(t, "matchExpressions", (const char *)NULL))
        {
            const char *key = plan_jstr(x, "key", (const char *)NULL);
            const char *op = plan_jstr(x, "operator", (const char *)NULL);
            const cJSON *vals = plan_jget(x, "values", (const char *)NULL);
            if (key && op && strcmp(key, PSC_LABEL_ZONE) == 0 && strcmp(op, "In") == 0 &&
                cJSON_GetArraySize(vals) == 1 && cJSON_IsString(vals->child))
                return vals->child->valuestring;
        }
    }
    return NULL;
}

static void set_invalid(struct pctx *c, const char *msg)
{
    if (c->invalid)
        return; /* the first problem is the one to fix first */
    c->invalid = true;
    snprintf(c->invalid_msg, sizeof c->invalid_msg, "%s", msg);
}

/* Checks that need the observed world: storage may not shrink below an existing PVC. */
static void check_storage(struct pctx *c)
{
    for (int i = 0; i < c->nm; i++) {
        const struct pmember *m = &c->m[i];
        const char *have =
            plan_jstr(m->pvc, "spec", "resources", "requests", "storage", (const char *)NULL);
        long long bytes;
        struct err qe = {0};
        if (have == NULL || psc_parse_quantity(have, &bytes, &qe) != 0)
            continue;
        if (c->psc->spec.storage_bytes < bytes) {
            char msg[512];
            snprintf(msg, sizeof msg,
                     "spec.storage.size %s is smaller than the %s of existing volume data-%s; "
                     "volumes cannot shrink: set spec.storage.size to at least %s",
                     c->psc->spec.storage_size ? c->psc->spec.storage_size : "(unset)", have,
                     m->name, have);
            set_invalid(c, msg);
            return;
        }
    }
}

int plan_place_members(struct pctx *c, struct err *e)
{
    const struct psc *p = c->psc;
    struct err ze = {0};
    /* A member's zone is read back from its volume (else its pod) first: whether a
     * zone without nodes is a typo or an outage depends on who lives there. */
    const char **mz = calloc(c->nm > 0 ? (size_t)c->nm : 1, sizeof *mz);
    if (mz == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    for (int i = 0; i < c->nm; i++) {
        struct pmember *m = &c->m[i];
        const char *z = plan_jlabel(m->pvc, PSC_LABEL_ZONE);
        if (z == NULL || z[0] == '\0')
            z = pod_zone(m->pod);
        m->zone = (z != NULL && z[0] != '\0') ? z : NULL;
        mz[i] = m->zone;
    }
    int rc = plan_zone_order(p, c->in->nodes, c->in->nnodes, mz, c->nm, &c->zones, &c->nzones,
                             c->zone_down_msg, sizeof c->zone_down_msg, &ze);
    free(mz);
    if (rc == ERR_NOMEM)
        return err_set(e, rc, "%s", ze.msg);
    if (rc != 0)
        set_invalid(c, ze.msg);
    if (strlen(p->name) + strlen("-headless") > 63) {
        char msg[512];
        snprintf(msg, sizeof msg,
                 "metadata.name \"%s\" is %zu characters; ballast names the headless Service "
                 "<name>-headless, which must fit 63: use a name of at most 54 characters",
                 p->name, strlen(p->name));
        set_invalid(c, msg);
    }
    check_storage(c);

    if (c->invalid)
        return 0; /* no new placements on an invalid spec: nothing will be created */

    int nwant = p->spec.replicas < c->nm ? p->spec.replicas : c->nm;
    const char **zs = calloc(nwant > 0 ? (size_t)nwant : 1, sizeof *zs);
    if (zs == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    for (int i = 0; i < nwant; i++)
        zs[i] = c->m[i].zone;
    rc = plan_place_new(zs, nwant, c->zones, c->nzones, &ze);
    if (rc == ERR_NOMEM) {
        free(zs);
        return err_set(e, rc, "%s", ze.msg);
    }
    if (rc != 0)
        set_invalid(c, ze.msg);
    else
        for (int i = 0; i < nwant; i++)
            c->m[i].zone = zs[i];
    free(zs);
    return 0;
}
