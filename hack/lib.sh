# hack/lib.sh — shared helpers for ballast's developer and CI scripts.
# Sourced, never run. Gives every script the same cache layout, pinned versions
# and a `step` helper so that a failure names the step that failed.

BALLAST_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BALLAST_CACHE="${BALLAST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ballast}"
BALLAST_BIN="$BALLAST_CACHE/bin"

# Pinned versions of everything fetched from package registries.
K8S_VERSION="${K8S_VERSION:-v1.34.4}"        # k8s.io/kubernetes (Go module proxy)
ETCD_VERSION="${ETCD_VERSION:-v3.6.8}"        # go.etcd.io/etcd/server/v3
KWOK_VERSION="${KWOK_VERSION:-v0.7.0}"        # sigs.k8s.io/kwok
HELM_VERSION="${HELM_VERSION:-v3.19.0}"       # helm.sh/helm/v3
COREDNS_VERSION="${COREDNS_VERSION:-v1.15.0}" # github.com/coredns/coredns

BALLAST_CURRENT_STEP=""

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# step NAME — announce a step; on failure the ERR trap reports it by name.
step() {
	BALLAST_CURRENT_STEP="$1"
	log "step: $1"
}

on_error() {
	local rc=$?
	log "FAILED (exit $rc) in step: ${BALLAST_CURRENT_STEP:-<none>} (${BASH_SOURCE[1]:-?}:${BASH_LINENO[0]:-?})"
	exit "$rc"
}
trap on_error ERR

mkdir -p "$BALLAST_BIN"
export PATH="$BALLAST_BIN:$PATH"
