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
provision_once() {
	nodes=$(kubectl get nodes -o json 2>/dev/null || echo '{"items":[]}')
	kubectl get pvc -A -o json 2>/dev/null | jq -c --argjson nodes "$nodes" --arg p "$PROVISIONER" --arg root "$VOLUME_ROOT" '
	  ($nodes.items | map({key: .metadata.name, value: (.metadata.labels["topology.kubernetes.io/zone"] // "")}) | from_entries) as $zone
	  | .items[]
	  | select(.status.phase == "Pending")
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
	              end))}' >"$pass_dir/pvs"
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
	kubectl get pv -o json 2>/dev/null | jq -r --arg p "$PROVISIONER" '.items[]
	  | select(.metadata.annotations["pv.kubernetes.io/provisioned-by"] == $p)
	  | select(.status.phase == "Released" or .status.phase == "Failed")
	  | .metadata.name + " " + (.spec.local.path // "")' |
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
	provision_once || true
	release_once || true
	sleep 1
done
