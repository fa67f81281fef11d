#!/usr/bin/env bash
# tests/integration/test_chart.sh — the Helm chart and the image: the chart lints; it renders
# what the operator needs in both RBAC modes and with cert-manager (flags the binary knows,
# security context, probes, webhook, least-privilege rules); its CRD is the repository's; the
# Dockerfile's runtime packages carry every library of the binary; the API server accepts every
# object (server dry-run); a real install (0 replicas, no image needed) grants the
# ServiceAccount exactly what the code uses — checked with kubectl auth can-i and by running
# the binary with the Deployment's flags, the webhook Secret and a ServiceAccount token —,
# keeps the webhook CA across upgrades, and `helm uninstall` leaves no cluster-scoped object.
set -euo pipefail
source "$BALLAST_SOURCE_DIR/hack/lib.sh"
: "${KUBECONFIG:?KUBECONFIG must point at the local cluster}"

CHART="$BALLAST_SOURCE_DIR/charts/ballast"
CRD_FILE="$BALLAST_SOURCE_DIR/crds/ballast.dev_physicalstatefulclusters.yaml"
MAIN_C="$BALLAST_SOURCE_DIR/operator/main.c"
ID="$(date +%s)-$$"
NS="chart-$ID"     # the release namespace
W1="chart-$ID-w1"  # watched namespaces in namespace mode
W2="chart-$ID-w2"
OTHER="chart-$ID-x" # a namespace nobody watches
REL="bt$$"         # release name (kept short: names are <release>-ballast-...)
TMP=$(mktemp -d)
# helm keeps its caches and repositories here, not in the user's home.
export HELM_CACHE_HOME="$TMP/helm/cache" HELM_CONFIG_HOME="$TMP/helm/config" HELM_DATA_HOME="$TMP/helm/data"

BALLAST_PID=""
cleanup() {
	if [ -n "$BALLAST_PID" ]; then
		kill -TERM "$BALLAST_PID" 2>/dev/null || true
		wait "$BALLAST_PID" 2>/dev/null || true
	fi
	helm uninstall "$REL" -n "$NS" --wait --timeout 60s >/dev/null 2>&1 || true
	# If the install broke half-way, helm may not know every object: remove the cluster-
	# scoped ones by the release's label, so no webhook or ClusterRole outlives the test.
	kubectl delete clusterrole,clusterrolebinding,validatingwebhookconfiguration \
		-l "app.kubernetes.io/instance=$REL" --ignore-not-found >/dev/null 2>&1 || true
	kubectl delete namespace "$NS" "$W1" "$W2" "$OTHER" --wait=false --ignore-not-found >/dev/null 2>&1 || true
	rm -rf "$TMP"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
ok() { echo "ok: $*"; }

# render FILE ARGS... — helm template the chart into FILE.json (one JSON object per
# manifest; kubectl converts locally, so kinds the server lacks, like cert-manager's, work).
render() {
	local out=$1
	shift
	helm template "$REL" "$CHART" -n "$NS" "$@" >"$out.yaml"
	kubectl annotate --local -f "$out.yaml" -o json ballast.dev/rendered-by=test >"$out.json"
}

step "the flags and environment variables ballast knows (main.c, ballast --help)"
: "${BALLAST_BINARY:?BALLAST_BINARY must name the built ballast binary}"
known_flags=$(grep -o '{"[a-z-]*", \(required\|no\)_argument' "$MAIN_C" | sed 's/{"\([a-z-]*\)".*/--\1/' | sort -u)
known_env=$(grep -o 'env_or("[A-Z_]*"' "$MAIN_C" | sed 's/env_or("\(.*\)"/\1/' | sort -u)
[ "$(wc -l <<<"$known_flags")" -ge 10 ] || fail "could not read the flags from $MAIN_C: $known_flags"
help=$("$BALLAST_BINARY" --help) || fail "$BALLAST_BINARY --help failed"
for f in $known_flags; do
	grep -q -- "$f" <<<"$help" || fail "main.c has $f but ballast --help does not list it"
done
ok "the $(wc -l <<<"$known_flags") flags of main.c are the ones ballast --help lists"
printf '%s\n' $known_flags >"$TMP/flags"
printf '%s\n' $known_env >"$TMP/env"

# check.py MODE RENDERED.json [watched namespaces...] — asserts the facts of one rendering.
cat >"$TMP/check.py" <<'PY'
import json, os, sys

mode, path, watched = sys.argv[1], sys.argv[2], sys.argv[3:]
rel, ns, tmp = os.environ["REL"], os.environ["NS"], os.environ["TMP"]
known_flags = set(open(os.path.join(tmp, "flags")).read().split())
known_env = set(open(os.path.join(tmp, "env")).read().split())
text = open(path).read()
dec, objs, i = json.JSONDecoder(), [], 0
while True:
    while i < len(text) and text[i].isspace():
        i += 1
    if i >= len(text):
        break
    o, i = dec.raw_decode(text, i)
    objs.extend(o["items"] if o.get("kind") == "List" else [o])
failures = []

def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + mode + ": " + what)
    if not cond:
        failures.append(what)

def find(kind, name=None, namespace=None):
    return [o for o in objs if o["kind"] == kind
            and (name is None or o["metadata"]["name"] == name)
            and (namespace is None or o["metadata"].get("namespace") == namespace)]

def one(kind, name=None, namespace=None):
    got = find(kind, name, namespace)
    check(len(got) == 1, "exactly one %s %s/%s (got %d)" % (kind, namespace or "", name or "*", len(got)))
    return got[0] if got else {}

full = rel + "-ballast"
cluster_name = full + "-" + ns
sa_name = full

# The verbs the code uses, per (API group, resource); nothing else is granted.
NAMESPACED = {
    ("ballast.dev", "physicalstatefulclusters"): {"get", "list", "watch"},
    ("ballast.dev", "physicalstatefulclusters/status"): {"get", "update", "patch"},
    ("ballast.dev", "physicalstatefulclusters/finalizers"): {"update"},
    ("", "pods"): {"get", "list", "watch", "create", "delete"},
    ("", "pods/eviction"): {"create"},
    ("", "services"): {"get", "list", "watch", "create", "update", "delete"},
    ("", "configmaps"): {"get", "list", "watch", "create", "update", "delete"},
    ("", "persistentvolumeclaims"): {"get", "list", "watch", "create", "update", "delete"},
    ("policy", "poddisruptionbudgets"): {"get", "list", "watch", "create", "update", "delete"},
    ("", "events"): {"create", "patch"},
}

def grants(role):
    g = {}
    for r in role.get("rules", []):
        check("*" not in r.get("verbs", []) and "*" not in r.get("resources", [])
              and "*" not in r.get("apiGroups", []), "%s: no wildcard in %s" % (role["metadata"]["name"], r))
        for grp in r["apiGroups"]:
            for res in r["resources"]:
                g.setdefault((grp, res), set()).update(r["verbs"])
    return g

def bound(binding, role_kind, role_name):
    return (binding.get("roleRef", {}).get("kind") == role_kind
            and binding["roleRef"]["name"] == role_name
            and binding.get("subjects") == [{"kind": "ServiceAccount", "name": sa_name, "namespace": ns}])

# --- ServiceAccount and Deployment -----------------------------------------------------
one("ServiceAccount", sa_name, ns)
dep = one("Deployment", full, ns)
spec = dep.get("spec", {})
check(spec.get("replicas") == 2, "Deployment has 2 replicas (got %s)" % spec.get("replicas"))
pod = spec.get("template", {}).get("spec", {})
check(pod.get("serviceAccountName") == sa_name, "pods run as ServiceAccount " + sa_name)
sel = spec.get("selector", {}).get("matchLabels", {})
labels = spec.get("template", {}).get("metadata", {}).get("labels", {})
check(sel and all(labels.get(k) == v for k, v in sel.items()), "the selector matches the pod labels")
c = (pod.get("containers") or [{}])[0]
args = c.get("args", [])
flags = [a.split("=", 1)[0] for a in args if a.startswith("--")]
check(set(flags) <= known_flags, "every flag is one ballast knows: unknown %s" % sorted(set(flags) - known_flags))
check("--leader-elect" in args, "--leader-elect")
check("--http-addr=0.0.0.0:8080" in args, "--http-addr=0.0.0.0:8080")
check("--dns-check" in args, "--dns-check (a new member's pod waits for its Service's name)")
ns_args = sorted(a.split("=", 1)[1] for a in args if a.startswith("--namespace="))
check(ns_args == sorted(watched), "--namespace flags %s = watched %s" % (ns_args, sorted(watched)))
check("--webhook-addr=0.0.0.0:9443" in args, "--webhook-addr=0.0.0.0:9443")
env = {e["name"]: e for e in c.get("env", [])}
check(set(env) <= known_env, "every env var is one ballast reads: unknown %s" % sorted(set(env) - known_env))
for name, field in (("POD_NAME", "metadata.name"), ("POD_NAMESPACE", "metadata.namespace")):
    got = env.get(name, {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
    check(got == field, "env %s from the downward API %s (got %s)" % (name, field, got))
psc, csc = pod.get("securityContext", {}), c.get("securityContext", {})
check(psc.get("runAsNonRoot") is True and psc.get("runAsUser") == 65532, "pod runs as non-root 65532")
check(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", "pod seccompProfile RuntimeDefault")
check(csc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem")
check(csc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation false")
check(csc.get("capabilities", {}).get("drop") == ["ALL"], "capabilities drop ALL")
check(csc.get("runAsNonRoot") is True and csc.get("runAsUser") == 65532, "container runs as non-root 65532")
check(csc.get("seccompProfile", {}).get("type") == "RuntimeDefault", "container seccompProfile RuntimeDefault")
ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
check(ports.get("http") == 8080 and ports.get("webhook") == 9443, "ports http 8080, webhook 9443 (got %s)" % ports)
for probe, want in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
    hg = c.get(probe, {}).get("httpGet", {})
    check(hg.get("path") == want and hg.get("port") == "http", "%s GET %s on http" % (probe, want))
res = c.get("resources", {})
check(res.get("requests", {}).get("cpu") and res.get("requests", {}).get("memory")
      and res.get("limits", {}).get("memory"), "resources: cpu/memory requests, memory limit")
mounts = {m["name"]: m for m in c.get("volumeMounts", [])}
vols = {v["name"]: v for v in pod.get("volumes", [])}
secret_name = full + "-webhook-tls"
check(vols.get("webhook-tls", {}).get("secret", {}).get("secretName") == secret_name
      and mounts.get("webhook-tls", {}).get("readOnly") is True, "the webhook Secret is mounted read-only")
cert_dir = mounts.get("webhook-tls", {}).get("mountPath", "?")
check("--webhook-cert=%s/tls.crt" % cert_dir in args and "--webhook-key=%s/tls.key" % cert_dir in args,
      "--webhook-cert/--webhook-key point into the mounted Secret")

# --- Services --------------------------------------------------------------------------
msvc = one("Service", full + "-metrics", ns)
check([(p["port"], p["targetPort"]) for p in msvc.get("spec", {}).get("ports", [])] == [(8080, "http")],
      "metrics Service 8080 -> http")
check(msvc.get("spec", {}).get("selector") == sel, "metrics Service selects the operator pods")
wsvc = one("Service", full + "-webhook", ns)
check([(p["port"], p["targetPort"]) for p in wsvc.get("spec", {}).get("ports", [])] == [(443, "webhook")],
      "webhook Service 443 -> webhook (9443)")
check(wsvc.get("spec", {}).get("selector") == sel, "webhook Service selects the operator pods")

# --- Admission webhook -----------------------------------------------------------------
vwc = one("ValidatingWebhookConfiguration", cluster_name)
hooks = vwc.get("webhooks", [])
check(len(hooks) == 1, "one webhook")
h = hooks[0] if hooks else {}
svc = h.get("clientConfig", {}).get("service", {})
check(svc == {"name": full + "-webhook", "namespace": ns, "path": "/validate", "port": 443},
      "clientConfig -> the webhook Service, path /validate, port 443 (got %s)" % svc)
check(h.get("failurePolicy") == os.environ.get("WANT_FAILURE_POLICY", "Fail"), "failurePolicy " + str(h.get("failurePolicy")))
check(h.get("sideEffects") == "None", "sideEffects None")
check(h.get("admissionReviewVersions") == ["v1"], "admissionReviewVersions [v1]")
rules = h.get("rules", [])
check(len(rules) == 1 and rules[0].get("apiGroups") == ["ballast.dev"]
      and sorted(rules[0].get("operations", [])) == ["CREATE", "UPDATE"]
      and rules[0].get("resources") == ["physicalstatefulclusters"], "rule: physicalstatefulclusters CREATE, UPDATE")
sel_ns = h.get("namespaceSelector")
if watched:
    vals = (sel_ns or {}).get("matchExpressions", [{}])[0]
    check(vals.get("key") == "kubernetes.io/metadata.name" and vals.get("operator") == "In"
          and sorted(vals.get("values", [])) == sorted(watched), "the webhook sees only the watched namespaces")
else:
    check(not sel_ns, "the webhook sees every namespace")

if mode == "certmanager":
    cert = one("Certificate", full + "-webhook", ns)
    cs = cert.get("spec", {})
    check(cs.get("secretName") == secret_name, "Certificate writes the mounted Secret")
    check(full + "-webhook." + ns + ".svc" in cs.get("dnsNames", []), "Certificate names the webhook Service")
    issuer = one("Issuer", full + "-selfsigned", ns)
    check(issuer.get("spec") == {"selfSigned": {}}, "a self-signed Issuer")
    check(cs.get("issuerRef") == {"kind": "Issuer", "name": full + "-selfsigned"}, "Certificate uses the Issuer")
    ann = vwc.get("metadata", {}).get("annotations", {}).get("cert-manager.io/inject-ca-from")
    check(ann == ns + "/" + full + "-webhook", "cainjector annotation inject-ca-from " + str(ann))
    check("caBundle" not in h.get("clientConfig", {}), "no caBundle in the chart (cainjector fills it)")
    check(not find("Secret"), "no chart-made Secret")
else:
    check(not find("Certificate") and not find("Issuer"), "no cert-manager objects")
    sec = one("Secret", secret_name, ns)
    data = sec.get("data", {})
    check(sec.get("type") == "kubernetes.io/tls" and {"ca.crt", "tls.crt", "tls.key"} <= set(data),
          "TLS Secret with ca.crt, tls.crt, tls.key")
    check(h.get("clientConfig", {}).get("caBundle") == data.get("ca.crt"), "caBundle = the Secret's ca.crt")
    import base64
    for k in ("ca.crt", "tls.crt", "tls.key"):
        open(os.path.join(tmp, mode + "." + k), "wb").write(base64.b64decode(data.get(k, "")))

# --- RBAC ------------------------------------------------------------------------------
roles = find("Role")
crs = {o["metadata"]["name"]: o for o in find("ClusterRole")}
crbs = find("ClusterRoleBinding")
nodes = crs.get(cluster_name + "-nodes", {})
check(grants(nodes) == {("", "nodes"): {"get", "list", "watch"}}, "ClusterRole -nodes: nodes get/list/watch only")
check(any(bound(b, "ClusterRole", cluster_name + "-nodes") for b in crbs), "nodes ClusterRole bound to the ServiceAccount")
lease = one("Role", full + "-leader-election", ns)
lr = lease.get("rules", [])
check(lr == [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
             {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "resourceNames": ["ballast-leader"],
              "verbs": ["get", "update"]}], "leases: create, and get/update on ballast-leader, in the release namespace")
check(any(bound(b, "Role", full + "-leader-election") for b in find("RoleBinding", namespace=ns)),
      "lease Role bound to the ServiceAccount")
if not watched:
    check(set(crs) == {cluster_name, cluster_name + "-nodes"}, "ClusterRoles: %s" % sorted(crs))
    check(grants(crs.get(cluster_name, {})) == NAMESPACED, "ClusterRole grants exactly the verbs the code uses")
    check(any(bound(b, "ClusterRole", cluster_name) for b in crbs), "ClusterRole bound to the ServiceAccount")
    check([r["metadata"]["name"] for r in roles] == [full + "-leader-election"], "no other Role")
else:
    check(set(crs) == {cluster_name + "-nodes"}, "only the nodes ClusterRole: %s" % sorted(crs))
    for w in watched:
        r = one("Role", full, w)
        check(grants(r) == NAMESPACED, "Role in %s grants exactly the verbs the code uses" % w)
        check(any(bound(b, "Role", full) for b in find("RoleBinding", namespace=w)), "Role in %s bound" % w)
    check(len(roles) == len(watched) + 1, "one Role per watched namespace, plus the lease Role")

print("%s: %d objects, %d failures" % (mode, len(objs), len(failures)))
sys.exit(1 if failures else 0)
PY
export REL NS TMP

step "helm lint (both RBAC modes)"
helm lint --strict "$CHART"
helm lint --strict "$CHART" --set "watchNamespaces={$W1,$W2}"
ok "helm lint --strict"
helm package "$CHART" -d "$TMP" >/dev/null
tar -tzf "$TMP"/ballast-*.tgz | grep -qx 'ballast/crds/ballast.dev_physicalstatefulclusters.yaml' ||
	fail "helm package: the archive lacks crds/: $(tar -tzf "$TMP"/ballast-*.tgz | tr '\n' ' ')"
ok "helm package: $(basename "$TMP"/ballast-*.tgz) with the CRD"

step "values.yaml documents every value; values.schema.json knows every top-level key"
python3 - "$CHART/values.yaml" "$CHART/values.schema.json" <<'PY'
import json, re, sys
lines = open(sys.argv[1]).read().splitlines()
undocumented, stack, top = [], [], []  # stack: (indent, documented) of the enclosing keys
for i, line in enumerate(lines):
    m = re.match(r"^( *)([A-Za-z][\w.-]*):", line)
    if not m:
        continue
    indent = len(m.group(1))
    while stack and stack[-1][0] >= indent:
        stack.pop()
    j = i - 1
    while j >= 0 and lines[j].strip().startswith("#") and not lines[j].strip().startswith("# --"):
        j -= 1
    documented = j >= 0 and lines[j].strip().startswith("# --")
    if indent == 0:
        top.append(m.group(2))
    leaf = line.split(":", 1)[1].strip() != ""
    if leaf and not documented and not any(d for _, d in stack):
        undocumented.append("%d: %s" % (i + 1, line.strip()))
    stack.append((indent, documented))
schema = json.load(open(sys.argv[2]))["properties"]
unknown = [k for k in top if k not in schema]
if undocumented or unknown:
    print("values without a '# --' comment: %s; top-level keys the schema lacks: %s" % (undocumented, unknown))
    sys.exit(1)
print("ok: %d top-level values, every value documented and in the schema" % len(top))
PY

step "the chart's CRD is the repository's, byte for byte"
cmp "$CRD_FILE" "$CHART/crds/$(basename "$CRD_FILE")" ||
	fail "charts/ballast/crds/ differs from crds/: copy crds/$(basename "$CRD_FILE") into the chart"
[ "$(ls "$CHART/crds")" = "$(basename "$CRD_FILE")" ] || fail "charts/ballast/crds/ holds more than the CRD: $(ls "$CHART/crds")"
ok "charts/ballast/crds/ = crds/"

step "render: cluster mode (defaults)"
render "$TMP/cluster"
python3 "$TMP/check.py" cluster "$TMP/cluster.json"

step "render: namespace mode"
render "$TMP/namespaces" --set "watchNamespaces={$W1,$W2}"
python3 "$TMP/check.py" namespaces "$TMP/namespaces.json" "$W1" "$W2"

step "render: cert-manager"
render "$TMP/certmanager" --set webhook.certManager.enabled=true --api-versions cert-manager.io/v1
python3 "$TMP/check.py" certmanager "$TMP/certmanager.json"
render "$TMP/cm-issuer" --set webhook.certManager.enabled=true --api-versions cert-manager.io/v1 \
	--set webhook.certManager.issuerRef.kind=ClusterIssuer --set webhook.certManager.issuerRef.name=corp-ca
grep -q 'kind: Issuer$' "$TMP/cm-issuer.yaml" && fail "with an issuerRef the chart still creates an Issuer"
grep -q 'name: corp-ca' "$TMP/cm-issuer.yaml" || fail "the Certificate does not use the given issuerRef"
ok "with webhook.certManager.issuerRef the Certificate uses it and no Issuer is created"
if out=$(helm template "$REL" "$CHART" -n "$NS" --set webhook.certManager.enabled=true 2>&1); then
	fail "cert-manager on a cluster without cert-manager rendered"
fi
grep -q "needs cert-manager" <<<"$out" || fail "no clear error without cert-manager: $out"
ok "without cert-manager's API: $(grep -m1 -o 'needs cert-manager.*' <<<"$out" | cut -c1-120)"

step "the self-generated webhook certificate: signed by the CA, for the Service, matching its key"
svc_dns="$REL-ballast-webhook.$NS.svc"
openssl verify -CAfile "$TMP/cluster.ca.crt" "$TMP/cluster.tls.crt" >/dev/null || fail "tls.crt is not signed by ca.crt"
openssl x509 -in "$TMP/cluster.tls.crt" -noout -ext subjectAltName | grep -q "DNS:$svc_dns" ||
	fail "tls.crt does not name $svc_dns"
[ "$(openssl x509 -in "$TMP/cluster.tls.crt" -noout -pubkey)" = "$(openssl pkey -in "$TMP/cluster.tls.key" -pubout)" ] ||
	fail "tls.key does not match tls.crt"
ok "tls.crt for $svc_dns, signed by ca.crt, matches tls.key"

step "values are checked: bad ones fail before anything reaches the cluster"
for bad in webhook.failurePolicy=Sometimes workers=0 logging.level=loud dnsCheck=maybe \
	'watchNamespaces={Bad_NS}'; do
	if out=$(helm template "$REL" "$CHART" --set "$bad" 2>&1); then
		fail "--set $bad rendered"
	fi
	ok "--set $bad refused: $(grep -m1 "at '/" <<<"$out" || tail -1 <<<"$out")"
done
if out=$(helm template "$REL" "$CHART" --set leaderElection.enabled=false 2>&1); then
	fail "2 replicas without leader election rendered"
fi
grep -q "needs leaderElection.enabled" <<<"$out" || fail "2 replicas without leader election: unclear error: $out"
ok "2 replicas without leader election refused: $(grep -m1 -o 'replicaCount > 1 needs [a-zA-Z.]*' <<<"$out")"
render "$TMP/ignore" --set webhook.failurePolicy=Ignore
WANT_FAILURE_POLICY=Ignore python3 "$TMP/check.py" cluster "$TMP/ignore.json" >/dev/null ||
	fail "webhook.failurePolicy=Ignore is not rendered"
ok "webhook.failurePolicy=Ignore rendered"
render "$TMP/nowebhook" --set webhook.enabled=false
grep -qE 'ValidatingWebhookConfiguration|webhook-tls|--webhook' "$TMP/nowebhook.yaml" &&
	fail "webhook.enabled=false still renders webhook parts"
ok "webhook.enabled=false renders no webhook, Secret or flags"

step "the image: the Dockerfile's runtime packages provide every library of the binary"
grep -q '^FROM debian:bookworm AS build' "$BALLAST_SOURCE_DIR/Dockerfile" || fail "Dockerfile: no debian:bookworm build stage"
grep -q '^FROM debian:bookworm-slim' "$BALLAST_SOURCE_DIR/Dockerfile" || fail "Dockerfile: no bookworm-slim runtime stage"
grep -q '^USER 65532' "$BALLAST_SOURCE_DIR/Dockerfile" || fail "Dockerfile: does not run as 65532"
grep -qF 'ENTRYPOINT ["/usr/local/bin/ballast"]' "$BALLAST_SOURCE_DIR/Dockerfile" || fail "Dockerfile: ENTRYPOINT"
bash "$BALLAST_SOURCE_DIR/hack/image-libs.sh" "$BALLAST_BINARY" >"$TMP/libs.out" 2>&1 ||
	fail "hack/image-libs.sh: $(cat "$TMP/libs.out")"
ok "$(tail -1 "$TMP/libs.out" | sed 's/^\[[0-9:]*\] ok: //')"
# ... and it notices a missing one.
sed 's/ libcjson1 / /' "$BALLAST_SOURCE_DIR/Dockerfile" >"$TMP/Dockerfile"
if DOCKERFILE="$TMP/Dockerfile" bash "$BALLAST_SOURCE_DIR/hack/image-libs.sh" "$BALLAST_BINARY" >"$TMP/libs.out" 2>&1; then
	fail "hack/image-libs.sh accepted a Dockerfile without libcjson1"
fi
grep -q 'MISSING: add libcjson1' "$TMP/libs.out" || fail "hack/image-libs.sh: $(cat "$TMP/libs.out")"
ok "without libcjson1 in the runtime stage, hack/image-libs.sh says: MISSING: add libcjson1"

step "server dry-run: the API server accepts every object"
kubectl apply -f "$CRD_FILE" >/dev/null
kubectl wait --for=condition=Established crd/physicalstatefulclusters.ballast.dev --timeout=60s >/dev/null
kubectl create namespace "$NS" >/dev/null
kubectl create namespace "$W1" >/dev/null
kubectl create namespace "$W2" >/dev/null
kubectl create namespace "$OTHER" >/dev/null
kubectl apply --dry-run=server -f "$TMP/cluster.yaml" >/dev/null
ok "cluster mode accepted"
kubectl apply --dry-run=server -f "$TMP/namespaces.yaml" >/dev/null
ok "namespace mode accepted"
# This control plane has no cert-manager, so its Certificate and Issuer have no schema to
# check against: everything else of the cert-manager rendering goes to the server.
python3 - "$TMP/certmanager.json" >"$TMP/certmanager-core.json" <<'PY'
import json, sys
text, dec, i, items = open(sys.argv[1]).read(), json.JSONDecoder(), 0, []
while True:
    while i < len(text) and text[i].isspace():
        i += 1
    if i >= len(text):
        break
    o, i = dec.raw_decode(text, i)
    if not o["apiVersion"].startswith("cert-manager.io/"):
        items.append(o)
json.dump({"apiVersion": "v1", "kind": "List", "items": items}, sys.stdout)
PY
kubectl apply --dry-run=server -f "$TMP/certmanager-core.json" >/dev/null
ok "cert-manager rendering accepted (without the cert-manager kinds this cluster does not serve)"

step "helm install (namespace mode, 0 replicas: no image needed)"
# failurePolicy Ignore and the namespaceSelector: a webhook with no pod behind it must not
# block other tests' PSCs on this shared control plane.
# dnsCheck off: the Deployment's args run on this host below, where no cluster name
# resolves (the real-node tests run the chart's default, on, in a pod).
helm install "$REL" "$CHART" -n "$NS" --set replicaCount=0 --set "watchNamespaces={$W1,$W2}" \
	--set webhook.failurePolicy=Ignore --set dnsCheck=false --wait --timeout 120s >"$TMP/install.out"
sed -n '/^NOTES:/,$p' "$TMP/install.out" | head -8
status=$(helm status "$REL" -n "$NS" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["info"]["status"])')
[ "$status" = deployed ] || fail "release status $status, want deployed"
ok "release $REL deployed"
grep -q "kubectl get psc" "$TMP/install.out" || fail "NOTES do not tell the user to watch kubectl get psc"
for obj in "role/$REL-ballast -n $W1" "rolebinding/$REL-ballast -n $W1" "role/$REL-ballast -n $W2" \
	"rolebinding/$REL-ballast -n $W2" "role/$REL-ballast-leader-election -n $NS" \
	"rolebinding/$REL-ballast-leader-election -n $NS" "clusterrole/$REL-ballast-$NS-nodes" \
	"clusterrolebinding/$REL-ballast-$NS-nodes" "serviceaccount/$REL-ballast -n $NS" \
	"validatingwebhookconfiguration/$REL-ballast-$NS" "secret/$REL-ballast-webhook-tls -n $NS"; do
	# shellcheck disable=SC2086
	kubectl get $obj -o name >/dev/null || fail "$obj does not exist after helm install"
done
ok "Roles, RoleBindings, nodes ClusterRole, lease Role, ServiceAccount, webhook and Secret exist"
[ "$(kubectl -n "$NS" get deployment "$REL-ballast" -o jsonpath='{.spec.replicas}')" = 0 ] ||
	fail "the Deployment is not scaled to 0"
kubectl get clusterrole "$REL-ballast-$NS" >/dev/null 2>&1 && fail "namespace mode created the cluster-wide ClusterRole"
ok "no cluster-wide ClusterRole in namespace mode"

SA="system:serviceaccount:$NS:$REL-ballast"
# can VERB RESOURCE NS [extra kubectl args...] — the ServiceAccount may do it.
can() {
	local verb=$1 res=$2 where=$3
	shift 3
	[ "$(kubectl auth can-i "$verb" "$res" --as="$SA" $where "$@" 2>/dev/null)" = yes ] ||
		fail "$SA cannot $verb $res $where $*"
}
cannot() {
	local verb=$1 res=$2 where=$3 got
	shift 3
	got=$(kubectl auth can-i "$verb" "$res" --as="$SA" $where "$@" 2>/dev/null || true)
	[ "$got" = no ] || fail "$SA can $verb $res $where $* (got \"$got\")"
}
# The namespaced verbs the code uses (operator/act, operator/ctl).
check_namespaced_can() {
	local where=$1 v
	for v in get list watch; do can $v physicalstatefulclusters.ballast.dev "$where"; done
	for v in get update patch; do can $v physicalstatefulclusters.ballast.dev "$where" --subresource=status; done
	for v in get list watch create delete; do can $v pods "$where"; done
	for res in services configmaps persistentvolumeclaims poddisruptionbudgets.policy; do
		for v in get list watch create update delete; do can $v $res "$where"; done
	done
	for v in create patch; do can $v events "$where"; done
	# ... and nothing more.
	cannot update pods "$where"
	cannot create physicalstatefulclusters.ballast.dev "$where"
	cannot delete physicalstatefulclusters.ballast.dev "$where"
	cannot update physicalstatefulclusters.ballast.dev "$where"
	cannot get secrets "$where"
	cannot create pods "$where" --subresource=exec
	cannot delete events "$where"
}
check_cluster_scoped() {
	local v
	for v in get list watch; do can $v nodes ""; done
	cannot delete nodes ""
	cannot update nodes ""
	cannot list secrets "" --all-namespaces
	cannot get secrets "-n $NS"
	cannot create clusterroles.rbac.authorization.k8s.io ""
	can create leases.coordination.k8s.io "-n $NS"
	can get leases.coordination.k8s.io/ballast-leader "-n $NS"
	can update leases.coordination.k8s.io/ballast-leader "-n $NS"
	cannot get leases.coordination.k8s.io/kube-scheduler "-n $NS"
	cannot delete leases.coordination.k8s.io/ballast-leader "-n $NS"
	cannot create leases.coordination.k8s.io "-n kube-system"
}

step "kubectl auth can-i: namespace mode grants the code's verbs in the watched namespaces only"
check_namespaced_can "-n $W1"
check_namespaced_can "-n $W2"
cannot get pods "-n $OTHER"
cannot list physicalstatefulclusters.ballast.dev "-n $OTHER"
cannot list pods "" --all-namespaces
check_cluster_scoped
ok "the ServiceAccount can do what the code needs in $W1 and $W2, nothing in $OTHER, nodes read-only, no secrets"

step "the real binary, with the chart's flags, Secret and ServiceAccount token: no 403, webhook TLS"
# What the pod would do, run here (the local control plane runs no container images): the
# Deployment's own args with the mounted paths mapped to local copies of the webhook
# Secret, the ports on free local ones, and a token of the chart's ServiceAccount.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
wport=$(free_port)
mkdir -p "$TMP/wh"
for k in ca.crt tls.crt tls.key; do
	kubectl -n "$NS" get secret "$REL-ballast-webhook-tls" -o jsonpath="{.data.${k//./\\.}}" | base64 -d >"$TMP/wh/$k"
done
cert_dir=$(kubectl -n "$NS" get deployment "$REL-ballast" \
	-o jsonpath='{.spec.template.spec.containers[0].volumeMounts[?(@.name=="webhook-tls")].mountPath}')
mapfile -t args < <(kubectl -n "$NS" get deployment "$REL-ballast" -o json |
	CERT_DIR="$cert_dir" LOCAL="$TMP/wh" PORT="$port" WPORT="$wport" python3 -c '
import json, os, sys
for a in json.load(sys.stdin)["spec"]["template"]["spec"]["containers"][0]["args"]:
    if a.startswith("--http-addr="):
        a = "--http-addr=127.0.0.1:" + os.environ["PORT"]
    elif a.startswith("--webhook-addr="):
        a = "--webhook-addr=127.0.0.1:" + os.environ["WPORT"]
    print(a.replace(os.environ["CERT_DIR"] + "/", os.environ["LOCAL"] + "/"))')
grep -qx -- "--namespace=$W1" < <(printf '%s\n' "${args[@]}") || fail "the Deployment's args lack --namespace=$W1: ${args[*]}"
grep -qx -- "--dns-check" < <(printf '%s\n' "${args[@]}") && fail "dnsCheck=false left --dns-check in the args: ${args[*]}"
server=$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.server}')
ca_file=$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority}')
if [ -z "$ca_file" ]; then
	ca_file="$TMP/ca.crt"
	kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}' | base64 -d >"$ca_file"
fi
token=$(kubectl -n "$NS" create token "$REL-ballast" --duration 10m)
cat >"$TMP/sa.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "$server", certificate-authority: "$ca_file"}}]
users: [{name: sa, user: {token: "$token"}}]
contexts: [{name: sa, context: {cluster: c, user: sa, namespace: $NS}}]
current-context: sa
KC
POD_NAME="$REL-test-0" POD_NAMESPACE="$NS" timeout 150 "$BALLAST_BINARY" --kubeconfig "$TMP/sa.kubeconfig" \
	"${args[@]}" >"$TMP/ballast.log" 2>&1 &
BALLAST_PID=$!
echo "ballast ${args[*]} (pid $BALLAST_PID, log $TMP/ballast.log)"
# wait_for WHAT SECONDS CMD... — polls CMD every half second.
wait_for() {
	local what=$1 secs=$2 i
	shift 2
	for ((i = 0; i < secs * 2; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		kill -0 "$BALLAST_PID" 2>/dev/null || fail "ballast exited while waiting for $what: $(tail -20 "$TMP/ballast.log")"
		sleep 0.5
	done
	fail "$what: not within ${secs}s; ballast log: $(tail -20 "$TMP/ballast.log")"
}
wait_for "/readyz (every informer synced)" 60 curl -sf "http://127.0.0.1:$port/readyz"
ok "ready: it lists and watches what it needs in $W1, $W2 and nodes"
holder() { [ "$(kubectl -n "$NS" get lease ballast-leader -o jsonpath='{.spec.holderIdentity}')" = "$REL-test-0" ]; }
wait_for "the Lease $NS/ballast-leader held by $REL-test-0" 60 holder
ok "it holds the Lease $NS/ballast-leader"
# The API server would call https://<service>.<namespace>.svc/validate and check the
# certificate against the caBundle: the same here, the name resolved to this process.
svc_host="$REL-ballast-webhook.$NS.svc"
path=$(kubectl get validatingwebhookconfiguration "$REL-ballast-$NS" -o jsonpath='{.webhooks[0].clientConfig.service.path}')
kubectl get validatingwebhookconfiguration "$REL-ballast-$NS" -o jsonpath='{.webhooks[0].clientConfig.caBundle}' |
	base64 -d >"$TMP/cabundle.crt"
cat >"$TMP/review.json" <<JSON
{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
 "request": {"uid": "chart-test-1", "operation": "CREATE", "namespace": "$W1", "name": "minimal",
   "kind": {"group": "ballast.dev", "version": "v1alpha1", "kind": "PhysicalStatefulCluster"},
   "resource": {"group": "ballast.dev", "version": "v1alpha1", "resource": "physicalstatefulclusters"},
   "object": {"apiVersion": "ballast.dev/v1alpha1", "kind": "PhysicalStatefulCluster",
     "metadata": {"name": "minimal", "namespace": "$W1"},
     "spec": {"replicas": 3, "image": "apache/kafka:3.9.0", "storage": {"size": "10Gi"}}}}}
JSON
answer=$(curl -sS --max-time 10 --cacert "$TMP/cabundle.crt" --resolve "$svc_host:$wport:127.0.0.1" \
	-H 'Content-Type: application/json' --data-binary @"$TMP/review.json" "https://$svc_host:$wport$path?timeout=10s") ||
	fail "the webhook did not answer over TLS as $svc_host with the chart's certificate"
python3 -c '
import json, sys
r = json.loads(sys.argv[1])["response"]
assert r["uid"] == "chart-test-1" and r["allowed"] is True, r' "$answer" || fail "webhook answer: $answer"
ok "webhook: TLS as $svc_host verified against the caBundle; $path allowed a valid PSC"
kubectl -n "$W1" apply -f "$BALLAST_SOURCE_DIR/crds/samples/minimal.yaml" >/dev/null
status_written() { [ -n "$(kubectl -n "$W1" get psc minimal -o jsonpath='{.status.observedGeneration}')" ]; }
wait_for "status written on psc/minimal" 60 status_written
members() { [ "$(kubectl -n "$W1" get pods -l app.kubernetes.io/managed-by=ballast -o name | wc -l)" -ge 1 ]; }
wait_for "member pods of psc/minimal" 60 members
events() { kubectl -n "$W1" get events --field-selector involvedObject.kind=PhysicalStatefulCluster -o name | grep -q .; }
wait_for "Events on psc/minimal" 30 events
kubectl -n "$W1" get pods,services,configmaps,persistentvolumeclaims,poddisruptionbudgets \
	-l app.kubernetes.io/managed-by=ballast -o name | sed 's/^/  /'
kill -TERM "$BALLAST_PID"
rc=0
wait "$BALLAST_PID" || rc=$?
BALLAST_PID=""
[ "$rc" -eq 0 ] || fail "ballast exited $rc on SIGTERM: $(tail -20 "$TMP/ballast.log")"
holder && fail "ballast still holds the Lease after SIGTERM (release needs update on it)"
if grep -Ei 'forbidden|\b403\b' "$TMP/ballast.log"; then
	fail "ballast was refused something under the chart's RBAC (see above)"
fi
ok "status, children and Events written, Lease released on SIGTERM (exit 0), nothing forbidden"
kubectl -n "$W1" delete psc minimal --wait=false >/dev/null

step "helm upgrade keeps the webhook CA (looked up, not regenerated)"
ca_before=$(kubectl get validatingwebhookconfiguration "$REL-ballast-$NS" -o jsonpath='{.webhooks[0].clientConfig.caBundle}')
crt_before=$(kubectl -n "$NS" get secret "$REL-ballast-webhook-tls" -o jsonpath='{.data.tls\.crt}')
[ -n "$ca_before" ] || fail "no caBundle after install"
helm upgrade "$REL" "$CHART" -n "$NS" --reuse-values --set workers=4 --wait --timeout 120s >/dev/null
ca_after=$(kubectl get validatingwebhookconfiguration "$REL-ballast-$NS" -o jsonpath='{.webhooks[0].clientConfig.caBundle}')
crt_after=$(kubectl -n "$NS" get secret "$REL-ballast-webhook-tls" -o jsonpath='{.data.tls\.crt}')
[ "$ca_before" = "$ca_after" ] || fail "helm upgrade changed the caBundle"
[ "$crt_before" = "$crt_after" ] || fail "helm upgrade changed the serving certificate"
secret_ca=$(kubectl -n "$NS" get secret "$REL-ballast-webhook-tls" -o jsonpath='{.data.ca\.crt}')
[ "$secret_ca" = "$ca_after" ] || fail "caBundle differs from the Secret's ca.crt"
kubectl -n "$NS" get deployment "$REL-ballast" -o jsonpath='{.spec.template.spec.containers[0].args}' |
	grep -q -- '--workers=4' || fail "helm upgrade --set workers=4 did not reach the Deployment"
ok "caBundle and certificate unchanged across helm upgrade; the new value was applied"

step "helm upgrade to cluster mode: a ClusterRole instead of the Roles"
# (values given again, not --reuse-values: helm 3 keeps a reused list even when --set to null)
helm upgrade "$REL" "$CHART" -n "$NS" --set replicaCount=0 --set webhook.failurePolicy=Ignore \
	--wait --timeout 120s >/dev/null
ca_cluster=$(kubectl get validatingwebhookconfiguration "$REL-ballast-$NS" -o jsonpath='{.webhooks[0].clientConfig.caBundle}')
[ "$ca_cluster" = "$ca_before" ] || fail "helm upgrade to cluster mode changed the caBundle"
kubectl get clusterrole "$REL-ballast-$NS" >/dev/null || fail "no ClusterRole in cluster mode"
kubectl -n "$W1" get role "$REL-ballast" >/dev/null 2>&1 && fail "the Role in $W1 outlived namespace mode"
check_namespaced_can "-n $OTHER"
can list pods "" --all-namespaces
can watch physicalstatefulclusters.ballast.dev "" --all-namespaces
check_cluster_scoped
ok "cluster mode: the code's verbs in every namespace, nodes read-only, no secrets"

step "helm uninstall removes everything, cluster-scoped objects too"
helm uninstall "$REL" -n "$NS" --wait --timeout 120s >/dev/null
left=$(kubectl get clusterrole,clusterrolebinding,validatingwebhookconfiguration \
	-l "app.kubernetes.io/instance=$REL" -o name)
[ -z "$left" ] || fail "left behind after helm uninstall: $left"
left=$(kubectl get all,role,rolebinding,secret,serviceaccount -n "$NS" -l "app.kubernetes.io/instance=$REL" -o name)
[ -z "$left" ] || fail "left behind in $NS after helm uninstall: $left"
kubectl get crd physicalstatefulclusters.ballast.dev >/dev/null || fail "helm uninstall removed the CRD (it must keep it)"
ok "nothing left but the CRD (helm never deletes CRDs: PSCs survive an uninstall)"

echo "PASS: the Helm chart"
