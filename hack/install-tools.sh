#!/usr/bin/env bash
# hack/install-tools.sh — builds the real control-plane components that ballast's
# tests run against, from their published Go modules, into $BALLAST_CACHE/bin:
# etcd, kube-apiserver, kube-scheduler, kube-controller-manager, kubectl, kwok, helm,
# and for real nodes kubelet, kube-proxy and CoreDNS.
# Idempotent: a component whose pinned version is already built is skipped.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

export GOFLAGS="-mod=mod -buildvcs=false"
export CGO_ENABLED=0
SRC="$BALLAST_CACHE/src"
mkdir -p "$SRC"

built() { [ -f "$BALLAST_BIN/.stamp-$1-$2" ]; }
mark() { touch "$BALLAST_BIN/.stamp-$1-$2"; }

build_k8s() { # stamp command... (commands of k8s.io/kubernetes/cmd)
	local stamp=$1
	shift
	built "$stamp" "$K8S_VERSION" && return 0
	step "build $* $K8S_VERSION"
	local dir="$SRC/k8s-$K8S_VERSION" gomod minor
	mkdir -p "$dir"
	gomod=$(cd "$dir" && GOFLAGS= go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
	[ -n "$gomod" ] || { log "could not download k8s.io/kubernetes@$K8S_VERSION"; return 1; }
	# k8s.io/kubernetes points its staging modules (k8s.io/api, ...) at ./staging,
	# which a module dependency cannot see: point them at their published v0.x twins.
	minor="v0.${K8S_VERSION#v1.}"
	{
		echo "module ballast.local/k8s-tools"
		echo "go 1.24.0"
		echo "require k8s.io/kubernetes $K8S_VERSION"
		echo "replace ("
		sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\t\1 => \1 '"$minor"'#p' "$gomod"
		echo ")"
	} >"$dir/go.mod"
	local pkg=k8s.io/component-base/version
	local ld="-s -w -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1"
	ld="$ld -X $pkg.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2) -X $pkg.gitTreeState=clean"
	(cd "$dir" && go build -trimpath -ldflags "$ld" -o "$BALLAST_BIN/" "${@/#/k8s.io/kubernetes/cmd/}")
	mark "$stamp" "$K8S_VERSION"
}

build_etcd() {
	built etcd "$ETCD_VERSION" && return 0
	step "build etcd $ETCD_VERSION"
	local dir="$SRC/etcd-$ETCD_VERSION"
	mkdir -p "$dir"
	# etcd's root module replaces its submodules with ./paths; its server module
	# does not, so a two-line main around etcdmain builds the same binary.
	cat >"$dir/main.go" <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
	printf 'module ballast.local/etcd\ngo 1.24.0\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION" >"$dir/go.mod"
	(cd "$dir" && go build -trimpath -ldflags "-s -w" -o "$BALLAST_BIN/etcd" .)
	mark etcd "$ETCD_VERSION"
}

build_go_install() { # name version module/cmd/path
	built "$1" "$2" && return 0
	step "build $1 $2"
	GOBIN="$BALLAST_BIN" go install -trimpath -ldflags "-s -w" "$3@$2"
	mark "$1" "$2"
}

want="${*:-etcd k8s kwok helm k8s-node coredns}"
for c in $want; do
	case "$c" in
	etcd) build_etcd ;;
	k8s) build_k8s k8s kube-apiserver kube-scheduler kube-controller-manager kubectl ;;
	k8s-node) build_k8s k8s-node kubelet kube-proxy ;;
	coredns) build_go_install coredns "$COREDNS_VERSION" github.com/coredns/coredns ;;
	kwok) build_go_install kwok "$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwok ;;
	helm) build_go_install helm "$HELM_VERSION" helm.sh/helm/v3/cmd/helm ;;
	*) log "unknown component: $c"; exit 2 ;;
	esac
done
step "tools ready in $BALLAST_BIN"
