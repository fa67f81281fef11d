/* update.c — the rules between a stored PSC and its update that a schema cannot hold:
 * volumes only grow, their class never changes, and a zone keeps its place in
 * spec.zones while members live there (a member never moves away from its data).
 * Shared by the validating webhook (reject) and the planner (InvalidSpec). */
#include "psc/psc.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"

static bool zone_listed(const struct psc_spec *s, const char *zone)
{
    for (int i = 0; i < s->nzones; i++)
        if (strcmp(s->zones[i], zone) == 0)
            return true;
    return false;
}

/* check_zones finds the first zone with members that upd no longer lists and names
 * it with (up to a handful of) its members. */
static int check_zones(const struct psc *upd, const char *const *member_zones, int nmembers,
                       struct err *e)
{
    /* No list means every zone the nodes carry: nothing is removed by the spec. */
    if (upd->spec.nzones == 0 || member_zones == NULL)
        return 0;
    for (int i = 0; i < nmembers; i++) {
        const char *zone = member_zones[i];
        if (zone == NULL || zone_listed(&upd->spec, zone))
            continue;
        /* Report zone `zone` with every member in it; earlier members had listed zones,
         * so the scan starts at i. */
        struct buf b = {.max = 300};
        int shown = 0, more = 0;
        for (int j = i; j < nmembers; j++) {
            if (member_zones[j] == NULL || strcmp(member_zones[j], zone) != 0)
                continue;
            if (shown < 8 && buf_printf(&b, "%s%s-%d", shown ? ", " : "", upd->name, j) == 0)
                shown++;
            else
                more++;
        }
        if (more > 0)
            buf_printf(&b, " and %d more", more);
        int rc = err_set(e, ERR_INVALID,
                         "spec.zones: cannot remove zone \"%s\": member%s %s still live%s there "
                         "and a member never moves away from its volume; keep \"%s\" in "
                         "spec.zones",
                         zone, shown + more > 1 ? "s" : "", b.data ? b.data : "?",
                         shown + more > 1 ? "" : "s", zone);
        buf_free(&b);
        return rc;
    }
    return 0;
}

int psc_validate_update(const struct psc *old, const struct psc *upd,
                        const char *const *member_zones, int nmembers, struct err *e)
{
    if (old == NULL || upd == NULL)
        return err_set(e, ERR_INVALID, "psc_validate_update: old and new PSC are required");
    const struct psc_spec *o = &old->spec, *n = &upd->spec;

    if (n->storage_bytes < o->storage_bytes)
        return err_set(e, ERR_INVALID,
                       "spec.storage.size: cannot shrink from %s to %s: a PersistentVolumeClaim "
                       "can only grow; set it back to at least %s",
                       o->storage_size ? o->storage_size : "?",
                       n->storage_size ? n->storage_size : "?",
                       o->storage_size ? o->storage_size : "?");

    const char *oc = o->storage_class, *nc = n->storage_class;
    bool same = (oc == NULL && nc == NULL) || (oc != NULL && nc != NULL && strcmp(oc, nc) == 0);
    if (!same)
        return err_set(e, ERR_INVALID,
                       "spec.storage.storageClassName: cannot change from %s%s%s to %s%s%s: "
                       "existing volumes keep the class they were created with; set it back",
                       oc ? "\"" : "", oc ? oc : "(cluster default)", oc ? "\"" : "",
                       nc ? "\"" : "", nc ? nc : "(cluster default)", nc ? "\"" : "");

    /* A cluster created with 3 or more members has a KRaft quorum of 3 voters (members
     * 0-2) for life; going below 3 would remove a voter. */
    if (o->replicas >= 3 && n->replicas < 3)
        return err_set(e, ERR_INVALID,
                       "spec.replicas: cannot scale from %d to %d: members 0-2 may be the "
                       "cluster's KRaft controller voters, and ballast never removes a voter; "
                       "keep at least 3",
                       o->replicas, n->replicas);

    return check_zones(upd, member_zones, nmembers, e);
}
