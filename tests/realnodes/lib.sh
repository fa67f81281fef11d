# tests/realnodes/lib.sh — helpers of the real-node tests: a fresh namespace per test,
# bounded waits that show the state when they time out, and the testkit pod.
# Sourced, never run. Needs KUBECONFIG, BALLAST_SOURCE_DIR and BALLAST_CLUSTER_DIR
# (ctest sets them for the realnodes label).
source "$BALLAST_SOURCE_DIR/hack/lib.sh"
: "${KUBECONFIG:?KUBECONFIG must point at the real-node cluster}"
: "${BALLAST_CLUSTER_DIR:?BALLAST_CLUSTER_DIR must name the real-node cluster dir}"
RN_TESTKIT=localhost/ballast-testkit:1
RN_T0=$SECONDS

# rn_init NAME — namespace $NS, deleted at exit; the state is printed on failure.
rn_init() {
	NS="rn-$1-$$"
	trap 'rn_cleanup' EXIT
	kubectl create namespace "$NS" >/dev/null
	log "namespace $NS"
}

rn_cleanup() {
	local rc=$?
	set +e
	if [ "$rc" != 0 ]; then
		log "test failed (exit $rc); the state:"
		kubectl get nodes -o wide
		kubectl get pods,svc,pvc -n "$NS" -o wide
		kubectl get pv
		kubectl get events -n "$NS" --sort-by=.lastTimestamp | tail -n 30
	fi
	kubectl delete namespace "$NS" --wait=false >/dev/null 2>&1
	log "finished in $((SECONDS - RN_T0))s"
	exit "$rc"
}

fail() { log "FAIL: $*"; exit 1; }

# rn_wait WHAT SECONDS CMD... — until CMD succeeds; fails the test when time is up.
rn_wait() {
	local what=$1 secs=$2 end
	shift 2
	end=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$end" ] || fail "timed out after ${secs}s waiting for $what"
		sleep 1
	done
}

# rn_pod NAME NODE [LABELS-JSON] [COMMAND...] — a testkit pod pinned to NODE.
rn_pod() {
	local name=$1 node=$2 labels=${3:-"{}"} cmd
	shift 3 || shift $#
	if [ $# -gt 0 ]; then cmd=$(printf '%s\n' "$@" | jq -R . | jq -sc .); else cmd='["sleep","infinity"]'; fi
	kubectl apply -n "$NS" -f - >/dev/null <<POD
{"apiVersion": "v1", "kind": "Pod",
 "metadata": {"name": "$name", "labels": $labels},
 "spec": {"nodeName": "$node", "terminationGracePeriodSeconds": 1,
  "securityContext": {"runAsNonRoot": true, "runAsUser": 1000, "fsGroup": 1000},
  "containers": [{"name": "main", "image": "$RN_TESTKIT", "imagePullPolicy": "Never",
                  "command": $cmd}]}}
POD
}

rn_running() { # pod
	[ "$(kubectl get pod -n "$NS" "$1" -o jsonpath='{.status.phase}/{.status.containerStatuses[0].ready}')" = "Running/true" ]
}

# rn_report LINE — a figure for hack/test.sh's summary (and the test's own log).
rn_report() {
	log "$*"
	[ -z "${BALLAST_REALNODES_REPORT:-}" ] || echo "$*" >>"$BALLAST_REALNODES_REPORT"
}
