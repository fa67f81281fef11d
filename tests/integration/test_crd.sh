#!/usr/bin/env bash
# tests/integration/test_crd.sh — the PhysicalStatefulCluster CRD against a real API server:
# it is accepted and structural, documents every field (kubectl explain), accepts the
# shipped samples, rejects invalid objects with a message naming the field, applies the
# same defaults as psc_parse, guards storageClassName on update, and shows its columns.
set -euo pipefail
source "$BALLAST_SOURCE_DIR/hack/lib.sh"
: "${KUBECONFIG:?KUBECONFIG must point at the local cluster}"

CRD_FILE="$BALLAST_SOURCE_DIR/crds/ballast.dev_physicalstatefulclusters.yaml"
CRD=physicalstatefulclusters.ballast.dev
SAMPLES="$BALLAST_SOURCE_DIR/crds/samples"
NS="crd-$(date +%s)-$$"

cleanup() {
	kubectl delete namespace "$NS" --wait=false >/dev/null 2>&1 || true
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
ok() { echo "ok: $*"; }

# expect_reject NAME WANT SPEC — a PSC with this spec (YAML flow) must be refused by the
# API server, and the refusal must contain WANT (which names the field).
expect_reject() {
	local name=$1 want=$2 spec=$3 out
	if out=$(kubectl -n "$NS" apply --dry-run=server -f - 2>&1 <<EOF
apiVersion: ballast.dev/v1alpha1
kind: PhysicalStatefulCluster
metadata: {name: ${PSC_NAME:-bad}}
spec: $spec
EOF
	); then
		fail "$name: the API server accepted it: $out"
	fi
	grep -qF -- "$want" <<<"$out" || fail "$name: rejected, but the message lacks \"$want\": $out"
	ok "$name rejected: $(tr '\n' ' ' <<<"$out" | cut -c1-160)"
}

# expect_jsonpath OBJ PATH WANT — kubectl get OBJ -o jsonpath=PATH prints WANT.
expect_jsonpath() {
	local got
	got=$(kubectl -n "$NS" get "$1" -o jsonpath="$2")
	[ "$got" = "$3" ] || fail "$1 $2: got \"$got\", want \"$3\""
	ok "$1 $2 = $got"
}

step "apply the CRD and wait until it is Established"
kubectl apply -f "$CRD_FILE"
kubectl wait --for=condition=Established "crd/$CRD" --timeout=60s
conds=$(kubectl get crd "$CRD" -o jsonpath='{range .status.conditions[*]}{.type}={.status} {end}')
echo "CRD conditions: $conds"
grep -q 'NonStructuralSchema=True' <<<"$conds" && fail "the schema is not structural: $conds"
ok "Established, structural"

step "names: short name psc, category ballast, namespaced, v1alpha1 served and stored"
expect_crd() {
	local got
	got=$(kubectl get crd "$CRD" -o jsonpath="$1")
	[ "$got" = "$2" ] || fail "CRD $1: got \"$got\", want \"$2\""
	ok "CRD $1 = $got"
}
expect_crd '{.spec.names.shortNames}' '["psc"]'
expect_crd '{.spec.names.categories}' '["ballast"]'
expect_crd '{.spec.scope}' 'Namespaced'
expect_crd '{.spec.versions[0].name}/{.spec.versions[0].served}/{.spec.versions[0].storage}' \
	'v1alpha1/true/true'
expect_crd '{.spec.versions[0].subresources.status}' '{}'

step "every field of the schema has a description"
kubectl get crd "$CRD" -o json | python3 -c '
import json, sys
crd = json.load(sys.stdin)
schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
missing, count = [], 0
def visit(node, path):
    global count
    count += 1
    # metadata is ObjectMeta: the API server forbids describing it in a CRD.
    if path != "metadata" and not node.get("description"):
        missing.append(path or "<root>")
    for name, sub in (node.get("properties") or {}).items():
        visit(sub, (path + "." if path else "") + name)
    if isinstance(node.get("additionalProperties"), dict):
        visit(node["additionalProperties"], path + ".<key>")
    if isinstance(node.get("items"), dict):
        visit(node["items"], path + "[]")
visit(schema, "")
if missing:
    print("fields without a description: " + ", ".join(missing))
    sys.exit(1)
print("ok: all %d schema nodes have a description" % count)
' || fail "some fields have no description (see above)"

step "kubectl explain teaches the health gate"
# Established does not mean discovery has caught up: the aggregated discovery
# document can lag the condition, and kubectl then says "doesn't have a resource
# type". Wait for discovery (bounded), then explain.
deadline=$((SECONDS + 30))
until explain=$(kubectl explain psc.spec.health 2>&1); do
	((SECONDS < deadline)) || fail "kubectl explain psc.spec.health failed for 30 s: $explain"
	sleep 1
done
for word in metricsPort metricsPath gates drainedMetric rollTimeoutSeconds 9404; do
	grep -q "$word" <<<"$explain" || fail "kubectl explain psc.spec.health does not mention $word: $explain"
done
ok "kubectl explain psc.spec.health mentions metricsPort, metricsPath, gates, drainedMetric, rollTimeoutSeconds"
# (captured first: with pipefail, grep -q closing the pipe early would fail kubectl)
explain=$(kubectl explain psc.spec.health.gates)
grep -q "metric" <<<"$explain" || fail "kubectl explain psc.spec.health.gates lacks metric: $explain"
explain=$(kubectl explain psc.status.conditions)
grep -q "lastTransitionTime" <<<"$explain" ||
	fail "kubectl explain psc.status.conditions lacks lastTransitionTime: $explain"
ok "kubectl explain psc.spec.health.gates and psc.status.conditions document their fields"

step "the samples are accepted (server dry-run) in a fresh namespace"
kubectl create namespace "$NS"
for f in "$SAMPLES"/*.yaml; do
	out=$(kubectl -n "$NS" apply --dry-run=server -f "$f" 2>&1) || fail "sample $(basename "$f") rejected: $out"
	ok "sample $(basename "$f"): $out"
done

step "invalid objects are rejected by the API server with a message naming the field"
expect_reject "replicas 0" "spec.replicas: Invalid value: 0" '{replicas: 0, image: x, storage: {size: 1Gi}}'
expect_reject "replicas 1001" "spec.replicas" '{replicas: 1001, image: x, storage: {size: 1Gi}}'
expect_reject "no image" "spec.image: Required value" '{replicas: 1, storage: {size: 1Gi}}'
expect_reject "no storage" "spec.storage: Required value" '{replicas: 1, image: x}'
expect_reject "bad zone name" 'spec.zones[1]: Invalid value: "zone a"' \
	'{replicas: 1, image: x, storage: {size: 1Gi}, zones: [zone-a, "zone a"]}'
expect_reject "duplicate zone" 'spec.zones[1]: Duplicate value: "zone-a"' \
	'{replicas: 1, image: x, storage: {size: 1Gi}, zones: [zone-a, zone-a]}'
expect_reject "gate without metric" "spec.health.gates[0].metric: Required value" \
	'{replicas: 1, image: x, storage: {size: 1Gi}, health: {gates: [{max: 0}]}}'
expect_reject "gate without max" "spec.health.gates[0].max: Required value" \
	'{replicas: 1, image: x, storage: {size: 1Gi}, health: {gates: [{metric: up}]}}'
expect_reject "two gates on one metric" "spec.health.gates[1]: Duplicate value" \
	'{replicas: 1, image: x, storage: {size: 1Gi}, health: {gates: [{metric: up, max: 0}, {metric: up, max: 1}]}}'
expect_reject "empty gate list" "spec.health.gates" \
	'{replicas: 1, image: x, storage: {size: 1Gi}, health: {gates: []}}'
expect_reject "gate metric not a metric name" "spec.health.gates[0].metric" \
	'{replicas: 1, image: x, storage: {size: 1Gi}, health: {gates: [{metric: "up{job=1}", max: 0}]}}'
expect_reject "storage size not a quantity" 'spec.storage.size: Invalid value: "10GB"' \
	'{replicas: 1, image: x, storage: {size: 10GB}}'
expect_reject "storage size zero" "size must be greater than zero" \
	'{replicas: 1, image: x, storage: {size: "0"}}'
expect_reject "config value not a string" "spec.config.num.partitions" \
	'{replicas: 1, image: x, storage: {size: 1Gi}, config: {num.partitions: 6}}'
expect_reject "listener port 0" "spec.listeners.client: Invalid value: 0" \
	'{replicas: 1, image: x, storage: {size: 1Gi}, listeners: {client: 0}}'
expect_reject "listener port 65536" "spec.listeners.client" \
	'{replicas: 1, image: x, storage: {size: 1Gi}, listeners: {client: 65536}}'
expect_reject "two listeners on one port" "each listener needs a port of its own" \
	'{replicas: 1, image: x, storage: {size: 1Gi}, listeners: {client: 9092, other: 9092}}'
expect_reject "listener name not a port name" "listener names must be port names" \
	'{replicas: 1, image: x, storage: {size: 1Gi}, listeners: {Client_1: 9092}}'
expect_reject "metrics port on a listener port" "spec.health.metricsPort" \
	'{replicas: 1, image: x, storage: {size: 1Gi}, listeners: {client: 9404}}'
expect_reject "metricsPort 0" "spec.health.metricsPort" \
	'{replicas: 1, image: x, storage: {size: 1Gi}, health: {metricsPort: 0}}'
PSC_NAME=a2345678901234567890123456789012345678901234567890123 expect_reject "name too long" \
	"metadata.name must be a DNS-1035 label" '{replicas: 1, image: x, storage: {size: 1Gi}}'

step "defaults are applied by the API server (and equal psc_parse's)"
kubectl -n "$NS" apply -f "$SAMPLES/minimal.yaml"
expect_jsonpath psc/minimal '{.spec.health.metricsPort}' 9404
expect_jsonpath psc/minimal '{.spec.health.metricsPath}' /metrics
expect_jsonpath psc/minimal '{.spec.health.gates[*].metric}' \
	'kafka_server_replicamanager_underreplicatedpartitions kafka_controller_kafkacontroller_offlinepartitionscount'
expect_jsonpath psc/minimal '{.spec.health.gates[*].max}' '0 0'
expect_jsonpath psc/minimal '{.spec.health.drainedMetric}' kafka_server_replicamanager_partitioncount
expect_jsonpath psc/minimal '{.spec.health.rollTimeoutSeconds}' 900
expect_jsonpath psc/minimal '{.spec.listeners}' '{"client":9092}'
expect_jsonpath psc/minimal '{.spec.storage.deleteClaimOnScaleDown}' false
expect_jsonpath psc/minimal '{.spec.paused}' false

step "storageClassName cannot change on update"
kubectl -n "$NS" apply -f "$SAMPLES/orders.yaml"
if out=$(kubectl -n "$NS" patch psc orders --type merge \
	-p '{"spec":{"storage":{"storageClassName":"other"}}}' 2>&1); then
	fail "storageClassName change was accepted: $out"
fi
grep -qF "storageClassName cannot change" <<<"$out" || fail "unexpected rejection: $out"
ok "storageClassName change rejected: $out"
kubectl -n "$NS" patch psc orders --type merge -p '{"spec":{"storage":{"size":"200Gi"}}}' >/dev/null
ok "storage size may grow"

step "the status subresource takes status; printer columns show it"
kubectl -n "$NS" patch psc orders --subresource=status --type merge -p '{"status":{
  "observedGeneration":1,"replicas":6,"readyReplicas":5,
  "currentRevision":"7c9f2d1","updateRevision":"8a1b3c4",
  "placement":{"us-west-2a":{"pods":["orders-0","orders-3"]}},
  "conditions":[
    {"type":"Ready","status":"False","reason":"MemberNotReady","message":"orders-4 is not ready",
     "observedGeneration":1,"lastProbeTime":"2026-11-24T07:00:00Z","lastTransitionTime":"2026-11-24T07:00:00Z"},
    {"type":"Rolling","status":"True","reason":"RollBlocked","message":"orders-4: gate fails",
     "observedGeneration":1,"lastProbeTime":"2026-11-24T07:00:00Z","lastTransitionTime":"2026-11-24T07:00:00Z"}]}}' >/dev/null
expect_jsonpath psc/orders '{.status.placement.us-west-2a.pods[1]}' orders-3
table=$(kubectl -n "$NS" get psc orders)
echo "$table"
header=$(head -1 <<<"$table" | tr -s ' ')
[ "$header" = "NAME REPLICAS READY ROLLING AGE" ] || fail "printer columns: got \"$header\""
row=$(sed -n 2p <<<"$table" | tr -s ' ' | cut -d' ' -f1-4)
[ "$row" = "orders 6 5 True" ] || fail "printer row: got \"$row\", want \"orders 6 5 True\""
ok "columns Replicas, Ready, Rolling, Age show 6, 5, True"
names=$(kubectl -n "$NS" get ballast -o name)
grep -q physicalstatefulcluster.ballast.dev/orders <<<"$names" ||
	fail "kubectl get ballast (category) does not list the PSC: $names"
ok "kubectl get ballast lists PSCs"
if out=$(kubectl -n "$NS" patch psc orders --subresource=status --type merge \
	-p '{"status":{"conditions":[{"type":"Ready","status":"Maybe"}]}}' 2>&1); then
	fail "condition status Maybe was accepted"
fi
grep -qF 'status.conditions[0].status' <<<"$out" || fail "unexpected rejection: $out"
ok "condition status must be True, False or Unknown"

echo "PASS: the PhysicalStatefulCluster CRD"
