# tests/realnodes/kafka.sh — helpers of the real-node Kafka tests, on top of lib.sh: the
# operator installed by its chart, the README's sample PSC on the image this repository
# builds, a client pod (same image) that runs Kafka's own tools against the advertised
# names, a continuous idempotent acks=all producer, a broker sampler (each member's
# brokerstate and under-replicated partitions, read each second at the pod's IP from
# the host), the member-watch witness, and the verdict (every acknowledged message read
# back at its partition and offset). Sourced, never run.
source "$BALLAST_SOURCE_DIR/tests/realnodes/lib.sh"

KAFKA_NEW=localhost/ballast-kafka:3.9.1
KAFKA_OLD=localhost/ballast-kafka:3.9.0
PSC=orders
RATE=${KAFKA_RATE:-50} # messages per second
K_PIDS=()              # background processes on the host, stopped at exit
ok() { log "OK: $*"; }

# kafka_init NAME — namespace $NS (PSCs) and $SYS (the operator, helm release "bal");
# $TMP for the test's files; a cleanup that dumps the state on failure.
kafka_init() {
	rn_init "$1"
	SYS="$NS-sys"
	TMP=$(mktemp -d)
	export HELM_CACHE_HOME="$TMP/helm/cache" HELM_CONFIG_HOME="$TMP/helm/config" HELM_DATA_HOME="$TMP/helm/data"
	trap 'kafka_cleanup' EXIT
	trap 'exit 143' TERM
	trap 'exit 130' INT
	SLOT=$(grep -lx "$BALLAST_CLUSTER_DIR" /run/ballast-net/slot-* | sed 's/.*slot-//')
}

kafka_cleanup() {
	local rc=$? p
	set +e
	for p in "${K_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	if [ "$rc" != 0 ]; then
		log "failed (exit $rc): the cluster's state"
		kubectl get psc -n "$NS" -o yaml | grep -A40 '^  status:' | head -n 60
		kubectl get pods -n "$SYS" -o wide
		kubectl logs -n "$SYS" -l app.kubernetes.io/name=ballast --tail 40 --prefix 2>/dev/null | cut -c1-300
		for p in $(kubectl get pods -n "$NS" -o name 2>/dev/null); do
			echo "---- $p (last 8 lines)"
			kubectl logs -n "$NS" "$p" --tail 8 2>/dev/null | cut -c1-300
		done
		[ ! -f "$TMP/brokers.log" ] || { echo "---- broker sampler (last 10)"; tail -n 10 "$TMP/brokers.log"; }
		[ ! -f "$TMP/member-watch.log" ] || { echo "---- member-watch (last 20)"; tail -n 20 "$TMP/member-watch.log"; }
	fi
	kubectl delete psc -n "$NS" --all --wait=true --timeout=120s >/dev/null 2>&1
	helm uninstall bal -n "$SYS" --wait --timeout 120s >/dev/null 2>&1
	kubectl delete namespace "$SYS" --wait=false >/dev/null 2>&1
	# the PVCs outlive the PSC by design; the namespace takes them
	kubectl delete pvc -n "$NS" --all --wait=false >/dev/null 2>&1
	rm -rf "$TMP"
	(exit "$rc")
	rn_cleanup
}

# kafka_operator — helm install of charts/ballast, only the image overridden.
kafka_operator() {
	local t0=$SECONDS
	helm install bal "$BALLAST_SOURCE_DIR/charts/ballast" -n "$SYS" --create-namespace \
		--set image.repository=localhost/ballast --set image.tag=dev --set image.pullPolicy=Never \
		--wait --timeout 5m >/dev/null
	rn_wait "a Lease holder" 60 bash -c "kubectl get lease -n $SYS ballast-leader -o jsonpath='{.spec.holderIdentity}' | grep -q ."
	ok "operator installed by helm in $((SECONDS - t0))s; leader $(kubectl get lease -n "$SYS" ballast-leader -o jsonpath='{.spec.holderIdentity}')"
}

# kafka_sample REPLICAS IMAGE — the README's sample (crds/samples/orders.yaml) with what
# this machine differs in: the zones' names, no storage class, small volumes and requests.
kafka_sample() {
	sed -e "s/^  replicas: .*/  replicas: $1/" -e "s#^  image: .*#  image: $2#" \
		-e 's/us-west-2a/zone-a/; s/us-west-2b/zone-b/; s/us-west-2c/zone-c/' \
		-e '/storageClassName/d' -e 's/size: 100Gi/size: 1Gi/' \
		-e 's/requests: {cpu: "2", memory: 8Gi}/requests: {cpu: 100m, memory: 1Gi}/' \
		-e 's/rollTimeoutSeconds: .*/rollTimeoutSeconds: 600/' \
		"$BALLAST_SOURCE_DIR/crds/samples/orders.yaml"
}

psc_json() { kubectl get psc -n "$NS" "$PSC" -o json; }
# psc_settled — observedGeneration current, Ready=True, Rolling=False, Resizing=False,
# and every pod on status.updateRevision and Ready.
psc_settled() {
	local j want pods
	j=$(psc_json) || return 1
	want=$(jq -r '.spec.replicas' <<<"$j")
	jq -e '(.status.observedGeneration == .metadata.generation) and
		([.status.conditions[] | select(.type == "Ready" and .status == "True")] | length == 1) and
		([.status.conditions[] | select((.type == "Rolling" or .type == "Resizing") and .status == "True")] | length == 0)' \
		<<<"$j" >/dev/null || return 1
	rev=$(jq -r '.status.updateRevision // empty' <<<"$j")
	pods=$(kubectl get pods -n "$NS" -l "app.kubernetes.io/instance=$PSC,app.kubernetes.io/managed-by=ballast" -o json) || return 1
	[ "$(jq --arg r "$rev" '[.items[] | select(.metadata.deletionTimestamp == null and
		.metadata.labels["ballast.dev/revision"] == $r and
		([.status.conditions[]? | select(.type == "Ready" and .status == "True")] | length == 1))] | length' <<<"$pods")" = "$want" ]
}
psc_conditions() { kubectl get psc -n "$NS" "$PSC" -o jsonpath='{range .status.conditions[*]}{.type}={.status}/{.reason} {end}'; }

# kafka_wait_settled WHAT SECS — waits, printing the conditions every 20 s.
kafka_wait_settled() {
	local what=$1 end=$((SECONDS + $2)) last=$SECONDS
	until psc_settled; do
		[ "$SECONDS" -lt "$end" ] || fail "timed out after $2s waiting for $what: $(psc_conditions)"
		if [ $((SECONDS - last)) -ge 20 ]; then
			last=$SECONDS
			log "  waiting for $what: $(psc_conditions)"
		fi
		sleep 2
	done
}

# the client pod: Kafka's own tools, in the engine image, on another node than nothing in particular
kafka_client() {
	kubectl apply -n "$NS" -f - >/dev/null <<POD
{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "kclient"},
 "spec": {"terminationGracePeriodSeconds": 1, "enableServiceLinks": false,
  "containers": [{"name": "main", "image": "$KAFKA_NEW", "imagePullPolicy": "Never",
                  "command": ["sleep", "infinity"],
                  "env": [{"name": "KAFKA_HEAP_OPTS", "value": "-Xmx256m"}]}]}}
POD
	rn_wait "client pod Running" 120 bash -c "$(declare -f rn_running); NS=$NS; rn_running kclient"
}
kx() { kubectl exec -n "$NS" kclient -- "$@"; }
# bootstrap [N] — the members' advertised names, client port
bootstrap() {
	local n=${1:-3} i out=""
	for i in $(seq 0 $((n - 1))); do out+="${out:+,}$PSC-$i.$PSC-headless.$NS.svc:9092"; done
	echo "$out"
}
ktool() { kx timeout 120 "$1" --bootstrap-server "$(bootstrap "${KN:-3}")" "${@:2}"; }

# topic NAME PARTITIONS — RF=3, min.insync.replicas=2
kafka_topic() {
	ktool kafka-topics.sh --create --topic "$1" --partitions "$2" --replication-factor 3 \
		--config min.insync.replicas=2 >/dev/null
}

# producer_start TOPIC — VerifiableProducer in the client pod, idempotent, acks=all,
# retries until delivery.timeout.ms; output in the pod's /tmp/producer-TOPIC.out.
producer_start() {
	kx bash -c "cat >/tmp/producer.properties <<EOF
enable.idempotence=true
max.in.flight.requests.per.connection=5
retries=2147483647
delivery.timeout.ms=120000
request.timeout.ms=15000
linger.ms=5
metadata.max.age.ms=5000
reconnect.backoff.max.ms=1000
EOF
setsid nohup kafka-verifiable-producer.sh --bootstrap-server $(bootstrap "${KN:-3}") --topic $1 --acks -1 \
  --throughput $RATE --max-messages -1 --producer.config /tmp/producer.properties \
  >/tmp/producer-$1.out 2>/tmp/producer-$1.err </dev/null &"
	rn_wait "the producer has $((RATE * 2)) messages acknowledged" 120 bash -c "[ \"\$($(declare -f kx); NS=$NS; kx grep -c producer_send_success /tmp/producer-$1.out)\" -ge $((RATE * 2)) ]"
	ok "producer on $1 at $RATE msg/s"
}
acked() {
	local n
	n=$(kx grep -c '"producer_send_success"' "/tmp/producer-$1.out" 2>/dev/null) || true
	echo "${n:-0}"
}
producer_alive() { kx pgrep -f VerifiableProducer >/dev/null; }

# producer_stop TOPIC — SIGTERM (it flushes and reports), its output copied to $TMP.
producer_stop() {
	kx pkill -TERM -f VerifiableProducer || fail "the producer was not running"
	rn_wait "the producer to stop" 60 bash -c "! ($(declare -f kx); NS=$NS; kx pgrep -f VerifiableProducer)"
	kx cat "/tmp/producer-$1.out" >"$TMP/producer-$1.out"
	grep -q '"shutdown_complete"' "$TMP/producer-$1.out" || fail "the producer did not shut down cleanly"
}

# verify TOPIC — reads TOPIC from the beginning; every acknowledged send must be there at
# its acked partition/offset. Sets ACKED, LOST, FAILED; fails the test on a loss.
verify() {
	ktool kafka-console-consumer.sh --topic "$1" --from-beginning --timeout-ms 20000 \
		--property print.partition=true --property print.offset=true \
		--consumer-property auto.offset.reset=earliest >"$TMP/consumed-$1.out" 2>"$TMP/consumer-$1.err" || true
	grep -q . "$TMP/consumed-$1.out" || { tail -n 20 "$TMP/consumer-$1.err"; fail "the consumer read nothing from $1"; }
	python3 "$BALLAST_SOURCE_DIR/tests/support/kafka-verify.py" "$TMP/producer-$1.out" "$TMP/consumed-$1.out" >"$TMP/verdict-$1"
	sed 's/^/  /' "$TMP/verdict-$1"
	local v
	v=$(head -1 "$TMP/verdict-$1")
	ACKED=$(sed -n 's/^acked=\([0-9]*\) .*/\1/p' <<<"$v")
	FAILED=$(sed -n 's/.* failed_sends=\([0-9]*\) .*/\1/p' <<<"$v")
	LOST=$(sed -n 's/.* lost=\([0-9]*\) .*/\1/p' <<<"$v")
	local moved
	moved=$(sed -n 's/.* not_at_acked_offset=\([0-9]*\) .*/\1/p' <<<"$v")
	[ "${ACKED:-0}" -gt 0 ] || fail "no acknowledged message on $1"
	[ "$LOST" = 0 ] || fail "$LOST of $ACKED acknowledged messages on $1 were not read back"
	[ "$moved" = 0 ] || fail "$moved acknowledged messages on $1 are not at their acked partition/offset"
	[ "$FAILED" = 0 ] || fail "$FAILED sends on $1 failed beyond retries"
	ok "all $ACKED acknowledged messages on $1 read back at their partition/offset; 0 failed sends"
}

# sampler_start N — about each second, every member's brokerstate (3 = RUNNING) and URP
# at its pod IP, one line: "EPOCH m0=S/U m1=S/U ... down=D". A member without a pod, an
# IP or a RUNNING broker is down; one whose scrape timed out is unknown ("?", not down).
sampler_start() {
	local n=$1
	SAMPLE_DIR="$TMP/samples"
	mkdir -p "$SAMPLE_DIR"
	(
		k=0 pods=""
		scrape() { # i ip -> "S/U"
			local st=- urp=- m
			if [ -n "$2" ]; then
				# a reply that is not RUNNING, or a refused connection, is down; a
				# scrape that times out (a loaded machine) is unknown: "?"
				if m=$(curl -s --max-time 2 "http://$2:9404/metrics" 2>/dev/null); then
					st=$(awk '$1 == "kafka_server_kafkaserver_brokerstate" {printf "%d", $2}' <<<"$m")
					urp=$(awk '$1 == "kafka_server_replicamanager_underreplicatedpartitions" {printf "%d", $2}' <<<"$m")
				elif [ $? = 28 ]; then
					st="?"
				fi
			fi
			echo "${st:--}/${urp:--}" >"$SAMPLE_DIR/m$1"
		}
		while :; do
			# the pods' IPs, every third sample (a new pod's IP is seen within ~2 s;
			# until then its old address is refused: counted down, never up)
			if [ $((k % 3)) = 0 ]; then
				pods=$(kubectl -n "$NS" get pods -l "app.kubernetes.io/instance=$PSC,app.kubernetes.io/managed-by=ballast" \
					-o jsonpath='{range .items[*]}{.metadata.name}={.status.podIP}{"\n"}{end}' 2>/dev/null) || pods=""
			fi
			k=$((k + 1))
			line="$(date +%s.%N | cut -c1-14)" down=0
			for i in $(seq 0 $((n - 1))); do
				scrape "$i" "$(sed -n "s/^$PSC-$i=//p" <<<"$pods")" &
			done
			wait
			for i in $(seq 0 $((n - 1))); do
				v=$(cat "$SAMPLE_DIR/m$i")
				case "$v" in 3/* | "?"/*) ;; *) down=$((down + 1)) ;; esac
				line+=" m$i=$v"
			done
			echo "$line down=$down"
			sleep 0.5
		done
	) >>"$TMP/brokers.log" 2>/dev/null &
	K_PIDS+=("$!")
	SAMPLER_PID=$!
}
sampler_stop() { kill -TERM "$SAMPLER_PID" 2>/dev/null || true; }
SAMPLE_DIR=""

# watch_start N [FIRST_LEAVING] — member-watch on the N members (never more than 1 down, from
# the API); members FIRST_LEAVING..N-1 are being removed: once gone they are not down.
watch_start() {
	local ready="$TMP/member-watch.ready" i members="" leaving="" t0=$SECONDS
	for i in $(seq 0 $(($1 - 1))); do members+="${members:+,}$PSC-$i"; done
	for i in $(seq "${2:-$1}" $(($1 - 1))); do leaving+="${leaving:+,}$PSC-$i"; done
	rm -f "$ready"
	python3 "$BALLAST_SOURCE_DIR/tests/support/member-watch.py" --kubeconfig "$KUBECONFIG" --namespace "$NS" \
		--members "$members" --leaving "$leaving" --max-down 1 --ready-file "$ready" >"$TMP/member-watch.log" 2>&1 &
	WATCH_PID=$!
	K_PIDS+=("$WATCH_PID")
	until [ -f "$ready" ]; do
		kill -0 "$WATCH_PID" 2>/dev/null || { cat "$TMP/member-watch.log"; fail "member-watch exited"; }
		[ $((SECONDS - t0)) -lt 30 ] || fail "member-watch did not list the pods within 30s"
		sleep 0.2
	done
}
# watch_stop — its verdict; sets MAX_DOWN_API and RESTARTS ("m-0:1,...").
watch_stop() {
	kill -TERM "$WATCH_PID"
	local i
	for i in $(seq 1 100); do kill -0 "$WATCH_PID" 2>/dev/null || break; sleep 0.1; done
	local s
	s=$(grep 'member-watch: SUMMARY' "$TMP/member-watch.log" | tail -1)
	[ -n "$s" ] || fail "member-watch printed no summary"
	MAX_DOWN_API=$(sed -n 's/.* max_down=\([0-9-]*\) .*/\1/p' <<<"$s")
	RESTARTS=$(sed -n 's/.* restarts=\([^ ]*\) .*/\1/p' <<<"$s")
	grep -q 'verdict=ok' <<<"$s" || { grep -v SUMMARY "$TMP/member-watch.log" | tail -n 30; fail "member-watch: $s"; }
}

# roll_figures T0 T1 N — from the sampler, between epochs T0 and T1: the most members
# down in one sample, the highest URP, and per member the seconds it was down and the
# seconds the roll waited before restarting it (after the previous one came back).
roll_figures() {
	python3 - "$TMP/brokers.log" "$1" "$2" "$3" <<'PY'
import sys
path, t0, t1, n = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
rows = []
for line in open(path):
    f = line.split()
    if len(f) < n + 2:
        continue
    t = float(f[0])
    if t < t0 or t > t1:
        continue
    st = []
    for x in f[1:1 + n]:
        s, u = x.split("=", 1)[1].split("/")
        st.append((s, int(u) if u.isdigit() else None))
    rows.append((t, st, int(f[-1].split("=")[1])))
max_down = max((r[2] for r in rows), default=-1)
max_urp = max((u for r in rows for s, u in r[1] if u is not None), default=0)
down_s, wait_s, last_up = [], [], t0
order = []
for i in range(n):
    start = end = None
    for t, st, _ in rows:
        if st[i][0] == "?":
            continue
        if start is None and st[i][0] != "3":
            start = t
        elif start is not None and st[i][0] == "3":
            end = t
            break
    order.append((start if start is not None else float("inf"), i, start, end))
for _, i, start, end in sorted(order):
    if start is None:
        down_s.append(f"m{i}:-")
        continue
    down_s.append(f"m{i}:{(end or t1) - start:.0f}")
    wait_s.append(f"m{i}:{start - last_up:.0f}")
    last_up = end or t1
unknown = sum(1 for r in rows for s, u in r[1] if s == "?")
gap = max((b[0] - a[0] for a, b in zip(rows, rows[1:])), default=0)
print(f"samples={len(rows)} max_gap_s={gap:.1f} unknown_scrapes={unknown} max_down={max_down} max_urp={max_urp} down_s={','.join(down_s)} wait_s={','.join(wait_s)}")
PY
}

# roll WHAT N KUBECTL-ARGS... — applies a change under the running producer, waits for
# the roll to finish, checks every member was replaced once and never two were down;
# prints and reports one RESULT line. TOPIC must have a producer running.
roll() {
	local what=$1 n=$2 t0 t1 rev0 f
	shift 2
	rev0=$(kubectl get psc -n "$NS" "$PSC" -o jsonpath='{.status.updateRevision}')
	watch_start "$n"
	t0=$(date +%s.%N | cut -c1-14)
	local s0=$SECONDS a0
	a0=$(acked "$TOPIC")
	kubectl "$@" >/dev/null
	# a roll has begun: a new revision, or (restart annotation) Rolling=True
	rn_wait "the roll to begin after $what" 60 bash -c "r=\$(kubectl get psc -n $NS $PSC -o jsonpath='{.status.updateRevision} {.status.conditions[?(@.type==\"Rolling\")].status}'); [ \"\${r% *}\" != $rev0 ] || [ \"\${r#* }\" = True ]"
	kafka_wait_settled "the roll ($what)" 900
	producer_alive || fail "the producer exited during the roll ($what)"
	t1=$(date +%s.%N | cut -c1-14)
	local secs=$((SECONDS - s0))
	watch_stop
	local r
	for r in ${RESTARTS//,/ }; do
		[ "${r##*:}" = 1 ] || fail "$what: member ${r%%:*} was replaced ${r##*:} times, want 1 ($RESTARTS)"
	done
	f=$(roll_figures "$t0" "$t1" "$n")
	local md
	md=$(sed -n 's/.*max_down=\([0-9-]*\) .*/\1/p' <<<"$f")
	[ "$md" -le 1 ] || fail "$what: the sampler saw $md brokers down at once: $f"
	[ "$MAX_DOWN_API" -le 1 ] || fail "$what: member-watch saw $MAX_DOWN_API members down at once"
	rn_report "RESULT kafka roll ($what): seconds=$secs acked_during=$(($(acked "$TOPIC") - a0)) max_members_down=$MAX_DOWN_API $f"
}
