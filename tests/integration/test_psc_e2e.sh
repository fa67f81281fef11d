#!/usr/bin/env bash
# tests/integration/test_psc_e2e.sh — the PSC's promises end to end, against the real
# control plane and the real `ballast` binary: 6 members placed round-robin over three
# zones by the real scheduler on zonal volumes; status, conditions and printer columns;
# a deleted pod comes back in its zone on its volume; 6 -> 9 -> 6 (drain-gated, volumes
# kept); a steady cluster gets no writes; SIGTERM exits 0 in seconds.
# Only the members' metrics endpoint is a test double (tests/support/fake-members.py).
set -euo pipefail
source "$BALLAST_SOURCE_DIR/tests/integration/lib/e2e.sh"

PSC=e2e
METRICS_PORT=$((20000 + $$ % 20000))
# The write counter of ballast's /metrics, and its label selector for writes.
WRITE_METRIC="${E2E_WRITE_METRIC:-ballast_api_requests_total}"
WRITE_LABELS="${E2E_WRITE_LABELS:-verb=\"(POST|PUT|PATCH|DELETE|create|update|patch|delete)\"}"

ready_and_stable() { psc_ready "$PSC" && psc_cond_is "$PSC" Resizing False; }

e2e_init e2e
step "CRD, healthy fake metrics, operator"
e2e_apply_crd
e2e_fake_metrics default.prom "$E2E_HEALTHY_METRICS"
e2e_start_fake_members "$METRICS_PORT"
e2e_start_operator

# ---------------------------------------------------------------------------------
step "1. a 6-member PSC over zone-a/b/c becomes Ready"
kubectl -n "$NS" apply -f - <<EOF
apiVersion: ballast.dev/v1alpha1
kind: PhysicalStatefulCluster
metadata: {name: $PSC}
spec:
  replicas: 6
  image: registry.example/fake-engine:1
  zones: [zone-a, zone-b, zone-c]
  config: {num.partitions: "6"}
  storage: {size: 1Gi}
  listeners: {client: 9092}
  health:
    metricsPort: $METRICS_PORT
    metricsPath: /metrics
    gates:
      - {metric: kafka_server_replicamanager_underreplicatedpartitions, max: 0}
      - {metric: kafka_controller_kafkacontroller_offlinepartitionscount, max: 0}
    rollTimeoutSeconds: 120
EOF
e2e_wait "6 member pods Ready" 120 pods_ready 6
e2e_wait "PSC $PSC Ready=True for its generation" 120 psc_ready "$PSC"
e2e_operator_alive

# Every member's pod, PVC and node agree on one zone, and it is the round-robin one.
zones=(zone-a zone-b zone-c)
declare -A ZONE_OF=()
for i in 0 1 2 3 4 5; do
	pod="$PSC-$i" want=${zones[$((i % 3))]}
	pvc_zone=$(kubectl -n "$NS" get pvc "data-$pod" -o jsonpath='{.metadata.labels.topology\.kubernetes\.io/zone}')
	node_zone=$(pod_zone "$pod")
	claim=$(kubectl -n "$NS" get pod "$pod" -o jsonpath='{.spec.volumes[?(@.name=="data")].persistentVolumeClaim.claimName}')
	phase=$(kubectl -n "$NS" get pvc "data-$pod" -o jsonpath='{.status.phase}')
	[ "$pvc_zone" = "$want" ] || fail "PVC data-$pod has zone label \"$pvc_zone\", want $want"
	[ "$node_zone" = "$want" ] || fail "pod $pod runs on a node of zone \"$node_zone\", want $want"
	[ "$claim" = "data-$pod" ] || fail "pod $pod mounts claim \"$claim\", want data-$pod"
	[ "$phase" = Bound ] || fail "PVC data-$pod is $phase, want Bound"
	ZONE_OF[$pod]=$want
done
ok "members 0..5 run in zones a,b,c,a,b,c (node zone = PVC label), each on its Bound PVC"

placement=$(psc_get "$PSC" '{.status.placement}' | jq -cS .)
want='{"zone-a":{"pods":["e2e-0","e2e-3"]},"zone-b":{"pods":["e2e-1","e2e-4"]},"zone-c":{"pods":["e2e-2","e2e-5"]}}'
[ "$placement" = "$want" ] || fail "status.placement is $placement, want $want"
ok "status.placement = $placement"

[ "$(psc_get "$PSC" '{.status.replicas}/{.status.readyReplicas}')" = "6/6" ] ||
	fail "status replicas/readyReplicas = $(psc_get "$PSC" '{.status.replicas}/{.status.readyReplicas}'), want 6/6"
rev=$(psc_get "$PSC" '{.status.updateRevision}')
[ -n "$rev" ] && [ "$(psc_get "$PSC" '{.status.currentRevision}')" = "$rev" ] ||
	fail "currentRevision \"$(psc_get "$PSC" '{.status.currentRevision}')\" != updateRevision \"$rev\""
ok "status.replicas 6, readyReplicas 6, currentRevision = updateRevision = $rev"

for t in Ready Resizing Rolling Degraded; do
	for f in status reason message lastTransitionTime observedGeneration; do
		[ -n "$(psc_cond "$PSC" "$t" "$f")" ] || fail "condition $t has no $f: $(psc_get "$PSC" '{.status.conditions}')"
	done
done
psc_cond_is "$PSC" Ready True AllMembersReady || fail "Ready: $(psc_cond "$PSC" Ready reason)"
psc_cond_is "$PSC" Degraded False || fail "Degraded is True: $(psc_cond "$PSC" Degraded message)"
psc_cond_is "$PSC" Resizing False || fail "Resizing is True: $(psc_cond "$PSC" Resizing message)"
psc_cond_is "$PSC" Rolling False || fail "Rolling is True: $(psc_cond "$PSC" Rolling message)"
ok "Ready=True ($(psc_cond "$PSC" Ready reason): $(psc_cond "$PSC" Ready message)); Degraded, Resizing, Rolling False; each with reason, message, lastTransitionTime, observedGeneration"
gen=$(psc_get "$PSC" '{.metadata.generation}')
[ "$(psc_get "$PSC" '{.status.observedGeneration}')" = "$gen" ] || fail "observedGeneration != generation $gen"
ok "observedGeneration = generation = $gen"

rev=$(psc_get "$PSC" '{.status.currentRevision}')
for k in configmap/$PSC-config-$rev service/$PSC-headless poddisruptionbudget/$PSC; do
	kubectl -n "$NS" get "$k" >/dev/null || fail "$k is missing"
done
for i in 0 1 2 3 4 5; do kubectl -n "$NS" get "service/$PSC-$i" >/dev/null || fail "service $PSC-$i is missing"; done
owner=$(kubectl -n "$NS" get pod "$PSC-0" -o jsonpath='{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}/{.metadata.ownerReferences[0].controller}')
[ "$owner" = "PhysicalStatefulCluster/$PSC/true" ] || fail "pod $PSC-0 owner reference: $owner"
ok "ConfigMap $PSC-config-$rev, headless Service, PDB and 6 member Services exist; children are owned by the PSC"

table=$(kubectl -n "$NS" get psc "$PSC")
echo "$table"
[ "$(head -1 <<<"$table" | tr -s ' ')" = "NAME REPLICAS READY ROLLING AGE" ] || fail "printer columns: $(head -1 <<<"$table")"
[ "$(sed -n 2p <<<"$table" | tr -s ' ' | cut -d' ' -f1-4)" = "$PSC 6 6 False" ] ||
	fail "printer row: \"$(sed -n 2p <<<"$table")\", want \"$PSC 6 6 False ...\""
ok "kubectl get psc shows NAME REPLICAS READY ROLLING AGE = $PSC 6 6 False"

# ---------------------------------------------------------------------------------
step "5. steady state: a reconcile of the unchanged PSC writes nothing"
writes_before=$(e2e_metric_sum "$WRITE_METRIC" "$WRITE_LABELS")
[ "$writes_before" -gt 0 ] ||
	fail "$WRITE_METRIC{$WRITE_LABELS} is $writes_before after creating a cluster: the counter is missing or wrong; /metrics says: $(e2e_metrics | grep -v '^#' | head -40)"
children_rv() {
	kubectl -n "$NS" get pods,pvc,svc,cm,pdb -l "$E2E_SELECTOR" \
		-o jsonpath='{range .items[*]}{.kind}/{.metadata.name}={.metadata.resourceVersion}{"\n"}{end}' | sort
}
rv_children=$(children_rv)
reconciles_before=$(e2e_reconciles "$PSC")
kubectl -n "$NS" annotate psc "$PSC" "e2e.ballast.dev/touch=$RANDOM" --overwrite >/dev/null
psc_rv=$(psc_get "$PSC" '{.metadata.resourceVersion}')
[ "$(psc_get "$PSC" '{.metadata.generation}')" = "$gen" ] || fail "an annotation bumped the generation"
# two passes: at least one began after the annotation, and would have written by now
wait_reconciles "$PSC" 2 60 "$reconciles_before"
psc_rv=${E2E_POKED_RV:-$psc_rv} # the helper's own annotation, when it poked
writes_after=$(e2e_metric_sum "$WRITE_METRIC" "$WRITE_LABELS")
[ "$writes_after" = "$writes_before" ] ||
	fail "steady state wrote: $WRITE_METRIC went $writes_before -> $writes_after; log: $(tail -n 20 "$E2E_OP_LOG")"
[ "$(psc_get "$PSC" '{.metadata.resourceVersion}')" = "$psc_rv" ] ||
	fail "the PSC was written after the annotation (status write?): $(psc_get "$PSC" '{.status}')"
[ "$(children_rv)" = "$rv_children" ] ||
	fail "children changed in steady state: $(diff <(echo "$rv_children") <(children_rv))"
ok "after a reconcile of the unchanged PSC: writes $writes_before -> $writes_after, PSC and children untouched"

# ---------------------------------------------------------------------------------
step "2. a deleted pod comes back in its zone, on the same PVC"
victim="$PSC-1"
old_pod_uid=$(kubectl -n "$NS" get pod "$victim" -o jsonpath='{.metadata.uid}')
pvc_uid=$(kubectl -n "$NS" get pvc "data-$victim" -o jsonpath='{.metadata.uid}')
pv=$(kubectl -n "$NS" get pvc "data-$victim" -o jsonpath='{.spec.volumeName}')
kubectl -n "$NS" delete pod "$victim" --wait=false >/dev/null
new_pod() {
	local uid
	uid=$(kubectl -n "$NS" get pod "$victim" -o jsonpath='{.metadata.uid}') || return 1
	[ -n "$uid" ] && [ "$uid" != "$old_pod_uid" ]
}
e2e_wait "pod $victim recreated (new uid)" 60 new_pod
e2e_wait "6 member pods Ready again" 60 pods_ready 6
[ "$(pod_zone "$victim")" = "${ZONE_OF[$victim]}" ] || fail "$victim came back in zone $(pod_zone "$victim"), was ${ZONE_OF[$victim]}"
[ "$(kubectl -n "$NS" get pvc "data-$victim" -o jsonpath='{.metadata.uid}')" = "$pvc_uid" ] ||
	fail "PVC data-$victim was replaced (uid changed)"
[ "$(kubectl -n "$NS" get pvc "data-$victim" -o jsonpath='{.spec.volumeName}')" = "$pv" ] ||
	fail "PVC data-$victim is bound to another volume"
[ "$(kubectl -n "$NS" get pod "$victim" -o jsonpath='{.spec.volumes[?(@.name=="data")].persistentVolumeClaim.claimName}')" = "data-$victim" ] ||
	fail "the new $victim does not mount data-$victim"
ok "$victim is back in ${ZONE_OF[$victim]} on PVC data-$victim (uid $pvc_uid, volume $pv)"
e2e_wait "PSC Ready=True again" 90 psc_ready "$PSC"
events=$(kubectl -n "$NS" get events --field-selector "involvedObject.kind=PhysicalStatefulCluster" \
	-o jsonpath='{range .items[*]}{.reason}: {.message}{"\n"}{end}')
grep -q "^MemberRecreated: .*$victim" <<<"$events" || fail "no MemberRecreated event for $victim; events: $events"
ok "Event MemberRecreated on the PSC: $(grep "^MemberRecreated" <<<"$events" | head -1)"

# ---------------------------------------------------------------------------------
step "3. scale 6 -> 9: Resizing=True, then Ready; new members round-robin"
kubectl -n "$NS" get psc "$PSC" --watch \
	-o jsonpath='{.metadata.generation} {.status.observedGeneration} Resizing={.status.conditions[?(@.type=="Resizing")].status}/{.status.conditions[?(@.type=="Resizing")].reason}{"\n"}' \
	>"$E2E_TMP/resizing.watch" 2>&1 &
watch_pid=$!
e2e_wait "the watch printed the PSC as it is" 30 test -s "$E2E_TMP/resizing.watch"
kubectl -n "$NS" patch psc "$PSC" --type merge -p '{"spec":{"replicas":9}}' >/dev/null
gen=$(psc_get "$PSC" '{.metadata.generation}')
e2e_wait "9 member pods Ready" 120 pods_ready 9
e2e_wait "PSC Ready=True and Resizing=False for generation $gen" 120 ready_and_stable
kill "$watch_pid" 2>/dev/null || true
wait "$watch_pid" 2>/dev/null || true
grep -q "^$gen $gen Resizing=True/ScalingUp" "$E2E_TMP/resizing.watch" ||
	fail "Resizing=True (ScalingUp) for generation $gen was never written; the watch saw: $(cat "$E2E_TMP/resizing.watch")"
ok "Resizing=True/ScalingUp was written for generation $gen, then Ready=True with Resizing=False ($(psc_cond "$PSC" Resizing reason))"
for i in 6 7 8; do
	want=${zones[$((i % 3))]}
	[ "$(pod_zone "$PSC-$i")" = "$want" ] || fail "$PSC-$i runs in zone $(pod_zone "$PSC-$i"), want $want"
	[ "$(kubectl -n "$NS" get pvc "data-$PSC-$i" -o jsonpath='{.metadata.labels.topology\.kubernetes\.io/zone}')" = "$want" ] ||
		fail "PVC data-$PSC-$i is not labelled zone $want"
done
placement=$(psc_get "$PSC" '{.status.placement}' | jq -cS .)
want='{"zone-a":{"pods":["e2e-0","e2e-3","e2e-6"]},"zone-b":{"pods":["e2e-1","e2e-4","e2e-7"]},"zone-c":{"pods":["e2e-2","e2e-5","e2e-8"]}}'
[ "$placement" = "$want" ] || fail "status.placement is $placement, want $want"
ok "e2e-6 -> zone-a, e2e-7 -> zone-b, e2e-8 -> zone-c; placement $placement"

# ---------------------------------------------------------------------------------
step "3b. scale 9 -> 6: a member that still hosts partitions is not removed"
e2e_fake_metrics "$PSC-8.prom" "${E2E_HEALTHY_METRICS/kafka_server_replicamanager_partitioncount 0/kafka_server_replicamanager_partitioncount 4}"
pod8_uid=$(kubectl -n "$NS" get pod "$PSC-8" -o jsonpath='{.metadata.uid}')
kubectl -n "$NS" patch psc "$PSC" --type merge -p '{"spec":{"replicas":6}}' >/dev/null
waiting_for_drain() {
	psc_cond_is "$PSC" Resizing True WaitingForDrain && [[ "$(psc_cond "$PSC" Resizing message)" == *"$PSC-8"* ]]
}
e2e_wait "Resizing=True reason WaitingForDrain naming $PSC-8" 60 waiting_for_drain
ok "message: $(psc_cond "$PSC" Resizing message)"
wait_reconciles "$PSC" 2 60 # ballast looked again, twice, after saying it waits
[ "$(kubectl -n "$NS" get pod "$PSC-8" -o jsonpath='{.metadata.uid}')" = "$pod8_uid" ] || fail "$PSC-8 was removed while it hosts partitions"
[ "$(kubectl -n "$NS" get pod "$PSC-8" -o jsonpath='{.metadata.deletionTimestamp}')" = "" ] || fail "$PSC-8 is being deleted while it hosts partitions"
ok "$PSC-8 still runs while it reports 4 partitions"

step "3c. once drained, members 8, 7, 6 are removed; their volumes are kept"
rm -f "$E2E_METRICS_DIR/$PSC-8.prom"
e2e_wait "6 member pods Ready" 120 pods_ready 6
e2e_wait "PSC Ready=True, Resizing=False" 120 ready_and_stable
for i in 6 7 8; do
	kubectl -n "$NS" get pod "$PSC-$i" >/dev/null 2>&1 && fail "pod $PSC-$i still exists"
	kubectl -n "$NS" get service "$PSC-$i" >/dev/null 2>&1 && fail "service $PSC-$i still exists"
	kubectl -n "$NS" get pvc "data-$PSC-$i" >/dev/null || fail "PVC data-$PSC-$i was deleted (deleteClaimOnScaleDown is false)"
done
placement=$(psc_get "$PSC" '{.status.placement}' | jq -cS .)
want='{"zone-a":{"pods":["e2e-0","e2e-3"]},"zone-b":{"pods":["e2e-1","e2e-4"]},"zone-c":{"pods":["e2e-2","e2e-5"]}}'
[ "$placement" = "$want" ] || fail "status.placement is $placement, want $want"
ok "members 6..8 removed (pods and Services), PVCs data-$PSC-6..8 kept; placement $placement"

# ---------------------------------------------------------------------------------
step "7. SIGTERM: ballast exits 0 within a few seconds"
e2e_operator_alive
e2e_stop_operator 10
grep -qiE 'AddressSanitizer|runtime error' "$E2E_OP_LOG" && fail "sanitizer report in the operator log"
ok "no sanitizer report in the operator log"

echo "PASS: PSC end to end (placement, status, recreate, scale up/down, steady state, SIGTERM)"
