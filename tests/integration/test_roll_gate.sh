#!/usr/bin/env bash
# tests/integration/test_roll_gate.sh — a failing gate holds a roll, and a roll that goes
# never has two members down at once. A Ready 3-member PSC (fake metrics, all gates 0);
# member 2 reports 3 under-replicated partitions; a restart is requested: for 20 s no pod
# is deleted and the PSC says Rolling=True RollBlocked naming member 2, the metric and
# the gate's max (not the live reading: a message changes only when the state does). The reading goes back to 0: every member is restarted once, in turn, and
# member-watch (a list+watch of every pod change) never sees two members down at once;
# it also plays each restart's catch-up (the other members report 1 under-replicated
# partition until 12 s after the new pod is Ready: longer than any settle time the
# operator may wait by itself) and fails the test when the next member is deleted inside
# that window: the gates must be read again, and hold, after every restart.
set -euo pipefail
source "$BALLAST_SOURCE_DIR/tests/integration/lib/roll.sh"

PSC=gate
N=3
HOLD_SECS=${ROLL_GATE_HOLD_SECS:-20}
METRICS_PORT=$((20000 + ($$ + 7) % 20000))
URP=kafka_server_replicamanager_underreplicatedpartitions
export ROLL_CATCHUP_SECS=${ROLL_CATCHUP_SECS:-12}
BAD=$PSC-2 # not the first member the roll would restart: the message must name the culprit

roll_init rollgate
e2e_ready_psc "$PSC" "$N" "$METRICS_PORT" "rollTimeoutSeconds: 600"
UIDS0=$(roll_uids "$PSC" "$N")
log "pods: $UIDS0"
roll_watch_start "$PSC" "$N"

# ---------------------------------------------------------------------------------
step "$BAD reports $URP=3, then a restart is requested: the roll is blocked"
e2e_fake_metrics "$BAD.prom" "${E2E_HEALTHY_METRICS/underreplicatedpartitions 0/underreplicatedpartitions 3}"
curl -fsS --max-time 3 "http://$(kubectl -n "$NS" get pod "$BAD" -o jsonpath='{.status.podIP}'):$METRICS_PORT/metrics" |
	grep -q "^$URP 3$" || fail "the fake member $BAD does not serve $URP 3"
kubectl -n "$NS" annotate psc "$PSC" ballast.dev/restart=x --overwrite >/dev/null
T_ANN=$SECONDS
# The message must name the failing member, the metric and the gate's max; it carries no
# live reading (the 3), so that a blocked roll does not rewrite status every pass.
blocked_on_bad() {
	psc_cond_is "$PSC" Rolling True RollBlocked || return 1
	local m
	m=$(psc_cond "$PSC" Rolling message)
	[[ "$m" == *"$BAD"* && "$m" == *"$URP"* && "$m" == *"max 0"* ]] || return 1
	local about=${m#*"$URP"}
	about=${about%%;*} # what is said of the metric: "above its max 0", no reading
	[[ "$about" != *3* ]]
}
e2e_wait "Rolling=True RollBlocked naming $BAD, $URP and its max 0" 60 blocked_on_bad
ok "Rolling message: $(psc_cond "$PSC" Rolling message)"

step "for ${HOLD_SECS}s after the request no pod is deleted"
while [ $((SECONDS - T_ANN)) -lt "$HOLD_SECS" ]; do
	now=$(roll_uids "$PSC" "$N")
	[ "$now" = "$UIDS0" ] || fail "a pod was replaced while $BAD's gate fails: uids were [$UIDS0], now [$now]"
	[ -z "$(kubectl -n "$NS" get pods -l "$E2E_SELECTOR" -o jsonpath='{.items[*].metadata.deletionTimestamp}')" ] ||
		fail "a pod is being deleted while $BAD's gate fails"
	blocked_on_bad || fail "the roll stopped reporting RollBlocked on $BAD: Rolling=$(psc_cond "$PSC" Rolling status)/$(psc_cond "$PSC" Rolling reason): $(psc_cond "$PSC" Rolling message)"
	sleep 1
done
e2e_operator_alive
grep -q "down=1" "$E2E_TMP/member-watch.log" && fail "member-watch saw a member down while the roll was blocked"
ok "after $((SECONDS - T_ANN))s every pod still has its uid, none is being deleted, and RollBlocked holds"
roll_labels "$PSC" "$N" ballast.dev/restart | sed 's/^/  restart labels: /'

# ---------------------------------------------------------------------------------
step "$BAD reports 0 again: the roll proceeds one member at a time to completion"
rm -f "$E2E_METRICS_DIR/$BAD.prom"
T_ROLL=$SECONDS
e2e_wait "every pod carries ballast.dev/restart=x" 240 roll_label_all "$PSC" "$N" ballast.dev/restart x
e2e_wait "the roll is over: Rolling=False, Ready=True, $N pods Ready on updateRevision" 120 roll_done "$PSC" "$N"
ok "roll took $((SECONDS - T_ROLL))s; Rolling: $(psc_cond "$PSC" Rolling reason): $(psc_cond "$PSC" Rolling message)"
roll_watch_stop
roll_restarts_are 1
ok "no member was deleted while the previous one's catch-up (${ROLL_CATCHUP_SECS}s of URP 1 on its peers) lasted"
ok "each member was replaced exactly once ($ROLL_RESTARTS)"
now=$(roll_uids "$PSC" "$N")
read -r -a before <<<"$UIDS0"
read -r -a after <<<"$now"
for i in $(seq 0 $((N - 1))); do
	[ "${before[$i]}" != "${after[$i]}" ] || fail "$PSC-$i still has its old pod ${before[$i]}"
done
# The witness's order of events: a member's new pod is Ready before the next one goes.
order=$(grep -o '([^ ]* DELETED)' "$E2E_TMP/member-watch.log" | tr -d '()' | awk '{print $1}' | tr '\n' ' ')
log "members deleted in this order: $order"

step "SIGTERM: ballast exits 0"
e2e_stop_operator 10
echo "PASS: test_roll_gate: a failing gate held the roll ${HOLD_SECS}s with no deletion; then $N members rolled one at a time (max down $ROLL_MAX_DOWN)"
