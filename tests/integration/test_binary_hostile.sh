#!/usr/bin/env bash
# tests/integration/test_binary_hostile.sh — the real `ballast` binary, as users run it,
# against hostile clients on its health/metrics port and its TLS webhook port (pipelined,
# slow, cut-short, oversized and malformed requests, TLS on the plain port and the reverse,
# a half-done handshake: tests/support/hostile-client.py). Afterwards both ports still
# answer, reviews are still judged, the process lives, does not spin, and logged no crash.
set -euo pipefail
source "$BALLAST_SOURCE_DIR/tests/integration/lib/e2e.sh"

e2e_init hostile
e2e_apply_crd
HOSTILE="$BALLAST_SOURCE_DIR/tests/support/hostile-client.py"

step "a self-signed serving certificate for 127.0.0.1"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=127.0.0.1" \
	-addext "subjectAltName=IP:127.0.0.1" -keyout "$E2E_TMP/tls.key" -out "$E2E_TMP/tls.crt" 2>/dev/null
WH_PORT=$(e2e_free_port)
e2e_start_operator --webhook-addr "127.0.0.1:$WH_PORT" \
	--webhook-cert "$E2E_TMP/tls.crt" --webhook-key "$E2E_TMP/tls.key"
HTTP="http://127.0.0.1:$E2E_OP_PORT"
e2e_wait "ballast answers /readyz 200" 60 curl -fsS --max-time 2 "$HTTP/readyz"

# review_file SAMPLE UID FILE [EDIT] — an AdmissionReview (CREATE) of the sample PSC
# crds/samples/SAMPLE.yaml in $NS, turned into JSON by kubectl, optionally changed by EDIT
# (a Python statement on `o`, the object).
review_file() {
	kubectl create --dry-run=client -o json -n "$NS" -f "$BALLAST_SOURCE_DIR/crds/samples/$1.yaml" |
		python3 -c '
import json, sys
o = json.load(sys.stdin)
o["metadata"]["namespace"] = sys.argv[2]
exec(sys.argv[3])
print(json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                  "request": {"uid": sys.argv[1], "operation": "CREATE", "object": o,
                              "kind": {"group": "ballast.dev", "version": "v1alpha1",
                                       "kind": "PhysicalStatefulCluster"}}}))' "$2" "$NS" "${4:-pass}" >"$3"
}
review_file minimal good-1 "$E2E_TMP/good.json"
review_file orders bad-1 "$E2E_TMP/bad.json" 'o["spec"]["replicas"] = -3'

# answer FIELD FILE — one field of the webhook's answer to the review in FILE.
answer() {
	curl -sS --max-time 5 --cacert "$E2E_TMP/tls.crt" -H 'Content-Type: application/json' \
		--data-binary "@$2" "https://127.0.0.1:$WH_PORT/validate" |
		python3 -c "import json,sys; r=json.load(sys.stdin)['response']; print(json.dumps(r.get('$1')))"
}
[ "$(answer allowed "$E2E_TMP/good.json")" = true ] || fail "before: the minimal sample is not allowed"
ok "before: the webhook allows crds/samples/minimal.yaml"

step "hostile clients, each on connections of its own"
python3 "$HOSTILE" --http-port "$E2E_OP_PORT" --tls-port "$WH_PORT" --cafile "$E2E_TMP/tls.crt" \
	--review-file "$E2E_TMP/good.json" --timeout 5 --handshake-limit 30 ||
	fail "a hostile case failed (FAIL lines above)"

step "afterwards: both ports answer, reviews are judged, no spinning, no crash"
for p in healthz readyz; do
	code=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "$HTTP/$p")
	[ "$code" = 200 ] || fail "/$p answered $code after the hostile clients"
	ok "/$p answers 200"
done
metrics=$(e2e_metrics) || fail "/metrics did not answer"
n=$(grep -c '^ballast_' <<<"$metrics" || true)
[ "$n" -gt 0 ] || fail "/metrics has no ballast_ series: $(head -c 300 <<<"$metrics")"
bad=$(grep -v '^#' <<<"$metrics" | grep -Evc '^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? [-+0-9.eEIinfNa]+( [0-9]+)?$' || true)
[ "$bad" -eq 0 ] || fail "/metrics has $bad lines that are not Prometheus samples"
ok "/metrics answers and parses: $n ballast_ samples"
[ "$(answer uid "$E2E_TMP/good.json")" = '"good-1"' ] || fail "the good review's answer has another uid"
[ "$(answer allowed "$E2E_TMP/good.json")" = true ] || fail "the minimal sample is no longer allowed"
ok "a valid PSC (crds/samples/minimal.yaml) is allowed:true with its uid"
[ "$(answer allowed "$E2E_TMP/bad.json")" = false ] || fail "orders.yaml with replicas -3 was allowed"
msg=$(answer status "$E2E_TMP/bad.json")
grep -q 'spec.replicas' <<<"$msg" || fail "the denial does not name spec.replicas: $msg"
ok "an invalid PSC (orders.yaml, replicas -3) is allowed:false: $msg"
e2e_operator_alive
ok "ballast (pid $E2E_OP_PID) is still running"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$E2E_OP_PID/stat"; }
t0=$(cpu_ticks)
sleep 2
t1=$(cpu_ticks)
hz=$(getconf CLK_TCK)
[ $(((t1 - t0) * 100 / hz)) -lt 50 ] ||
	fail "ballast used $(((t1 - t0) * 1000 / hz))ms of CPU in 2s idle: it spins"
ok "ballast idles: $(((t1 - t0) * 1000 / hz))ms of CPU in 2s"
e2e_stop_operator
CRASH='AddressSanitizer|LeakSanitizer|runtime error|Assertion|assert|SIGSEGV|SIGABRT|Segmentation|core dumped|stack trace'
if grep -Ein "$CRASH" "$E2E_OP_LOG"; then fail "ballast's log has crash or assert lines (above)"; fi
ok "ballast's log ($(wc -l <"$E2E_OP_LOG") lines) has no crash, sanitizer or assert line"
echo "PASS: pipelined, slow, cut-short, oversized and malformed requests to the running binary are answered or closed, and it still serves"
