#!/usr/bin/env bash
# tests/integration/test_psc_roll.sh — ballast changes a running cluster only while it is
# healthy: a gate that fails in a steady cluster is reported (Degraded GateFailing);
# a restart requested then (annotation ballast.dev/restart) is blocked (Rolling=True
# RollBlocked naming the member and the metric) and deletes no pod; once the gate holds
# the roll restarts every member exactly once, one at a time, and ends Ready/UpToDate.
set -euo pipefail
source "$BALLAST_SOURCE_DIR/tests/integration/lib/e2e.sh"

PSC=roll
N=3
METRICS_PORT=$((20000 + $$ % 20000))

e2e_init roll
e2e_ready_psc "$PSC" "$N" "$METRICS_PORT" "rollTimeoutSeconds: 600"
declare -A UID0=()
for i in $(seq 0 $((N - 1))); do UID0[$i]=$(kubectl -n "$NS" get pod "$PSC-$i" -o jsonpath='{.metadata.uid}'); done

# ---------------------------------------------------------------------------------
step "a gate that fails in a steady cluster is noticed (no Kubernetes event announces it)"
e2e_fake_metrics "$PSC-1.prom" "${E2E_HEALTHY_METRICS/underreplicatedpartitions 0/underreplicatedpartitions 3}"
gate_failing() { psc_cond_is "$PSC" Degraded True GateFailing; }
e2e_wait "Degraded=True GateFailing" 90 gate_failing
msg=$(psc_cond "$PSC" Degraded message)
[[ "$msg" == *"$PSC-1"*kafka_server_replicamanager_underreplicatedpartitions* ]] ||
	fail "the GateFailing message does not name $PSC-1 and the metric: $msg"
psc_cond_is "$PSC" Ready False GateFailing || fail "Ready is $(psc_cond "$PSC" Ready status)/$(psc_cond "$PSC" Ready reason), want False/GateFailing"
ok "Degraded: $msg"

step "a restart requested while a gate fails is blocked and deletes nothing"
kubectl -n "$NS" annotate psc "$PSC" ballast.dev/restart=r1 --overwrite >/dev/null
blocked() {
	psc_cond_is "$PSC" Rolling True RollBlocked &&
		[[ "$(psc_cond "$PSC" Rolling message)" == *"$PSC-1"*underreplicatedpartitions* ]]
}
e2e_wait "Rolling=True RollBlocked naming $PSC-1 and the metric" 60 blocked
ok "Rolling: $(psc_cond "$PSC" Rolling message)"
wait_reconciles "$PSC" 2 60 # looked again, twice, after reporting the block
for i in $(seq 0 $((N - 1))); do
	[ "$(kubectl -n "$NS" get pod "$PSC-$i" -o jsonpath='{.metadata.uid}')" = "${UID0[$i]}" ] ||
		fail "$PSC-$i was restarted while a gate fails"
done
events=$(kubectl -n "$NS" get events --field-selector involvedObject.kind=PhysicalStatefulCluster \
	-o jsonpath='{range .items[*]}{.type} {.reason}{"\n"}{end}')
grep -q "^Warning RollBlocked" <<<"$events" || fail "no Warning RollBlocked event; events: $events"
ok "no member restarted; Warning Event RollBlocked recorded"

# ---------------------------------------------------------------------------------
step "once the gate holds, every member restarts exactly once, one at a time"
# Sample the members' readiness while the roll runs: never fewer than N-1 Ready.
(
	while :; do
		kubectl -n "$NS" get pods -l "$E2E_SELECTOR" \
			-o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status} {end}{"\n"}' 2>/dev/null |
			awk '{c = 0; for (i = 1; i <= NF; i++) if ($i == "True") c++; print c}'
		sleep 0.3
	done
) >"$E2E_TMP/ready-samples" &
sampler=$!
rm -f "$E2E_METRICS_DIR/$PSC-1.prom"
restarted() {
	local i
	for i in $(seq 0 $((N - 1))); do
		[ "$(kubectl -n "$NS" get pod "$PSC-$i" -o jsonpath='{.metadata.labels.ballast\.dev/restart}')" = r1 ] || return 1
	done
}
e2e_wait "every pod carries ballast.dev/restart=r1" 240 restarted
e2e_wait "$N member pods Ready" 60 pods_ready "$N"
up_to_date() { psc_ready "$PSC" && psc_cond_is "$PSC" Rolling False UpToDate; }
e2e_wait "Ready=True, Rolling=False UpToDate" 120 up_to_date
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
min=$(sort -n "$E2E_TMP/ready-samples" | head -1)
[ -n "$min" ] && [ "$min" -ge $((N - 1)) ] ||
	fail "at some point only $min of $N members were Ready: two were down at once ($(tr '\n' ' ' <"$E2E_TMP/ready-samples"))"
ok "never fewer than $((N - 1)) of $N members Ready during the roll ($(wc -l <"$E2E_TMP/ready-samples") samples)"
for i in $(seq 0 $((N - 1))); do
	[ "$(kubectl -n "$NS" get pod "$PSC-$i" -o jsonpath='{.metadata.uid}')" != "${UID0[$i]}" ] ||
		fail "$PSC-$i was not restarted"
done
n=$(kubectl -n "$NS" get events --field-selector involvedObject.kind=PhysicalStatefulCluster,reason=MemberRestarting \
	-o jsonpath='{range .items[*]}{.count}{"\n"}{end}' | awk '{s += ($1 ? $1 : 1)} END {print s + 0}')
[ "$n" -eq "$N" ] || fail "$n MemberRestarting events, want $N (one per member)"
ok "each member restarted once ($n MemberRestarting events); Rolling: $(psc_cond "$PSC" Rolling message)"

step "the same restart value again restarts nothing"
declare -A UID1=()
for i in $(seq 0 $((N - 1))); do UID1[$i]=$(kubectl -n "$NS" get pod "$PSC-$i" -o jsonpath='{.metadata.uid}'); done
from=$(e2e_reconciles "$PSC")
kubectl -n "$NS" annotate psc "$PSC" ballast.dev/restart=r1 --overwrite >/dev/null
kubectl -n "$NS" annotate psc "$PSC" e2e.ballast.dev/touch=1 --overwrite >/dev/null
wait_reconciles "$PSC" 2 60 "$from"
for i in $(seq 0 $((N - 1))); do
	[ "$(kubectl -n "$NS" get pod "$PSC-$i" -o jsonpath='{.metadata.uid}')" = "${UID1[$i]}" ] || fail "$PSC-$i restarted again"
done
ok "no member restarted again"

step "7. SIGTERM: ballast exits 0"
e2e_stop_operator 10
echo "PASS: rolls wait for the gates, then restart one member at a time"
