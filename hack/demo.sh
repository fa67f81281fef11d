#!/usr/bin/env bash
# hack/demo.sh — the README's first command: the whole product on this machine, on real
# nodes. Brings up a real local control plane (etcd, kube-apiserver, scheduler,
# controllers) with three real nodes in zones zone-a/b/c (a kubelet with its own
# containerd and runc each, a CNI bridge, kube-proxy, CoreDNS), builds the operator's
# image and the Kafka engine image from this repository's Dockerfiles, installs the
# operator with its Helm chart, applies the README's sample PSC (3 members; 6 with
# BALLAST_DEMO_REPLICAS=6), shows it converge into a KRaft cluster, triggers a rolling
# restart and shows the roll go member by member behind the health gates. Leaves
# everything running at the end and says how to look around and how to stop it.
#
#   BALLAST_DEMO_REPLICAS=3     members in the sample
#   BALLAST_DEMO_TIMEOUT=900    seconds to wait for each phase
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$BALLAST_ROOT"

REPLICAS="${BALLAST_DEMO_REPLICAS:-3}"
TIMEOUT="${BALLAST_DEMO_TIMEOUT:-900}"
DEMO="$BALLAST_ROOT/build/demo"
export BALLAST_CLUSTER_DIR="${BALLAST_CLUSTER_DIR:-$DEMO/cluster-real}" # a running real-node cluster dir may be named
export KUBECONFIG="$BALLAST_CLUSTER_DIR/kubeconfig"
export PATH="$BALLAST_CACHE/bin:$PATH"
NS=streaming
SYS=ballast-system
mkdir -p "$DEMO"

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

# wait_until SECONDS DESCRIPTION CMD... — re-runs CMD every 2 s, showing the PSC.
wait_until() {
	local secs=$1 what=$2 t0=$SECONDS
	shift 2
	until "$@" >/dev/null 2>&1; do
		if [ $((SECONDS - t0)) -ge "$secs" ]; then
			log "timed out after ${secs}s waiting for: $what"
			kubectl -n "$NS" get psc,pods -o wide || true
			kubectl -n "$SYS" logs -l app.kubernetes.io/name=ballast --tail 20 --prefix >&2 || true
			return 1
		fi
		printf '\r    %3ds  %s' $((SECONDS - t0)) \
			"$(kubectl -n "$NS" get psc orders --no-headers 2>/dev/null | tr -s ' ' || true)"
		sleep 2
	done
	printf '\r    %3ds  %s: done\n' $((SECONDS - t0)) "$what"
}

psc_condition() { # type -> status
	kubectl -n "$NS" get psc orders -o jsonpath="{.status.conditions[?(@.type==\"$1\")].status}"
}
ready() { [ "$(psc_condition Ready)" = True ]; }

step "install Debian packages"
bash hack/deps.sh
step "install the control-plane and node tools (cached after the first run)"
bash hack/install-tools.sh
step "build the images: debootstrap bases, the operator, Kafka (cached after the first run)"
bash hack/images.sh build

say "1/7 the local control plane and three real nodes"
bash hack/local-cluster.sh up --nodes real
kubectl get nodes -L topology.kubernetes.io/zone

say "2/7 install the operator with its chart (image localhost/ballast:dev)"
verb=install
! helm status bal -n "$SYS" >/dev/null 2>&1 || verb=upgrade
helm "$verb" bal charts/ballast -n "$SYS" --create-namespace --set image.repository=localhost/ballast \
	--set image.tag=dev --set image.pullPolicy=Never --wait --timeout 5m >/dev/null
kubectl -n "$SYS" get pods -o wide
wait_until 60 "a leader" bash -c "kubectl -n $SYS get lease ballast-leader -o jsonpath='{.spec.holderIdentity}' | grep -q ."
leader=$(kubectl -n "$SYS" get lease ballast-leader -o jsonpath='{.spec.holderIdentity}')
echo "leader: $leader"

say "3/7 apply the README's sample: $REPLICAS Kafka members over zone-a, zone-b, zone-c"
kubectl create namespace "$NS" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
# what this machine differs in from the sample's cluster: zone names, no storage class,
# small volumes and requests (three nodes share this machine's cores)
sed -e "s/^  replicas: .*/  replicas: $REPLICAS/" \
	-e 's/us-west-2a/zone-a/; s/us-west-2b/zone-b/; s/us-west-2c/zone-c/' \
	-e '/storageClassName/d' -e 's/size: 100Gi/size: 1Gi/' \
	-e 's/requests: {cpu: "2", memory: 8Gi}/requests: {cpu: 100m, memory: 1Gi}/' \
	crds/samples/orders.yaml | kubectl -n "$NS" apply -f -
wait_until "$TIMEOUT" "all members Ready and every gate holding" ready
kubectl -n "$NS" get psc orders
kubectl -n "$NS" get pods -o wide -L ballast.dev/revision
echo "placement (zone -> members), from status.placement:"
kubectl -n "$NS" get psc orders -o jsonpath='{.status.placement}' | python3 -m json.tool

say "4/7 the KRaft cluster, as Kafka's own tools see it (from inside orders-0)"
BOOT=orders-0.orders-headless.$NS.svc:9092
kubectl -n "$NS" exec orders-0 -c engine -- kafka-metadata-quorum.sh --bootstrap-server "$BOOT" \
	describe --status 2>/dev/null | grep -E 'ClusterId|LeaderId|CurrentVoters' || true
kubectl -n "$NS" exec orders-0 -c engine -- kafka-broker-api-versions.sh --bootstrap-server "$BOOT" \
	2>/dev/null | grep -o '^[^ ]* (id: [0-9]* rack: [^)]*)' || true

say "5/7 what the gates read: one member's metrics"
ip=$(kubectl -n "$NS" get pod orders-0 -o jsonpath='{.status.podIP}')
curl -fsS "http://$ip:9404/metrics" | grep -E '^kafka_(server_replicamanager_underreplicatedpartitions|controller_kafkacontroller_offlinepartitionscount|server_kafkaserver_brokerstate) ' || true

say "6/7 trigger a rolling restart (annotation ballast.dev/restart)"
kubectl -n "$NS" annotate psc orders "ballast.dev/restart=demo-$(date +%s)" --overwrite
wait_until 60 "Rolling=True" bash -c "[ \"\$(kubectl -n $NS get psc orders -o jsonpath='{.status.conditions[?(@.type==\"Rolling\")].status}')\" = True ]"
wait_until "$TIMEOUT" "roll complete: Rolling=False and Ready=True" bash -c \
	"[ \"\$(kubectl -n $NS get psc orders -o jsonpath='{.status.conditions[?(@.type==\"Rolling\")].status}')\" = False ] && [ \"\$(kubectl -n $NS get psc orders -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}')\" = True ]"
echo "the roll, one member at a time (from the leader's log):"
kubectl -n "$SYS" logs "$leader" | grep -E 'restarted member|evict|RollBlocked' | tail -n 20 | cut -c1-220 || true

say "7/7 the status as a person on call reads it"
kubectl -n "$NS" get psc orders -o jsonpath='{range .status.conditions[*]}{.type}={.status} ({.reason}): {.message}{"\n"}{end}'
kubectl -n "$NS" get events --field-selector involvedObject.kind=PhysicalStatefulCluster --sort-by=.lastTimestamp | tail -n 10

cat <<EOF

The demo is still running. Look around:
  export PATH=$BALLAST_CACHE/bin:\$PATH KUBECONFIG=$KUBECONFIG
  kubectl -n $NS get psc,pods,pvc -o wide
  kubectl -n $NS describe psc orders
  kubectl -n $NS patch psc orders --type merge -p '{"spec":{"replicas":6}}'   # watch Resizing
  kubectl -n $SYS logs -f $leader                                   # one line per action
Stop it all:
  BALLAST_CLUSTER_DIR=$BALLAST_CLUSTER_DIR hack/local-cluster.sh down
EOF
