# tests/realnodes/up.sh — fixture: the real-node cluster of the realnodes tests.
source "$BALLAST_SOURCE_DIR/hack/lib.sh"
t0=$SECONDS
bash "$BALLAST_SOURCE_DIR/hack/local-cluster.sh" up --nodes real
report() { log "$*"; [ -z "${BALLAST_REALNODES_REPORT:-}" ] || echo "$*" >>"$BALLAST_REALNODES_REPORT"; }
report "real-node cluster up in $((SECONDS - t0))s"
report "idle: $(bash "$BALLAST_SOURCE_DIR/hack/local-cluster.sh" node-memory)"
