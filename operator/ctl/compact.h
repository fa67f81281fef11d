/* compact.h — what the caches drop from each object before storing it: the fields nothing in
 * ballast reads, so memory follows the managed objects with a small constant. Each function
 * edits obj in place (borrowed) and is safe on any JSON (missing fields are left missing). */
#ifndef BALLAST_CTL_COMPACT_H
#define BALLAST_CTL_COMPACT_H

#include <cjson/cJSON.h>

/* PSCs: metadata.managedFields and kubectl's last-applied-configuration annotation (a second
 * copy of the spec). Status writes go through /status, which ignores metadata. */
void ctl_compact_psc(cJSON *obj);
/* PVCs, Services, ConfigMaps, PDBs: metadata.managedFields. */
void ctl_compact_child(cJSON *obj);
/* Pods: metadata keeps only name, namespace, uid, resourceVersion, labels, deletionTimestamp and
 * the owner references' kind, name, uid and controller; status only phase, podIP and the Ready
 * condition's type, status and lastTransitionTime (container statuses, host IPs, QoS, the other
 * conditions are never read); spec only affinity.nodeAffinity and each volume's name and
 * configMap.name (ballast never updates a pod, so no body is ever built from a cached one). */
void ctl_compact_pod(cJSON *obj);
/* ConfigMaps: the same as a child; an immutable one (an engine config) also loses data and
 * binaryData, never read and never written back. */
void ctl_compact_configmap(cJSON *obj);
/* Nodes: name, resourceVersion, the zone label and spec.unschedulable; nothing else. */
void ctl_compact_node(cJSON *obj);

#endif
