#!/usr/bin/env bash
# hack/deps.sh — installs the Debian packages ballast builds and tests with.
# Idempotent: does nothing when every package is already installed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PKGS=(build-essential cmake ninja-build pkg-config git curl jq openssl python3 valgrind clang-format
	clang libclang-rt-14-dev
	libcurl4-openssl-dev libcjson-dev libyaml-dev libwebsockets-dev check
	golang-go maven default-jdk-headless
	containerd runc containernetworking-plugins iptables conntrack iproute2 bind9-dnsutils
	buildah debootstrap)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# A machine with its own Go or JDK on PATH (newer than Debian's) keeps it.
filtered=()
for p in "${missing[@]}"; do
	case "$p" in
	golang-go) command -v go >/dev/null || filtered+=("$p") ;;
	default-jdk-headless) command -v java >/dev/null || filtered+=("$p") ;;
	maven) command -v mvn >/dev/null || filtered+=("$p") ;;
	*) filtered+=("$p") ;;
	esac
done
if [ ${#filtered[@]} -eq 0 ]; then
	log "Debian packages: all present"
	exit 0
fi
step "apt-get install ${filtered[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${filtered[@]}" >/dev/null
log "Debian packages installed: ${filtered[*]}"
