#!/usr/bin/env bash
# tests/integration/test_kafka_smoke.sh — proves the real Kafka brokers the roll tests
# stand behind pods report what ballast's health gates read: 3 KRaft nodes, a topic with
# RF=3 and min.insync.replicas=2, acks=all traffic; under-replicated partitions are 0
# everywhere, rise on a survivor when one node stops, and fall back to 0 after it returns.
# Then, when KUBECONFIG names a running control plane (as under ctest), the same through
# hack/pod-bridge.py: brokers behind 4 kwok pods shaped as ballast renders them (3 KRaft
# voters + 1 observer, which must export the controller metrics too), a pod
# deleted and recreated (new pod IP, same PVC and data), gates read at the pod IPs.
# Bounded: every wait has a deadline, the whole test < 5 minutes.
set -euo pipefail
ROOT="${BALLAST_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
source "$ROOT/hack/lib.sh"

export BALLAST_KAFKA_NET="${BALLAST_KAFKA_NET:-127.29.$(($$ % 200 + 20))}" # own /24 per run
WORK="$(mktemp -d /tmp/ballast-kafka-smoke.XXXXXX)"
export BALLAST_KAFKA_DIR="$WORK/cluster" # cluster.sh down deletes it
CLUSTER="$ROOT/hack/kafka/cluster.sh"
TOOL="$ROOT/hack/kafka/tool.sh"
TOPIC=smoke
PARTS=6
T_START=$(date +%s)

BRIDGE_PID=""
NS="kafka-smoke-$$"
cleanup() {
	local rc=$?
	if [ "$rc" != 0 ]; then
		log "test failed; last broker log lines:"
		tail -n 5 "$BALLAST_KAFKA_DIR"/node-*/logs/server.log "$WORK"/bridge/*/*/logs/server.log >&2 || true
		[ ! -f "$WORK/bridge.log" ] || tail -n 30 "$WORK/bridge.log" >&2
		[ -z "$BRIDGE_PID" ] || kctl -n "$NS" get pods,pvc -o wide >&2 || true
	fi
	if [ -n "$BRIDGE_PID" ]; then # SIGTERM: the bridge stops its brokers
		kill -TERM "$BRIDGE_PID" 2>/dev/null || true
		for _ in $(seq 1 150); do kill -0 "$BRIDGE_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$BRIDGE_PID" 2>/dev/null || true
		for d in "$WORK"/bridge/*/*/; do
			[ -f "$d/broker.pid" ] && bash "$ROOT/hack/kafka/broker.sh" stop "$d" --timeout 1 >/dev/null 2>&1
		done
		kctl delete namespace "$NS" --wait=false >/dev/null 2>&1 || true
	fi
	bash "$CLUSTER" down >/dev/null 2>&1 || true
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
# Every wait below has a deadline and every tool runs under `timeout`, each cut to
# what is left of a 280 s budget: the whole test stays under 5 minutes, whatever hangs
# (about 1 minute when healthy).
BUDGET_END=$((T_START + 280))
left() { # min(ARG, seconds left in the budget), at least 1
	local l=$((BUDGET_END - $(date +%s)))
	[ "$l" -ge 1 ] || { log "FAIL: 280 s test budget spent"; return 1; }
	echo $(($1 < l ? $1 : l))
}
tool() { timeout "$(left 60)" bash "$TOOL" "$@"; }

declare -A IPS=() # node -> IP; phase 2 fills it with pod IPs
ip() { echo "${IPS[$1]:-$BALLAST_KAFKA_NET.$(($1 + 1))}"; }
metric() { # NODE NAME -> integer value, or -1 when the endpoint does not answer
	local body
	body=$(curl -sf --max-time 3 "http://$(ip "$1"):9404/metrics" 2>/dev/null) || body=""
	awk -v m="$2" '$1 == m {printf "%d\n", $2; f=1} END {if (!f) print -1}' <<<"$body"
}
urp() { metric "$1" kafka_server_replicamanager_underreplicatedpartitions; }
wait_for() { # DESCRIPTION SECONDS COMMAND... — polls COMMAND until true
	local what=$1 secs t0
	secs=$(left "$2")
	shift 2
	t0=$(date +%s.%N)
	until "$@"; do
		if [ "$(echo "$(date +%s.%N) - $t0 > $secs" | bc)" = 1 ]; then
			log "FAIL: $what not reached within ${secs}s"
			return 1
		fi
		sleep 0.3
	done
	WAITED=$(printf '%.1f' "$(echo "$(date +%s.%N) - $t0" | bc)")
	log "ok: $what (${WAITED}s)"
}
all_urp_zero() { local i; for i in 0 1 2; do [ "$(urp "$i")" = 0 ] || return 1; done; }
survivor_urp_positive() { [ "$(urp 0)" -gt 0 ] || [ "$(urp 1)" -gt 0 ]; }
show() { log "$1: URP node0=$(urp 0) node1=$(urp 1) node2=$(urp 2); partitions node0=$(metric 0 kafka_server_replicamanager_partitioncount) node1=$(metric 1 kafka_server_replicamanager_partitioncount) node2=$(metric 2 kafka_server_replicamanager_partitioncount); offline=$(metric 0 kafka_controller_kafkacontroller_offlinepartitionscount)"; }

step "fetch kafka jars"
t=$(date +%s.%N)
bash "$ROOT/hack/install-kafka.sh" >/dev/null
log "figure: fetch $(printf '%.1f' "$(echo "$(date +%s.%N) - $t" | bc)")s"

step "start 3 KRaft nodes on $(ip 0)..$(ip 2)"
t=$(date +%s.%N)
timeout "$(left 120)" bash "$CLUSTER" up 3
log "figure: cluster up (format + start + RUNNING) $(printf '%.1f' "$(echo "$(date +%s.%N) - $t" | bc)")s"
BOOT=$(bash "$CLUSTER" bootstrap)

step "metrics endpoints serve the gate metrics"
for i in 0 1 2; do
	for m in kafka_server_replicamanager_underreplicatedpartitions kafka_server_replicamanager_partitioncount \
		kafka_controller_kafkacontroller_offlinepartitionscount kafka_server_kafkaserver_brokerstate; do
		v=$(metric "$i" "$m")
		[ "$v" != -1 ] || { log "FAIL: node $i does not export $m"; exit 1; }
	done
	[ "$(metric "$i" kafka_server_kafkaserver_brokerstate)" = 3 ] || { log "FAIL: node $i brokerstate != 3"; exit 1; }
done

step "create topic $TOPIC: $PARTS partitions, RF=3, min.insync.replicas=2"
tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOT" --create --topic "$TOPIC" \
	--partitions "$PARTS" --replication-factor 3 --config min.insync.replicas=2
tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOT" --describe --topic "$TOPIC"

step "produce 20000 messages with acks=all"
tool org.apache.kafka.tools.ProducerPerformance --topic "$TOPIC" --num-records 20000 \
	--record-size 100 --throughput -1 --producer-props bootstrap.servers="$BOOT" acks=all linger.ms=5 |
	tail -1 | sed 's/^/figure: produce: /' >&2

step "URP == 0 on all three nodes"
wait_for "URP 0 on all nodes" 30 all_urp_zero
show "healthy"
for i in 0 1 2; do
	[ "$(metric "$i" kafka_server_replicamanager_partitioncount)" -ge "$PARTS" ] ||
		{ log "FAIL: node $i hosts fewer than $PARTS partitions"; exit 1; }
done

step "stop node 2 (controlled shutdown): URP > 0 on a survivor"
t=$(date +%s.%N)
bash "$CLUSTER" stop 2
log "figure: controlled shutdown $(printf '%.1f' "$(echo "$(date +%s.%N) - $t" | bc)")s"
wait_for "URP > 0 on a survivor" 30 survivor_urp_positive
show "node 2 down"
[ "$(metric 0 kafka_controller_kafkacontroller_offlinepartitionscount)" -le 0 ] ||
	{ log "FAIL: offline partitions with 2 of 3 replicas up"; exit 1; }

step "acks=all still works with 2 of 3 in sync (min.insync.replicas=2)"
tool org.apache.kafka.tools.ProducerPerformance --topic "$TOPIC" --num-records 2000 \
	--record-size 100 --throughput -1 --producer-props bootstrap.servers="$(ip 0):9092" acks=all \
	delivery.timeout.ms=30000 request.timeout.ms=10000 | tail -1 | sed 's/^/figure: produce (degraded): /' >&2

step "restart node 2: URP back to 0 everywhere"
t=$(date +%s.%N)
bash "$CLUSTER" start 2
log "figure: restart to RUNNING $(printf '%.1f' "$(echo "$(date +%s.%N) - $t" | bc)")s"
wait_for "URP 0 on all nodes after restart" 60 all_urp_zero
show "recovered"

log "phase 1 (standalone cluster) passed in $(($(date +%s) - T_START))s"
bash "$CLUSTER" down >/dev/null

kctl() { timeout 30 "$BALLAST_BIN/kubectl" "$@"; }
if [ -z "${KUBECONFIG:-}" ] || ! kctl get --raw /readyz >/dev/null 2>&1; then
	log "PASS test_kafka_smoke (phase 1 only: no KUBECONFIG with a running control plane for the pod-bridge phase)"
	exit 0
fi
T2=$(date +%s)

member() { # I ZONE — a PVC and a pod shaped as operator/plan/render.c renders them
	cat <<YAML
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data-smoke-$1, namespace: $NS, labels: {app.kubernetes.io/managed-by: ballast, app.kubernetes.io/instance: smoke}}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: Pod
metadata:
  name: smoke-$1
  namespace: $NS
  labels: {app.kubernetes.io/managed-by: ballast, app.kubernetes.io/instance: smoke, app.kubernetes.io/name: ballast-member, ballast.dev/ordinal: "$1"}
spec:
  tolerations: [{operator: Exists}]
  affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: topology.kubernetes.io/zone, operator: In, values: [$2]}]}]}}}
  containers:
  - name: engine
    image: apache/kafka:3.9.0
    ports: [{name: client, containerPort: 9092}, {name: metrics, containerPort: 9404}]
    env: [{name: BALLAST_NODE_ID, value: "$1"}, {name: BALLAST_RACK, value: $2}, {name: BALLAST_CONFIG_FILE, value: /etc/ballast/member-$1.properties}]
  volumes:
  - {name: data, persistentVolumeClaim: {claimName: data-smoke-$1}}
  - {name: config, configMap: {name: smoke-config}}
---
YAML
}
pod_ip() { kctl -n "$NS" get pod "smoke-$1" -o jsonpath='{.status.podIP}' 2>/dev/null || true; }
pods_have_ips() { local i; for i in 0 1 2 3; do IPS[$i]=$(pod_ip "$i"); [ -n "${IPS[$i]}" ] || return 1; done; }
all_running() { local i; for i in 0 1 2 3; do [ "$(metric "$i" kafka_server_kafkaserver_brokerstate)" = 3 ] || return 1; done; }

step "phase 2: pod-bridge: 4 kwok pods in namespace $NS"
kctl create namespace "$NS" >/dev/null
kctl -n "$NS" create configmap smoke-config \
	--from-literal=member-0.properties=$'num.partitions=6\nnode.id=0\nbroker.rack=zone-a\n' \
	--from-literal=member-1.properties=$'num.partitions=6\nnode.id=1\nbroker.rack=zone-b\n' \
	--from-literal=member-2.properties=$'num.partitions=6\nnode.id=2\nbroker.rack=zone-c\n' \
	--from-literal=member-3.properties=$'num.partitions=6\nnode.id=3\nbroker.rack=zone-a\n' >/dev/null
# smoke-0..2 are the KRaft voters, smoke-3 an observer controller
{ member 0 zone-a; member 1 zone-b; member 2 zone-c; member 3 zone-a; } | kctl apply -f - >/dev/null
python3 "$ROOT/hack/pod-bridge.py" --namespace "$NS" --state "$WORK/bridge" >"$WORK/bridge.log" 2>&1 </dev/null &
BRIDGE_PID=$!
wait_for "pods Running with IPs" 60 pods_have_ips
log "pod IPs: ${IPS[0]} ${IPS[1]} ${IPS[2]} ${IPS[3]}"
wait_for "brokers RUNNING behind the pod IPs" 90 all_running
BOOT="${IPS[0]}:9092,${IPS[1]}:9092,${IPS[2]}:9092"
grep -q '^num.partitions=6$' "$WORK/bridge/$NS/data-smoke-0/server.properties" ||
	{ log "FAIL: the member's ConfigMap file did not reach the broker"; exit 1; }
[ "$(metric 3 kafka_controller_kafkacontroller_offlinepartitionscount)" = 0 ] ||
	{ log "FAIL: observer smoke-3 does not export kafka_controller_kafkacontroller_offlinepartitionscount"; exit 1; }
# The observer learns of the last broker's registration a moment after it runs.
observer_sees_4() { [ "$(metric 3 kafka_controller_kafkacontroller_activebrokercount)" = 4 ]; }
wait_for "observer smoke-3 sees 4 active brokers" 30 observer_sees_4

step "phase 2: topic RF=3, min.insync.replicas=2, acks=all traffic through the pod IPs"
# on the voters' brokers only, so the URP figures below concern smoke-0..2
tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOT" --create --topic "$TOPIC" \
	--replica-assignment 0:1:2,1:2:0,2:0:1,0:2:1,1:0:2,2:1:0 --config min.insync.replicas=2 >/dev/null
tool org.apache.kafka.tools.ProducerPerformance --topic "$TOPIC" --num-records 5000 --record-size 100 \
	--throughput -1 --producer-props bootstrap.servers="$BOOT" acks=all | tail -1 | sed 's/^/figure: produce via pods: /' >&2
wait_for "URP 0 on all pods" 30 all_urp_zero
show "pods healthy"

step "phase 2: delete pod smoke-1: the bridge stops its broker, URP > 0 on a survivor"
OLD_IP=${IPS[1]}
kctl -n "$NS" delete pod smoke-1 --wait=true >/dev/null
IPS[1]=$OLD_IP
wait_for "URP > 0 on a survivor" 30 survivor_urp_positive
show "pod smoke-1 gone"
ls "$WORK/bridge/$NS/data-smoke-1/data" | grep -q "^$TOPIC-" ||
	{ log "FAIL: the member's data is not in its PVC directory"; exit 1; }

step "phase 2: recreate pod smoke-1: same PVC, maybe a new IP; URP back to 0"
member 1 zone-b | kctl apply -f - >/dev/null
IPS[1]=""
new_pod_ip() { IPS[1]=$(pod_ip 1); [ -n "${IPS[1]}" ]; }
wait_for "smoke-1 Running with an IP" 30 new_pod_ip
wait_for "smoke-1 broker RUNNING at ${IPS[1]} (was $OLD_IP)" 60 all_running
wait_for "URP 0 on all pods after the restart" 60 all_urp_zero
show "pods recovered"
grep -c "starting broker\|stopping broker\|broker stopped" "$WORK/bridge.log" | sed 's/^/bridge actions: /' >&2
log "phase 2 (pod-bridge) passed in $(($(date +%s) - T2))s"
log "PASS test_kafka_smoke in $(($(date +%s) - T_START))s"
