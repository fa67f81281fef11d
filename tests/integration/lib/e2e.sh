# tests/integration/lib/e2e.sh — shared helpers for the end-to-end PSC tests: a fresh
# namespace per test, the real `ballast` binary in the background (log in a temp file,
# stopped with SIGTERM and required to exit 0), the metrics-endpoint test double,
# bounded waits that print the whole state when they time out, and /metrics scrapes.
# Sourced by tests/integration/test_psc_*.sh, never run. Needs KUBECONFIG,
# BALLAST_BINARY and BALLAST_SOURCE_DIR (ctest sets them); E2E_ARTIFACTS=DIR keeps the
# operator's and the fake members' logs there.

source "$BALLAST_SOURCE_DIR/hack/lib.sh"
: "${KUBECONFIG:?KUBECONFIG must point at the local cluster}"
: "${BALLAST_BINARY:?BALLAST_BINARY must name the ballast binary}"

E2E_CRD="$BALLAST_SOURCE_DIR/crds/ballast.dev_physicalstatefulclusters.yaml"
E2E_FAKE="$BALLAST_SOURCE_DIR/tests/support/fake-members.py"
E2E_SELECTOR="app.kubernetes.io/managed-by=ballast"
E2E_OP_PID=""
E2E_OP_PORT=""
E2E_FAKE_PID=""
E2E_T0=$SECONDS
E2E_DEFERRED=()

# e2e_defer CMD — run CMD (a string, eval'd) at exit, pass or fail, before the operator
# stops: for tests that change something shared, such as nodes.
e2e_defer() { E2E_DEFERRED+=("$1"); }

# e2e_init NAME — a fresh namespace $NS and a temp dir $E2E_TMP, both removed on exit;
# on failure the state and the operator's log are printed first.
e2e_init() {
	NS="psc-$1-$(date +%s)-$$"
	E2E_TMP=$(mktemp -d "/tmp/ballast-e2e-$1.XXXXXX")
	E2E_METRICS_DIR="$E2E_TMP/metrics"
	mkdir -p "$E2E_METRICS_DIR"
	trap 'on_error' ERR
	trap 'e2e_cleanup' EXIT
	kubectl create namespace "$NS" >/dev/null
	log "namespace $NS, temp dir $E2E_TMP"
}

e2e_cleanup() {
	local rc=$?
	set +e
	if [ "$rc" != 0 ]; then
		log "test failed (exit $rc); the state:"
		e2e_dump
	fi
	local d
	for d in "${E2E_DEFERRED[@]}"; do eval "$d"; done
	if [ -n "$E2E_OP_PID" ] && kill -0 "$E2E_OP_PID" 2>/dev/null; then
		kill -TERM "$E2E_OP_PID" 2>/dev/null
		e2e_reap "$E2E_OP_PID" 10 || kill -KILL "$E2E_OP_PID" 2>/dev/null
	fi
	e2e_stop_fake_members
	kubectl delete namespace "$NS" --wait=false >/dev/null 2>&1
	if [ -n "${E2E_ARTIFACTS:-}" ]; then # keep the logs, e.g. E2E_ARTIFACTS=build/test-logs
		mkdir -p "$E2E_ARTIFACTS/$NS" && cp "$E2E_TMP"/*.log "$E2E_ARTIFACTS/$NS/" 2>/dev/null
		log "logs kept in $E2E_ARTIFACTS/$NS"
	fi
	rm -rf "$E2E_TMP"
	log "finished in $((SECONDS - E2E_T0))s"
	exit "$rc"
}

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
ok() { echo "ok: $*"; }

# e2e_dump — everything a person needs to see why a wait failed.
e2e_dump() {
	{
		echo "---- kubectl get psc,pods,pvc,svc,cm,pdb -n $NS"
		kubectl -n "$NS" get psc,pods,pvc,svc,cm,pdb -o wide 2>&1
		echo "---- PSC status"
		kubectl -n "$NS" get psc -o jsonpath='{range .items[*]}{.metadata.name} generation={.metadata.generation}{"\n"}{.status}{"\n"}{end}' 2>&1
		echo "---- pod zones (pod node zone-affinity)"
		kubectl -n "$NS" get pods -o jsonpath='{range .items[*]}{.metadata.name} {.spec.nodeName} {.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values[0]} {.status.podIP} {.metadata.labels}{"\n"}{end}' 2>&1
		echo "---- events"
		kubectl -n "$NS" get events --sort-by=.lastTimestamp 2>&1 | tail -n 30
		if [ -n "${E2E_OP_LOG:-}" ] && [ -f "$E2E_OP_LOG" ]; then
			echo "---- last 60 lines of the operator log ($E2E_OP_LOG)"
			tail -n 60 "$E2E_OP_LOG"
		fi
		if [ -f "$E2E_TMP/fake-members.log" ]; then
			echo "---- fake-members log"
			tail -n 20 "$E2E_TMP/fake-members.log"
		fi
	} >&2
}

# e2e_reap PID SECS — wait until PID (our child) exits; 1 if it still runs after SECS.
# The exit code lands in E2E_REAPED_RC.
e2e_reap() {
	local pid=$1 secs=$2 i
	E2E_REAPED_RC=""
	for i in $(seq 1 $((secs * 10))); do
		if ! kill -0 "$pid" 2>/dev/null; then
			E2E_REAPED_RC=0
			wait "$pid" 2>/dev/null || E2E_REAPED_RC=$?
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# e2e_wait WHAT SECS CMD... — poll CMD every half second until it succeeds; on timeout
# print the state and fail the test naming WHAT.
e2e_wait() {
	local what=$1 secs=$2 t0=$SECONDS
	shift 2
	while ! "$@" >/dev/null 2>&1; do
		if [ $((SECONDS - t0)) -ge "$secs" ]; then
			fail "timed out after ${secs}s waiting for: $what"
		fi
		sleep 0.5
	done
	ok "$what (after $((SECONDS - t0))s)"
}

# e2e_apply_crd — install the CRD (idempotent) and wait until it is Established.
e2e_apply_crd() {
	kubectl apply -f "$E2E_CRD" >/dev/null
	kubectl wait --for=condition=Established crd/physicalstatefulclusters.ballast.dev --timeout=60s >/dev/null
}

e2e_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# e2e_start_operator [ARGS...] — run ballast for this test's namespace in the background,
# its log in $E2E_OP_LOG, its HTTP server on 127.0.0.1:$E2E_OP_PORT; wait for /healthz.
e2e_start_operator() {
	E2E_OP_PORT=$(e2e_free_port)
	E2E_OP_LOG="$E2E_TMP/operator.log"
	"$BALLAST_BINARY" --kubeconfig "$KUBECONFIG" --http-addr "127.0.0.1:$E2E_OP_PORT" \
		--namespace "$NS" --log-level debug "$@" >>"$E2E_OP_LOG" 2>&1 &
	E2E_OP_PID=$!
	log "ballast started (pid $E2E_OP_PID, http 127.0.0.1:$E2E_OP_PORT, log $E2E_OP_LOG)"
	local t0=$SECONDS
	until curl -fsS --max-time 2 "http://127.0.0.1:$E2E_OP_PORT/healthz" >/dev/null 2>&1; do
		kill -0 "$E2E_OP_PID" 2>/dev/null || {
			wait "$E2E_OP_PID" || true
			E2E_OP_PID=""
			fail "ballast exited during start-up"
		}
		[ $((SECONDS - t0)) -lt 30 ] || fail "ballast's /healthz did not answer within 30s"
		sleep 0.2
	done
	ok "ballast answers /healthz after $((SECONDS - t0))s"
}

# e2e_stop_operator [SECS] — SIGTERM; ballast must exit 0 within SECS (default 10).
e2e_stop_operator() {
	local secs=${1:-10} t0
	[ -n "$E2E_OP_PID" ] || fail "e2e_stop_operator: ballast is not running"
	t0=$(date +%s%N)
	kill -TERM "$E2E_OP_PID"
	if ! e2e_reap "$E2E_OP_PID" "$secs"; then
		fail "ballast still runs ${secs}s after SIGTERM"
	fi
	local ms=$((($(date +%s%N) - t0) / 1000000)) pid=$E2E_OP_PID
	E2E_OP_PID=""
	[ "$E2E_REAPED_RC" = 0 ] || fail "ballast exited $E2E_REAPED_RC after SIGTERM, want 0"
	grep -q "stopped" "$E2E_OP_LOG" || fail "ballast's log has no 'stopped' line after SIGTERM"
	ok "ballast (pid $pid) exited 0 ${ms}ms after SIGTERM"
}

# e2e_operator_alive — fail when ballast died under us.
e2e_operator_alive() {
	kill -0 "$E2E_OP_PID" 2>/dev/null || fail "ballast is no longer running"
}

# e2e_metrics — ballast's /metrics (Prometheus text) on stdout.
e2e_metrics() {
	curl -fsS --max-time 5 "http://127.0.0.1:$E2E_OP_PORT/metrics"
}

# e2e_metric_sum NAME [LABEL_REGEX] — sum of every series of NAME whose label set
# matches LABEL_REGEX (an awk regex against the text between the braces); 0 if none.
e2e_metric_sum() { e2e_metrics | prom_sum "$@"; }

# e2e_reconciles PSC — how many reconcile passes of PSC (a name in $NS, or ns/name)
# ballast has finished: ballast_psc_reconciles_total{psc="<ns>/<name>"}, 0 before the first.
e2e_reconciles() {
	local key=$1
	[[ "$key" == */* ]] || key="$NS/$key"
	e2e_metric_sum ballast_psc_reconciles_total "^psc=\"$key\"\$"
}

# wait_reconciles PSC N SECS [FROM] — wait until ballast has finished N more passes of
# PSC than FROM (default: the count now), failing after SECS. The evidence a test needs
# before asserting that ballast did NOT do something: record FROM, make the change, then
# wait_reconciles PSC 2 SECS FROM — the first pass counted may have begun before the
# change, the second began after it (the work queue re-runs a key changed mid-pass).
# While the count stands still for a second, the PSC gets a harmless annotation
# (e2e.ballast.dev/poke, no new generation), so a quiet PSC (its next resync up to 60s
# away) is looked at again now; E2E_NO_POKE=1 waits without touching it.
# E2E_POKED_RV is the PSC's resourceVersion after the last poke ("" when none).
wait_reconciles() {
	local psc=$1 n=$2 secs=$3 from=${4:-} t0=$SECONDS now last=-1 still=0 name
	name=${psc#*/}
	[ -n "$from" ] || from=$(e2e_reconciles "$psc")
	E2E_POKED_RV=""
	while :; do
		now=$(e2e_reconciles "$psc")
		[ "$now" -ge $((from + n)) ] && break
		if [ $((SECONDS - t0)) -ge "$secs" ]; then
			fail "timed out after ${secs}s waiting for $n reconciles of $psc: ballast_psc_reconciles_total went $from -> $now"
		fi
		if [ "$now" = "$last" ]; then still=$((still + 1)); else still=0; fi
		last=$now
		if [ "$still" -ge 3 ] && [ "${E2E_NO_POKE:-0}" != 1 ]; then
			E2E_POKED_RV=$(kubectl -n "$NS" annotate psc "$name" "e2e.ballast.dev/poke=$now-$RANDOM" \
				--overwrite -o jsonpath='{.metadata.resourceVersion}')
			still=0
		fi
		sleep 0.2
	done
	ok "$n reconciles of $psc seen (ballast_psc_reconciles_total $from -> $now, after $((SECONDS - t0))s)"
}

# e2e_fake_metrics FILE TEXT — write a metrics file for the fake members
# (FILE is default.prom or <pod>.prom).
e2e_fake_metrics() {
	printf '%s\n' "$2" >"$E2E_METRICS_DIR/$1.tmp"
	mv "$E2E_METRICS_DIR/$1.tmp" "$E2E_METRICS_DIR/$1"
}

# e2e_start_fake_members PORT — serve $E2E_METRICS_DIR on <podIP>:PORT for every
# managed pod of $NS (tests/support/fake-members.py: a test double for the members'
# metrics endpoint only; kwok pods run no process).
e2e_start_fake_members() {
	python3 "$E2E_FAKE" --namespace "$NS" --port "$1" --dir "$E2E_METRICS_DIR" \
		>>"$E2E_TMP/fake-members.log" 2>&1 &
	E2E_FAKE_PID=$!
}

e2e_stop_fake_members() {
	[ -n "$E2E_FAKE_PID" ] || return 0
	kill -TERM "$E2E_FAKE_PID" 2>/dev/null
	e2e_reap "$E2E_FAKE_PID" 5 || kill -KILL "$E2E_FAKE_PID" 2>/dev/null
	E2E_FAKE_PID=""
}

# Healthy Kafka readings: every default gate holds, no partitions hosted (drained).
E2E_HEALTHY_METRICS='# TYPE kafka_server_replicamanager_underreplicatedpartitions gauge
kafka_server_replicamanager_underreplicatedpartitions 0
# TYPE kafka_controller_kafkacontroller_offlinepartitionscount gauge
kafka_controller_kafkacontroller_offlinepartitionscount 0
# TYPE kafka_server_replicamanager_partitioncount gauge
kafka_server_replicamanager_partitioncount 0
# TYPE kafka_server_kafkaserver_brokerstate gauge
kafka_server_kafkaserver_brokerstate 3'

# e2e_ready_psc NAME N PORT [HEALTH_FIELD...] — the start most PSC tests share: the CRD,
# healthy readings (E2E_HEALTHY_METRICS) for every member, served on PORT by the fake
# members, ballast (e2e_start_operator), and a PSC NAME of N members over zone-a/b/c
# (image registry.example/fake-engine:1, 1Gi volumes, health {metricsPort: PORT,
# HEALTH_FIELD, ...}, e.g. "rollTimeoutSeconds: 600"). Returns once the N pods are Ready
# and the PSC is Ready=True and Rolling=False for its current generation.
e2e_ready_psc() {
	local name=$1 n=$2 port=$3 health f
	shift 3
	health="metricsPort: $port"
	for f in "$@"; do health+=", $f"; done
	step "CRD, healthy fake metrics, fake members, operator, a Ready $n-member PSC $name over zone-a/b/c"
	e2e_apply_crd
	e2e_fake_metrics default.prom "$E2E_HEALTHY_METRICS"
	e2e_start_fake_members "$port"
	e2e_start_operator
	kubectl -n "$NS" apply -f - <<EOF
apiVersion: ballast.dev/v1alpha1
kind: PhysicalStatefulCluster
metadata: {name: $name}
spec:
  replicas: $n
  image: registry.example/fake-engine:1
  zones: [zone-a, zone-b, zone-c]
  storage: {size: 1Gi}
  health: {$health}
EOF
	e2e_wait "$n member pods Ready" 120 pods_ready "$n"
	e2e_wait "PSC $name Ready=True, Rolling=False" 120 psc_settled "$name"
}

# ---- reading a PSC ----

# psc_get NAME JSONPATH — one field of the PSC.
psc_get() { kubectl -n "$NS" get psc "$1" -o jsonpath="$2"; }

# psc_cond NAME TYPE FIELD — a field (status, reason, message, ...) of one condition.
psc_cond() { psc_get "$1" "{.status.conditions[?(@.type==\"$2\")].$3}"; }

# psc_cond_is NAME TYPE STATUS [REASON] — true when the condition has that status (and reason).
psc_cond_is() {
	[ "$(psc_cond "$1" "$2" status)" = "$3" ] || return 1
	[ -z "${4:-}" ] || [ "$(psc_cond "$1" "$2" reason)" = "$4" ]
}

# psc_caught_up NAME — status.observedGeneration equals metadata.generation.
psc_caught_up() {
	local g o
	g=$(psc_get "$1" '{.metadata.generation}')
	o=$(psc_get "$1" '{.status.observedGeneration}')
	[ -n "$o" ] && [ "$g" = "$o" ]
}

# psc_ready NAME — Ready=True for the current generation.
psc_ready() { psc_caught_up "$1" && psc_cond_is "$1" Ready True; }

# psc_settled NAME — Ready=True and Rolling=False for the current generation.
psc_settled() { psc_ready "$1" && psc_cond_is "$1" Rolling False; }

# pods_ready N — exactly N managed pods exist in $NS and all are Ready.
pods_ready() {
	local want=$1 got
	got=$(kubectl -n "$NS" get pods -l "$E2E_SELECTOR" \
		-o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}')
	[ "$(grep -c . <<<"$got")" -eq "$want" ] && ! grep -qv '^True$' <<<"$got"
}

# pod_zone POD — the zone label of the node the pod runs on ("" when unscheduled).
pod_zone() {
	local node
	node=$(kubectl -n "$NS" get pod "$1" -o jsonpath='{.spec.nodeName}')
	[ -n "$node" ] || return 0
	kubectl get node "$node" -o jsonpath='{.metadata.labels.topology\.kubernetes\.io/zone}'
}

# managed_count KIND — how many objects of KIND carry ballast's managed-by label in $NS.
managed_count() {
	kubectl -n "$NS" get "$1" -l "$E2E_SELECTOR" -o name | grep -c . || true
}
