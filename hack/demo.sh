#!/usr/bin/env bash
# hack/demo.sh — the README's first command: the whole product on this machine.
# Brings up a real local control plane (etcd, kube-apiserver, scheduler, controllers,
# kwok nodes in three zones), builds and starts ballast, stands real Apache Kafka
# brokers behind the kwok pods (hack/pod-bridge.py), applies a 6-member PSC over the
# three zones, shows it converge, triggers a rolling restart and shows the roll go
# member by member behind the health gates. Leaves everything running at the end and
# says how to look around and how to stop it.
#
#   BALLAST_DEMO_REPLICAS=6     members in the sample (3 is lighter on small machines)
#   BALLAST_DEMO_TIMEOUT=900    seconds to wait for each phase
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$BALLAST_ROOT"

REPLICAS="${BALLAST_DEMO_REPLICAS:-6}"
TIMEOUT="${BALLAST_DEMO_TIMEOUT:-900}"
DEMO="$BALLAST_ROOT/build/demo"
export BALLAST_CLUSTER_DIR="$DEMO/cluster"
export KUBECONFIG="$BALLAST_CLUSTER_DIR/kubeconfig"
NS=streaming
PORT=18080
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
			tail -n 20 "$DEMO/ballast.log" >&2 || true
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
step "install the control-plane tools (cached after the first run)"
bash hack/install-tools.sh
step "install Apache Kafka and the JMX exporter (cached after the first run)"
bash hack/install-kafka.sh

say "1/7 the local control plane"
bash hack/local-cluster.sh up
kubectl get nodes -L topology.kubernetes.io/zone

say "2/7 build ballast"
cmake -S . -B "$DEMO/build" -G Ninja -DBALLAST_INTEGRATION=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$DEMO/build" --target ballast
BALLAST="$DEMO/build/ballast"

say "3/7 install the CRD and start ballast and the Kafka pod bridge"
kubectl apply -f crds/ballast.dev_physicalstatefulclusters.yaml
kubectl wait --for=condition=Established crd/physicalstatefulclusters.ballast.dev --timeout=60s
# A demo run before this one may still be running: stop it and wait until it is gone
# (the operator releases its port, the bridge its brokers).
for p in ballast bridge; do
	pid=$(cat "$DEMO/$p.pid" 2>/dev/null || true)
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || continue
	log "stopping the previous demo's $p (pid $pid)"
	kill -TERM "$pid"
	for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null || true
done
"$BALLAST" --kubeconfig "$KUBECONFIG" --http-addr "127.0.0.1:$PORT" >"$DEMO/ballast.log" 2>&1 &
echo $! >"$DEMO/ballast.pid"
python3 hack/pod-bridge.py --state "$DEMO/bridge-state" >"$DEMO/bridge.log" 2>&1 &
echo $! >"$DEMO/bridge.pid"
wait_until 60 "ballast ready (/readyz)" curl -fsS "http://127.0.0.1:$PORT/readyz"

say "4/7 apply a $REPLICAS-member Kafka cluster over zone-a, zone-b, zone-c"
kubectl create namespace "$NS" --dry-run=client -o yaml | kubectl apply -f -
sed -e "s/replicas: 6/replicas: $REPLICAS/" \
	-e 's/us-west-2a/zone-a/; s/us-west-2b/zone-b/; s/us-west-2c/zone-c/' \
	-e '/storageClassName/d' crds/samples/orders.yaml | kubectl -n "$NS" apply -f -
wait_until "$TIMEOUT" "all members Ready and every gate holding" ready
kubectl -n "$NS" get psc orders
kubectl -n "$NS" get pods -o wide -L ballast.dev/revision
echo "placement (zone -> members), from status.placement:"
kubectl -n "$NS" get psc orders -o jsonpath='{.status.placement}' | python3 -m json.tool

say "5/7 what the gates read: one member's metrics"
ip=$(kubectl -n "$NS" get pod orders-0 -o jsonpath='{.status.podIP}')
curl -fsS "http://$ip:9404/metrics" | grep -E '^kafka_(server_replicamanager_underreplicatedpartitions|controller_kafkacontroller_offlinepartitionscount|server_kafkaserver_brokerstate) ' || true

say "6/7 trigger a rolling restart (annotation ballast.dev/restart)"
kubectl -n "$NS" annotate psc orders "ballast.dev/restart=demo-$(date +%s)" --overwrite
wait_until 60 "Rolling=True" bash -c "[ \"\$(kubectl -n $NS get psc orders -o jsonpath='{.status.conditions[?(@.type==\"Rolling\")].status}')\" = True ]"
echo "the roll, one member at a time (from ballast's log):"
wait_until "$TIMEOUT" "roll complete: Rolling=False and Ready=True" bash -c \
	"[ \"\$(kubectl -n $NS get psc orders -o jsonpath='{.status.conditions[?(@.type==\"Rolling\")].status}')\" = False ] && [ \"\$(kubectl -n $NS get psc orders -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}')\" = True ]"
grep -E 'restarted member|RollBlocked' "$DEMO/ballast.log" | tail -n 20 || true

say "7/7 the status as a person on call reads it"
kubectl -n "$NS" get psc orders -o jsonpath='{range .status.conditions[*]}{.type}={.status} ({.reason}): {.message}{"\n"}{end}'
kubectl -n "$NS" get events --field-selector involvedObject.kind=PhysicalStatefulCluster --sort-by=.lastTimestamp | tail -n 10

cat <<EOF

The demo is still running. Look around:
  export KUBECONFIG=$KUBECONFIG
  kubectl -n $NS get psc,pods,pvc -o wide
  kubectl -n $NS describe psc orders
  kubectl -n $NS scale psc orders --replicas=$((REPLICAS + 3))   # watch Resizing
  curl -s http://127.0.0.1:$PORT/metrics | grep ^ballast_       # ballast's own metrics
  tail -f $DEMO/ballast.log                                     # one line per action
Stop it all:
  kill \$(cat $DEMO/ballast.pid) \$(cat $DEMO/bridge.pid); hack/local-cluster.sh down
EOF
