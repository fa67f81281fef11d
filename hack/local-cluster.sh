#!/usr/bin/env bash
# hack/local-cluster.sh — a real, local Kubernetes control plane for tests and the demo:
# etcd, kube-apiserver (TLS, RBAC), kube-controller-manager, kube-scheduler, and nodes
# in three zones (zone-a/b/c). Everything lives in $BALLAST_CLUSTER_DIR.
#
#   up [--nodes kwok|real]  start (idempotent: what runs is left as it is, what died is
#                       restarted). kwok (default, or $BALLAST_NODES): six kwok nodes, pod
#                       IPs in 127.x so that a local process can stand behind a pod's IP.
#                       real: three real nodes (kubelet, containerd, runc, kube-proxy; CoreDNS),
#                       see hack/real-nodes.sh for the network; needs root.
#   down                stop every process and delete the state; exits 1 if anything of
#                       the cluster is left (process, mount, network namespace, chain)
#   leftovers           print what of a real-node cluster is still there (exit 1 if any)
#   node-memory         resident memory of the real nodes
#   restart-apiserver   stop and start kube-apiserver only (for watch tests)
#   status              print what runs
#   env                 print `export KUBECONFIG=...`
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/real-nodes.sh"

DIR="${BALLAST_CLUSTER_DIR:-$BALLAST_ROOT/build/cluster}"
PKI="$DIR/pki"
LOGS="$DIR/logs"
RUN="$DIR/run"
KUBECONFIG_OUT="$DIR/kubeconfig"
ZONES=(zone-a zone-b zone-c)
NODES_PER_ZONE=2
# Each cluster dir gets its own /16 of loopback for pod IPs (127.20 .. 127.98, even), so
# that processes standing behind pods of two clusters on one machine never collide; the
# pod bridge uses the odd /16 above it for Kafka controller addresses.
POD_CIDR="${BALLAST_POD_CIDR:-127.$((20 + 2 * ($(printf %s "$DIR" | cksum | cut -d' ' -f1) % 40))).0.1/16}"
# Where the API server listens and its Service range; real nodes move both onto the
# slot's node network (set_mode).
API_HOST=127.0.0.1
SVC_RANGE=10.96.0.0/16
SVC_API_IP=10.96.0.1
NODES=kwok

# set_mode [kwok|real] — the node kind: given, else the one this cluster dir was made
# with, else $BALLAST_NODES, else kwok.
set_mode() {
	NODES=${1:-$(cat "$DIR/nodes.kind" 2>/dev/null || echo "${BALLAST_NODES:-kwok}")}
	case "$NODES" in
	kwok) ;;
	real)
		[ "$(id -u)" -eq 0 ] || { log "real nodes need root (network namespaces, containerd, kubelet)"; exit 1; }
		local slot
		slot=$(rn_slot)
		rn_vars "${slot%% *}"
		if [ "${slot#* }" = reclaimed ]; then
			log "slot $RN_K was left by a cluster dir that is gone: cleaning it"
			rn_down
		fi
		API_HOST=$RN_HOST_IP
		SVC_RANGE=$RN_SVC_NET
		SVC_API_IP=$RN_SVC_API
		;;
	*) log "unknown node kind '$NODES' (kwok or real)"; exit 2 ;;
	esac
	if [ -f "$DIR/nodes.kind" ] && [ "$(cat "$DIR/nodes.kind")" != "$NODES" ]; then
		log "$DIR holds a cluster with $(cat "$DIR/nodes.kind") nodes: run down first"
		exit 1
	fi
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# pid_alive NAME — its process runs (a zombie does not count).
pid_alive() {
	local pid
	[ -f "$RUN/$1.pid" ] || return 1
	pid=$(cat "$RUN/$1.pid")
	kill -0 "$pid" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]
}

start_proc() { # name cmd...
	local name=$1
	shift
	# setsid: own process group, so `down` can stop the whole tree of it.
	setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
	echo $! >"$RUN/$name.pid"
}

stop_proc() { # name
	local name=$1 pid
	[ -f "$RUN/$name.pid" ] || return 0
	pid=$(cat "$RUN/$name.pid")
	if kill -0 "$pid" 2>/dev/null; then
		# Each process leads its own group (setsid): signal the group, children too.
		kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL -- "-$pid" 2>/dev/null || true
	fi
	rm -f "$RUN/$name.pid"
}

gen_pki() {
	[ -f "$PKI/admin.key" ] && return 0
	step "generate certificates in $PKI"
	mkdir -p "$PKI"
	(
		cd "$PKI"
		openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -keyout ca.key -out ca.crt \
			-subj "/CN=ballast-local-ca" 2>/dev/null
		cat >apiserver.ext <<EXT
subjectAltName=IP:127.0.0.1,IP:$API_HOST,IP:$SVC_API_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
extendedKeyUsage=serverAuth
EXT
		printf 'extendedKeyUsage=clientAuth\n' >client.ext
		sign() { # name subject extfile
			openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
			openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
				-extfile "$3" -out "$1.crt" 2>/dev/null
		}
		sign apiserver "/CN=kube-apiserver" apiserver.ext
		sign admin "/O=system:masters/CN=ballast-admin" client.ext
		sign controller-manager "/O=system:masters/CN=system:kube-controller-manager" client.ext
		sign scheduler "/CN=system:kube-scheduler" client.ext
		sign kwok "/O=system:masters/CN=kwok" client.ext
		sign apiserver-kubelet "/O=system:masters/CN=kube-apiserver-kubelet-client" client.ext
		openssl genrsa -out sa.key 2048 2>/dev/null
		openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
	)
}

write_kubeconfig() { # file user-cert-name
	local port
	port=$(cat "$RUN/apiserver.port")
	cat >"$1" <<KC
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://$API_HOST:$port
    certificate-authority: $PKI/ca.crt
users:
- name: $2
  user:
    client-certificate: $PKI/$2.crt
    client-key: $PKI/$2.key
contexts:
- name: local
  context: {cluster: local, user: $2, namespace: default}
current-context: local
KC
}

start_etcd() {
	pid_alive etcd && return 0
	step "start etcd"
	local port peer
	port=$(free_port)
	peer=$(free_port)
	echo "$port" >"$RUN/etcd.port"
	start_proc etcd etcd --name local --data-dir "$DIR/etcd" \
		--listen-client-urls "http://127.0.0.1:$port" --advertise-client-urls "http://127.0.0.1:$port" \
		--listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
		--initial-cluster "local=http://127.0.0.1:$peer" \
		--unsafe-no-fsync --quota-backend-bytes 4294967296 --log-level warn
	wait_for "etcd" 30 curl -fsS "http://127.0.0.1:$port/health"
}

start_apiserver() {
	pid_alive apiserver && return 0
	step "start kube-apiserver"
	[ -f "$RUN/apiserver.port" ] || free_port >"$RUN/apiserver.port"
	local port extra=()
	port=$(cat "$RUN/apiserver.port")
	if [ "$NODES" = real ]; then
		# webhooks and aggregated APIs are called at their endpoints' pod IPs (the host has
		# routes to pods, not kube-proxy); logs and exec reach kubelets at their node IPs.
		extra=(--enable-aggregator-routing=true --kubelet-preferred-address-types InternalIP
			--kubelet-client-certificate "$PKI/apiserver-kubelet.crt"
			--kubelet-client-key "$PKI/apiserver-kubelet.key")
	fi
	start_proc apiserver kube-apiserver \
		--etcd-servers "http://127.0.0.1:$(cat "$RUN/etcd.port")" \
		--bind-address "$API_HOST" --advertise-address "$API_HOST" --secure-port "$port" \
		--tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
		--client-ca-file "$PKI/ca.crt" \
		--service-account-issuer https://kubernetes.default.svc.cluster.local \
		--service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
		--service-cluster-ip-range "$SVC_RANGE" "${extra[@]}" \
		--authorization-mode Node,RBAC --allow-privileged=true \
		--enable-priority-and-fairness=false \
		--storage-media-type application/json --watch-cache=true \
		--profiling=false --v=1
	wait_for "kube-apiserver /readyz" 90 curl -fsS --cacert "$PKI/ca.crt" \
		--cert "$PKI/admin.crt" --key "$PKI/admin.key" "https://$API_HOST:$port/readyz"
}

start_controllers() {
	# $BALLAST_KCM_QPS: the controller-manager's and the scheduler's client rate (queries/s,
	# burst twice that); unset, their own defaults (20 and 50). hack/bench.sh raises it: the
	# StatefulSet controller and the volume binder live in the controller-manager, and at 20/s
	# they, not the API server, would set the pace that ballast (no client-side limit) is
	# compared with.
	local qps=()
	[ -n "${BALLAST_KCM_QPS:-}" ] && qps=(--kube-api-qps "$BALLAST_KCM_QPS" --kube-api-burst "$((2 * BALLAST_KCM_QPS))")
	write_kubeconfig "$DIR/controller-manager.kubeconfig" controller-manager
	write_kubeconfig "$DIR/scheduler.kubeconfig" scheduler
	write_kubeconfig "$DIR/kwok.kubeconfig" kwok
	if ! pid_alive controller-manager; then
		step "start kube-controller-manager"
		start_proc controller-manager kube-controller-manager \
			--kubeconfig "$DIR/controller-manager.kubeconfig" \
			--authentication-kubeconfig "$DIR/controller-manager.kubeconfig" \
			--authorization-kubeconfig "$DIR/controller-manager.kubeconfig" \
			--leader-elect=false --bind-address 127.0.0.1 --secure-port "$(free_port)" \
			--root-ca-file "$PKI/ca.crt" --service-account-private-key-file "$PKI/sa.key" \
			--cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
			--controllers '*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-route' \
			--concurrent-gc-syncs 5 "${qps[@]}" --v=1
	fi
	if ! pid_alive scheduler; then
		step "start kube-scheduler"
		start_proc scheduler kube-scheduler --kubeconfig "$DIR/scheduler.kubeconfig" \
			--authentication-kubeconfig "$DIR/scheduler.kubeconfig" \
			--authorization-kubeconfig "$DIR/scheduler.kubeconfig" \
			--leader-elect=false --bind-address 127.0.0.1 --secure-port "$(free_port)" "${qps[@]}" --v=1
	fi
	if [ "$NODES" = kwok ] && ! pid_alive kwok; then
		step "start kwok (pod CIDR $POD_CIDR)"
		start_proc kwok kwok --kubeconfig "$DIR/kwok.kubeconfig" \
			--manage-nodes-with-label-selector type=kwok \
			--cidr "$POD_CIDR" --node-ip 127.0.0.1 --node-lease-duration-seconds 40
	fi
	if ! pid_alive provisioner; then
		step "start the local volume provisioner"
		local vroot=""
		[ "$NODES" = real ] && vroot="$DIR/volumes"
		KUBECONFIG="$KUBECONFIG_OUT" BALLAST_VOLUME_ROOT="$vroot" \
			start_proc provisioner bash "$BALLAST_ROOT/hack/local-provisioner.sh"
	fi
}

create_storage_class() {
	step "create default StorageClass standard (zonal, WaitForFirstConsumer)"
	kubectl apply -f - >/dev/null <<SC
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: ballast.dev/local-test
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Retain
allowVolumeExpansion: true
SC
}

create_nodes() {
	step "create ${#ZONES[@]}x$NODES_PER_ZONE kwok nodes"
	local f="$DIR/nodes.yaml" z n
	: >"$f"
	for z in "${ZONES[@]}"; do
		for n in $(seq 1 "$NODES_PER_ZONE"); do
			cat >>"$f" <<NODE
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-$z-$n
  annotations: {node.alpha.kubernetes.io/ttl: "0", kwok.x-k8s.io/node: fake}
  labels:
    type: kwok
    kubernetes.io/hostname: kwok-$z-$n
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    topology.kubernetes.io/zone: $z
    topology.kubernetes.io/region: local
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "110"}
  capacity: {cpu: "32", memory: 256Gi, pods: "110"}
NODE
		done
	done
	kubectl apply -f "$f" >/dev/null
	wait_for "6 Ready nodes" 60 bash -c \
		"[ \"\$(kubectl get nodes --no-headers 2>/dev/null | grep -cw Ready)\" -ge $((${#ZONES[@]} * NODES_PER_ZONE)) ]"
	# The node lifecycle controller lifts node.kubernetes.io/not-ready once kwok reports Ready.
	wait_for "nodes schedulable (no not-ready taint)" 60 bash -c \
		"! kubectl get nodes -o jsonpath='{.items[*].spec.taints}' | grep -q not-ready"
}

wait_for() { # what seconds cmd...
	local what=$1 secs=$2 i
	shift 2
	for i in $(seq 1 $((secs * 5))); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	log "timed out after ${secs}s waiting for $what; last lines of the logs in $LOGS:"
	tail -n 5 "$LOGS"/*.log >&2 || true
	return 1
}

cmd_up() {
	local t0=$SECONDS kind=""
	while [ $# -gt 0 ]; do
		case "$1" in
		--nodes) kind=${2:-}; shift 2 || { log "--nodes needs kwok or real"; exit 2; } ;;
		--nodes=*) kind=${1#--nodes=}; shift ;;
		*) log "up: unknown argument $1"; exit 2 ;;
		esac
	done
	mkdir -p "$DIR" "$LOGS" "$RUN"
	set_mode "$kind"
	echo "$NODES" >"$DIR/nodes.kind"
	[ -x "$BALLAST_BIN/kube-apiserver" ] || bash "$BALLAST_ROOT/hack/install-tools.sh"
	if [ "$NODES" = real ]; then
		[ -x "$BALLAST_BIN/kubelet" ] && [ -x "$BALLAST_BIN/coredns" ] ||
			bash "$BALLAST_ROOT/hack/install-tools.sh" k8s-node coredns
		rn_net_up
	fi
	gen_pki
	start_etcd
	start_apiserver
	write_kubeconfig "$KUBECONFIG_OUT" admin
	export KUBECONFIG="$KUBECONFIG_OUT"
	log "API ready after $((SECONDS - t0))s: $(kubectl get --raw /version | tr -d ' \n')"
	start_controllers
	create_storage_class
	if [ "$NODES" = real ]; then
		rn_nodes_up
		rn_dns_up
		rn_wait_nodes
	else
		create_nodes
	fi
	log "cluster up ($NODES nodes) in $((SECONDS - t0))s: KUBECONFIG=$KUBECONFIG_OUT"
}

cmd_down() {
	step "stop the local cluster in $DIR"
	local p left=0
	local held
	held=$(rn_held_slot)
	[ -d "$DIR" ] || [ -n "$held" ] || return 0
	if [ -n "$held" ]; then
		set_mode real
		rn_down
	fi
	# Signal everything at once, then reap: stopping one by one costs seconds each.
	for p in provisioner kwok scheduler controller-manager apiserver etcd; do
		[ -f "$RUN/$p.pid" ] && kill -TERM -- "-$(cat "$RUN/$p.pid")" 2>/dev/null || true
	done
	for p in provisioner kwok scheduler controller-manager apiserver etcd; do stop_proc "$p"; done
	if [ "$NODES" = real ]; then
		if ! rn_leftovers >&2; then
			log "left behind by the real nodes (above); the slot stays taken"
			left=1
		else
			rn_release_slot "$RN_K"
		fi
	fi
	[ "$left" = 1 ] || rm -rf "$DIR"
	return "$left"
}

cmd_leftovers() {
	[ -n "$(rn_held_slot)" ] || { echo "no real-node slot held by $DIR"; return 0; }
	set_mode real
	rn_leftovers
}

cmd_restart_apiserver() {
	step "restart kube-apiserver"
	stop_proc apiserver
	start_apiserver
}

cmd_status() {
	local p
	local z
	set_mode
	for p in etcd apiserver controller-manager scheduler kwok provisioner coredns \
		$([ "$NODES" = real ] && for z in "${RN_ZONES[@]}"; do echo "containerd-$z kubelet-$z kube-proxy-$z"; done); do
		if pid_alive "$p"; then echo "$p: running (pid $(cat "$RUN/$p.pid"))"; else echo "$p: stopped"; fi
	done
}

case "${1:-}" in
up) shift; cmd_up "$@" ;;
down) cmd_down ;;
leftovers) cmd_leftovers ;;
node-memory) set_mode real; rn_memory ;;
restart-apiserver) set_mode; cmd_restart_apiserver ;;
status) cmd_status ;;
env) echo "export KUBECONFIG=$KUBECONFIG_OUT" ;;
*)
	echo "usage: $0 up [--nodes kwok|real]|down|leftovers|node-memory|restart-apiserver|status|env" >&2
	exit 2
	;;
esac
