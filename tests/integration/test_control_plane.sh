#!/usr/bin/env bash
# tests/integration/test_control_plane.sh — proves the local control plane is real:
# a real kube-apiserver answers /version, a CRD becomes Established, a custom object is
# created and a watch sees it change; the scheduler binds a pod to a kwok node of the
# zone it asks for, and the pod gets an IP in the 127.x pod CIDR.
set -euo pipefail
source "$BALLAST_SOURCE_DIR/hack/lib.sh"
: "${KUBECONFIG:?KUBECONFIG must point at the local cluster}"

NS="cp-$(date +%s)-$$"
WATCH_OUT=$(mktemp)
cleanup() {
	[ -n "${WATCH_PID:-}" ] && kill "$WATCH_PID" 2>/dev/null || true
	kubectl delete namespace "$NS" --wait=false >/dev/null 2>&1 || true
	kubectl delete crd widgets.test.ballast.dev --wait=false >/dev/null 2>&1 || true
	rm -f "$WATCH_OUT"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

step "the API server is real"
version=$(kubectl get --raw /version)
echo "kube-apiserver /version: $version"
grep -q '"gitVersion": *"v1\.' <<<"$version" || fail "unexpected /version: $version"

step "apply a CRD and wait until it is Established"
kubectl apply -f - <<'CRD'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.test.ballast.dev}
spec:
  group: test.ballast.dev
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: integer, minimum: 1}}}
CRD
kubectl wait --for=condition=Established crd/widgets.test.ballast.dev --timeout=60s

step "create an object and watch it change"
kubectl create namespace "$NS"
kubectl -n "$NS" apply -f - <<'OBJ'
apiVersion: test.ballast.dev/v1
kind: Widget
metadata: {name: w1}
spec: {size: 1}
OBJ
kubectl -n "$NS" get widgets -w -o jsonpath='{.spec.size}{"\n"}' >"$WATCH_OUT" 2>&1 &
WATCH_PID=$!
sleep 1
kubectl -n "$NS" patch widget w1 --type merge -p '{"spec":{"size":3}}'
for _ in $(seq 1 50); do grep -qx 3 "$WATCH_OUT" && break; sleep 0.2; done
grep -qx 3 "$WATCH_OUT" || fail "the watch did not see size 3; it saw: $(tr '\n' ' ' <"$WATCH_OUT")"
echo "watch saw sizes: $(tr '\n' ' ' <"$WATCH_OUT")"

step "the schema is enforced by the server"
if out=$(kubectl -n "$NS" patch widget w1 --type merge -p '{"spec":{"size":0}}' 2>&1); then
	fail "size 0 was accepted"
fi
grep -q "should be greater than or equal to 1" <<<"$out" || fail "unexpected rejection: $out"

step "the scheduler binds a zone-pinned pod to a kwok node of that zone, with a 127.x IP"
kubectl -n "$NS" apply -f - <<'POD'
apiVersion: v1
kind: Pod
metadata: {name: pinned}
spec:
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms: [{matchExpressions: [{key: topology.kubernetes.io/zone, operator: In, values: [zone-c]}]}]
  containers: [{name: c, image: busybox}]
POD
kubectl -n "$NS" wait --for=condition=Ready pod/pinned --timeout=60s
node=$(kubectl -n "$NS" get pod pinned -o jsonpath='{.spec.nodeName}')
zone=$(kubectl get node "$node" -o jsonpath='{.metadata.labels.topology\.kubernetes\.io/zone}')
ip=$(kubectl -n "$NS" get pod pinned -o jsonpath='{.status.podIP}')
echo "pod pinned: node=$node zone=$zone ip=$ip"
[ "$zone" = zone-c ] || fail "pod landed in zone $zone, want zone-c"
[[ "$ip" == 127.* ]] || fail "pod IP $ip is not in 127.0.0.0/8"
echo "PASS: control plane is real"
