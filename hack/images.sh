#!/usr/bin/env bash
# hack/images.sh — builds the container images of the real-node cluster from this
# repository, with no registry:
#
#   docker.io/library/debian:bookworm       debootstrap (minbase) from Debian's packages
#   docker.io/library/debian:bookworm-slim  the same, without docs, man pages and locales
#   localhost/ballast-pause:1               the pod sandbox (hack/pause.c, static)
#   localhost/ballast:dev                   the operator: the root Dockerfile
#   localhost/ballast-testkit:1             the tests' helper pods: tests/support/testkit.Dockerfile
#   localhost/ballast-kafka:<version>       the Kafka engine: hack/kafka/image/Dockerfile, one per
#                                           version in BALLAST_KAFKA_VERSIONS (default 3.9.1),
#                                           jars fetched from Maven Central by hack/install-kafka.sh
#
#   hack/images.sh build          build what is missing or changed (layers are cached)
#   hack/images.sh export DIR     write DIR/<name>.tar (docker-archive) and DIR/<name>.id
#   hack/images.sh refs           print the image references, one per line
#
# Storage lives in $BALLAST_CACHE/containers (buildah's own, not the nodes' containerd);
# hack/real-nodes.sh imports the exported archives into each node. Needs root.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STORE="$BALLAST_CACHE/containers"
mkdir -p "$STORE"
BUILDAH=(buildah --root "$STORE/storage" --runroot /run/ballast-buildah --storage-driver overlay)
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
KAFKA_VERSIONS=(${BALLAST_KAFKA_VERSIONS:-3.9.0 3.9.1})
IMAGES=(docker.io/library/debian:bookworm docker.io/library/debian:bookworm-slim
	localhost/ballast-pause:1 localhost/ballast:dev localhost/ballast-testkit:1)
for v in "${KAFKA_VERSIONS[@]}"; do IMAGES+=("localhost/ballast-kafka:$v"); done

have_image() { "${BUILDAH[@]}" inspect --type image "$1" >/dev/null 2>&1; }
image_id() { "${BUILDAH[@]}" inspect --type image --format '{{.FromImageID}}' "$1"; }
# file-name form of a reference: localhost/ballast:dev -> localhost_ballast_dev
slug() { tr '/:' '__' <<<"$1"; }

# debian_base SUITE SLIM REF — a Debian root file system made by debootstrap, committed
# as REF. SLIM=1 drops what bookworm-slim drops (docs, man pages, locales) now and for
# every package installed later (dpkg path-exclude).
debian_base() {
	local suite=$1 slim=$2 ref=$3 work ctr
	have_image "$ref" && return 0
	step "debootstrap $suite → $ref"
	work=$(mktemp -d "$STORE/rootfs.XXXXXX")
	if ! debootstrap --variant=minbase "$suite" "$work/root" "$DEBIAN_MIRROR" \
		>"$STORE/debootstrap-$(slug "$ref").log" 2>&1; then
		log "debootstrap failed; see $STORE/debootstrap-$(slug "$ref").log"
		rm -rf "$work"
		return 1
	fi
	rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"*
	# like the official images: apt keeps no downloaded packages
	printf 'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb || true"; };\n' \
		>"$work/root/etc/apt/apt.conf.d/docker-clean"
	if [ "$slim" = 1 ]; then
		rm -rf "$work/root/usr/share/doc/"* "$work/root/usr/share/man/"* "$work/root/usr/share/info/"*
		find "$work/root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
		cat >"$work/root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
	fi
	tar -C "$work/root" --numeric-owner -cf "$work/rootfs.tar" .
	ctr=$("${BUILDAH[@]}" from --pull=never scratch)
	"${BUILDAH[@]}" add "$ctr" "$work/rootfs.tar" / >/dev/null
	"${BUILDAH[@]}" config --cmd bash --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$ctr"
	"${BUILDAH[@]}" commit -q --rm "$ctr" "$ref" >/dev/null
	rm -rf "$work"
}

pause_image() {
	local ref=localhost/ballast-pause:1 sum ctr
	sum=$(md5sum "$BALLAST_ROOT/hack/pause.c" | cut -d' ' -f1)
	if have_image "$ref" && [ "$(cat "$STORE/pause.sum" 2>/dev/null)" = "$sum" ]; then
		return 0
	fi
	step "build $ref"
	gcc -static -O2 -o "$STORE/pause" "$BALLAST_ROOT/hack/pause.c"
	ctr=$("${BUILDAH[@]}" from --pull=never scratch)
	"${BUILDAH[@]}" copy "$ctr" "$STORE/pause" /pause >/dev/null
	"${BUILDAH[@]}" config --entrypoint '["/pause"]' --user 65535:65535 "$ctr"
	"${BUILDAH[@]}" commit -q --rm "$ctr" "$ref" >/dev/null
	echo "$sum" >"$STORE/pause.sum"
}

# bud REF DOCKERFILE [CONTEXT [BUILD-ARG...]] — buildah bud with cached layers; nothing is
# pulled. CONTEXT defaults to the repository.
bud() {
	local ref=$1 file=$2 ctx=${3:-$BALLAST_ROOT} logf args=()
	shift $(($# < 3 ? $# : 3))
	for a in "$@"; do args+=(--build-arg "$a"); done
	logf="$STORE/bud-$(slug "$ref").log"
	step "build $ref from ${file#"$BALLAST_ROOT"/}"
	if ! "${BUILDAH[@]}" bud --layers --pull=never --isolation chroot --network host \
		${args[@]+"${args[@]}"} -f "$file" -t "$ref" "$ctx" >"$logf" 2>&1; then
		tail -n 30 "$logf" >&2
		log "build of $ref failed; see $logf"
		return 1
	fi
}

build() {
	[ "$(id -u)" -eq 0 ] || { log "images.sh needs root (buildah, debootstrap)"; exit 1; }
	exec 9>"$STORE/.lock"
	flock 9
	debian_base bookworm 0 docker.io/library/debian:bookworm
	debian_base bookworm 1 docker.io/library/debian:bookworm-slim
	pause_image
	bud localhost/ballast:dev "$BALLAST_ROOT/Dockerfile"
	bud localhost/ballast-testkit:1 "$BALLAST_ROOT/tests/support/testkit.Dockerfile"
	local v
	for v in "${KAFKA_VERSIONS[@]}"; do kafka_image "$v"; done
}

# kafka_image VERSION — the build context is hack/kafka/image plus the jars and the
# exporter agent that hack/install-kafka.sh fetched (cached); COPY layers are cached by
# content, so an unchanged version rebuilds nothing.
kafka_image() {
	local v=$1 jars ctx rc=0
	jars=$(KAFKA_VERSION="$v" bash "$BALLAST_ROOT/hack/install-kafka.sh") ||
		{ log "cannot fetch kafka $v"; return 1; }
	ctx=$(mktemp -d "$STORE/kafka-ctx.XXXXXX")
	cp -a "$BALLAST_ROOT/hack/kafka/image/." "$ctx/"
	cp -a "$jars/libs" "$jars/agent" "$ctx/"
	bud "localhost/ballast-kafka:$v" "$ctx/Dockerfile" "$ctx" "KAFKA_VERSION=$v" || rc=$?
	rm -rf "$ctx"
	return $rc
}

# export DIR — one docker-archive per image; an archive whose .id matches is kept.
export_all() {
	local dir=$1 ref f id
	mkdir -p "$dir"
	exec 9>"$STORE/.lock"
	flock 9
	for ref in "${IMAGES[@]}"; do
		f="$dir/$(slug "$ref")"
		id=$(image_id "$ref") || { log "no image $ref: run hack/images.sh build"; return 1; }
		[ -f "$f.tar" ] && [ "$(cat "$f.id" 2>/dev/null)" = "$id" ] && continue
		rm -f "$f.tar" "$f.id"
		"${BUILDAH[@]}" push -q "$ref" "docker-archive:$f.tar:$ref" >/dev/null
		echo "$id" >"$f.id"
	done
}

case "${1:-}" in
build) build ;;
export) [ -n "${2:-}" ] || { log "usage: images.sh export DIR"; exit 2; }; export_all "$2" ;;
refs) printf '%s\n' "${IMAGES[@]}" ;;
*) log "usage: images.sh build | export DIR | refs"; exit 2 ;;
esac
