#!/usr/bin/env bash
# tests/integration/test_psc_invalid.sh — invalid PSCs create nothing: one the API server
# refuses (replicas 0), and one only ballast can catch (a zone no node carries), which
# it reports as Degraded=True reason InvalidSpec naming the zone, Ready=False, with no
# pod, PVC, Service or ConfigMap created; fixing the spec lets the cluster proceed; a
# later invalid spec while a member is missing (and the operator restarted) still gets
# the member recreated from the last accepted spec, recorded in the cluster.
set -euo pipefail
source "$BALLAST_SOURCE_DIR/tests/integration/lib/e2e.sh"

PSC=bad

e2e_init invalid
step "CRD and operator"
e2e_apply_crd
e2e_start_operator

# ---------------------------------------------------------------------------------
step "4a. replicas 0 is refused by the API server; nothing exists"
if out=$(kubectl -n "$NS" apply -f - 2>&1 <<EOF
apiVersion: ballast.dev/v1alpha1
kind: PhysicalStatefulCluster
metadata: {name: zero}
spec: {replicas: 0, image: registry.example/fake-engine:1, storage: {size: 1Gi}}
EOF
); then
	fail "the API server accepted replicas 0: $out"
fi
grep -qF "spec.replicas" <<<"$out" || fail "the refusal does not name spec.replicas: $out"
ok "refused: $(tr '\n' ' ' <<<"$out" | cut -c1-200)"
kubectl -n "$NS" get psc zero >/dev/null 2>&1 && fail "psc/zero exists"
ok "no psc/zero"

# ---------------------------------------------------------------------------------
step "4b. zones [zone-a, zone-x] (zone-x has no nodes): Degraded=True InvalidSpec, nothing created"
kubectl -n "$NS" apply -f - <<EOF
apiVersion: ballast.dev/v1alpha1
kind: PhysicalStatefulCluster
metadata: {name: $PSC}
spec:
  replicas: 2
  image: registry.example/fake-engine:1
  zones: [zone-a, zone-x]
  storage: {size: 1Gi}
EOF
invalid_reported() { psc_caught_up "$PSC" && psc_cond_is "$PSC" Degraded True InvalidSpec; }
e2e_wait "Degraded=True reason InvalidSpec" 60 invalid_reported
msg=$(psc_cond "$PSC" Degraded message)
[[ "$msg" == *zone-x* ]] || fail "the Degraded message does not name zone-x: $msg"
ok "Degraded message: $msg"
psc_cond_is "$PSC" Ready False InvalidSpec || fail "Ready is $(psc_cond "$PSC" Ready status)/$(psc_cond "$PSC" Ready reason), want False/InvalidSpec"
ok "Ready=False reason InvalidSpec: $(psc_cond "$PSC" Ready message)"
[ -n "$(psc_cond "$PSC" Degraded lastTransitionTime)" ] || fail "Degraded has no lastTransitionTime"
events=$(kubectl -n "$NS" get events --field-selector involvedObject.kind=PhysicalStatefulCluster \
	-o jsonpath='{range .items[*]}{.type} {.reason}: {.message}{"\n"}{end}')
grep -q "^Warning InvalidSpec: .*zone-x" <<<"$events" || fail "no Warning InvalidSpec event naming zone-x; events: $events"
ok "Warning Event InvalidSpec on the PSC"
wait_reconciles "$PSC" 2 60 # looked again after reporting: a wrong operator would create now
for kind in pods pvc services configmaps poddisruptionbudgets; do
	n=$(managed_count "$kind")
	[ "$n" = 0 ] || fail "$n $kind created for an invalid spec: $(kubectl -n "$NS" get "$kind" -l "$E2E_SELECTOR" -o name)"
done
n=$(kubectl -n "$NS" get pods,pvc -o name | grep -c . || true)
[ "$n" = 0 ] || fail "$n pods/PVCs in the namespace"
ok "no pod, PVC, Service, ConfigMap or PDB was created"

step "4c. fixing the spec lifts InvalidSpec and creates the members"
kubectl -n "$NS" patch psc "$PSC" --type merge -p '{"spec":{"zones":["zone-a","zone-b"]}}' >/dev/null
fixed() { psc_caught_up "$PSC" && [ "$(psc_cond "$PSC" Degraded reason)" != InvalidSpec ]; }
e2e_wait "Degraded no longer InvalidSpec" 60 fixed
e2e_wait "2 member pods Ready" 90 pods_ready 2
[ "$(pod_zone "$PSC-0")/$(pod_zone "$PSC-1")" = "zone-a/zone-b" ] ||
	fail "members in $(pod_zone "$PSC-0")/$(pod_zone "$PSC-1"), want zone-a/zone-b"
ok "members $PSC-0 in zone-a, $PSC-1 in zone-b"

step "4d. an invalid spec while a member is missing: recreated from the last accepted spec"
rec=$(kubectl -n "$NS" get configmap "$PSC-accepted-spec" -o jsonpath='{.data.spec\.json}')
[[ "$rec" == *zone-b* ]] || fail "configmap $PSC-accepted-spec does not record the accepted spec: $rec"
ok "the accepted spec is recorded in configmap $PSC-accepted-spec"
uid0=$(kubectl -n "$NS" get pod "$PSC-0" -o jsonpath='{.metadata.uid}')
uid1=$(kubectl -n "$NS" get pod "$PSC-1" -o jsonpath='{.metadata.uid}')
# The operator is down while the spec turns invalid and the member goes: the one that
# starts next knows the accepted spec only from the cluster.
e2e_stop_operator 10
kubectl -n "$NS" patch psc "$PSC" --type merge \
	-p '{"spec":{"zones":["zone-a","zone-b","zone-x"],"image":"registry.example/fake-engine:2"}}' >/dev/null
kubectl -n "$NS" delete pod "$PSC-1" --wait=false >/dev/null
gone() { [ "$(kubectl -n "$NS" get pod "$PSC-1" -o jsonpath='{.metadata.uid}' 2>/dev/null)" != "$uid1" ]; }
e2e_wait "pod $PSC-1 gone" 60 gone
e2e_start_operator
recreated() {
	local u
	u=$(kubectl -n "$NS" get pod "$PSC-1" -o jsonpath='{.metadata.uid}' 2>/dev/null) || return 1
	[ -n "$u" ] && [ "$u" != "$uid1" ] && pods_ready 2
}
e2e_wait "$PSC-1 recreated and Ready" 90 recreated
[ "$(kubectl -n "$NS" get pod "$PSC-1" -o jsonpath='{.spec.containers[0].image}')" = registry.example/fake-engine:1 ] ||
	fail "$PSC-1 was recreated with $(kubectl -n "$NS" get pod "$PSC-1" -o jsonpath='{.spec.containers[0].image}'), not the accepted spec's image"
[ "$(pod_zone "$PSC-1")" = zone-b ] || fail "$PSC-1 recreated in $(pod_zone "$PSC-1"), want zone-b"
[ "$(kubectl -n "$NS" get pod "$PSC-0" -o jsonpath='{.metadata.uid}')" = "$uid0" ] ||
	fail "$PSC-0 was restarted under an invalid spec"
e2e_wait "Degraded=True reason InvalidSpec" 60 invalid_reported
msg=$(psc_cond "$PSC" Degraded message)
[[ "$msg" == *zone-x* && "$msg" == *"last spec it accepted"* ]] ||
	fail "the Degraded message does not name zone-x and the fallback: $msg"
ok "$PSC-1 recreated in zone-b with the accepted image, $PSC-0 untouched; Degraded: $msg"

step "7. SIGTERM: ballast exits 0"
e2e_stop_operator 10
echo "PASS: invalid PSCs create nothing and say why"
