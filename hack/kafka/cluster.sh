#!/usr/bin/env bash
# hack/kafka/cluster.sh — a standalone real Kafka KRaft cluster on fixed loopback IPs,
# every node broker+controller, for tests and the demo without Kubernetes.
#
#   cluster.sh up [N]        start N nodes (default 3), wait until all are RUNNING
#   cluster.sh down          stop every node (SIGTERM, then SIGKILL) and delete the data
#   cluster.sh stop I        controlled shutdown of node I (data kept)
#   cluster.sh start I       start node I again, wait until RUNNING
#   cluster.sh status        one line per node
#   cluster.sh bootstrap     prints the bootstrap servers
#
# Node I binds ${BALLAST_KAFKA_NET}.(I+1) (default 127.29.0.x: outside the 127.20/16
# pod range hack/local-cluster.sh gives kwok, so it never collides with pod-bridge
# brokers). State in $BALLAST_KAFKA_DIR (default $BALLAST_ROOT/build/kafka-cluster).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

NET="${BALLAST_KAFKA_NET:-127.29.0}"
DIR="${BALLAST_KAFKA_DIR:-$BALLAST_ROOT/build/kafka-cluster}"
BROKER="$BALLAST_ROOT/hack/kafka/broker.sh"
ZONES=(zone-a zone-b zone-c) # as hack/local-cluster.sh's nodes

count() { cat "$DIR/nodes" 2>/dev/null || echo 0; }
ip_of() { echo "$NET.$(($1 + 1))"; }
voters() {
	local n=$1 i v=""
	for ((i = 0; i < n; i++)); do v="$v${v:+,}$i@$(ip_of "$i"):9093"; done
	echo "$v"
}

start_node() { # I N WAIT
	bash "$BROKER" start "$DIR/node-$1" --id "$1" --ip "$(ip_of "$1")" --voters "$(voters "$2")" \
		--cluster-id "$(cat "$DIR/cluster-id")" --rack "${ZONES[$(($1 % 3))]}" \
		${3:+--wait "$3"}
}

cmd_up() {
	local n=${1:-3} i pids=()
	if [ "$(count)" != 0 ] && [ "$(count)" != "$n" ]; then
		log "a $(count)-node cluster exists in $DIR: run 'cluster.sh down' first"
		return 2
	fi
	step "fetch kafka"
	bash "$BALLAST_ROOT/hack/install-kafka.sh" >/dev/null
	mkdir -p "$DIR"
	echo "$n" >"$DIR/nodes"
	[ -f "$DIR/cluster-id" ] || bash "$BROKER" cluster-id "ballast-$DIR-$(date +%s%N)" >"$DIR/cluster-id"
	step "start $n nodes on $(ip_of 0)..$(ip_of $((n - 1)))"
	for ((i = 0; i < n; i++)); do
		start_node "$i" "$n" 90 &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i"; done
	log "cluster up: bootstrap $(cmd_bootstrap)"
}

cmd_down() {
	local n i
	n=$(count)
	step "stop $n nodes"
	# All at once and nearly without grace: with the quorum going away a controlled
	# shutdown cannot finish, and the data is deleted anyway.
	for ((i = 0; i < n; i++)); do bash "$BROKER" stop "$DIR/node-$i" --timeout 1 & done
	wait
	rm -rf "$DIR"
	log "cluster down"
}

cmd_bootstrap() {
	local n i b=""
	n=$(count)
	for ((i = 0; i < n; i++)); do b="$b${b:+,}$(ip_of "$i"):9092"; done
	echo "$b"
}

sub=${1:-}
shift || true
case "$sub" in
up) cmd_up "$@" ;;
down) cmd_down ;;
stop) bash "$BROKER" stop "$DIR/node-${1:?node index}" ;;
start) start_node "${1:?node index}" "$(count)" 90 ;;
status) for ((i = 0; i < $(count); i++)); do echo "node $i $(ip_of "$i") $(bash "$BROKER" status "$DIR/node-$i" || true)"; done ;;
bootstrap) cmd_bootstrap ;;
*)
	log "usage: cluster.sh up [N] | down | stop I | start I | status | bootstrap"
	exit 2
	;;
esac
