#!/usr/bin/env bash
# hack/local-provisioner.sh — a dynamic volume provisioner for the local control plane.
# kwok runs no kubelet and no CSI driver, so nothing would ever bind a PVC. This plays the
# external-provisioner's part for StorageClass "standard" (WaitForFirstConsumer): when the
# scheduler picks a node for a pod (annotation volume.kubernetes.io/selected-node on the
# PVC), it creates a PV pinned to that node's zone, as a zonal block-storage driver would.
# It also removes Released PVs. Polls once a second; started by hack/local-cluster.sh.
#
# With BALLAST_VOLUME_ROOT set (real nodes), a PV is a `local` volume: the directory
# ROOT/<node>/<pvc uid>, created here, pinned to that node (kubernetes.io/hostname) and
# its zone, so a pod that comes back finds its data and a claim never binds in another
# zone; the directory is deleted with its Released PV.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PROVISIONER=ballast.dev/local-test
VOLUME_ROOT="${BALLAST_VOLUME_ROOT:-}"
log "local provisioner for $PROVISIONER started"
# One pass; an API server that is down or restarting fails it, and the next pass retries.
# Lists are read raw (kubectl get --raw: no decoding and printing again by kubectl) from the
# API server's watch cache (resourceVersion=0); at 6,000 claims a pass's lists are ~15 MB.
list() { kubectl get --raw "$1?resourceVersion=0" 2>/dev/null >"$2"; }
provision_once() {
	list /api/v1/nodes "$pass_dir/nodes" || return 0
	list /api/v1/persistentvolumeclaims "$pass_dir/pvcs" || return 0
	# A claim whose volume exists already waits for the controller-manager to bind it: it is
	# left out, so a pass asks again only for new volumes. Posting every pending claim's volume
	# again each second, as this did, made one failing create per waiting claim per pass: at
	# 6,000 claims, thousands a second on the API server the binder waits on.
	jq -c --slurpfile nodes "$pass_dir/nodes" --slurpfile pvs "$pass_dir/pvs-all" \
		--arg p "$PROVISIONER" --arg root "$VOLUME_ROOT" '
	  ($nodes[0].items | map({key: .metadata.name, value: (.metadata.labels["topology.kubernetes.io/zone"] // "")}) | from_entries) as $zone
	  | ($pvs[0].items | map({key: .metadata.name, value: true}) | from_entries) as $have
	  | .items[]
	  | select(.status.phase == "Pending")
	  | select($have["pvc-" + .metadata.uid] | not)
	  | select((.metadata.annotations["volume.kubernetes.io/storage-provisioner"] // .metadata.annotations["volume.beta.kubernetes.io/storage-provisioner"] // "") == $p)
	  | select(.metadata.annotations["volume.kubernetes.io/selected-node"] != null)
	  | .metadata.annotations["volume.kubernetes.io/selected-node"] as $node
	  | {apiVersion: "v1", kind: "PersistentVolume",
	     metadata: {name: ("pvc-" + .metadata.uid),
	                labels: {"topology.kubernetes.io/zone": $zone[$node]},
	                annotations: {"pv.kubernetes.io/provisioned-by": $p}},
	     spec: ({capacity: {storage: .spec.resources.requests.storage},
	            accessModes: .spec.accessModes,
	            persistentVolumeReclaimPolicy: "Retain",
	            storageClassName: .spec.storageClassName,
	            volumeMode: (.spec.volumeMode // "Filesystem"),
	            claimRef: {namespace: .metadata.namespace, name: .metadata.name, uid: .metadata.uid}}
	            + (if $root == "" then
	                {hostPath: {path: ("/var/lib/kwok-volumes/" + .metadata.uid)},
	                 nodeAffinity: {required: {nodeSelectorTerms: [{matchExpressions: [
	                   {key: "topology.kubernetes.io/zone", operator: "In", values: [$zone[$node]]}]}]}}}
	              else
	                {local: {path: ($root + "/" + $node + "/" + .metadata.uid)},
	                 nodeAffinity: {required: {nodeSelectorTerms: [{matchExpressions: [
	                   {key: "kubernetes.io/hostname", operator: "In", values: [$node]},
	                   {key: "topology.kubernetes.io/zone", operator: "In", values: [$zone[$node]]}]}]}}}
	              end))}' "$pass_dir/pvcs" >"$pass_dir/pvs"
	[ -s "$pass_dir/pvs" ] || return 0
	jq -r '.spec.local.path // empty' "$pass_dir/pvs" | while read -r path; do mkdir -p "$path"; done
	# All of a pass's volumes in one request stream: a kubectl and three jq per volume made
	# this script the slowest part of a 6,000-claim benchmark (~3 volumes/s), for ballast
	# and the StatefulSet controller alike. A name that exists already fails alone.
	jq -s '{apiVersion: "v1", kind: "List", items: .}' "$pass_dir/pvs" |
		kubectl create -f - -o name 2>/dev/null >"$pass_dir/created" || true
	jq -r '"persistentvolume/" + .metadata.name + " " + .metadata.labels["topology.kubernetes.io/zone"]' \
		"$pass_dir/pvs" | awk -v created="$pass_dir/created" \
		'BEGIN { while ((getline l < created) > 0) ok[l] = 1 } ($1 in ok) { print $1, $2 }' |
		while read -r name zone; do log "provisioned ${name#persistentvolume/} in zone $zone"; done
	return 0
}
release_once() {
	jq -r --arg p "$PROVISIONER" '.items[]
	  | select(.metadata.annotations["pv.kubernetes.io/provisioned-by"] == $p)
	  | select(.status.phase == "Released" or .status.phase == "Failed")
	  | .metadata.name + " " + (.spec.local.path // "")' "$pass_dir/pvs-all" |
		while read -r name path; do
			if kubectl delete pv "$name" --wait=false >/dev/null 2>&1; then
				log "deleted released $name"
				# only a directory this provisioner made, under its root
				case "$path" in "$VOLUME_ROOT"/*/*) [ -n "$VOLUME_ROOT" ] && rm -rf -- "$path" ;; esac
			fi
		done
}
pass_dir=$(mktemp -d)
trap 'rm -rf "$pass_dir"' EXIT
while true; do
	if list /api/v1/persistentvolumes "$pass_dir/pvs-all"; then
		provision_once || true
		release_once || true
	fi
	sleep 1
done
