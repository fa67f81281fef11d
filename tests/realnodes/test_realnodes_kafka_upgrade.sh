# tests/realnodes/test_realnodes_kafka_upgrade.sh — on real nodes, under a continuous
# idempotent acks=all producer: an upgrade from Kafka 3.9.0 to 3.9.1 by changing
# spec.image (both images built from this repository), then a roll that the gates block:
# one broker's container is frozen (its node's containerd pauses it, as a hung JVM would
# be), so the others report under-replicated partitions; a spec.config change made then
# must leave every running member alone — same pods, the ConfigMap of their revision
# unchanged — for two minutes, with the PSC saying why. Thawed, the roll completes.
# 0 acknowledged messages lost, 0 failed sends, never two brokers down.
set -euo pipefail
source "$BALLAST_SOURCE_DIR/tests/realnodes/kafka.sh"
kafka_init kafkaup
HOLD=${KAFKA_BLOCK_SECS:-125}

step "the operator, by helm; the sample with 3 members on $KAFKA_OLD"
kafka_operator
kafka_sample 3 "$KAFKA_OLD" | kubectl apply -n "$NS" -f - >/dev/null
kafka_wait_settled "the sample Ready" 600
kafka_client
TOPIC=upgrade
kafka_topic "$TOPIC" 6
producer_start "$TOPIC"
sampler_start 3

step "upgrade: spec.image $KAFKA_OLD -> $KAFKA_NEW"
roll "upgrade 3.9.0 -> 3.9.1" 3 patch psc -n "$NS" "$PSC" --type merge -p "{\"spec\":{\"image\":\"$KAFKA_NEW\"}}"
for i in 0 1 2; do
	img=$(kubectl get pod -n "$NS" "$PSC-$i" -o jsonpath='{.spec.containers[0].image}')
	[ "$img" = "$KAFKA_NEW" ] || fail "$PSC-$i runs $img after the upgrade"
	v=$(kubectl exec -n "$NS" "$PSC-$i" -c engine -- bash -c 'ls /opt/kafka/libs/kafka_2.13-*.jar')
	grep -q 'kafka_2.13-3.9.1.jar' <<<"$v" || fail "$PSC-$i has $v"
done
ok "every broker runs Kafka 3.9.1"

step "a blocked roll: $PSC-2's container frozen, then a spec.config change"
node=$(kubectl get pod -n "$NS" "$PSC-2" -o jsonpath='{.spec.nodeName}')
cid=$(kubectl get pod -n "$NS" "$PSC-2" -o jsonpath='{.status.containerStatuses[0].containerID}' | sed 's#.*://##')
CTR=(ctr --address "/run/ballast-$SLOT/$node/containerd.sock" -n k8s.io)
"${CTR[@]}" task pause "$cid"
K_THAW="${CTR[*]} task resume $cid"
trap 'eval "$K_THAW" >/dev/null 2>&1; kafka_cleanup' EXIT
tf=$SECONDS
urp_seen() { tail -n 3 "$TMP/brokers.log" | grep -qE ' m[01]=3/[1-9]'; }
rn_wait "the other brokers report under-replicated partitions" 120 urp_seen
ok "frozen at +0s; URP > 0 on a live broker after $((SECONDS - tf))s: $(tail -n 1 "$TMP/brokers.log")"
rev=$(kubectl get psc -n "$NS" "$PSC" -o jsonpath='{.status.updateRevision}')
cm="$PSC-config-$rev"
cm0=$(kubectl get configmap -n "$NS" "$cm" -o jsonpath='{.metadata.resourceVersion} {.metadata.uid}')
uids0=$(kubectl get pods -n "$NS" -l "app.kubernetes.io/instance=$PSC" -o jsonpath='{range .items[*]}{.metadata.name}={.metadata.uid} {end}')
kubectl patch psc -n "$NS" "$PSC" --type merge -p '{"spec":{"config":{"log.retention.hours":"170"}}}' >/dev/null
rn_wait "a new revision" 60 bash -c "[ \"\$(kubectl get psc -n $NS $PSC -o jsonpath='{.status.updateRevision}')\" != $rev ]"
tb=$SECONDS
while [ $((SECONDS - tb)) -lt "$HOLD" ]; do
	u=$(kubectl get pods -n "$NS" -l "app.kubernetes.io/instance=$PSC" -o jsonpath='{range .items[*]}{.metadata.name}={.metadata.uid} {end}')
	[ "$u" = "$uids0" ] || fail "a member was restarted $((SECONDS - tb))s into the blocked roll: $u (was $uids0)"
	c=$(kubectl get configmap -n "$NS" "$cm" -o jsonpath='{.metadata.resourceVersion} {.metadata.uid}')
	[ "$c" = "$cm0" ] || fail "ConfigMap $cm changed during the blocked roll: $c (was $cm0)"
	sleep 5
done
msg=$(kubectl get psc -n "$NS" "$PSC" -o jsonpath='{range .status.conditions[*]}{.type}={.status}/{.reason}: {.message}{"\n"}{end}')
sed 's/^/  /' <<<"$msg"
grep -qE '^Rolling=True/RollBlocked' <<<"$msg" || fail "the PSC does not say the roll is blocked"
maxurp=$(awk -v t="$(($(date +%s) - SECONDS + tb))" '$1 >= t' "$TMP/brokers.log" | grep -o '=[0-9-]*/[0-9]*' | cut -d/ -f2 | sort -n | tail -1)
rn_report "RESULT kafka blocked roll: held=${HOLD}s pods_unchanged=yes configmap_unchanged=yes max_urp=$maxurp reason=$(grep -o '^Rolling=True/[A-Za-z]*' <<<"$msg" | cut -d/ -f2)"

step "thawed: the roll completes"
watch_start 3
t0=$(date +%s.%N | cut -c1-14)
s0=$SECONDS
eval "$K_THAW"
K_THAW=true
kafka_wait_settled "the roll after the thaw" 900
watch_stop
f=$(roll_figures "$t0" "$(date +%s.%N | cut -c1-14)" 3)
rn_report "RESULT kafka roll (after the blocked one): seconds=$((SECONDS - s0)) max_members_down=$MAX_DOWN_API $f"
[ "$MAX_DOWN_API" -le 1 ] || fail "two members down at once after the thaw"

step "no acknowledged message lost"
sleep 3
producer_stop "$TOPIC"
sampler_stop
verify "$TOPIC"
rn_report "RESULT kafka upgrade+blocked: acked=$ACKED lost=$LOST failed_sends=$FAILED"
