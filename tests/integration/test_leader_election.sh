#!/usr/bin/env bash
# tests/integration/test_leader_election.sh — two ballast processes, one Lease: exactly one
# leads (its ballast_leader gauge is 1, the Lease names it, and only it writes to a PSC);
# SIGTERM makes the leader exit 0 and hand the Lease back, and the other takes over well
# within the lease duration.
set -euo pipefail
source "$BALLAST_SOURCE_DIR/tests/integration/lib/e2e.sh"

e2e_init leader
e2e_apply_crd
LOGS="$E2E_TMP"
PIDS=()
PORTS=()
stop_all() {
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	e2e_cleanup
}
trap stop_all EXIT

start() { # identity
	local port
	port=$(e2e_free_port)
	"$BALLAST_BINARY" --kubeconfig "$KUBECONFIG" --namespace "$NS" --http-addr "127.0.0.1:$port" \
		--leader-elect --lease-namespace "$NS" --identity "$1" >"$LOGS/$1.log" 2>&1 &
	PIDS+=($!)
	PORTS+=("$port")
}
leader_gauge() { # port
	curl -fsS --max-time 2 "http://127.0.0.1:$1/metrics" 2>/dev/null | awk '$1 == "ballast_leader" {print $2}'
}
holder() { kubectl -n "$NS" get lease ballast-leader -o jsonpath='{.spec.holderIdentity}' 2>/dev/null; }

step "start two replicas"
start replica-a
start replica-b
e2e_wait "the Lease has a holder" 40 bash -c "[ -n \"\$(kubectl -n $NS get lease ballast-leader -o jsonpath='{.spec.holderIdentity}' 2>/dev/null)\" ]"

step "exactly one leads, for 10 s of samples"
for _ in $(seq 1 20); do
	a=$(leader_gauge "${PORTS[0]}")
	b=$(leader_gauge "${PORTS[1]}")
	[ "$((${a:-0} + ${b:-0}))" -eq 1 ] || fail "leader gauges a=$a b=$b, want exactly one 1"
	sleep 0.5
done
first=$(holder)
echo "leader: $first"
case "$first" in
replica-a) li=0 fi=1 ;;
replica-b) li=1 fi=0 ;;
*) fail "unexpected holder '$first'" ;;
esac
[ "$(leader_gauge "${PORTS[$li]}")" = 1 ] || fail "the Lease holder $first does not report ballast_leader 1"

step "only the leader reconciles: a PSC gets its children from the leader's log"
kubectl -n "$NS" apply -f - <<YAML
apiVersion: ballast.dev/v1alpha1
kind: PhysicalStatefulCluster
metadata: {name: le}
spec: {replicas: 1, image: apache/kafka:3.9.0, zones: [zone-a], storage: {size: 1Gi}}
YAML
e2e_wait "the leader creates the member's Service" 30 kubectl -n "$NS" get service le-0
grep -q 'action=create' "$LOGS/$first.log" || fail "the leader logged no create"
other=replica-a
[ "$first" = replica-a ] && other=replica-b
if grep -q 'action=create' "$LOGS/$other.log"; then fail "the standby $other wrote"; fi

step "SIGTERM the leader: exit 0, Lease released, the other takes over"
t0=$SECONDS
kill -TERM "${PIDS[$li]}"
rc=0
wait "${PIDS[$li]}" || rc=$?
[ "$rc" -eq 0 ] || fail "the leader exited $rc on SIGTERM; log: $(tail -5 "$LOGS/$first.log")"
echo "leader exited 0 after $((SECONDS - t0))s"
e2e_wait "$other holds the Lease" 20 bash -c "[ \"\$(kubectl -n $NS get lease ballast-leader -o jsonpath='{.spec.holderIdentity}')\" = $other ]"
e2e_wait "$other reports ballast_leader 1" 10 bash -c "curl -fsS http://127.0.0.1:${PORTS[$fi]}/metrics | grep -qx 'ballast_leader 1'"
echo "takeover after $((SECONDS - t0))s (lease duration 15s)"
[ $((SECONDS - t0)) -lt 15 ] || fail "takeover took $((SECONDS - t0))s: the Lease was not released"
ok "one leader at a time; SIGTERM releases the Lease and the standby takes over"
