#!/usr/bin/env bash
# tests/integration/test_webhook.sh — the validating admission webhook, called by the real
# API server over TLS: ballast serves POST /validate, a ValidatingWebhookConfiguration
# points at it, and the API server refuses what the schema cannot (a storage shrink,
# removing a zone that still has members) with ballast's message; good edits pass.
set -euo pipefail
source "$BALLAST_SOURCE_DIR/tests/integration/lib/e2e.sh"

e2e_init webhook
WH_NAME="ballast-test-$NS"
trap 'kubectl delete validatingwebhookconfiguration "$WH_NAME" >/dev/null 2>&1 || true; e2e_cleanup' EXIT
e2e_apply_crd

step "make a CA and a serving certificate for 127.0.0.1"
(
	cd "$E2E_TMP"
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -keyout ca.key -out ca.crt \
		-subj "/CN=webhook-test-ca" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -keyout tls.key -out tls.csr -subj "/CN=127.0.0.1" 2>/dev/null
	printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >ext
	openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 \
		-extfile ext -out tls.crt 2>/dev/null
)
WH_PORT=$(e2e_free_port)
e2e_start_operator --webhook-addr "127.0.0.1:$WH_PORT" \
	--webhook-cert "$E2E_TMP/tls.crt" --webhook-key "$E2E_TMP/tls.key"

step "register the webhook with the API server"
kubectl apply -f - <<YAML
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: $WH_NAME}
webhooks:
- name: psc.ballast.dev
  admissionReviewVersions: [v1]
  sideEffects: None
  failurePolicy: Fail
  timeoutSeconds: 10
  clientConfig:
    url: https://127.0.0.1:$WH_PORT/validate
    caBundle: $(base64 -w0 <"$E2E_TMP/ca.crt")
  namespaceSelector:
    matchLabels: {kubernetes.io/metadata.name: $NS}
  rules:
  - apiGroups: [ballast.dev]
    apiVersions: [v1alpha1]
    operations: [CREATE, UPDATE]
    resources: [physicalstatefulclusters]
YAML

psc() { # replicas zones storage
	cat <<YAML
apiVersion: ballast.dev/v1alpha1
kind: PhysicalStatefulCluster
metadata: {name: wh, namespace: $NS}
spec:
  replicas: $1
  image: apache/kafka:3.9.0
  zones: [$2]
  storage: {size: $3}
  health: {gates: [{metric: up, max: 1}]}
YAML
}

step "a valid PSC is admitted (the API server calls the webhook)"
# The webhook registration takes a moment to reach the API server's admission chain.
e2e_wait "the webhook admits a valid PSC" 30 bash -c "$(declare -f psc); NS=$NS; psc 3 'zone-a, zone-b, zone-c' 10Gi | kubectl apply -f -"
e2e_wait "members' PVCs exist with their zones" 60 bash -c \
	"[ \$(kubectl -n $NS get pvc -l app.kubernetes.io/instance=wh -o name | wc -l) -eq 3 ]"

step "a storage shrink is refused with ballast's message"
if out=$(psc 3 'zone-a, zone-b, zone-c' 5Gi | kubectl apply -f - 2>&1); then
	fail "the shrink from 10Gi to 5Gi was admitted"
fi
echo "$out"
grep -q 'admission webhook "psc.ballast.dev" denied' <<<"$out" || fail "not denied by the webhook: $out"
grep -q 'spec.storage.size' <<<"$out" || fail "the message does not name spec.storage.size: $out"

step "removing a zone that still has members is refused, naming the zone"
if out=$(psc 3 'zone-a, zone-b' 10Gi | kubectl apply -f - 2>&1); then
	fail "removing zone-c (which holds wh-2) was admitted"
fi
echo "$out"
grep -q 'zone-c' <<<"$out" || fail "the message does not name zone-c: $out"

step "a good edit (grow storage, more replicas) is admitted"
psc 4 'zone-a, zone-b, zone-c' 20Gi | kubectl apply -f -
[ "$(kubectl -n "$NS" get psc wh -o jsonpath='{.spec.storage.size}')" = 20Gi ] || fail "the edit did not land"
ok "webhook: valid admitted, shrink and zone removal denied with a message"
