# tests/realnodes/test_realnodes_kafka.sh — the README's sample becomes a working,
# rack-aware KRaft cluster on real nodes, configured by ballast alone: the operator
# installed by its chart, the PSC applied with kubectl, the pods ballast renders running
# the engine image this repository builds. Checked from a client pod with Kafka's own
# tools: 3 voters in the quorum, every broker registered with broker.rack = its zone and
# reached at its advertised name, an RF=3 topic on three racks. Then, under a continuous
# idempotent acks=all producer, a roll after a spec.config change and a roll from the
# restart annotation: 0 acknowledged messages lost, 0 failed sends, never two brokers
# down (sampled each second at the pods' IPs, and from the API by member-watch).
set -euo pipefail
source "$BALLAST_SOURCE_DIR/tests/realnodes/kafka.sh"
kafka_init kafka

step "the operator, by helm; the README's sample with 3 members on $KAFKA_NEW"
kafka_operator
t0=$SECONDS
kafka_sample 3 "$KAFKA_NEW" | kubectl apply -n "$NS" -f - >/dev/null
kafka_wait_settled "the sample Ready" 600
rn_report "kafka: 3-member sample Ready in $((SECONDS - t0))s after kubectl apply"
kubectl get pods -n "$NS" -o wide
kafka_client

step "the quorum: 3 voters, named by ballast"
q=$(ktool kafka-metadata-quorum.sh describe --status)
sed 's/^/  /' <<<"$q"
voters=$(grep '^CurrentVoters:' <<<"$q")
if grep -q '"id"' <<<"$voters"; then nv=$(grep -o '"id": *[0-9]*' <<<"$voters" | wc -l); else nv=$(grep -o '[0-9][0-9]*' <<<"$voters" | wc -l); fi
[ "$nv" = 3 ] || fail "want 3 voters: $voters"
ok "3 voters"

step "every broker at its advertised name, with broker.rack = the zone of its node"
av=$(ktool kafka-broker-api-versions.sh | grep ' (id: ')
sed 's/ -> .*//; s/^/  /' <<<"$av"
declare -A RACK
for i in 0 1 2; do
	node=$(kubectl get pod -n "$NS" "$PSC-$i" -o jsonpath='{.spec.nodeName}')
	zone=$(kubectl get node "$node" -o jsonpath='{.metadata.labels.topology\.kubernetes\.io/zone}')
	grep -q "^$PSC-$i\.$PSC-headless\.$NS\.svc:9092 (id: $i rack: $zone)" <<<"$av" ||
		fail "broker $i is not advertised as $PSC-$i.$PSC-headless.$NS.svc:9092 with rack $zone"
	RACK[$i]=$zone
done
ok "brokers 0,1,2 on racks ${RACK[0]},${RACK[1]},${RACK[2]}"

step "an RF=3 topic has each partition's replicas on three racks"
kafka_topic racks 6
d=$(ktool kafka-topics.sh --describe --topic racks)
sed 's/^/  /' <<<"$d"
while read -r reps; do
	racks=$(tr ',' '\n' <<<"$reps" | while read -r b; do echo "${RACK[$b]}"; done | sort -u | wc -l)
	[ "$racks" = 3 ] || fail "replicas $reps span $racks racks"
done < <(grep -o 'Replicas: [0-9,]*' <<<"$d" | cut -d' ' -f2)
ok "6 partitions, each on 3 racks"

TOPIC=roll
kafka_topic "$TOPIC" 6
producer_start "$TOPIC"
sampler_start 3

step "a spec.config change rolls every broker under the producer"
roll "spec.config change" 3 patch psc -n "$NS" "$PSC" --type merge -p '{"spec":{"config":{"log.retention.hours":"169"}}}'
step "the restart annotation rolls every broker under the producer"
roll "restart annotation" 3 annotate psc -n "$NS" "$PSC" "ballast.dev/restart=rn-$(date +%s)" --overwrite

step "no acknowledged message lost"
sleep 3
producer_stop "$TOPIC"
sampler_stop
verify "$TOPIC"
rn_report "RESULT kafka rolls: acked=$ACKED lost=$LOST failed_sends=$FAILED"
