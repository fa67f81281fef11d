# tests/realnodes/test_realnodes_chart.sh — the operator as users run it: `helm install` of
# charts/ballast, with only the image repository, tag and pull policy overridden, runs the
# image built from the root Dockerfile as two pods on real nodes, one of them the leader;
# the API server calls the webhook through its Service over TLS (a valid PSC is admitted,
# a storage shrink refused with ballast's message); /metrics answers through the metrics
# Service from a pod; `helm uninstall` leaves no operator container on any node.
set -euo pipefail
source "$BALLAST_SOURCE_DIR/tests/realnodes/lib.sh"
rn_init chart
REL=bal
SYS="$NS-sys" # the release namespace
TMP=$(mktemp -d)
export HELM_CACHE_HOME="$TMP/helm/cache" HELM_CONFIG_HOME="$TMP/helm/config" HELM_DATA_HOME="$TMP/helm/data"
chart_cleanup() {
	local rc=$?
	set +e
	if [ "$rc" != 0 ]; then
		kubectl get pods -n "$SYS" -o wide
		kubectl describe pods -n "$SYS" | tail -n 40
		kubectl logs -n "$SYS" -l app.kubernetes.io/name=ballast --tail 30 --prefix
	fi
	helm uninstall "$REL" -n "$SYS" --wait --timeout 60s >/dev/null 2>&1
	kubectl delete namespace "$SYS" --wait=false >/dev/null 2>&1
	rm -rf "$TMP"
	rn_cleanup
}
trap chart_cleanup EXIT
SLOT=$(grep -lx "$BALLAST_CLUSTER_DIR" /run/ballast-net/slot-* | sed 's/.*slot-//')

# operator containers on every node, from each node's containerd
operator_containers() {
	local z
	for z in a b c; do
		ctr --address "/run/ballast-$SLOT/node-zone-$z/containerd.sock" -n k8s.io containers ls 2>/dev/null |
			awk -v z="$z" '$2 ~ /^localhost\/ballast:dev$/ {print "node-zone-" z ": " $1}'
	done
}

step "helm install charts/ballast (image localhost/ballast:dev, built from the Dockerfile)"
t0=$SECONDS
helm install "$REL" "$BALLAST_SOURCE_DIR/charts/ballast" -n "$SYS" --create-namespace \
	--set image.repository=localhost/ballast --set image.tag=dev --set image.pullPolicy=Never \
	--wait --timeout 5m
log "helm install --wait returned after $((SECONDS - t0))s"
kubectl get pods -n "$SYS" -o wide
pods=$(kubectl get pods -n "$SYS" -l app.kubernetes.io/name=ballast \
	-o jsonpath='{range .items[*]}{.metadata.name} {.status.phase} {.spec.nodeName} {.status.containerStatuses[0].ready}{"\n"}{end}')
[ "$(grep -c ' Running node-zone-[abc] true$' <<<"$pods")" = 2 ] || fail "want 2 Running, ready operator pods on real nodes: $pods"

step "exactly one of them holds the Lease"
rn_wait "a Lease holder" 60 bash -c "kubectl get lease -n $SYS ballast-leader -o jsonpath='{.spec.holderIdentity}' | grep -q ."
holder=$(kubectl get lease -n "$SYS" ballast-leader -o jsonpath='{.spec.holderIdentity}')
grep -q "^$holder Running" <<<"$pods" || fail "the Lease holder '$holder' is not one of the pods: $pods"
leaders=0
for p in $(awk '{print $1}' <<<"$pods"); do
	if kubectl logs -n "$SYS" "$p" | grep -q 'started leading'; then leaders=$((leaders + 1)); fi
done
log "Lease ballast-leader held by $holder; $leaders pod(s) logged 'started leading'"
[ "$leaders" = 1 ] || fail "$leaders pods say they started leading, want 1"

step "a PSC created through the API server passes the webhook (TLS, through its Service)"
psc() { # size
	cat <<YAML
apiVersion: ballast.dev/v1alpha1
kind: PhysicalStatefulCluster
metadata: {name: frozen, namespace: $NS}
spec:
  replicas: 3
  image: localhost/ballast-testkit:1
  zones: [zone-a, zone-b, zone-c]
  storage: {size: $1}
  paused: true
YAML
}
rn_wait "the webhook admits a valid PSC" 60 bash -c "$(declare -f psc); NS=$NS; psc 2Gi | kubectl apply -f -"
if out=$(psc 1Gi | kubectl apply -f - 2>&1); then
	fail "a storage shrink 2Gi → 1Gi was admitted: the webhook was not called"
fi
grep -q 'admission webhook "[a-z.]*ballast.dev" denied.*spec.storage.size' <<<"$out" || fail "not refused by ballast's webhook: $out"
log "refused: $out"
rn_wait "the PSC reports a status from the leader" 60 bash -c \
	"kubectl get psc -n $NS frozen -o jsonpath='{.status.conditions[*].type}' | grep -q ."
log "PSC conditions: $(kubectl get psc -n "$NS" frozen -o jsonpath='{range .status.conditions[*]}{.type}={.status} {end}')"

step "/metrics through the metrics Service, from a pod on a real node"
rn_pod scraper node-zone-c
rn_wait "scraper Running" 120 bash -c "$(declare -f rn_running); NS=$NS; rn_running scraper"
body=$(kubectl exec -n "$NS" scraper -- curl -fsS --max-time 5 "http://$REL-ballast-metrics.$SYS.svc.cluster.local:8080/metrics")
grep -q '^ballast_' <<<"$body" || fail "no ballast_ metric from the metrics Service: $(head -c 300 <<<"$body")"
log "metrics Service: $(grep -c '^ballast_' <<<"$body") ballast_ samples"

step "helm uninstall leaves no operator container on any node"
[ -n "$(operator_containers)" ] || fail "no operator container found on the nodes' containerd before uninstall"
kubectl delete psc -n "$NS" frozen --wait=true --timeout=60s >/dev/null
helm uninstall "$REL" -n "$SYS" --wait --timeout 120s
rn_wait "the operator pods gone" 60 bash -c "! kubectl get pods -n $SYS -o name | grep -q ."
rn_wait "no operator container on the nodes" 60 bash -c "$(declare -f operator_containers); SLOT=$SLOT; [ -z \"\$(operator_containers)\" ]"
left=$(kubectl get validatingwebhookconfiguration,clusterrole,clusterrolebinding -l "app.kubernetes.io/instance=$REL" -o name)
[ -z "$left" ] || fail "helm uninstall left $left"
log "uninstalled: no operator container, no cluster-scoped object left"
