# tests/realnodes/down.sh — fixture cleanup: `local-cluster.sh down`, then checks on its
# own that nothing of the real nodes is left: no process that names the cluster dir or
# the slot's run dir, no mount under them, no network namespace, bridge, iptables chain,
# route or cgroup of the slot.
source "$BALLAST_SOURCE_DIR/hack/lib.sh"
DIR=$BALLAST_CLUSTER_DIR
slot=$(grep -lx "$DIR" /run/ballast-net/slot-* 2>/dev/null | sed 's/.*slot-//' || true)
[ -n "$slot" ] || { log "no real-node slot held by $DIR"; exit 1; }
rc=0
bash "$BALLAST_SOURCE_DIR/hack/local-cluster.sh" down || rc=1
left() { log "LEFT BEHIND: $*"; rc=1; }
p=$(pgrep -f "$DIR/|/run/ballast-$slot/" | grep -vx "$$" || true)
[ -z "$p" ] || left "processes $p"
! awk -v a="$DIR/" -v b="/run/ballast-$slot/" 'index($5, a) == 1 || index($5, b) == 1' /proc/self/mountinfo | grep -q . ||
	left "mounts under $DIR or /run/ballast-$slot"
ns=$(ip netns list | grep -E "^blst$slot-" || true)
[ -z "$ns" ] || left "network namespaces $ns"
! ip link show "blst$slot" >/dev/null 2>&1 || left "bridge blst$slot"
! iptables -n -L "BALLAST-$slot" >/dev/null 2>&1 || left "iptables chain BALLAST-$slot"
! iptables -S FORWARD | grep -q "BALLAST-$slot" || left "FORWARD rule to BALLAST-$slot"
! ip route show | grep -qE "^(blackhole )?10\.(2|1)0$slot\." || left "routes of slot $slot"
for root in $(awk '$9 == "cgroup" || $9 == "cgroup2" {print $5}' /proc/self/mountinfo | sort -u); do
	[ ! -d "$root/ballast-$slot" ] || left "cgroup $root/ballast-$slot"
done
[ ! -e "/run/ballast-net/slot-$slot" ] || left "slot $slot still taken"
[ "$rc" = 0 ] && log "down left nothing behind (slot $slot)"
exit "$rc"
