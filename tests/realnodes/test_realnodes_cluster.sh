# tests/realnodes/test_realnodes_cluster.sh — the real-node cluster is a cluster: three
# nodes Ready in three zones; pods on different nodes reach each other by Service name
# (CoreDNS + kube-proxy), by headless name and by pod IP; a PVC-backed pod deleted and
# recreated on its node finds its file, and its claim never binds in another zone; a node
# whose kubelet and containerd were killed comes back with `local-cluster.sh up`, its
# containers still running.
set -euo pipefail
source "$BALLAST_SOURCE_DIR/tests/realnodes/lib.sh"
rn_init cluster
ZONES=(a b c)

step "three nodes Ready, one per zone"
rn_wait "3 Ready nodes" 120 bash -c \
	'[ "$(kubectl get nodes -l ballast.dev/real-node=true --no-headers | grep -cw Ready)" = 3 ]'
for z in "${ZONES[@]}"; do
	got=$(kubectl get node "node-zone-$z" -o jsonpath='{.metadata.labels.topology\.kubernetes\.io/zone} {.status.nodeInfo.containerRuntimeVersion} {.status.nodeInfo.kubeletVersion}')
	log "node-zone-$z: $got"
	[[ "$got" == "zone-$z containerd://"* ]] || fail "node-zone-$z: zone label or runtime wrong: $got"
done

step "a web server on each node, a Service and a headless Service in front of each"
for z in "${ZONES[@]}"; do
	rn_pod "web-$z" "node-zone-$z" "{\"app\": \"web-$z\"}" sh -c \
		"mkdir -p /tmp/w && echo served-by-\$(cat /etc/hostname)-on-node-zone-$z >/tmp/w/index.html && cd /tmp/w && exec python3 -m http.server 8080"
	kubectl apply -n "$NS" -f - >/dev/null <<SVC
apiVersion: v1
kind: Service
metadata: {name: web-$z}
spec:
  selector: {app: web-$z}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: hl-$z}
spec:
  clusterIP: None
  selector: {app: web-$z}
  ports: [{port: 8080}]
SVC
	rn_pod "client-$z" "node-zone-$z"
done
for z in "${ZONES[@]}"; do
	rn_wait "web-$z and client-$z Running" 120 bash -c "$(declare -f rn_running); NS=$NS; rn_running web-$z && rn_running client-$z"
done
kubectl get pods -n "$NS" -o wide

step "each node's client fetches the next node's page by Service name, short name, headless name and pod IP"
for i in 0 1 2; do
	from=${ZONES[$i]}
	to=${ZONES[$(((i + 1) % 3))]}
	ip=$(kubectl get pod -n "$NS" "web-$to" -o jsonpath='{.status.podIP}')
	want="served-by-web-$to-on-node-zone-$to"
	for url in "http://web-$to.$NS.svc.cluster.local/" "http://web-$to/" "http://hl-$to.$NS.svc.cluster.local:8080/" "http://$ip:8080/"; do
		got=""
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			got=$(kubectl exec -n "$NS" "client-$from" -- curl -fsS --max-time 5 "$url" 2>&1) && break
			sleep 1
		done
		[ "$got" = "$want" ] || fail "client-$from → $url: got '$got', want '$want'"
		log "client-$from (node-zone-$from) → $url: $got"
	done
done
# DNS answers: a Service name is its ClusterIP, a headless name the pod's IP.
cip=$(kubectl get svc -n "$NS" web-a -o jsonpath='{.spec.clusterIP}')
got=$(kubectl exec -n "$NS" client-b -- dig +short "web-a.$NS.svc.cluster.local")
[ "$got" = "$cip" ] || fail "web-a resolves to '$got', want ClusterIP $cip"
ip=$(kubectl get pod -n "$NS" web-a -o jsonpath='{.status.podIP}')
got=$(kubectl exec -n "$NS" client-b -- dig +short "hl-a.$NS.svc.cluster.local")
[ "$got" = "$ip" ] || fail "hl-a resolves to '$got', want pod IP $ip"
log "DNS: web-a → $cip (ClusterIP), hl-a → $ip (pod)"
# Nothing outside the cluster is reachable from a pod (no route off the machine).
if kubectl exec -n "$NS" client-a -- curl -sS --max-time 3 -o /dev/null http://192.0.2.1/ 2>/dev/null; then
	fail "a pod reached 192.0.2.1: traffic leaves the node network"
fi

step "a PVC-backed pod on node-zone-b, deleted and recreated, finds the file it wrote"
token="written-$RANDOM-$$"
kubectl apply -n "$NS" -f - >/dev/null <<PVC
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
PVC
store_pod() { # command
	kubectl apply -n "$NS" -f - >/dev/null <<POD
{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "store"},
 "spec": {"nodeSelector": {"topology.kubernetes.io/zone": "zone-b"}, "terminationGracePeriodSeconds": 1,
  "securityContext": {"runAsNonRoot": true, "runAsUser": 1000, "fsGroup": 1000},
  "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}],
  "containers": [{"name": "main", "image": "$RN_TESTKIT", "imagePullPolicy": "Never",
    "command": ["sh", "-c", "$1"], "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}}
POD
}
store_pod "echo $token >/data/token && exec sleep infinity"
rn_wait "store Running" 120 bash -c "$(declare -f rn_running); NS=$NS; rn_running store"
kubectl exec -n "$NS" store -- cat /data/token | grep -qx "$token" || fail "store did not write its token"
pv=$(kubectl get pvc -n "$NS" data -o jsonpath='{.spec.volumeName}')
aff=$(kubectl get pv "$pv" -o jsonpath='{.spec.local.path} {.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[*].values[0]}')
log "PV $pv: $aff"
[[ "$aff" == *" node-zone-b zone-b" ]] || fail "PV $pv is not pinned to node-zone-b/zone-b: $aff"
node=$(kubectl get pod -n "$NS" store -o jsonpath='{.spec.nodeName}')
[ "$node" = node-zone-b ] || fail "store ran on $node"
kubectl delete pod -n "$NS" store --wait=true --timeout=60s >/dev/null
store_pod "exec sleep infinity"
rn_wait "store Running again" 120 bash -c "$(declare -f rn_running); NS=$NS; rn_running store"
got=$(kubectl exec -n "$NS" store -- cat /data/token)
[ "$got" = "$token" ] || fail "the recreated pod read '$got', want '$token'"
log "recreated store pod read its token back from $pv"

step "the same claim never binds in another zone"
kubectl delete pod -n "$NS" store --wait=true --timeout=60s >/dev/null
kubectl apply -n "$NS" -f - >/dev/null <<POD
{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "elsewhere"},
 "spec": {"nodeSelector": {"topology.kubernetes.io/zone": "zone-a"},
  "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}],
  "containers": [{"name": "main", "image": "$RN_TESTKIT", "imagePullPolicy": "Never",
    "command": ["sleep", "infinity"], "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}}
POD
rn_wait "elsewhere reported unschedulable" 60 bash -c \
	"kubectl get events -n $NS --field-selector involvedObject.name=elsewhere,reason=FailedScheduling -o name | grep -q ."
msg=$(kubectl get pod -n "$NS" elsewhere -o jsonpath='{.status.conditions[?(@.type=="PodScheduled")].message}')
log "elsewhere: $msg"
[ -z "$(kubectl get pod -n "$NS" elsewhere -o jsonpath='{.spec.nodeName}')" ] || fail "elsewhere was scheduled"
[[ "$msg" == *"PersistentVolume's node affinity"* || "$msg" == *"volume node affinity conflict"* ]] || fail "elsewhere is pending for another reason: $msg"
kubectl delete pod -n "$NS" elsewhere --wait=false >/dev/null

step "kill node-zone-c's kubelet and containerd; local-cluster.sh up brings the node back"
RUN="$BALLAST_CLUSTER_DIR/run"
for p in kubelet-c containerd-c; do kill -KILL -- "-$(cat "$RUN/$p.pid")"; done
before=$(kubectl get pod -n "$NS" web-c -o jsonpath='{.status.containerStatuses[0].containerID}')
bash "$BALLAST_SOURCE_DIR/hack/local-cluster.sh" up >/dev/null
rn_wait "node-zone-c Ready after the restart" 120 bash -c \
	"kubectl get node node-zone-c --no-headers | grep -qw Ready"
got=$(kubectl exec -n "$NS" client-a -- curl -fsS --max-time 5 "http://web-c/")
[ "$got" = "served-by-web-c-on-node-zone-c" ] || fail "web-c after the node restart: '$got'"
after=$(kubectl get pod -n "$NS" web-c -o jsonpath='{.status.containerStatuses[0].containerID}')
[ "$before" = "$after" ] || fail "web-c's container was replaced ($before → $after)"
log "node-zone-c back; web-c kept its container and serves"
rn_report "with 8 test pods: $(bash "$BALLAST_SOURCE_DIR/hack/local-cluster.sh" node-memory)"
