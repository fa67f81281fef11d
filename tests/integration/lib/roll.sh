# tests/integration/lib/roll.sh — helpers for the rolling-restart tests (test_roll_*.sh and
# test_psc_roll.sh), on top of lib/e2e.sh: the member-watch witness (never more than
# one member down), pod uid/label snapshots, an operator that can be SIGKILLed and
# started again, and a cleanup that stops every extra process a roll test started.
# Sourced, never run.

source "$BALLAST_SOURCE_DIR/tests/integration/lib/e2e.sh"

ROLL_WATCH="$BALLAST_SOURCE_DIR/tests/support/member-watch.py"
ROLL_WATCH_PID=""
ROLL_EXTRA_PIDS=() # other background processes of the test (fake members, ...)
ROLL_CLEANUP_HOOK="" # a command run after those stopped, before e2e's cleanup

# roll_init NAME — e2e_init, plus a cleanup that first stops the witness and every pid
# in ROLL_EXTRA_PIDS (SIGTERM, then SIGKILL), then runs e2e's cleanup; also on SIGTERM
# or SIGINT (a ctest timeout), which would otherwise skip the EXIT trap.
roll_init() {
	e2e_init "$1"
	trap 'roll_cleanup' EXIT
	trap 'exit 143' TERM
	trap 'exit 130' INT
}

roll_cleanup() {
	local rc=$? p
	set +e
	if [ -n "$ROLL_WATCH_PID" ]; then
		kill -TERM "$ROLL_WATCH_PID" 2>/dev/null
		e2e_reap "$ROLL_WATCH_PID" 5 || kill -KILL "$ROLL_WATCH_PID" 2>/dev/null
		if [ "$rc" != 0 ] && [ -f "$E2E_TMP/member-watch.log" ]; then
			echo "---- member-watch timeline (last 40 lines)" >&2
			tail -n 40 "$E2E_TMP/member-watch.log" >&2
		fi
	fi
	for p in "${ROLL_EXTRA_PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || continue
	done
	for p in "${ROLL_EXTRA_PIDS[@]}"; do
		e2e_reap "$p" 15 || kill -KILL "$p" 2>/dev/null
	done
	[ -z "$ROLL_CLEANUP_HOOK" ] || eval "$ROLL_CLEANUP_HOOK"
	(exit "$rc")
	e2e_cleanup
}

# roll_members PSC N — "PSC-0,PSC-1,...".
roll_members() {
	local i out=""
	for i in $(seq 0 $(($2 - 1))); do out+="${out:+,}$1-$i"; done
	echo "$out"
}

# roll_watch_start PSC N [MAX_DOWN] — start the witness on PSC's N members; returns once
# it has listed the pods (it watches from then on). Its timeline: $E2E_TMP/member-watch.log.
# With ROLL_CATCHUP_SECS=S (fake members only), whenever a member goes down the others
# report 1 under-replicated partition until S s after its new pod is Ready, and a member
# deleted inside that window fails the test (the gates were not read again after a
# restart); it also makes each restart last long enough for the crash test's kills.
roll_watch_start() {
	local ready="$E2E_TMP/member-watch.ready" t0=$SECONDS catchup=()
	rm -f "$ready"
	if [ -n "${ROLL_CATCHUP_SECS:-}" ]; then
		printf '%s\n' "${E2E_HEALTHY_METRICS/underreplicatedpartitions 0/underreplicatedpartitions 1}" \
			>"$E2E_TMP/catchup.prom"
		catchup=(--catchup-dir "$E2E_METRICS_DIR" --catchup-secs "$ROLL_CATCHUP_SECS"
			--catchup-file "$E2E_TMP/catchup.prom")
	fi
	python3 "$ROLL_WATCH" --kubeconfig "$KUBECONFIG" --namespace "$NS" \
		--members "$(roll_members "$1" "$2")" --max-down "${3:-1}" --ready-file "$ready" \
		"${catchup[@]}" >"$E2E_TMP/member-watch.log" 2>&1 &
	ROLL_WATCH_PID=$!
	until [ -f "$ready" ]; do
		kill -0 "$ROLL_WATCH_PID" 2>/dev/null || {
			cat "$E2E_TMP/member-watch.log" >&2
			fail "member-watch exited before it listed the pods"
		}
		[ $((SECONDS - t0)) -lt 30 ] || fail "member-watch did not list the pods within 30s"
		sleep 0.2
	done
	ok "member-watch follows $(roll_members "$1" "$2") (pid $ROLL_WATCH_PID)"
}

# roll_watch_stop — stop the witness; prints its timeline and summary; sets
# ROLL_WATCH_SUMMARY, ROLL_MAX_DOWN, ROLL_RESTARTS ("a-0:1,a-1:1,...") and ROLL_RELISTS;
# fails the test when more than MAX_DOWN members were ever down at once.
roll_watch_stop() {
	[ -n "$ROLL_WATCH_PID" ] || fail "roll_watch_stop: member-watch is not running"
	kill -TERM "$ROLL_WATCH_PID"
	e2e_reap "$ROLL_WATCH_PID" 10 || fail "member-watch did not stop within 10s"
	ROLL_WATCH_PID=""
	local rc=$E2E_REAPED_RC
	echo "---- member-watch timeline ($(grep -c '^+' "$E2E_TMP/member-watch.log") changes)"
	grep -v SUMMARY "$E2E_TMP/member-watch.log" | tail -n "${ROLL_TIMELINE_LINES:-80}"
	ROLL_WATCH_SUMMARY=$(grep 'member-watch: SUMMARY' "$E2E_TMP/member-watch.log" | tail -1)
	echo "$ROLL_WATCH_SUMMARY"
	[ -n "$ROLL_WATCH_SUMMARY" ] || fail "member-watch printed no summary (exit $rc)"
	ROLL_MAX_DOWN=$(sed -n 's/.* max_down=\([0-9-]*\) .*/\1/p' <<<"$ROLL_WATCH_SUMMARY")
	ROLL_RESTARTS=$(sed -n 's/.* restarts=\([^ ]*\) .*/\1/p' <<<"$ROLL_WATCH_SUMMARY")
	ROLL_RELISTS=$(sed -n 's/.* relists=\([0-9]*\) .*/\1/p' <<<"$ROLL_WATCH_SUMMARY")
	ROLL_GATE_VIOLATIONS=$(sed -n 's/.* gate_violations=\([0-9]*\) .*/\1/p' <<<"$ROLL_WATCH_SUMMARY")
	[ "${ROLL_GATE_VIOLATIONS:-0}" = 0 ] ||
		fail "a member was deleted while the peers still reported under-replicated partitions after the previous restart ($ROLL_GATE_VIOLATIONS times; see '# GATE VIOLATION' above)"
	[ "$rc" = 0 ] || fail "members down at once exceeded the limit: $ROLL_WATCH_SUMMARY"
	[ "$ROLL_RELISTS" = 0 ] ||
		log "note: member-watch listed again $ROLL_RELISTS times; changes inside those gaps are unseen"
	ok "never more than $ROLL_MAX_DOWN member(s) down at once ($(grep -c '^+' "$E2E_TMP/member-watch.log") changes seen)"
}

# roll_restarts_are N — every member was replaced exactly N times, per the witness.
roll_restarts_are() {
	local want=$1 m n
	for m in ${ROLL_RESTARTS//,/ }; do
		n=${m##*:}
		[ "$n" = "$want" ] || fail "member ${m%%:*} was replaced $n times during the roll, want $want ($ROLL_RESTARTS)"
	done
}

# roll_uids PSC N — "uid0 uid1 ..." of the members' pods ("-" for a missing one).
roll_uids() {
	local i u out=""
	for i in $(seq 0 $(($2 - 1))); do
		u=$(kubectl -n "$NS" get pod "$1-$i" -o jsonpath='{.metadata.uid}' 2>/dev/null) || u=""
		out+="${out:+ }${u:--}"
	done
	echo "$out"
}

# roll_label_all PSC N LABEL VALUE — every member's pod exists and carries LABEL=VALUE.
roll_label_all() {
	local i v
	for i in $(seq 0 $(($2 - 1))); do
		v=$(kubectl -n "$NS" get pod "$1-$i" -o jsonpath="{.metadata.labels.${3//./\\.}}" 2>/dev/null) || return 1
		[ "$v" = "$4" ] || return 1
	done
}

# roll_labels PSC N LABEL — "PSC-0=v PSC-1=v ..." for messages.
roll_labels() {
	local i v out=""
	for i in $(seq 0 $(($2 - 1))); do
		v=$(kubectl -n "$NS" get pod "$1-$i" -o jsonpath="{.metadata.labels.${3//./\\.}}" 2>/dev/null) || v="(no pod)"
		out+="${out:+ }$1-$i=${v:-(none)}"
	done
	echo "$out"
}

# roll_done PSC N — the roll is over: every pod on the PSC's updateRevision, N Ready pods,
# Rolling=False and Ready=True for the current generation.
roll_done() {
	local rev
	rev=$(psc_get "$1" '{.status.updateRevision}')
	[ -n "$rev" ] && roll_label_all "$1" "$2" ballast.dev/revision "$rev" &&
		pods_ready "$2" && psc_ready "$1" && psc_cond_is "$1" Rolling False
}

# roll_spawn_operator [ARGS...] — start ballast like e2e_start_operator but return at
# once (no wait for /healthz): the crash test kills it at any point of its life,
# start-up included. Appends to $E2E_OP_LOG; sets E2E_OP_PID.
roll_spawn_operator() {
	E2E_OP_PORT=$(e2e_free_port)
	E2E_OP_LOG="$E2E_TMP/operator.log"
	echo "==== roll test: operator start $(date +%H:%M:%S.%N | cut -c1-12)" >>"$E2E_OP_LOG"
	"$BALLAST_BINARY" --kubeconfig "$KUBECONFIG" --http-addr "127.0.0.1:$E2E_OP_PORT" \
		--namespace "$NS" --log-level debug "$@" >>"$E2E_OP_LOG" 2>&1 &
	E2E_OP_PID=$!
}

# roll_kill_operator — SIGKILL ballast and reap it; fails when it had already died
# (a crash of its own is a bug, not a kill of ours).
roll_kill_operator() {
	[ -n "$E2E_OP_PID" ] || fail "roll_kill_operator: ballast is not running"
	if ! kill -0 "$E2E_OP_PID" 2>/dev/null; then
		wait "$E2E_OP_PID" && rc=0 || rc=$?
		E2E_OP_PID=""
		fail "ballast died by itself (exit $rc) before we killed it"
	fi
	kill -KILL "$E2E_OP_PID"
	wait "$E2E_OP_PID" 2>/dev/null || true
	echo "==== roll test: operator SIGKILLed $(date +%H:%M:%S.%N | cut -c1-12)" >>"$E2E_OP_LOG"
	E2E_OP_PID=""
}

# roll_psc_state PSC — one line: Rolling/Ready conditions and the pods' restart/revision labels.
roll_psc_state() {
	echo "Rolling=$(psc_cond "$1" Rolling status)/$(psc_cond "$1" Rolling reason)" \
		"Ready=$(psc_cond "$1" Ready status)/$(psc_cond "$1" Ready reason)" \
		"updateRevision=$(psc_get "$1" '{.status.updateRevision}')"
	kubectl -n "$NS" get pods -l "$E2E_SELECTOR" -o jsonpath='{range .items[*]}  {.metadata.name} uid={.metadata.uid} restart={.metadata.labels.ballast\.dev/restart} revision={.metadata.labels.ballast\.dev/revision} ready={.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}'
}
