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

# prom_sum NAME [LABEL-REGEX] — the sum of every series of metric NAME in the Prometheus
# text on stdin (only series whose labels match LABEL-REGEX, when given), as an integer.
prom_sum() {
	awk -v name="$1" -v re="${2:-}" '
		/^#/ { next }
		{
			series = $1; labels = ""
			i = index(series, "{")
			if (i > 0) { labels = substr(series, i + 1); sub(/}$/, "", labels); series = substr(series, 1, i - 1) }
			if (series == name && (re == "" || labels ~ re)) sum += $2
		}
		END { printf "%.0f\n", sum }'
}
