#!/usr/bin/env bash
# tests/integration/test_roll_crash.sh — a roll survives its operator being killed at any
# moment. A Ready 3-member PSC (fake metrics, gates hold); a restart is requested, then
# ballast is SIGKILLed 20 times at random points (0..MAX s after each start, start-up
# included) and started again, while member-watch records every pod change. Promise
# (DESIGN "Rolling"): the roll's progress lives in the pods' labels, so a killed operator
# resumes where it was and never takes two members down at once; in the end every pod
# carries the new restart label, Rolling=False, Ready=True, each member restarted once.
# member-watch also plays each restart's catch-up (peers report 1 under-replicated
# partition until ROLL_CATCHUP_SECS (12) after the new pod is Ready): it spreads the roll
# over the kill phase, and a member deleted inside that window fails the test.
# ROLL_CRASH_KILLS (20), ROLL_CRASH_MAX_SLEEP (tenths of a second, 25) and
# ROLL_CRASH_SEED (random) tune it; the seed is printed so a failure can be replayed.
set -euo pipefail
source "$BALLAST_SOURCE_DIR/tests/integration/lib/roll.sh"

PSC=crash
N=3
KILLS=${ROLL_CRASH_KILLS:-20}
MAX_TENTHS=${ROLL_CRASH_MAX_SLEEP:-25}
SEED=${ROLL_CRASH_SEED:-$(( ($$ * 7919 + $(date +%s)) % 32768 ))}
RANDOM=$SEED
METRICS_PORT=$((20000 + ($$ + 13) % 20000))
export ROLL_CATCHUP_SECS=${ROLL_CATCHUP_SECS:-12}
BUDGET=${ROLL_CRASH_BUDGET:-240} # seconds for the kill phase; it stops early when spent

roll_init rollcrash
log "seed $SEED (ROLL_CRASH_SEED=$SEED replays the same kill times), $KILLS kills, 0..$((MAX_TENTHS / 10)).$((MAX_TENTHS % 10))s after each start"
e2e_ready_psc "$PSC" "$N" "$METRICS_PORT" "rollTimeoutSeconds: 600"
UIDS0=$(roll_uids "$PSC" "$N")
log "pods: $UIDS0"
roll_watch_start "$PSC" "$N"

# ---------------------------------------------------------------------------------
step "request a restart, then SIGKILL ballast $KILLS times at random points"
kubectl -n "$NS" annotate psc "$PSC" ballast.dev/restart=crash1 --overwrite >/dev/null
T_ROLL=$SECONDS
kill_line=""
kills=0
midroll=0 # kills that landed while some member still waited for its restart
for k in $(seq 1 "$KILLS"); do
	[ $((SECONDS - T_ROLL)) -lt "$BUDGET" ] || { log "kill phase budget (${BUDGET}s) spent after $kills kills"; break; }
	[ -n "$E2E_OP_PID" ] || roll_spawn_operator
	tenths=$((RANDOM % (MAX_TENTHS + 1)))
	sleep "$((tenths / 10)).$((tenths % 10))"
	roll_kill_operator
	kills=$k
	done_now=$(roll_labels "$PSC" "$N" ballast.dev/restart | { grep -o "=crash1" || true; } | wc -l)
	[ "$done_now" -ge "$N" ] || midroll=$((midroll + 1))
	kill_line+=" $((tenths / 10)).$((tenths % 10))s"
	log "kill $k after $((tenths / 10)).$((tenths % 10))s: $done_now/$N members on restart=crash1; $(grep -o 'down=[0-9]' "$E2E_TMP/member-watch.log" | tail -1) now"
	kill -0 "$ROLL_WATCH_PID" 2>/dev/null || fail "member-watch died"
done
ok "$kills kills at:$kill_line ($midroll of them while members still waited for their restart)"
progress=$(roll_labels "$PSC" "$N" ballast.dev/restart)
log "after the kills: $progress"

step "start ballast once more: the roll completes"
roll_spawn_operator
e2e_wait "every pod carries ballast.dev/restart=crash1" 180 roll_label_all "$PSC" "$N" ballast.dev/restart crash1
e2e_wait "the roll is over: Rolling=False, Ready=True, $N pods Ready on updateRevision" 120 roll_done "$PSC" "$N"
e2e_operator_alive
ok "roll finished $((SECONDS - T_ROLL))s after the request, through $kills SIGKILLs"
roll_watch_stop
roll_restarts_are 1
ok "no member was deleted while the previous one's catch-up lasted"
ok "each member was replaced exactly once ($ROLL_RESTARTS)"
starts=$(grep -c '^==== roll test: operator start' "$E2E_OP_LOG" || true)
deletes=$(grep -c 'msg="restarted member"' "$E2E_OP_LOG" || true)
log "ballast ran $((starts + 1)) times; its logs say \"restarted member\" $deletes times (one per pod deleted)"
[ "$deletes" -eq "$N" ] || log "note: $deletes \"restarted member\" log lines for $N members"
e2e_stop_operator 10
echo "PASS: test_roll_crash: $kills SIGKILLs during the roll (seed $SEED); never more than $ROLL_MAX_DOWN member down; roll completed in $((SECONDS - T_ROLL))s; $midroll kills mid-roll"
