#!/usr/bin/env bash
# tests/integration/test_psc_paused.sh — a paused PSC is observed and reported, never
# changed: a deleted pod is not recreated and the status says so (Degraded=True
# MemberMissing, naming the pause), a new image does not roll; the annotation
# ballast.dev/paused: "true" pauses as spec.paused does; unpausing recreates the member.
set -euo pipefail
source "$BALLAST_SOURCE_DIR/tests/integration/lib/e2e.sh"

PSC=frozen
METRICS_PORT=$((20000 + $$ % 20000))

e2e_init paused
e2e_ready_psc "$PSC" 3 "$METRICS_PORT"
rev=$(kubectl -n "$NS" get pod "$PSC-0" -o jsonpath='{.metadata.labels.ballast\.dev/revision}')

# ---------------------------------------------------------------------------------
step "6a. spec.paused=true: a deleted pod is not recreated, and the status says why"
kubectl -n "$NS" patch psc "$PSC" --type merge -p '{"spec":{"paused":true}}' >/dev/null
e2e_wait "status caught up with paused=true" 30 psc_caught_up "$PSC"
kubectl -n "$NS" delete pod "$PSC-1" --wait=false >/dev/null
pod_gone() { ! kubectl -n "$NS" get pod "$PSC-1" >/dev/null 2>&1; }
e2e_wait "pod $PSC-1 gone" 30 pod_gone
missing_reported() {
	psc_cond_is "$PSC" Degraded True MemberMissing &&
		[[ "$(psc_cond "$PSC" Degraded message)" == *"$PSC-1"*paused* ]]
}
e2e_wait "Degraded=True MemberMissing naming $PSC-1 and the pause" 30 missing_reported
ok "Degraded: $(psc_cond "$PSC" Degraded message)"
psc_cond_is "$PSC" Ready False || fail "Ready is still True with a member missing"
[ "$(psc_get "$PSC" '{.status.replicas}/{.status.readyReplicas}')" = "2/2" ] ||
	fail "status replicas/readyReplicas = $(psc_get "$PSC" '{.status.replicas}/{.status.readyReplicas}'), want 2/2"
wait_reconciles "$PSC" 2 60 # looked again after reporting, and still paused
pod_gone || fail "$PSC-1 was recreated while paused"
ok "$PSC-1 stays missing while paused; Ready=False, replicas 2/2"

step "6b. a new image does not roll while paused"
kubectl -n "$NS" patch psc "$PSC" --type merge -p '{"spec":{"image":"registry.example/fake-engine:2"}}' >/dev/null
rolling_paused() { psc_caught_up "$PSC" && psc_cond_is "$PSC" Rolling False Paused; }
e2e_wait "Rolling=False reason Paused" 30 rolling_paused
ok "Rolling: $(psc_cond "$PSC" Rolling message)"
wait_reconciles "$PSC" 2 60
for i in 0 2; do
	[ "$(kubectl -n "$NS" get pod "$PSC-$i" -o jsonpath='{.metadata.labels.ballast\.dev/revision}')" = "$rev" ] ||
		fail "$PSC-$i was restarted onto the new image while paused"
	[ -z "$(kubectl -n "$NS" get pod "$PSC-$i" -o jsonpath='{.metadata.deletionTimestamp}')" ] ||
		fail "$PSC-$i is being deleted while paused"
done
ok "members keep revision $rev while paused"
kubectl -n "$NS" patch psc "$PSC" --type merge -p '{"spec":{"image":"registry.example/fake-engine:1"}}' >/dev/null

step "6c. the annotation ballast.dev/paused=true pauses as spec.paused does"
kubectl -n "$NS" annotate psc "$PSC" ballast.dev/paused=true --overwrite >/dev/null
kubectl -n "$NS" patch psc "$PSC" --type merge -p '{"spec":{"paused":false}}' >/dev/null
e2e_wait "status caught up with spec.paused=false" 30 psc_caught_up "$PSC"
wait_reconciles "$PSC" 2 60
pod_gone || fail "$PSC-1 was recreated although the annotation ballast.dev/paused=true is set"
missing_reported || fail "with the annotation, Degraded should still name the pause: $(psc_cond "$PSC" Degraded message)"
ok "still paused by the annotation"

step "6d. unpaused: the member is recreated in its zone on its volume"
pvc_uid=$(kubectl -n "$NS" get pvc "data-$PSC-1" -o jsonpath='{.metadata.uid}')
kubectl -n "$NS" annotate psc "$PSC" ballast.dev/paused- >/dev/null
e2e_wait "3 member pods Ready" 60 pods_ready 3
[ "$(pod_zone "$PSC-1")" = zone-b ] || fail "$PSC-1 came back in zone $(pod_zone "$PSC-1"), want zone-b"
[ "$(kubectl -n "$NS" get pvc "data-$PSC-1" -o jsonpath='{.metadata.uid}')" = "$pvc_uid" ] || fail "PVC data-$PSC-1 was replaced"
e2e_wait "PSC Ready=True" 90 psc_ready "$PSC"
psc_cond_is "$PSC" Degraded False || fail "Degraded: $(psc_cond "$PSC" Degraded message)"
ok "$PSC-1 recreated in zone-b on PVC uid $pvc_uid; Ready=True, Degraded=False"

step "7. SIGTERM: ballast exits 0"
e2e_stop_operator 10
echo "PASS: a paused PSC changes nothing and says so; unpausing resumes"
