/* compact.c — trims cached objects to what the planner and the webhook read (compact.h). The
 * lists of kept fields live here, beside each other, so a new reader of a field adds it here. */
#include "ctl/compact.h"

#include <stdbool.h>
#include <string.h>

#include "psc/psc.h"

#define ANN_LAST_APPLIED "kubectl.kubernetes.io/last-applied-configuration"

/* Deletes every member of obj whose name is not in keep (NULL-terminated). */
static void keep_only(cJSON *obj, const char *const *keep)
{
    if (!cJSON_IsObject(obj))
        return;
    cJSON *it = obj->child;
    while (it != NULL) {
        cJSON *next = it->next;
        bool kept = false;
        for (int i = 0; keep[i] != NULL && !kept; i++)
            kept = it->string != NULL && strcmp(it->string, keep[i]) == 0;
        if (!kept)
            cJSON_Delete(cJSON_DetachItemViaPointer(obj, it));
        it = next;
    }
}

static cJSON *metadata(cJSON *obj)
{
    cJSON *md = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, "metadata") : NULL;
    return cJSON_IsObject(md) ? md : NULL;
}

void ctl_compact_psc(cJSON *obj)
{
    cJSON *md = metadata(obj);
    if (md == NULL)
        return;
    cJSON_DeleteItemFromObjectCaseSensitive(md, "managedFields");
    cJSON *ann = cJSON_GetObjectItemCaseSensitive(md, "annotations");
    if (cJSON_IsObject(ann))
        cJSON_DeleteItemFromObjectCaseSensitive(ann, ANN_LAST_APPLIED);
}

void ctl_compact_child(cJSON *obj)
{
    cJSON *md = metadata(obj);
    if (md != NULL)
        cJSON_DeleteItemFromObjectCaseSensitive(md, "managedFields");
}

/* An immutable ConfigMap (the engine config of a revision) can never be updated, so no body is
 * built from it, and only its name, labels and owner are read: its data, ~2 KB of rendered
 * properties a PSC, goes. The accepted-spec record is mutable and keeps its data. */
void ctl_compact_configmap(cJSON *obj)
{
    ctl_compact_child(obj);
    if (!cJSON_IsObject(obj) || !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(obj, "immutable")))
        return;
    cJSON_DeleteItemFromObjectCaseSensitive(obj, "data");
    cJSON_DeleteItemFromObjectCaseSensitive(obj, "binaryData");
}

/* Of a pod's conditions only Ready is read (whether it holds, and since when). */
static void keep_ready_condition(cJSON *status)
{
    static const char *const cond_keep[] = {"type", "status", "lastTransitionTime", NULL};
    cJSON *conds =
        cJSON_IsObject(status) ? cJSON_GetObjectItemCaseSensitive(status, "conditions") : NULL;
    if (!cJSON_IsArray(conds))
        return;
    cJSON *k = conds->child;
    while (k != NULL) {
        cJSON *next = k->next;
        const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(k, "type"));
        if (t == NULL || strcmp(t, "Ready") != 0)
            cJSON_Delete(cJSON_DetachItemViaPointer(conds, k));
        else
            keep_only(k, cond_keep);
        k = next;
    }
}

/* By informer, not by "kind": the items of a list carry no kind. ballast never writes a pod
 * back, so only what the planner and the controller read stays: of the metadata the identity,
 * labels, owner references (kind, name, uid, controller) and deletionTimestamp; of the spec
 * the node affinity that pins the member to its zone and which ConfigMaps its volumes mount
 * (a volume keeps its name and, for a ConfigMap, that map's name); of the status the phase,
 * the IP and the Ready condition. The containers, most of a pod's bytes, go. */
void ctl_compact_pod(cJSON *obj)
{
    static const char *const md_keep[] = {"name",
                                          "namespace",
                                          "uid",
                                          "resourceVersion",
                                          "labels",
                                          "ownerReferences",
                                          "deletionTimestamp",
                                          NULL};
    static const char *const ref_keep[] = {"kind", "name", "uid", "controller", NULL};
    static const char *const status_keep[] = {"phase", "conditions", "podIP", NULL};
    static const char *const spec_keep[] = {"affinity", "volumes", NULL};
    static const char *const affinity_keep[] = {"nodeAffinity", NULL};
    static const char *const volume_keep[] = {"name", "configMap", NULL};
    static const char *const cm_keep[] = {"name", NULL};
    if (!cJSON_IsObject(obj))
        return;
    cJSON *md = metadata(obj);
    keep_only(md, md_keep);
    cJSON *refs = md ? cJSON_GetObjectItemCaseSensitive(md, "ownerReferences") : NULL, *ref;
    cJSON_ArrayForEach(ref, refs)
    {
        keep_only(ref, ref_keep);
    }
    cJSON *status = cJSON_GetObjectItemCaseSensitive(obj, "status");
    keep_only(status, status_keep);
    keep_ready_condition(status);
    cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
    keep_only(spec, spec_keep);
    if (!cJSON_IsObject(spec))
        return;
    keep_only(cJSON_GetObjectItemCaseSensitive(spec, "affinity"), affinity_keep);
    cJSON *v;
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(spec, "volumes"))
    {
        keep_only(v, volume_keep);
        keep_only(cJSON_GetObjectItemCaseSensitive(v, "configMap"), cm_keep);
    }
}

void ctl_compact_node(cJSON *obj)
{
    static const char *const top[] = {"apiVersion", "kind", "metadata", "spec", NULL};
    static const char *const md_keep[] = {"name", "resourceVersion", "labels", NULL};
    static const char *const labels_keep[] = {PSC_LABEL_ZONE, NULL};
    static const char *const spec_keep[] = {"unschedulable", NULL};
    keep_only(obj, top);
    cJSON *md = metadata(obj);
    keep_only(md, md_keep);
    if (md != NULL)
        keep_only(cJSON_GetObjectItemCaseSensitive(md, "labels"), labels_keep);
    keep_only(cJSON_GetObjectItemCaseSensitive(obj, "spec"), spec_keep);
}
