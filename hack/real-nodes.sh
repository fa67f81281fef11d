# hack/real-nodes.sh — the real nodes of `hack/local-cluster.sh up --nodes real`.
# Sourced by local-cluster.sh (never run): uses its DIR, RUN, LOGS, PKI, start_proc,
# stop_proc, pid_alive and wait_for.
#
# Three nodes, node-zone-a/b/c, one per zone, each a network namespace with its own
# containerd (Debian's, with runc and the CNI bridge plugin) and a kubelet and kube-proxy
# built from k8s.io/kubernetes. Every address lives on this machine; a cluster takes a
# slot K (1..9) and with it:
#
#   10.250.K.0/24        node network: bridge blstK on the host (10.250.K.1: the API server
#                        and CoreDNS), node-zone-a/b/c at 10.250.K.11/12/13 (netns blstK-a/b/c)
#   10.(200+K).0.0/16    pods: node i (1..3) has 10.(200+K).i.0/24 on its bridge cni0,
#                        routed via the node's address, in the host and in the other nodes
#   10.(100+K).0.0/16    Services (kube-proxy, iptables mode, inside each node);
#                        10.(100+K).0.1 the API server, 10.(100+K).0.10 cluster DNS.
#                        Blackholed in the host: nothing on the host answers them.
#
# Nothing is routed off the machine: the host does not forward (net.ipv4.ip_forward stays
# as it is, 0 here), and in case something turns forwarding on, chain BALLAST-K in the
# host's FORWARD drops every packet from blstK to an address outside the two ranges above.
# Nodes forward only inside their own namespace.

RN_ZONES=(a b c)
RN_NET_LOCK=/run/ballast-net

# rn_slot — this cluster dir's slot: the one it holds, else the first free one; prints
# "K" or "K reclaimed". A slot whose owner dir is gone is free; the caller cleans what
# its owner left behind (processes, mounts, network) before using it.
rn_slot() {
	local k owner
	mkdir -p "$RN_NET_LOCK"
	exec 8>"$RN_NET_LOCK/.lock"
	flock 8
	for k in 1 2 3 4 5 6 7 8 9; do
		owner=$(cat "$RN_NET_LOCK/slot-$k" 2>/dev/null || true)
		if [ "$owner" = "$DIR" ]; then
			flock -u 8
			echo "$k"
			return 0
		fi
	done
	for k in 1 2 3 4 5 6 7 8 9; do
		owner=$(cat "$RN_NET_LOCK/slot-$k" 2>/dev/null || true)
		if [ -z "$owner" ] || [ ! -d "$owner" ]; then
			echo "$DIR" >"$RN_NET_LOCK/slot-$k"
			flock -u 8
			echo "$k${owner:+ reclaimed}"
			return 0
		fi
	done
	flock -u 8
	log "all 9 real-node network slots are taken (see $RN_NET_LOCK/slot-*): run 'down' in one of those cluster dirs"
	return 1
}

# rn_held_slot — the slot this cluster dir holds, if any (prints K or nothing).
rn_held_slot() { { grep -lx "$DIR" "$RN_NET_LOCK"/slot-* 2>/dev/null || true; } | sed 's/.*slot-//'; }

rn_release_slot() { # K
	exec 8>"$RN_NET_LOCK/.lock"
	flock 8
	[ "$(cat "$RN_NET_LOCK/slot-$1" 2>/dev/null)" = "$DIR" ] && rm -f "$RN_NET_LOCK/slot-$1"
	flock -u 8
}

# rn_vars K — the addresses of slot K.
rn_vars() {
	RN_K=$1
	RN_BR="blst$RN_K"
	RN_HOST_IP="10.250.$RN_K.1"
	RN_NODE_NET="10.250.$RN_K.0/24"
	RN_POD_NET="10.$((200 + RN_K)).0.0/16"
	RN_SVC_NET="10.$((100 + RN_K)).0.0/16"
	RN_SVC_API="10.$((100 + RN_K)).0.1"
	RN_DNS_IP="10.$((100 + RN_K)).0.10"
	RN_CHAIN="BALLAST-$RN_K"
	RN_RUN="/run/ballast-$RN_K"
	RN_CG="ballast-$RN_K"
}
rn_node_name() { echo "node-zone-$1"; }
rn_node_idx() { case $1 in a) echo 1 ;; b) echo 2 ;; c) echo 3 ;; esac }
rn_node_ip() { echo "10.250.$RN_K.$((10 + $(rn_node_idx "$1")))"; }
rn_pod_cidr() { echo "10.$((200 + RN_K)).$(rn_node_idx "$1").0/24"; }
rn_ns() { echo "$RN_BR-$1"; }
# Daemons enter only the node's network namespace (nsenter --net), never a mount namespace
# of their own as `ip netns exec` would give: kubelet's volume mounts must be seen by
# containerd and runc. Short commands use `ip netns exec`.
rn_in() { local z=$1; shift; ip netns exec "$(rn_ns "$z")" "$@"; }

# The v1 hierarchies a kubelet with cgroupfs uses (name=systemd included), or the
# unified one.
rn_cgroup_roots() {
	awk '$9 == "cgroup" || $9 == "cgroup2" {print $5}' /proc/self/mountinfo | sort -u
}

rn_net_up() {
	step "real nodes: network of slot $RN_K ($RN_NODE_NET, pods $RN_POD_NET, services $RN_SVC_NET)"
	local z ns ip o
	if ! ip link show "$RN_BR" >/dev/null 2>&1; then
		ip link add "$RN_BR" type bridge
		ip addr add "$RN_HOST_IP/24" dev "$RN_BR"
	fi
	ip link set "$RN_BR" up
	ip route replace blackhole "$RN_SVC_NET"
	if ! iptables -n -L "$RN_CHAIN" >/dev/null 2>&1; then
		iptables -N "$RN_CHAIN"
		iptables -A "$RN_CHAIN" -d "$RN_NODE_NET" -j RETURN
		iptables -A "$RN_CHAIN" -d "$RN_POD_NET" -j RETURN
		iptables -A "$RN_CHAIN" -j DROP
	fi
	iptables -C FORWARD -i "$RN_BR" -j "$RN_CHAIN" 2>/dev/null || iptables -I FORWARD -i "$RN_BR" -j "$RN_CHAIN"
	for z in "${RN_ZONES[@]}"; do
		ns=$(rn_ns "$z")
		ip=$(rn_node_ip "$z")
		[ -e "/run/netns/$ns" ] || ip netns add "$ns"
		if ! ip link show "v$RN_K$z" >/dev/null 2>&1; then
			ip link add "v$RN_K$z" type veth peer name eth0 netns "$ns"
			ip link set "v$RN_K$z" master "$RN_BR" up
			rn_in "$z" ip addr add "$ip/24" dev eth0
		fi
		rn_in "$z" ip link set lo up
		rn_in "$z" ip link set eth0 up
		rn_in "$z" ip route replace default via "$RN_HOST_IP"
		rn_in "$z" sysctl -qw net.ipv4.ip_forward=1
		# kube-proxy's NAT must see the traffic its bridge switches between pods
		rn_in "$z" sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || true
		ip route replace "$(rn_pod_cidr "$z")" via "$ip" dev "$RN_BR"
		for o in "${RN_ZONES[@]}"; do
			[ "$o" = "$z" ] && continue
			rn_in "$z" ip route replace "$(rn_pod_cidr "$o")" via "$(rn_node_ip "$o")"
		done
	done
}

rn_net_down() {
	local z
	for z in "${RN_ZONES[@]}"; do
		ip route del "$(rn_pod_cidr "$z")" 2>/dev/null || true
		ip link del "v$RN_K$z" 2>/dev/null || true
		ip netns del "$(rn_ns "$z")" 2>/dev/null || true
	done
	ip route del blackhole "$RN_SVC_NET" 2>/dev/null || true
	ip link del "$RN_BR" 2>/dev/null || true
	while iptables -D FORWARD -i "$RN_BR" -j "$RN_CHAIN" 2>/dev/null; do :; done
	iptables -F "$RN_CHAIN" 2>/dev/null || true
	iptables -X "$RN_CHAIN" 2>/dev/null || true
}

rn_sign() { # name subject extfile
	(
		cd "$PKI"
		openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
		openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
			-extfile "$3" -out "$1.crt" 2>/dev/null
	)
}

rn_kubeconfig() { # file cert-name
	cat >"$1" <<KC
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: {server: "https://$RN_HOST_IP:$(cat "$RUN/apiserver.port")", certificate-authority: $PKI/ca.crt}
users:
- name: $2
  user: {client-certificate: $PKI/$2.crt, client-key: $PKI/$2.key}
contexts:
- name: local
  context: {cluster: local, user: $2}
current-context: local
KC
}

rn_node_files() { # zone
	local z=$1 name nd rd ip
	name=$(rn_node_name "$z")
	nd="$DIR/nodes/$name"
	rd="$RN_RUN/$name"
	ip=$(rn_node_ip "$z")
	mkdir -p "$nd/cni" "$nd/kubelet" "$nd/logs" "$rd"
	[ -f "$PKI/$name.crt" ] || rn_sign "$name" "/O=system:nodes/CN=system:node:$name" "$PKI/client.ext"
	[ -f "$PKI/kube-proxy.crt" ] || rn_sign kube-proxy "/CN=system:kube-proxy" "$PKI/client.ext"
	rn_kubeconfig "$nd/kubelet.kubeconfig" "$name"
	rn_kubeconfig "$nd/kube-proxy.kubeconfig" kube-proxy
	cat >"$nd/containerd.toml" <<TOML
version = 2
root = "$nd/containerd"
state = "$rd/containerd"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$rd/containerd.sock"
[ttrpc]
  address = "$rd/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$nd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/ballast-pause:1"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_cdi = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "$rd/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$nd/cni"
TOML
	cat >"$nd/cni/10-ballast.conflist" <<CNI
{"cniVersion": "1.0.0", "name": "ballast", "plugins": [
  {"type": "bridge", "bridge": "cni0", "isGateway": true, "hairpinMode": true, "ipMasq": false,
   "ipam": {"type": "host-local", "dataDir": "$nd/ipam",
            "ranges": [[{"subnet": "$(rn_pod_cidr "$z")"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
CNI
	echo "nameserver $RN_HOST_IP" >"$nd/resolv.conf"
	cat >"$nd/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $ip
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
containerRuntimeEndpoint: unix://$rd/containerd.sock
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
cgroupDriver: cgroupfs
cgroupRoot: /$RN_CG/$name
cgroupsPerQOS: true
enforceNodeAllocatable: [pods]
failCgroupV1: false
failSwapOn: false
oomScoreAdj: 0
clusterDomain: cluster.local
clusterDNS: [$RN_DNS_IP]
resolvConf: $nd/resolv.conf
podLogsDir: $nd/logs
maxPods: 60
serializeImagePulls: false
imageGCHighThresholdPercent: 99
imageGCLowThresholdPercent: 98
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
nodeStatusReportFrequency: 10s
nodeStatusUpdateFrequency: 5s
syncFrequency: 10s
fileCheckFrequency: 10s
shutdownGracePeriod: 0s
YAML
	cat >"$nd/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $nd/kube-proxy.kubeconfig}
mode: iptables
clusterCIDR: $RN_POD_NET
hostnameOverride: $name
bindAddress: $ip
healthzBindAddress: $ip:10256
metricsBindAddress: 127.0.0.1:10249
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
YAML
}

rn_cgroups_up() {
	local root z
	for root in $(rn_cgroup_roots); do
		for z in "${RN_ZONES[@]}"; do
			mkdir -p "$root/$RN_CG/$(rn_node_name "$z")" 2>/dev/null || true
		done
	done
}

# rn_import ZONE — the images hack/images.sh exported, into the node's containerd;
# an archive already imported (same image id) is skipped.
rn_import() {
	local z=$1 name rd f id
	name=$(rn_node_name "$z")
	rd="$RN_RUN/$name"
	for f in "$DIR/images/"*.tar; do
		id=$(cat "${f%.tar}.id")
		[ "$(cat "$DIR/nodes/$name/imported-$(basename "${f%.tar}")" 2>/dev/null)" = "$id" ] && continue
		ctr --address "$rd/containerd.sock" -n k8s.io images import "$f" >/dev/null || return 1
		echo "$id" >"$DIR/nodes/$name/imported-$(basename "${f%.tar}")"
	done
}

rn_nodes_up() {
	local z name nd rd pids=() p
	rn_cgroups_up
	step "real nodes: images for the nodes"
	bash "$BALLAST_ROOT/hack/images.sh" build
	bash "$BALLAST_ROOT/hack/images.sh" export "$DIR/images"
	# the nodes need no Debian base images: only what pods run
	rm -f "$DIR/images/docker.io_library_debian_"*
	for z in "${RN_ZONES[@]}"; do
		name=$(rn_node_name "$z")
		nd="$DIR/nodes/$name"
		rd="$RN_RUN/$name"
		rn_node_files "$z"
		if ! pid_alive "containerd-$z"; then
			step "real nodes: start containerd of $name"
			start_proc "containerd-$z" nsenter --net="/run/netns/$(rn_ns "$z")" containerd --config "$nd/containerd.toml"
		fi
	done
	for z in "${RN_ZONES[@]}"; do
		rd="$RN_RUN/$(rn_node_name "$z")"
		wait_for "containerd of $(rn_node_name "$z")" 60 ctr --address "$rd/containerd.sock" version
	done
	step "real nodes: import images into each node's containerd"
	for z in "${RN_ZONES[@]}"; do
		rn_import "$z" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || { log "image import failed"; return 1; }; done
	for z in "${RN_ZONES[@]}"; do
		name=$(rn_node_name "$z")
		nd="$DIR/nodes/$name"
		if ! pid_alive "kubelet-$z"; then
			step "real nodes: start kubelet of $name"
			start_proc "kubelet-$z" nsenter --net="/run/netns/$(rn_ns "$z")" kubelet --config "$nd/kubelet.yaml" \
				--kubeconfig "$nd/kubelet.kubeconfig" --root-dir "$nd/kubelet" --cert-dir "$nd/pki" \
				--hostname-override "$name" --node-ip "$(rn_node_ip "$z")" \
				--node-labels "topology.kubernetes.io/zone=zone-$z,topology.kubernetes.io/region=local,ballast.dev/real-node=true" \
				--v=1
		fi
		if ! pid_alive "kube-proxy-$z"; then
			start_proc "kube-proxy-$z" nsenter --net="/run/netns/$(rn_ns "$z")" kube-proxy --config "$nd/kube-proxy.yaml" --v=1
		fi
	done
}

rn_dns_up() {
	local f="$DIR/coredns/Corefile"
	mkdir -p "$DIR/coredns"
	cat >"$f" <<CF
.:53 {
    bind $RN_HOST_IP
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $KUBECONFIG_OUT local
        pods insecure
        ttl 5
    }
    cache 5
    loop
    reload
}
CF
	if ! pid_alive coredns; then
		step "real nodes: start CoreDNS on $RN_HOST_IP:53"
		(cd "$DIR/coredns" && start_proc coredns coredns -conf "$f")
	fi
	# A Service without selector whose endpoint is the CoreDNS process on the node network.
	kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
  labels: {k8s-app: kube-dns, kubernetes.io/name: CoreDNS}
spec:
  clusterIP: $RN_DNS_IP
  ports:
  - {name: dns, port: 53, protocol: UDP, targetPort: 53}
  - {name: dns-tcp, port: 53, protocol: TCP, targetPort: 53}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: kube-dns-host
  namespace: kube-system
  labels: {kubernetes.io/service-name: kube-dns, endpointslice.kubernetes.io/managed-by: ballast-local-cluster}
addressType: IPv4
endpoints:
- addresses: [$RN_HOST_IP]
  conditions: {ready: true}
ports:
- {name: dns, port: 53, protocol: UDP}
- {name: dns-tcp, port: 53, protocol: TCP}
YAML
	wait_for "CoreDNS answers kubernetes.default" 60 \
		dig +short +time=1 +tries=1 "@$RN_HOST_IP" kubernetes.default.svc.cluster.local A
}

rn_wait_nodes() {
	wait_for "3 real nodes Ready" 180 bash -c \
		"[ \"\$(kubectl get nodes -l ballast.dev/real-node=true --no-headers 2>/dev/null | grep -cw Ready)\" -ge 3 ]"
	wait_for "real nodes schedulable (no not-ready taint)" 60 bash -c \
		"! kubectl get nodes -o jsonpath='{.items[*].spec.taints}' | grep -q not-ready"
}

# Everything of slot K that still runs: pids of containerd, its shims, and every
# process in the nodes' cgroups (containers).
rn_pids() {
	local root f
	pgrep -f "containerd-shim.*-address $RN_RUN/" || true
	for root in $(rn_cgroup_roots); do
		[ -d "$root/$RN_CG" ] || continue
		find "$root/$RN_CG" -name cgroup.procs -exec cat {} + 2>/dev/null || true
	done
}

rn_mounts() { # mount points under the cluster dir or the run dir, deepest first
	awk -v a="$DIR/" -v b="$RN_RUN/" 'index($5, a) == 1 || index($5, b) == 1 {print $5}' /proc/self/mountinfo |
		awk '{print length, $0}' | sort -rn | cut -d' ' -f2-
}

rn_down() {
	local z p m root n
	for z in "${RN_ZONES[@]}"; do
		for p in kubelet kube-proxy; do
			[ -f "$RUN/$p-$z.pid" ] && kill -TERM -- "-$(cat "$RUN/$p-$z.pid")" 2>/dev/null || true
		done
	done
	stop_proc coredns
	for z in "${RN_ZONES[@]}"; do stop_proc "kubelet-$z"; stop_proc "kube-proxy-$z"; done
	for z in "${RN_ZONES[@]}"; do stop_proc "containerd-$z"; done
	# containers and their shims outlive containerd: kill them by cgroup and by socket
	for n in 1 2 3 4 5; do
		p=$(rn_pids | sort -u | tr '\n' ' ')
		[ -n "${p// /}" ] || break
		# shellcheck disable=SC2086
		kill -KILL $p 2>/dev/null || true
		sleep 0.3
	done
	rn_mounts | while read -r m; do umount -l "$m" 2>/dev/null || true; done
	for root in $(rn_cgroup_roots); do
		[ -d "$root/$RN_CG" ] || continue
		find "$root/$RN_CG" -depth -type d -exec rmdir {} \; 2>/dev/null || true
	done
	rn_net_down
	rm -rf "$RN_RUN"
}

# rn_leftovers — what of slot K is still there; prints one line per thing, returns 1 if any.
rn_leftovers() {
	local found=0 p m z root
	p=$(rn_pids | sort -u | tr '\n' ' ')
	[ -z "${p// /}" ] || { echo "process: $p"; found=1; }
	for p in $(pgrep -f "$DIR/nodes/|$RN_RUN/" || true); do
		[ "$p" = "$$" ] || [ "$p" = "$BASHPID" ] && continue
		echo "process: $p $(tr '\0' ' ' </proc/"$p"/cmdline 2>/dev/null | cut -c1-120)"
		found=1
	done
	m=$(rn_mounts)
	[ -z "$m" ] || { echo "mounts: $(echo "$m" | wc -l) under $DIR or $RN_RUN"; found=1; }
	for z in "${RN_ZONES[@]}"; do
		[ ! -e "/run/netns/$(rn_ns "$z")" ] || { echo "netns: $(rn_ns "$z")"; found=1; }
	done
	! ip link show "$RN_BR" >/dev/null 2>&1 || { echo "bridge: $RN_BR"; found=1; }
	! iptables -n -L "$RN_CHAIN" >/dev/null 2>&1 || { echo "iptables chain: $RN_CHAIN"; found=1; }
	! ip route show | grep -q "10\.$((200 + RN_K))\.\|10\.$((100 + RN_K))\.0\.0/16" || { echo "routes of slot $RN_K"; found=1; }
	for root in $(rn_cgroup_roots); do
		[ ! -d "$root/$RN_CG" ] || { echo "cgroup: $root/$RN_CG"; found=1; }
	done
	return "$found"
}

# rn_memory — resident memory of the three nodes: kubelet, kube-proxy, containerd, shims
# and every container, in MiB.
rn_memory() {
	local pids p kb=0
	pids=$( (for z in "${RN_ZONES[@]}"; do
		for p in kubelet kube-proxy containerd; do
			[ -f "$RUN/$p-$z.pid" ] && pgrep -g "$(cat "$RUN/$p-$z.pid")"
		done
	done; rn_pids) | sort -u)
	for p in $pids; do
		kb=$((kb + $(awk '/^VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)))
	done
	echo "real nodes: $(echo "$pids" | wc -w) processes, $((kb / 1024)) MiB resident"
}
