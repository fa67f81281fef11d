#!/usr/bin/env bash
# hack/kafka/broker.sh — runs one real Apache Kafka KRaft node (broker+controller by
# default) from the jars hack/install-kafka.sh fetched, bound to one loopback IP, with
# the Prometheus JMX exporter on IP:9404. Everything about the node lives in one
# directory (its "volume"): data/, server.properties, broker.pid, logs/server.log.
#
#   broker.sh start DIR --id N --ip IP --cluster-id ID
#             (--voters 0@IP0:9093,1@IP1:9093,...                         static quorum
#              | --initial-controllers 0@IP0:9093:DIRID0,1@IP1:9093:DIRID1,...)  dynamic
#             [--controller-ip IP] [--advertised-ip IP] [--rack ZONE]
#             [--roles broker,controller] [--set key=value ...] [--wait SECONDS]
#
# Static (controller.quorum.voters): every controller must be a voter.
# Dynamic (KIP-853, controller.quorum.bootstrap.servers): the nodes named in
# --initial-controllers are formatted as the voters (with those directory ids), any
# other node with the controller role as an observer — it follows the metadata log and
# exports the kafka_controller_* metrics too, so a gate on them holds on every member.
#   broker.sh stop DIR [--timeout SECONDS]   SIGTERM (controlled shutdown), then SIGKILL
#   broker.sh wait DIR [SECONDS]             until kafka_server_kafkaserver_brokerstate is 3
#   broker.sh status DIR                     prints running/stopped (exit 0/3)
#   broker.sh cluster-id NAME                a valid cluster (or directory) id derived from NAME
#
# Env: KAFKA_HEAP (default -Xmx384m), KAFKA_PORT/CONTROLLER_PORT/METRICS_PORT
# (9092/9093/9404), KAFKA_JAVA_OPTS (extra JVM flags).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

HERE="$BALLAST_ROOT/hack/kafka"
KAFKA_PORT="${KAFKA_PORT:-9092}"
CONTROLLER_PORT="${CONTROLLER_PORT:-9093}"
METRICS_PORT="${METRICS_PORT:-9404}"

die() {
	log "broker.sh: $*"
	exit 2
}

kafka_home() { # prints the directory holding libs/ and agent/, fetching on first use
	if [ -n "${KAFKA_HOME:-}" ]; then echo "$KAFKA_HOME"; else bash "$BALLAST_ROOT/hack/install-kafka.sh" 2>/dev/null; fi
}

pid_of() { [ -f "$1/broker.pid" ] && cat "$1/broker.pid"; }
gone() { # PID: exited (a zombie not yet reaped by its new parent counts as exited)
	! kill -0 "$1" 2>/dev/null || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]
}
alive() {
	local pid
	pid=$(pid_of "$1") || return 1
	! gone "$pid" || return 1
	# a stale pid file may name a pid the system has since given to another program
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$1/server.properties"
}

metrics_ip() { sed -n 's/^# metrics-ip=//p' "$1/server.properties" 2>/dev/null; }

broker_state() { # DIR -> prints the brokerstate gauge, or nothing
	local ip
	ip=$(metrics_ip "$1")
	[ -n "$ip" ] || return 0
	curl -sf --max-time 2 "http://$ip:$METRICS_PORT/metrics" 2>/dev/null |
		awk '$1 == "kafka_server_kafkaserver_brokerstate" {printf "%d\n", $2}' || true
}

cmd_wait() { # DIR SECONDS
	local dir=$1 secs=${2:-60} t0 st
	t0=$(date +%s)
	while :; do
		alive "$dir" || die "node in $dir exited while starting; see $dir/logs/server.log and $dir/broker.out"
		st=$(broker_state "$dir")
		[ "$st" = 3 ] && return 0
		[ $(($(date +%s) - t0)) -ge "$secs" ] && die "node in $dir not RUNNING after ${secs}s (brokerstate='${st}')"
		sleep 0.5
	done
}

cmd_start() {
	local dir=$1
	shift
	local id="" ip="" cip="" aip="" voters="" initial="" cid="" rack="" roles="broker,controller" wait="" sets=()
	while [ $# -gt 0 ]; do
		case "$1" in
		--id) id=$2 ;;
		--ip) ip=$2 ;;
		--controller-ip) cip=$2 ;;
		--advertised-ip) aip=$2 ;;
		--voters) voters=$2 ;;
		--initial-controllers) initial=$2 ;;
		--cluster-id) cid=$2 ;;
		--rack) rack=$2 ;;
		--roles) roles=$2 ;;
		--set) sets+=("$2") ;;
		--wait) wait=$2 ;;
		*) die "start: unknown flag $1" ;;
		esac
		shift 2
	done
	[ -n "$id" ] && [ -n "$ip" ] && [ -n "$cid" ] && [ -n "$voters$initial" ] ||
		die "start: need --id, --ip, --cluster-id and --voters or --initial-controllers"
	[ -z "$voters" ] || [ -z "$initial" ] || die "start: --voters and --initial-controllers exclude each other"
	cip=${cip:-$ip}
	aip=${aip:-$ip}
	mkdir -p "$dir/data" "$dir/logs"
	if alive "$dir"; then
		log "node $id already running (pid $(pid_of "$dir")) in $dir"
		[ -z "$wait" ] || cmd_wait "$dir" "$wait"
		return 0
	fi

	step "write $dir/server.properties (node $id on $ip)"
	local listeners="PLAINTEXT://$ip:$KAFKA_PORT" n
	case ",$roles," in *,controller,*) listeners="$listeners,CONTROLLER://$cip:$CONTROLLER_PORT" ;; esac
	n=$(echo "$voters$initial" | tr ',' '\n' | grep -c .)
	local rf=$((n < 3 ? n : 3))
	{
		echo "# written by hack/kafka/broker.sh at $(date -u +%FT%TZ); rewritten at every start"
		echo "# metrics-ip=$ip"
		echo "process.roles=$roles"
		echo "node.id=$id"
		if [ -n "$voters" ]; then
			echo "controller.quorum.voters=$voters"
		else # 0@h:p:dir,... -> h:p,...
			echo "controller.quorum.bootstrap.servers=$(echo "$initial" | tr ',' '\n' | sed 's/^[0-9]*@//; s/:[^:]*$//' | paste -sd,)"
		fi
		echo "listeners=$listeners"
		echo "advertised.listeners=PLAINTEXT://$aip:$KAFKA_PORT"
		echo "controller.listener.names=CONTROLLER"
		echo "inter.broker.listener.name=PLAINTEXT"
		echo "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
		echo "log.dirs=$dir/data"
		[ -z "$rack" ] || echo "broker.rack=$rack"
		# small and quick: few threads, small internal topics, fast failure detection
		echo "num.network.threads=2"
		echo "num.io.threads=2"
		echo "background.threads=2"
		echo "num.replica.fetchers=1"
		echo "num.recovery.threads.per.data.dir=1"
		echo "log.cleaner.threads=1"
		echo "log.cleaner.dedupe.buffer.size=8388608"
		echo "offsets.topic.num.partitions=3"
		echo "offsets.topic.replication.factor=$rf"
		echo "transaction.state.log.num.partitions=3"
		echo "transaction.state.log.replication.factor=$rf"
		echo "transaction.state.log.min.isr=$((rf < 2 ? 1 : 2))"
		echo "group.initial.rebalance.delay.ms=0"
		echo "broker.heartbeat.interval.ms=1000"
		echo "broker.session.timeout.ms=6000"
		echo "replica.lag.time.max.ms=10000"
		echo "log.segment.bytes=16777216"
		echo "log.index.size.max.bytes=1048576"
		local kv
		for kv in ${sets[@]+"${sets[@]}"}; do echo "$kv"; done
	} >"$dir/server.properties.tmp"
	mv "$dir/server.properties.tmp" "$dir/server.properties"

	local home cp
	home=$(kafka_home) || die "cannot fetch kafka (run hack/install-kafka.sh)"
	cp="$home/libs/*"
	local jvm=(${KAFKA_HEAP:--Xmx384m -Xms64m} -XX:+UseSerialGC -XX:TieredStopAtLevel=1
		-XX:-UsePerfData -Djava.awt.headless=true -Dlog4j.configuration="file:$HERE/log4j.properties"
		-Dkafka.logs.dir="$dir/logs" ${KAFKA_JAVA_OPTS:-})

	if [ ! -f "$dir/data/meta.properties" ]; then
		local how=()
		if [ -n "$initial" ]; then
			case ",$initial" in
			*",$id@"*) how=(--initial-controllers "$initial") ;;
			*) case ",$roles," in *,controller,*) how=(--no-initial-controllers) ;; esac ;;
			esac
		fi
		step "format $dir/data (cluster $cid, node $id${how[0]:+, ${how[0]#--}})"
		java -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
			-Dlog4j.configuration="file:$HERE/tools-log4j.properties" -cp "$cp" \
			kafka.tools.StorageTool format --cluster-id "$cid" --config "$dir/server.properties" \
			${how[@]+"${how[@]}"} >"$dir/format.out" 2>&1 || { cat "$dir/format.out" >&2; false; }
	fi

	step "start node $id on $ip (kafka :$KAFKA_PORT, controller $cip:$CONTROLLER_PORT, metrics :$METRICS_PORT)"
	# setsid: its own process group, away from the caller's terminal signals.
	setsid java "${jvm[@]}" -javaagent:"$home/agent/jmx_prometheus_javaagent.jar=$ip:$METRICS_PORT:$HERE/jmx-exporter.yaml" \
		-cp "$cp" kafka.Kafka "$dir/server.properties" >>"$dir/broker.out" 2>&1 </dev/null &
	echo $! >"$dir/broker.pid"
	log "node $id started, pid $!, log $dir/logs/server.log"
	[ -z "$wait" ] || { cmd_wait "$dir" "$wait" && log "node $id RUNNING"; }
}

cmd_stop() {
	local dir=$1 timeout=30
	[ "${2:-}" = --timeout ] && timeout=$3
	if ! alive "$dir"; then
		rm -f "$dir/broker.pid"
		log "node in $dir is not running"
		return 0
	fi
	local pid i
	pid=$(pid_of "$dir")
	step "stop pid $pid ($dir): SIGTERM, controlled shutdown, up to ${timeout}s"
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < timeout * 5; i++)); do
		gone "$pid" && break
		sleep 0.2
	done
	if ! gone "$pid"; then
		log "pid $pid still alive after ${timeout}s: SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do
			gone "$pid" && break
			sleep 0.1
		done
	fi
	rm -f "$dir/broker.pid"
	log "stopped pid $pid"
}

cmd_cluster_id() { # a Kafka Uuid (16 bytes, base64url, no padding) derived from NAME;
	# never starting with '-' (Kafka's own rule: the tools would read it as a flag)
	python3 -c '
import base64, hashlib, sys
s = sys.argv[1]
while True:
    u = base64.urlsafe_b64encode(hashlib.md5(s.encode()).digest()).decode().rstrip("=")
    if not u.startswith("-"):
        print(u)
        break
    s += "'"'"'"
' "$1"
}

sub=${1:-}
[ $# -ge 2 ] || die "usage: broker.sh start|stop|wait|status DIR ... | cluster-id NAME"
shift
if [ "$sub" != cluster-id ]; then
	d=$(realpath -m "$1") # absolute: the pid check matches it against the command line
	shift
	set -- "$d" "$@"
fi
case "$sub" in
start) cmd_start "$@" ;;
stop) cmd_stop "$@" ;;
wait) cmd_wait "$@" ;;
status) if alive "$1"; then echo "running pid $(pid_of "$1") brokerstate=$(broker_state "$1")"; else echo stopped; exit 3; fi ;;
cluster-id) cmd_cluster_id "$1" ;;
*) die "unknown command $sub" ;;
esac
