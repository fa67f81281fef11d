#!/usr/bin/env bash
# tests/integration/test_psc_resume.sh — the roll's progress lives in the cluster, not in
# ballast's memory: ballast killed (SIGKILL) in the middle of a restart roll, then
# started again, finishes the roll without restarting any member twice and without
# ever having two members down at once.
set -euo pipefail
source "$BALLAST_SOURCE_DIR/tests/integration/lib/e2e.sh"

PSC=resume
N=4
METRICS_PORT=$((20000 + $$ % 20000))

e2e_init resume
e2e_ready_psc "$PSC" "$N" "$METRICS_PORT"

# Every pod (name uid) ever seen, and the count of Ready members over time.
kubectl -n "$NS" get pods -l "$E2E_SELECTOR" --watch \
	-o jsonpath='{.metadata.name} {.metadata.uid}{"\n"}' >"$E2E_TMP/pods.watch" 2>/dev/null &
watch_pid=$!
(
	while :; do
		kubectl -n "$NS" get pods -l "$E2E_SELECTOR" \
			-o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status} {end}{"\n"}' 2>/dev/null |
			awk '{c = 0; for (i = 1; i <= NF; i++) if ($i == "True") c++; print c}'
		sleep 0.3
	done
) >"$E2E_TMP/ready-samples" &
sampler=$!
e2e_defer "kill $watch_pid $sampler 2>/dev/null"

# ---------------------------------------------------------------------------------
step "a restart roll starts; ballast is killed once the first member has restarted"
kubectl -n "$NS" annotate psc "$PSC" ballast.dev/restart=r1 --overwrite >/dev/null
restarted_count() {
	kubectl -n "$NS" get pods -l "$E2E_SELECTOR,ballast.dev/restart=r1" -o name | grep -c . || true
}
first_done() { [ "$(restarted_count)" -ge 1 ]; }
e2e_wait "a first member restarted onto r1" 60 first_done
kill -KILL "$E2E_OP_PID"
wait "$E2E_OP_PID" 2>/dev/null || true
E2E_OP_PID=""
done_at_kill=$(restarted_count)
ok "ballast killed with $done_at_kill of $N members restarted"
[ "$done_at_kill" -lt "$N" ] || log "the roll was already over when ballast was killed; the test still checks it"

step "a new ballast finishes the roll, restarting each member exactly once"
e2e_start_operator
all_done() { [ "$(restarted_count)" -eq "$N" ]; }
e2e_wait "every member restarted onto r1" 240 all_done
up_to_date() { psc_ready "$PSC" && psc_cond_is "$PSC" Rolling False UpToDate; }
e2e_wait "Ready=True, Rolling=False UpToDate" 120 up_to_date
wait_reconciles "$PSC" 2 60 # an extra restart would start now, and show in the watch
kill "$watch_pid" "$sampler" 2>/dev/null || true
wait "$watch_pid" "$sampler" 2>/dev/null || true
for i in $(seq 0 $((N - 1))); do
	uids=$(awk -v p="$PSC-$i" '$1 == p {print $2}' "$E2E_TMP/pods.watch" | sort -u | grep -c . || true)
	[ "$uids" -eq 2 ] || fail "$PSC-$i had $uids different pods during the roll, want 2 (restarted exactly once): $(grep "^$PSC-$i " "$E2E_TMP/pods.watch" | sort -u | tr '\n' ' ')"
done
ok "each of the $N members had exactly two pods (one restart each) across both operators"
min=$(sort -n "$E2E_TMP/ready-samples" | head -1)
[ -n "$min" ] && [ "$min" -ge $((N - 1)) ] ||
	fail "at some point only $min of $N members were Ready: two were down at once"
ok "never fewer than $((N - 1)) of $N members Ready ($(wc -l <"$E2E_TMP/ready-samples") samples)"

step "7. SIGTERM: ballast exits 0"
e2e_stop_operator 10
echo "PASS: a killed ballast resumes the roll where it was"
