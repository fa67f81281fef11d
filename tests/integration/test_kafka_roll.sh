#!/usr/bin/env bash
# tests/integration/test_kafka_roll.sh — the promise users care about: rolling a real Kafka
# cluster loses no acknowledged write. Three real KRaft brokers (published Apache Kafka
# jars) stand behind a 3-member PSC's kwok pods (hack/pod-bridge.py), so ballast's gates
# read real under-replicated-partition counts. A topic with RF=3, min.insync.replicas=2
# takes a continuous acks=all stream (VerifiableProducer, sequence-numbered values,
# idempotent) while a spec.config edit makes ballast roll every broker. Afterwards every
# acknowledged message must be read back at the partition and offset it was acked at;
# member-watch (pods) and a broker sampler (brokerstate at each pod IP) must never see
# two members down at once. Prints the figures (acked, failed sends, lost, roll
# duration) in a final RESULT line. Bounded: < 10 minutes.
set -euo pipefail
source "$BALLAST_SOURCE_DIR/tests/integration/lib/roll.sh"

PSC=kroll
N=3
TOPIC=roll
PARTS=6
RATE=${KAFKA_ROLL_RATE:-100} # messages per second
T_START=$SECONDS
DEADLINE=$((T_START + ${KAFKA_ROLL_BUDGET:-570})) # the whole test, seconds
TOOL="$BALLAST_SOURCE_DIR/hack/kafka/tool.sh"
BROKER_SH="$BALLAST_SOURCE_DIR/hack/kafka/broker.sh"

# left SECS — min(SECS, what is left of the test's budget), at least 1.
left() {
	local l=$((DEADLINE - SECONDS))
	[ "$l" -ge 1 ] || fail "the test's budget of $((DEADLINE - T_START))s is spent"
	echo $(($1 < l ? $1 : l))
}
tool() { timeout "$(left 90)" bash "$TOOL" "$@"; }
# Checks after the roll do not stop the test: the zero-loss figures are worth having
# even when the roll broke a promise; the test fails at the end, naming every failure.
FAILURES=()
soft_fail() {
	FAILURES+=("$*")
	echo "FAIL: $*" >&2
}

step "Kafka jars (hack/install-kafka.sh; a no-op when cached)"
command -v java >/dev/null || fail "java is not installed: the real brokers need a JDK >= 17"
KAFKA_HOME=$(timeout 600 bash "$BALLAST_SOURCE_DIR/hack/install-kafka.sh" 2>/dev/null) ||
	fail "hack/install-kafka.sh failed; run it by hand to see why"
export KAFKA_HOME
log "kafka jars in $KAFKA_HOME"

roll_init kafkaroll
BRIDGE_STATE="$E2E_TMP/bridge"
# after the bridge stopped (SIGTERM stops its brokers), stop any broker it left behind
ROLL_CLEANUP_HOOK='for d in "$BRIDGE_STATE"/*/*/; do [ -f "$d/broker.pid" ] && bash "$BROKER_SH" stop "$d" --timeout 2 >/dev/null 2>&1; done'

pod_ips() { kubectl -n "$NS" get pods -l "$E2E_SELECTOR" -o jsonpath='{range .items[*]}{.status.podIP}{"\n"}{end}'; }
bootstrap() { pod_ips | grep . | sed 's/$/:9092/' | paste -sd, -; }
acked() { grep -c '"producer_send_success"' "$E2E_TMP/producer.out" 2>/dev/null || true; }

kafka_dump() {
	echo "---- pod-bridge log (last 30 lines)" >&2
	tail -n 30 "$E2E_TMP/bridge.log" >&2 2>/dev/null
	echo "---- broker sampler (last 15 lines)" >&2
	tail -n 15 "$E2E_TMP/brokers.log" >&2 2>/dev/null
	for f in "$BRIDGE_STATE"/*/*/logs/server.log; do
		[ -f "$f" ] || continue
		echo "---- $f (last 5 lines)" >&2
		tail -n 5 "$f" >&2
	done
	echo "---- producer stderr (last 10 lines)" >&2
	tail -n 10 "$E2E_TMP/producer.err" >&2 2>/dev/null
}
ROLL_CLEANUP_HOOK="[ \"\$rc\" = 0 ] || kafka_dump; $ROLL_CLEANUP_HOOK"

step "CRD, operator, pod-bridge, a $N-member PSC of image apache/kafka:3.9.0"
e2e_apply_crd
e2e_start_operator
python3 "$BALLAST_SOURCE_DIR/hack/pod-bridge.py" --namespace "$NS" --state "$BRIDGE_STATE" \
	${KAFKA_ROLL_CONTROLLER_NET:+--controller-net "$KAFKA_ROLL_CONTROLLER_NET"} \
	>"$E2E_TMP/bridge.log" 2>&1 </dev/null &
BRIDGE_PID=$!
ROLL_EXTRA_PIDS+=("$BRIDGE_PID")
kubectl -n "$NS" apply -f - <<EOF
apiVersion: ballast.dev/v1alpha1
kind: PhysicalStatefulCluster
metadata: {name: $PSC}
spec:
  replicas: $N
  image: apache/kafka:3.9.0
  zones: [zone-a, zone-b, zone-c]
  config:
    num.partitions: "$PARTS"
    default.replication.factor: "3"
    min.insync.replicas: "2"
    offsets.topic.replication.factor: "3"
    transaction.state.log.replication.factor: "3"
    transaction.state.log.min.isr: "2"
    log.retention.hours: "168"
  storage: {size: 1Gi}
  listeners: {client: 9092}
  health:
    metricsPort: 9404
    gates:
      - {metric: kafka_server_replicamanager_underreplicatedpartitions, max: 0}
      - {metric: kafka_controller_kafkacontroller_offlinepartitionscount, max: 0}
    rollTimeoutSeconds: 600
EOF
e2e_wait "$N member pods Ready" "$(left 120)" pods_ready "$N"
e2e_wait "PSC Ready=True (real brokers, real gates)" "$(left 240)" psc_ready "$PSC"
kill -0 "$BRIDGE_PID" 2>/dev/null || fail "pod-bridge exited"
grep -c "starting broker" "$E2E_TMP/bridge.log" | sed 's/^/  pod-bridge broker starts: /'
BOOT=$(bootstrap)
log "bootstrap $BOOT"

step "topic $TOPIC: $PARTS partitions, RF=3, min.insync.replicas=2"
tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOT" --create --topic "$TOPIC" \
	--partitions "$PARTS" --replication-factor 3 --config min.insync.replicas=2 >/dev/null
tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOT" --describe --topic "$TOPIC" | sed 's/^/  /'

step "a continuous acks=all producer at $RATE msg/s (idempotent, retries until delivery.timeout.ms)"
cat >"$E2E_TMP/producer.properties" <<EOF
enable.idempotence=true
max.in.flight.requests.per.connection=5
retries=2147483647
delivery.timeout.ms=120000
request.timeout.ms=15000
linger.ms=5
metadata.max.age.ms=5000
reconnect.backoff.max.ms=1000
EOF
bash "$TOOL" org.apache.kafka.tools.VerifiableProducer --bootstrap-server "$BOOT" --topic "$TOPIC" \
	--acks -1 --throughput "$RATE" --max-messages -1 --producer.config "$E2E_TMP/producer.properties" \
	>"$E2E_TMP/producer.out" 2>"$E2E_TMP/producer.err" </dev/null &
PRODUCER_PID=$! # tool.sh execs java: this is the JVM
ROLL_EXTRA_PIDS+=("$PRODUCER_PID")
producing() { [ "$(acked)" -ge $((RATE * 2)) ]; }
e2e_wait "the producer has $((RATE * 2)) messages acknowledged" "$(left 90)" producing

# Broker sampler: each second, every member's brokerstate (3 = RUNNING) and URP, read
# at the pod's current IP; a member without a pod, IP or RUNNING broker is down.
(
	while :; do
		line="$(date +%H:%M:%S)" down=0
		pods=$(kubectl -n "$NS" get pods -l "$E2E_SELECTOR" -o jsonpath='{range .items[*]}{.metadata.name}={.status.podIP}{"\n"}{end}' 2>/dev/null)
		for i in $(seq 0 $((N - 1))); do
			ip=$(sed -n "s/^$PSC-$i=//p" <<<"$pods")
			st=- urp=-
			if [ -n "$ip" ]; then
				m=$(curl -s --max-time 1 "http://$ip:9404/metrics" 2>/dev/null || true)
				st=$(awk '$1 == "kafka_server_kafkaserver_brokerstate" {printf "%d", $2}' <<<"$m")
				urp=$(awk '$1 == "kafka_server_replicamanager_underreplicatedpartitions" {printf "%d", $2}' <<<"$m")
			fi
			[ "${st:-}" = 3 ] || down=$((down + 1))
			line+=" $PSC-$i=state:${st:--}/urp:${urp:--}"
		done
		echo "$line down=$down"
		sleep 1
	done
) >"$E2E_TMP/brokers.log" 2>/dev/null &
ROLL_EXTRA_PIDS+=("$!")
roll_watch_start "$PSC" "$N"

# ---------------------------------------------------------------------------------
step "edit spec.config (log.retention.hours 168 -> 169): ballast rolls every broker"
rev0=$(psc_get "$PSC" '{.status.updateRevision}')
acked_before=$(acked)
kubectl -n "$NS" patch psc "$PSC" --type merge -p '{"spec":{"config":{"log.retention.hours":"169"}}}' >/dev/null
T_ROLL=$SECONDS
new_revision() { [ -n "$(psc_get "$PSC" '{.status.updateRevision}')" ] && [ "$(psc_get "$PSC" '{.status.updateRevision}')" != "$rev0" ]; }
e2e_wait "a new updateRevision (was $rev0)" "$(left 60)" new_revision
rev1=$(psc_get "$PSC" '{.status.updateRevision}')
exec 3>&2 # e2e_wait silences its command: progress reports on fd 3
progress() { # prints progress every 15 s while the roll runs; true once it is over
	if roll_done "$PSC" "$N"; then return 0; fi
	if [ $((SECONDS - ${LAST_PROGRESS:-0})) -ge 15 ]; then
		LAST_PROGRESS=$SECONDS
		echo "  +$((SECONDS - T_ROLL))s $(roll_labels "$PSC" "$N" ballast.dev/revision | sed "s/$rev1/NEW/g") acked=$(acked) Rolling=$(psc_cond "$PSC" Rolling reason): $(psc_cond "$PSC" Rolling message | cut -c1-200)" >&3
	fi
	kill -0 "$PRODUCER_PID" 2>/dev/null || { echo "FAIL: the producer exited during the roll" >&3; exit 1; }
	return 1
}
e2e_wait "the roll to $rev1 is over: every pod on it, Rolling=False, Ready=True" "$(left 420)" progress
ROLL_SECS=$((SECONDS - T_ROLL))
acked_roll=$(($(acked) - acked_before))
ok "roll took ${ROLL_SECS}s; $acked_roll messages acknowledged meanwhile"

step "stop the producer (SIGTERM: it flushes and reports)"
sleep 3
kill -TERM "$PRODUCER_PID"
e2e_reap "$PRODUCER_PID" "$(left 60)" || fail "the producer did not stop within 60s of SIGTERM"
grep -q '"shutdown_complete"' "$E2E_TMP/producer.out" || fail "the producer did not shut down cleanly"
roll_watch_stop
roll_restarts_are 1
ok "each member was replaced exactly once ($ROLL_RESTARTS)"
kill -0 "$BRIDGE_PID" 2>/dev/null || fail "pod-bridge exited"

step "broker sampler: never two brokers down at once"
echo "  (samples while the roll ran, one per second; state 3 = RUNNING)"
awk -v from="$(date -d "-$((SECONDS - T_ROLL)) seconds" +%H:%M:%S)" '$1 >= from' "$E2E_TMP/brokers.log" |
	awk '{d = $NF; if (d != prev) print "  " $0; prev = d}' | tail -n 40
MAX_BROKERS_DOWN=$(sed -n 's/.* down=\([0-9]*\)$/\1/p' "$E2E_TMP/brokers.log" | sort -n | tail -1)
MAX_URP=$(grep -o 'urp:[0-9]*' "$E2E_TMP/brokers.log" | cut -d: -f2 | sort -n | tail -1)
SAMPLES=$(grep -c . "$E2E_TMP/brokers.log")
if [ "${MAX_BROKERS_DOWN:-9}" -le 1 ]; then
	ok "at most $MAX_BROKERS_DOWN broker down in $SAMPLES samples; highest URP seen ${MAX_URP:-0} (the gates had something to wait for)"
else
	two=$(grep -c ' down=[2-9]$' "$E2E_TMP/brokers.log" || true)
	soft_fail "the sampler saw $MAX_BROKERS_DOWN brokers down at once in $two of $SAMPLES samples (see above); highest URP seen ${MAX_URP:-0}"
	echo "  the operator's restarts and pod creations (its log):" >&2
	grep 'msg="restarted member"\|action=create kind=Pod' "$E2E_OP_LOG" | cut -d' ' -f1,3- | cut -c1-160 | sed 's/^/    /' >&2
	echo "  pod-bridge's broker stops and starts:" >&2
	grep 'stopping broker\|broker stopped\|starting broker' "$E2E_TMP/bridge.log" | cut -c1-200 | sed 's/^/    /' >&2
fi

step "read the topic back and compare with every acknowledged send"
BOOT=$(bootstrap)
timeout "$(left 150)" bash "$TOOL" org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "$BOOT" \
	--topic "$TOPIC" --from-beginning --timeout-ms 20000 \
	--property print.partition=true --property print.offset=true \
	--consumer-property auto.offset.reset=earliest --consumer-property isolation.level=read_uncommitted \
	>"$E2E_TMP/consumed.out" 2>"$E2E_TMP/consumer.err" || true
grep -q . "$E2E_TMP/consumed.out" || { tail -n 20 "$E2E_TMP/consumer.err" >&2; fail "the consumer read nothing"; }
python3 - "$E2E_TMP/producer.out" "$E2E_TMP/consumed.out" >"$E2E_TMP/verdict" <<'PY'
import json, re, sys
acked, failed, errors = {}, 0, {}
for line in open(sys.argv[1]):
    try:
        ev = json.loads(line)
    except ValueError:
        continue
    if ev.get("name") == "producer_send_success":
        acked[ev["value"]] = (int(ev["partition"]), int(ev["offset"]))
    elif ev.get("name") == "producer_send_error":
        failed += 1
        errors[ev.get("exception", "?")] = errors.get(ev.get("exception", "?"), 0) + 1
at, values = {}, {}
for line in open(sys.argv[2]):
    m = re.match(r"Partition:(\d+)\s+Offset:(\d+)\s+(.*)$", line.rstrip("\n"))
    if not m:
        continue
    p, o, v = int(m.group(1)), int(m.group(2)), m.group(3)
    at[(p, o)] = v
    values[v] = values.get(v, 0) + 1
lost = [v for v in acked if v not in values]
moved = [v for v, po in acked.items() if v in values and at.get(po) != v]
dups = sum(c - 1 for c in values.values() if c > 1)
print(f"acked={len(acked)} failed_sends={failed} consumed={sum(values.values())} lost={len(lost)} "
      f"not_at_acked_offset={len(moved)} duplicates={dups}")
if lost:
    print("lost (first 20): " + " ".join(sorted(lost, key=lambda x: int(x) if x.isdigit() else 0)[:20]))
if moved:
    print("not at the acked partition/offset (first 10): " + " ".join(moved[:10]))
for k, n in errors.items():
    print(f"send error: {k} x{n}")
PY
cat "$E2E_TMP/verdict" | sed 's/^/  /'
figures=$(head -1 "$E2E_TMP/verdict")
LOST=$(sed -n 's/.* lost=\([0-9]*\) .*/\1/p' <<<"$figures")
MOVED=$(sed -n 's/.* not_at_acked_offset=\([0-9]*\) .*/\1/p' <<<"$figures")
ACKED=$(sed -n 's/^acked=\([0-9]*\) .*/\1/p' <<<"$figures")
[ "${ACKED:-0}" -gt 0 ] || soft_fail "no acknowledged message to check"
if [ "$LOST" = 0 ] && [ "$MOVED" = 0 ]; then
	ok "every one of $ACKED acknowledged messages was read back at its acked partition/offset"
else
	[ "$LOST" = 0 ] || soft_fail "$LOST acknowledged messages were not read back"
	[ "$MOVED" = 0 ] || soft_fail "$MOVED acknowledged messages are not at the partition/offset they were acked at"
fi

step "SIGTERM: ballast exits 0"
e2e_stop_operator 10
echo "RESULT test_kafka_roll: $figures roll_seconds=$ROLL_SECS acked_during_roll=$acked_roll members_restarted=$N max_members_down=$ROLL_MAX_DOWN max_brokers_down=$MAX_BROKERS_DOWN max_urp_seen=${MAX_URP:-0} total_seconds=$((SECONDS - T_START))"
if [ "${#FAILURES[@]}" -gt 0 ]; then
	fail "${#FAILURES[@]} check(s) failed: $(printf '%s; ' "${FAILURES[@]}")"
fi
echo "PASS: test_kafka_roll: a rolled 3-broker cluster lost none of $ACKED acknowledged messages"
