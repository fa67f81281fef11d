#!/usr/bin/env bash
# hack/bench.sh — ballast beside the StatefulSet controller, on one local control plane with
# kwok nodes (hack/local-cluster.sh, its own BALLAST_CLUSTER_DIR under build/bench), printing
# one table of medians. Not a test: nothing here passes or fails on a figure.
#
# For each N in $BALLAST_BENCH_N (default "10 100 1000") and each member count in
# $BALLAST_BENCH_MEMBERS (default "3 6"), $BALLAST_BENCH_RUNS times (default 3):
#   ballast  N PSCs of M members in a fresh namespace (fake members serve healthy metrics on
#            the pods' IPs: tests/support/fake-members.py). Measured: time from the first
#            create to all N PSCs Ready=True; ballast's CPU seconds and API requests by verb
#            until then; peak RSS (VmHWM); $BALLAST_BENCH_STEADY seconds of steady state
#            (default 300): writes (POST/PUT/PATCH/DELETE), CPU as % of a core, RSS at the end;
#            one new 6-member PSC beside the N Ready ones: time to Ready=True, and how long
#            after its last pod turned Ready; a restart (SIGTERM, start again): time to caught
#            up (work queue empty after every PSC was reconciled), writes and peak RSS by then.
#   sts      the same pods and PVCs made by the StatefulSet controller in another fresh
#            namespace: N StatefulSets of M replicas (podManagementPolicy Parallel, one
#            headless Service each, a 1Gi volumeClaimTemplate), time to all readyReplicas.
# ballast runs without leader election, so every write it counts is one of its own actions
# (with --leader-elect the Lease renewals would add about one PUT per 2 s).
# Each figure is stored with the 1-minute load average (`uptime`) at the moment it was taken;
# raw rows in build/bench/results.tsv, the table in build/bench/table.md (also on stdout).
#
# Env: BALLAST_BENCH_N, BALLAST_BENCH_MEMBERS, BALLAST_BENCH_RUNS, BALLAST_BENCH_STEADY,
# BALLAST_BENCH_BINARY (default: a Release build of the ballast target in build/bench/bin),
# BALLAST_BENCH_WORKERS (ballast --workers, default ballast's own), BALLAST_BENCH_TIMEOUT
# (seconds to wait for all Ready, default 3600), BALLAST_BENCH_KEEP=1 (leave the cluster up),
# BALLAST_BENCH_KCM_QPS (the controller-manager's and scheduler's client rate, default 200),
# BALLAST_BENCH_APPEND=1 (add to results.tsv instead of starting it afresh: runs of several
# invocations in one table), BALLAST_BENCH_STS=0 (ballast only, no StatefulSet phase).
# `hack/bench.sh table` prints the table of results.tsv again.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BENCH_N=${BALLAST_BENCH_N:-"10 100 1000"}
BENCH_MEMBERS=${BALLAST_BENCH_MEMBERS:-"3 6"}
BENCH_RUNS=${BALLAST_BENCH_RUNS:-3}
BENCH_STEADY=${BALLAST_BENCH_STEADY:-300}
BENCH_TIMEOUT=${BALLAST_BENCH_TIMEOUT:-3600}
BENCH_DIR="$BALLAST_ROOT/build/bench"
export BALLAST_CLUSTER_DIR="$BENCH_DIR/cluster"
export KUBECONFIG="$BALLAST_CLUSTER_DIR/kubeconfig"
RESULTS="$BENCH_DIR/results.tsv"
TABLE="$BENCH_DIR/table.md"
CRD="$BALLAST_ROOT/crds/ballast.dev_physicalstatefulclusters.yaml"
FAKE="$BALLAST_ROOT/tests/support/fake-members.py"
METRICS_PORT=9404
OP_PID=""
FAKE_PID=""
OP_PORT=""

HEALTHY='# TYPE kafka_server_replicamanager_underreplicatedpartitions gauge
kafka_server_replicamanager_underreplicatedpartitions 0
# TYPE kafka_controller_kafkacontroller_offlinepartitionscount gauge
kafka_controller_kafkacontroller_offlinepartitionscount 0
# TYPE kafka_server_replicamanager_partitioncount gauge
kafka_server_replicamanager_partitioncount 0
# TYPE kafka_server_kafkaserver_brokerstate gauge
kafka_server_kafkaserver_brokerstate 3'

load1() { awk '{print $1}' /proc/loadavg; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# record RUN N M WHAT VALUE — one figure, with the load average of this moment.
record() {
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$(load1)" "$(uptime | sed 's/^ *//')" >>"$RESULTS"
	log "run $1 N=$2 M=$3: $4 = $5 (load $(load1))"
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

cleanup() {
	set +e
	stop_operator
	stop_fake
	if [ "${BALLAST_BENCH_KEEP:-0}" != 1 ]; then
		bash "$BALLAST_ROOT/hack/local-cluster.sh" down >/dev/null 2>&1
	fi
}
# Only a run owns the cluster: `bench.sh table` must never take it down.
if [ "${1:-}" != table ]; then
	trap cleanup EXIT
fi

# ---- ballast, its /metrics and its /proc ----

start_operator() { # ns
	OP_PORT=$(free_port)
	local args=(--kubeconfig "$KUBECONFIG" --http-addr "127.0.0.1:$OP_PORT" --namespace "$1" --log-level info)
	[ -z "${BALLAST_BENCH_WORKERS:-}" ] || args+=(--workers "$BALLAST_BENCH_WORKERS")
	"$BINARY" "${args[@]}" >>"$BENCH_DIR/operator.log" 2>&1 &
	OP_PID=$!
	local t0=$SECONDS
	until curl -fsS --max-time 2 "http://127.0.0.1:$OP_PORT/healthz" >/dev/null 2>&1; do
		kill -0 "$OP_PID" 2>/dev/null || { log "ballast exited during start-up (see $BENCH_DIR/operator.log)"; exit 1; }
		[ $((SECONDS - t0)) -lt 60 ] || { log "ballast's /healthz did not answer in 60s"; exit 1; }
		sleep 0.1
	done
}

stop_operator() {
	[ -n "$OP_PID" ] || return 0
	kill -TERM "$OP_PID" 2>/dev/null || true
	local i
	for i in $(seq 1 100); do
		kill -0 "$OP_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$OP_PID" 2>/dev/null || true
	wait "$OP_PID" 2>/dev/null || true
	OP_PID=""
}

metrics() { curl -fsS --max-time 10 "http://127.0.0.1:$OP_PORT/metrics"; }

# metric_sum NAME [LABEL_REGEX] — the sum of NAME's series whose labels match.
metric_sum() { metrics | prom_sum "$@"; }

# requests_by_verb — "GET=12 POST=3 ..." from ballast_api_requests_total.
requests_by_verb() {
	metrics | awk '
		/^ballast_api_requests_total\{/ {
			v = $1; sub(/.*verb="/, "", v); sub(/".*/, "", v); n[v] += $2
		}
		END { for (v in n) printf "%s=%.0f ", v, n[v] }' | xargs -n1 | sort | xargs
}

# cache_by_resource — "pods=6000/4.1MiB ..." from ballast_cache_objects and ballast_cache_bytes.
cache_by_resource() {
	metrics | awk '
		/^ballast_cache_(objects|bytes)\{/ {
			r = $1; sub(/.*resource="/, "", r); sub(/".*/, "", r)
			if ($1 ~ /^ballast_cache_objects/) o[r] = $2; else b[r] = $2
		}
		END { for (r in o) printf "%s=%.0f/%.1fMiB ", r, o[r], b[r] / 1048576 }' | xargs -n1 | sort | xargs
}

writes() { metric_sum ballast_api_requests_total 'verb="(POST|PUT|PATCH|DELETE)"'; }

proc_field() { awk -v f="$2:" '$1 == f { print int($2 / 1024) }' "/proc/$1/status"; } # MiB
cpu_s() { # utime + stime of pid, seconds
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.1f", ($12 + $13) / hz }' "/proc/$1/stat"
}

# ---- the fake members' metrics endpoints ----

start_fake() { # ns
	mkdir -p "$BENCH_DIR/metrics"
	printf '%s\n' "$HEALTHY" >"$BENCH_DIR/metrics/default.prom"
	python3 "$FAKE" --namespace "$1" --port "$METRICS_PORT" --dir "$BENCH_DIR/metrics" \
		>>"$BENCH_DIR/fake-members.log" 2>&1 &
	FAKE_PID=$!
}

stop_fake() {
	[ -n "$FAKE_PID" ] || return 0
	kill -TERM "$FAKE_PID" 2>/dev/null || true
	wait "$FAKE_PID" 2>/dev/null || true
	FAKE_PID=""
}

# ---- objects ----

psc_yaml() { # name members
	cat <<EOF
---
apiVersion: ballast.dev/v1alpha1
kind: PhysicalStatefulCluster
metadata: {name: $1}
spec:
  replicas: $2
  image: registry.example/fake-engine:1
  zones: [zone-a, zone-b, zone-c]
  storage: {size: 1Gi}
  health: {metricsPort: $METRICS_PORT}
EOF
}

sts_yaml() { # name members
	cat <<EOF
---
apiVersion: v1
kind: Service
metadata: {name: $1}
spec:
  clusterIP: None
  publishNotReadyAddresses: true
  selector: {app: $1}
  ports: [{name: client, port: 9092}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: $1}
spec:
  replicas: $2
  serviceName: $1
  podManagementPolicy: Parallel
  selector: {matchLabels: {app: $1}}
  template:
    metadata: {labels: {app: $1}}
    spec:
      topologySpreadConstraints:
        - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: $1}}}
      containers:
        - name: engine
          image: registry.example/fake-engine:1
          ports: [{name: client, containerPort: 9092}]
          volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
    - metadata: {name: data}
      spec:
        accessModes: [ReadWriteOnce]
        resources: {requests: {storage: 1Gi}}
EOF
}

# create_all NS FILE — one kubectl create of a multi-document file (objects go in one by one).
create_all() {
	kubectl -n "$1" create -f "$2" >/dev/null
}

# ready_pscs NS — how many PSCs of NS have Ready=True.
ready_pscs() {
	kubectl -n "$1" get psc -o jsonpath='{range .items[*]}{range .status.conditions[?(@.type=="Ready")]}{.status}{"\n"}{end}{end}' 2>/dev/null |
		grep -c '^True$' || true
}

ready_sts() { # ns members — StatefulSets with all replicas ready
	kubectl -n "$1" get sts -o jsonpath='{range .items[*]}{.status.readyReplicas}{"\n"}{end}' 2>/dev/null |
		grep -cx "$2" || true
}

# wait_count WHAT WANT SECS CMD... — poll CMD (prints a count) every 2 s until >= WANT.
wait_count() {
	local what=$1 want=$2 secs=$3 t0=$SECONDS n=0
	shift 3
	while :; do
		n=$("$@")
		[ "$n" -lt "$want" ] || return 0
		if [ $((SECONDS - t0)) -ge "$secs" ]; then
			log "timed out after ${secs}s waiting for $what ($n of $want)"
			return 1
		fi
		sleep 2
	done
}

delete_ns() {
	kubectl delete namespace "$1" --wait=false >/dev/null 2>&1 || true
	local t0=$SECONDS
	while kubectl get namespace "$1" >/dev/null 2>&1; do
		[ $((SECONDS - t0)) -lt 600 ] || { log "namespace $1 still there after 600s; going on"; return 0; }
		sleep 2
	done
	# Retained volumes of the deleted claims would only pile up.
	kubectl get pv -o jsonpath='{range .items[?(@.status.phase=="Released")]}{.metadata.name}{"\n"}{end}' |
		xargs -r -n 200 kubectl delete pv --wait=false >/dev/null 2>&1 || true
}

# ---- one case ----

bench_ballast() { # run n m
	local run=$1 n=$2 m=$3 ns="bench-b-$2x$3-r$1" f="$BENCH_DIR/psc.yaml" i t0 pid w0 c0
	step "ballast: $n PSCs x $m members (run $run)"
	kubectl create namespace "$ns" >/dev/null
	: >"$f"
	for i in $(seq 1 "$n"); do psc_yaml "c$i" "$m" >>"$f"; done
	start_fake "$ns"
	start_operator "$ns"
	pid=$OP_PID
	t0=$(now)
	create_all "$ns" "$f"
	record "$run" "$n" "$m" "create_s" "$(elapsed "$t0")"
	wait_count "$n PSCs Ready" "$n" "$BENCH_TIMEOUT" ready_pscs "$ns"
	record "$run" "$n" "$m" "ballast_ready_s" "$(elapsed "$t0")"
	record "$run" "$n" "$m" "ballast_cpu_s" "$(cpu_s "$pid")"
	record "$run" "$n" "$m" "ballast_requests" "$(requests_by_verb | tr ' ' ',')"

	step "ballast: ${BENCH_STEADY}s of steady state (run $run)"
	w0=$(writes)
	c0=$(cpu_s "$pid")
	sleep "$BENCH_STEADY"
	record "$run" "$n" "$m" "steady_writes" "$(($(writes) - w0))"
	record "$run" "$n" "$m" "steady_cpu_pct" "$(awk -v a="$c0" -v b="$(cpu_s "$pid")" -v s="$BENCH_STEADY" 'BEGIN { printf "%.1f", 100 * (b - a) / s }')"
	record "$run" "$n" "$m" "steady_rss_mib" "$(proc_field "$pid" VmRSS)"
	record "$run" "$n" "$m" "steady_cache" "$(cache_by_resource | tr ' ' ',')"

	step "ballast: one new 6-member PSC beside $n Ready ones (run $run)"
	psc_yaml new 6 >"$BENCH_DIR/new.yaml"
	t0=$(now)
	kubectl -n "$ns" create -f "$BENCH_DIR/new.yaml" >/dev/null
	local pods_ready="" t_pods=""
	while :; do
		if [ -z "$t_pods" ] && [ "$(kubectl -n "$ns" get pods -l app.kubernetes.io/instance=new -o jsonpath='{range .items[*]}{range .status.conditions[?(@.type=="Ready")]}{.status}{"\n"}{end}{end}' | grep -c '^True$' || true)" -ge 6 ]; then
			t_pods=$(now)
		fi
		if [ "$(kubectl -n "$ns" get psc new -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]; then
			[ -n "$t_pods" ] || t_pods=$(now)
			break
		fi
		awk -v a="$t0" -v b="$(now)" 'BEGIN { exit !(b - a > 600) }' && { log "new PSC not Ready in 600s"; break; }
		sleep 0.2
	done
	record "$run" "$n" "$m" "new_psc_ready_s" "$(elapsed "$t0")"
	record "$run" "$n" "$m" "new_psc_after_pods_s" "$(elapsed "$t_pods")"
	record "$run" "$n" "$m" "peak_rss_mib" "$(proc_field "$pid" VmHWM)"

	step "ballast: restart beside $((n + 1)) PSCs (run $run)"
	stop_operator
	t0=$(now)
	start_operator "$ns"
	pid=$OP_PID
	# caught up: every PSC reconciled once and nothing waiting
	while [ "$(metric_sum ballast_reconciles_total)" -lt $((n + 1)) ] || [ "$(metric_sum ballast_workqueue_depth)" -gt 0 ]; do
		awk -v a="$t0" -v b="$(now)" 'BEGIN { exit !(b - a > 600) }' && { log "restart not caught up in 600s"; break; }
		sleep 0.1
	done
	record "$run" "$n" "$m" "restart_caught_up_s" "$(elapsed "$t0")"
	record "$run" "$n" "$m" "restart_writes" "$(writes)"
	record "$run" "$n" "$m" "restart_peak_rss_mib" "$(proc_field "$pid" VmHWM)"
	stop_operator
	stop_fake
	delete_ns "$ns"
}

bench_sts() { # run n m
	local run=$1 n=$2 m=$3 ns="bench-s-$2x$3-r$1" f="$BENCH_DIR/sts.yaml" i t0
	step "StatefulSet controller: $n StatefulSets x $m replicas (run $run)"
	kubectl create namespace "$ns" >/dev/null
	: >"$f"
	for i in $(seq 1 "$n"); do sts_yaml "c$i" "$m" >>"$f"; done
	t0=$(now)
	create_all "$ns" "$f"
	wait_count "$n StatefulSets ready" "$n" "$BENCH_TIMEOUT" ready_sts "$ns" "$m"
	record "$run" "$n" "$m" "sts_ready_s" "$(elapsed "$t0")"
	delete_ns "$ns"
}

# ---- the table ----

print_table() {
	python3 - "$RESULTS" <<'PY' | tee "$TABLE"
import collections, statistics, sys
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    run, n, m, what, value, load, _ = line.rstrip("\n").split("\t", 6)
    rows[(int(n), int(m), what)].append((value, float(load)))
def med(n, m, what, unit=""):
    v = rows.get((n, m, what))
    if not v:
        return "–"
    try:
        nums = sorted(float(x) for x, _ in v)
    except ValueError:
        return v[-1][0].replace(",", " ")
    loads = ",".join(f"{l:.1f}" for _, l in v)
    x = statistics.median(nums)
    s = f"{x:.0f}" if abs(x) >= 10 or x == int(x) else f"{x:.1f}"
    return f"{s}{unit} (load {loads})"
cases = sorted({(n, m) for n, m, _ in rows})
cols = [("ballast: all Ready", "ballast_ready_s", " s"), ("StatefulSet: all Ready", "sts_ready_s", " s"),
        ("ballast CPU to Ready", "ballast_cpu_s", " s"), ("peak RSS", "peak_rss_mib", " MiB"),
        ("steady RSS", "steady_rss_mib", " MiB"), ("steady writes", "steady_writes", ""),
        ("steady CPU", "steady_cpu_pct", " %"), ("new 6-member PSC Ready", "new_psc_ready_s", " s"),
        ("…after its pods Ready", "new_psc_after_pods_s", " s"),
        ("restart: caught up", "restart_caught_up_s", " s"), ("restart: writes", "restart_writes", ""),
        ("restart: peak RSS", "restart_peak_rss_mib", " MiB")]
print("Median of the runs of each cell; (load …) lists the 1-minute load average when each run's "
      "figure was taken, one per run.\n")
print("| figure | " + " | ".join(f"{n} × {m}" for n, m in cases) + " |")
print("|---|" + "---|" * len(cases))
for title, key, unit in cols:
    print(f"| {title} | " + " | ".join(med(n, m, key, unit) for n, m in cases) + " |")
print("\nAPI requests by verb until all Ready (last run):\n")
for n, m in cases:
    print(f"- {n} × {m}: {med(n, m, 'ballast_requests')}")
print("\nballast's watch caches in steady state, objects/bytes of their entries by resource (last run):\n")
for n, m in cases:
    print(f"- {n} × {m}: {med(n, m, 'steady_cache')}")
PY
}

# ---- main ----

if [ "${1:-}" = table ]; then
	print_table
	exit 0
fi

mkdir -p "$BENCH_DIR"
if [ -n "${BALLAST_BENCH_BINARY:-}" ]; then
	BINARY=$BALLAST_BENCH_BINARY
else
	step "build ballast (Release) in $BENCH_DIR/bin"
	# gcc 12 -O3 warns maybe-uninitialized in operator/base/num.c (a false positive under
	# -Werror); the bench must not stop on it.
	cmake -S "$BALLAST_ROOT" -B "$BENCH_DIR/bin" -G Ninja -DCMAKE_BUILD_TYPE=Release \
		-DBALLAST_SANITIZE=OFF -DBALLAST_REALNODES=OFF \
		-DCMAKE_C_FLAGS=-Wno-error=maybe-uninitialized >/dev/null
	cmake --build "$BENCH_DIR/bin" --target ballast -j2 >/dev/null
	BINARY="$BENCH_DIR/bin/ballast"
fi
step "local control plane with kwok nodes in $BALLAST_CLUSTER_DIR"
# The controller-manager (StatefulSet controller, volume binder) and the scheduler at
# $BALLAST_BENCH_KCM_QPS queries/s (default 200) rather than their defaults of 20 and 50:
# ballast has no client-side limit, and at 20/s the binder (about three writes a claim)
# could bind 6,000 claims in no less than ~15 min, whichever controller made them.
export BALLAST_KCM_QPS=${BALLAST_BENCH_KCM_QPS:-200}
bash "$BALLAST_ROOT/hack/local-cluster.sh" up --nodes kwok
kubectl apply -f "$CRD" >/dev/null
kubectl wait --for=condition=Established crd/physicalstatefulclusters.ballast.dev --timeout=60s >/dev/null
# kwok nodes say 110 pods each: 6 of them would not hold 1,000 PSCs x 3.
for node in $(kubectl get nodes -l type=kwok -o name); do
	kubectl patch "$node" --subresource=status --type=merge \
		-p '{"status":{"capacity":{"pods":"2000"},"allocatable":{"pods":"2000"}}}' >/dev/null
done
[ "${BALLAST_BENCH_APPEND:-0}" = 1 ] || : >"$RESULTS"
log "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); controller-manager and scheduler at $BALLAST_KCM_QPS queries/s; $(uptime)"
for run in $(seq 1 "$BENCH_RUNS"); do
	for n in $BENCH_N; do
		for m in $BENCH_MEMBERS; do
			bench_ballast "$run" "$n" "$m"
			[ "${BALLAST_BENCH_STS:-1}" = 0 ] || bench_sts "$run" "$n" "$m"
		done
	done
done
print_table
