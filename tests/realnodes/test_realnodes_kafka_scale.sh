# tests/realnodes/test_realnodes_kafka_scale.sh — on real nodes, under a continuous
# idempotent acks=all producer: the sample scaled 3 → 6 (the new brokers join and serve
# a new topic placed on them), then, after kafka-reassign-partitions moved every
# partition off brokers 3–5, scaled 6 → 3. Then the PSC is deleted and created again:
# its PVCs (kept by design) are adopted, the brokers start on their data with the same
# cluster id, and every acknowledged message is still there.
set -euo pipefail
source "$BALLAST_SOURCE_DIR/tests/realnodes/kafka.sh"
kafka_init kafkascale

step "the operator, by helm; the sample with 3 members on $KAFKA_NEW"
kafka_operator
kafka_sample 3 "$KAFKA_NEW" | kubectl apply -n "$NS" -f - >/dev/null
kafka_wait_settled "the sample Ready" 600
kafka_client
TOPIC=scale
kafka_topic "$TOPIC" 6
producer_start "$TOPIC"
sampler_start 6

step "scale 3 -> 6"
t0=$SECONDS
watch_start 3
kubectl patch psc -n "$NS" "$PSC" --type merge -p '{"spec":{"replicas":6}}' >/dev/null
kafka_wait_settled "6 members Ready" 900
watch_stop
producer_alive || fail "the producer exited during the scale-up"
KN=6
av=$(ktool kafka-broker-api-versions.sh | grep -c ' (id: [0-9]* rack: zone-[abc])')
[ "$av" = 6 ] || fail "want 6 brokers registered, got $av"
rn_report "RESULT kafka scale 3->6: seconds=$((SECONDS - t0)) brokers=6 max_members_down(0-2)=$MAX_DOWN_API"
[ "$MAX_DOWN_API" = 0 ] || fail "a scale-up took an existing member down"

step "a new topic on the new brokers 3,4,5 is served"
ktool kafka-topics.sh --create --topic fresh --replica-assignment 3:4:5,4:5:3,5:3:4 \
	--config min.insync.replicas=2 >/dev/null
kx timeout 120 kafka-verifiable-producer.sh --bootstrap-server "$(bootstrap 6)" --topic fresh --acks -1 \
	--max-messages 300 --producer.config /tmp/producer.properties >"$TMP/producer-fresh.out" 2>/dev/null
grep -q '"shutdown_complete"' "$TMP/producer-fresh.out" || fail "the producer on topic fresh did not finish"
verify fresh
leaders=$(ktool kafka-topics.sh --describe --topic fresh | grep -o 'Leader: [0-9]*' | cut -d' ' -f2 | sort -u | paste -sd,)
ok "topic fresh led by brokers $leaders"

step "move every partition off brokers 3-5 (kafka-reassign-partitions), then scale 6 -> 3"
topics=$(ktool kafka-topics.sh --list | grep . | jq -R '{topic: .}' | jq -sc '{version: 1, topics: .}')
kx bash -c "echo '$topics' > /tmp/topics.json"
ktool kafka-reassign-partitions.sh --topics-to-move-json-file /tmp/topics.json --broker-list 0,1,2 --generate |
	sed -n '/Proposed partition reassignment/{n;p}' >"$TMP/plan.json"
grep -q '"partitions"' "$TMP/plan.json" || fail "no reassignment plan"
kubectl cp "$TMP/plan.json" "$NS/kclient:/tmp/plan.json" >/dev/null 2>&1 ||
	kx bash -c "cat > /tmp/plan.json" <"$TMP/plan.json"
ktool kafka-reassign-partitions.sh --reassignment-json-file /tmp/plan.json --execute >/dev/null
moved() { ! ktool kafka-reassign-partitions.sh --reassignment-json-file /tmp/plan.json --verify | grep -q 'still in progress'; }
rn_wait "the reassignment to finish" 300 moved
ok "every partition on brokers 0,1,2 only"
t0=$SECONDS
watch_start 6 3 # members 3-5 leave: once gone they are not down, while going they are
kubectl patch psc -n "$NS" "$PSC" --type merge -p '{"spec":{"replicas":3}}' >/dev/null
kafka_wait_settled "3 members" 900
watch_stop
producer_alive || fail "the producer exited during the scale-down"
KN=3
rn_report "RESULT kafka scale 6->3: seconds=$((SECONDS - t0)) max_members_down=$MAX_DOWN_API"
[ "$MAX_DOWN_API" -le 1 ] || fail "two members down at once in the scale-down"

step "no acknowledged message lost (scale topic, fresh topic after the move)"
sleep 3
producer_stop "$TOPIC"
sampler_stop
verify "$TOPIC"
rn_report "RESULT kafka scale: acked=$ACKED lost=$LOST failed_sends=$FAILED"
verify fresh

step "delete the PSC, create it again: PVCs adopted, same cluster id, messages kept"
# the id the brokers answer with (kafka-cluster.sh takes its options after the command)
cluster_id() { kx timeout 120 kafka-cluster.sh cluster-id --bootstrap-server "$(bootstrap 3)" | sed -n 's/^Cluster ID: //p'; }
id0=$(cluster_id)
[ -n "$id0" ] || fail "no cluster id"
pvcs0=$(kubectl get pvc -n "$NS" -o jsonpath='{range .items[*]}{.metadata.name}={.metadata.uid} {end}')
kubectl delete psc -n "$NS" "$PSC" --wait=true --timeout=180s >/dev/null
rn_wait "the members' pods gone" 180 bash -c "! kubectl get pods -n $NS -l app.kubernetes.io/instance=$PSC -o name | grep -q ."
pvcs1=$(kubectl get pvc -n "$NS" -o jsonpath='{range .items[*]}{.metadata.name}={.metadata.uid} {end}')
[ "$pvcs1" = "$pvcs0" ] || fail "the PVCs did not survive the PSC's deletion: $pvcs1 (was $pvcs0)"
kafka_sample 3 "$KAFKA_NEW" | kubectl apply -n "$NS" -f - >/dev/null
kafka_wait_settled "the re-created PSC Ready" 600
id1=$(cluster_id)
[ "$id1" = "$id0" ] || fail "cluster id $id1 after re-creation, was $id0"
for i in 0 1 2; do
	c=$(kubectl get pod -n "$NS" "$PSC-$i" -o jsonpath='{.spec.volumes[?(@.name=="data")].persistentVolumeClaim.claimName}')
	[ "$c" = "data-$PSC-$i" ] || fail "$PSC-$i mounts $c"
done
verify "$TOPIC"
rn_report "RESULT kafka re-create: cluster_id=same pvcs=adopted messages=$ACKED/$ACKED"
