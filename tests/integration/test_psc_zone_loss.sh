#!/usr/bin/env bash
# tests/integration/test_psc_zone_loss.sh — losing a zone must not freeze the rest of the
# cluster. When every node of zone-c goes away (a zone outage: the cloud's node
# controller deletes the Node objects), the PSC reports it, and a member that goes
# missing in a healthy zone is still recreated there ("a missing pod is always
# recreated"). When the zone's nodes return, the cluster becomes Ready again.
# Deletes and re-creates the kwok nodes of zone-c; they are restored on exit, pass or fail.
set -euo pipefail
source "$BALLAST_SOURCE_DIR/tests/integration/lib/e2e.sh"

PSC=zl
METRICS_PORT=$((20000 + $$ % 20000))
LOST_ZONE=zone-c # one of the zones e2e_ready_psc spreads the members over

e2e_init zoneloss
e2e_ready_psc "$PSC" 3 "$METRICS_PORT"

# ---------------------------------------------------------------------------------
step "the nodes of $LOST_ZONE go away"
kubectl get nodes -l "topology.kubernetes.io/zone=$LOST_ZONE" -o json |
	jq '{apiVersion: "v1", kind: "List", items: [.items[] | {apiVersion, kind,
	     metadata: {name: .metadata.name, labels: .metadata.labels, annotations: .metadata.annotations},
	     status: {allocatable: .status.allocatable, capacity: .status.capacity}}]}' >"$E2E_TMP/lost-nodes.json"
[ "$(jq '.items | length' "$E2E_TMP/lost-nodes.json")" -gt 0 ] || fail "no node carries zone $LOST_ZONE"
nodes_back() {
	local n want
	want=$(jq '.items | length' "$E2E_TMP/lost-nodes.json")
	n=$(kubectl get nodes -l "topology.kubernetes.io/zone=$LOST_ZONE" --no-headers 2>/dev/null | grep -cw Ready || true)
	[ "$n" -ge "$want" ] &&
		! kubectl get nodes -l "topology.kubernetes.io/zone=$LOST_ZONE" -o jsonpath='{.items[*].spec.taints}' | grep -q not-ready
}
restore_nodes() {
	kubectl apply -f "$E2E_TMP/lost-nodes.json" >/dev/null
	local t0=$SECONDS
	until nodes_back; do
		[ $((SECONDS - t0)) -lt 60 ] || {
			log "WARNING: the nodes of $LOST_ZONE are not Ready 60s after restoring them"
			return 1
		}
		sleep 0.5
	done
	log "nodes of $LOST_ZONE restored"
}
e2e_defer 'nodes_back || restore_nodes'
kubectl delete nodes -l "topology.kubernetes.io/zone=$LOST_ZONE" --wait=false >/dev/null
zone_loss_reported() {
	psc_cond_is "$PSC" Degraded True && [[ "$(psc_cond "$PSC" Degraded message)" == *"$LOST_ZONE"* ]]
}
e2e_wait "Degraded=True naming $LOST_ZONE" 60 zone_loss_reported
ok "Degraded: $(psc_cond "$PSC" Degraded reason): $(psc_cond "$PSC" Degraded message)"

step "a member that goes missing in a healthy zone is still recreated there"
old_uid=$(kubectl -n "$NS" get pod "$PSC-0" -o jsonpath='{.metadata.uid}')
kubectl -n "$NS" delete pod "$PSC-0" --wait=false >/dev/null
recreated() {
	local uid
	uid=$(kubectl -n "$NS" get pod "$PSC-0" -o jsonpath='{.metadata.uid}' 2>/dev/null) || return 1
	[ -n "$uid" ] && [ "$uid" != "$old_uid" ] && [ "$(pod_zone "$PSC-0")" = zone-a ]
}
e2e_wait "$PSC-0 recreated in zone-a while $LOST_ZONE has no nodes" 45 recreated

# ---------------------------------------------------------------------------------
step "the nodes of $LOST_ZONE come back: the cluster is Ready again"
restore_nodes
e2e_wait "3 member pods Ready" 120 pods_ready 3
e2e_wait "PSC Ready=True" 120 psc_ready "$PSC"
[ "$(pod_zone "$PSC-2")" = "$LOST_ZONE" ] || fail "$PSC-2 runs in zone $(pod_zone "$PSC-2"), want $LOST_ZONE (its volume is there)"
ok "$PSC-2 is back in $LOST_ZONE"

step "7. SIGTERM: ballast exits 0"
e2e_stop_operator 10
echo "PASS: losing a zone is reported and does not stop the other zones' members from being recreated"
