#!/usr/bin/env bash
# hack/image-libs.sh — checks, without building the image, that the Dockerfile's runtime
# stage installs every shared library the ballast binary loads: each library `ldd` lists is
# mapped to its Debian package with `dpkg -S` and must come from a package the runtime
# stage installs, from one of their dependencies, or from debian:bookworm-slim itself; a
# library the binary links directly (DT_NEEDED) must come from a package the stage names.
#
#   hack/image-libs.sh [BINARY]     default: $BALLAST_BINARY, else build/ballast
#
# Run it on the machine that built BINARY (the packages are looked up in its dpkg
# database), which must run the Debian release the Dockerfile's runtime stage names.
# Sanitizer runtimes (libasan, libubsan, ...) are reported and skipped: a release build,
# which is what the image holds, does not link them.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BINARY="${1:-${BALLAST_BINARY:-$BALLAST_ROOT/build/ballast}}"
DOCKERFILE="${DOCKERFILE:-$BALLAST_ROOT/Dockerfile}"

step "read the runtime stage of $DOCKERFILE"
[ -f "$DOCKERFILE" ] || { log "no Dockerfile at $DOCKERFILE"; exit 1; }
[ -x "$BINARY" ] || { log "no binary at $BINARY: build it first (cmake --build build --target ballast)"; exit 1; }
# Prints "BASE pkg pkg ...": the runtime (last) stage's base image and the packages its
# apt-get install commands name (continuation lines joined, options skipped).
read -r -a stage < <(python3 - "$DOCKERFILE" <<'PY'
import re, shlex, sys
text = re.sub(r"\\\n", " ", open(sys.argv[1]).read())
lines = [l.strip() for l in text.splitlines() if l.strip() and not l.strip().startswith("#")]
froms = [i for i, l in enumerate(lines) if l.upper().startswith("FROM ")]
if not froms:
    sys.exit("no FROM line")
base = lines[froms[-1]].split()[1]
pkgs = []
for l in lines[froms[-1]:]:
    for cmd in re.split(r"&&|;|\|\|", l):
        words = shlex.split(cmd)
        if "install" in words and any(w in ("apt-get", "apt") for w in words):
            pkgs += [w for w in words[words.index("install") + 1:] if not w.startswith("-") and "=" not in w]
print(base, *pkgs)
PY
)
base="${stage[0]}"
listed=("${stage[@]:1}")
[ "${#listed[@]}" -gt 0 ] || { log "the runtime stage ($base) installs no packages"; exit 1; }
log "runtime stage: $base, installs: ${listed[*]}"

step "check that this machine runs the same Debian release as $base"
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
case "$base" in
*:"$codename" | *:"$codename"-*) ;;
*)
	log "this machine runs Debian '$codename' but the image is $base: package names differ between releases"
	exit 1
	;;
esac

step "check that every listed package exists in $codename"
if ! apt-cache show "${listed[@]}" >/dev/null 2>&1; then
	for p in "${listed[@]}"; do
		apt-cache show "$p" >/dev/null 2>&1 || { log "package $p (in $DOCKERFILE) does not exist in $codename"; exit 1; }
	done
fi

# closure PKG... — the packages and everything they depend on (Depends, Pre-Depends;
# alternatives count as present, which can only over-approximate).
closure() {
	apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
		--no-replaces --no-enhances "$@" 2>/dev/null | grep -v '^[ <]' | sed 's/:.*//' | sort -u
}

step "compute what the image holds"
# The base image: debootstrap's minbase (Essential and Priority: required packages) + apt.
mapfile -t base_roots < <(dpkg-query -W -f '${Package} ${Essential} ${Priority}\n' |
	awk '$2 == "yes" || $3 == "required" {print $1}')
base_roots+=(apt)
closure "${base_roots[@]}" >"${TMPDIR:-/tmp}/image-libs.base.$$"
closure "${listed[@]}" >"${TMPDIR:-/tmp}/image-libs.deps.$$"
trap 'rm -f "${TMPDIR:-/tmp}/image-libs.base.$$" "${TMPDIR:-/tmp}/image-libs.deps.$$"' EXIT
in_base() { grep -qx -- "$1" "${TMPDIR:-/tmp}/image-libs.base.$$"; }
in_deps() { grep -qx -- "$1" "${TMPDIR:-/tmp}/image-libs.deps.$$"; }
is_listed() {
	local p
	for p in "${listed[@]}"; do [ "$p" = "$1" ] && return 0; done
	return 1
}

# owner[PATH] = the Debian package that ships PATH, for every path ldd names and its
# /usr-merged twins (one dpkg -S for all: it is slow per call).
declare -A owner=()
twins() { printf '%s\n' "$1" "$(readlink -f "$1")" "/usr$1" "${1#/usr}"; }
mapfile -t paths < <(ldd "$BINARY" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' |
	while read -r p; do twins "$p"; done | sort -u)
while IFS= read -r line; do
	case "$line" in diversion* | *", "*) continue ;; esac
	owner["${line#*: }"]="${line%%:*}"
done < <(dpkg -S "${paths[@]}" 2>/dev/null || true)
package_of() {
	local try
	while read -r try; do
		[ -n "${owner[$try]:-}" ] && { echo "${owner[$try]}"; return 0; }
	done < <(twins "$1")
	return 1
}

step "map every library of $BINARY to its package"
mapfile -t needed < <(readelf -d "$BINARY" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
missing=0
used=()
while read -r lib arrow path _; do
	# ldd lines: "libx.so.1 => /path (addr)", "/lib64/ld-linux... (addr)", "linux-vdso.so.1 (addr)"
	if [ "$arrow" != "=>" ]; then
		path=$lib
		lib=$(basename "$lib")
	fi
	case "$lib" in
	linux-vdso.so.* | linux-gate.so.*) continue ;;
	libasan.so.* | libubsan.so.* | liblsan.so.* | libtsan.so.* | libhwasan.so.*)
		printf '  %-28s sanitizer runtime, not in a release build (skipped)\n' "$lib"
		continue
		;;
	esac
	if [ "$path" = "not" ]; then
		log "$lib: not found on this machine (ldd says 'not found')"
		missing=1
		continue
	fi
	direct=""
	for n in "${needed[@]}"; do [ "$n" = "$lib" ] && direct=" (linked directly)"; done
	if ! pkg=$(package_of "$path"); then
		log "$lib ($path): no Debian package ships it"
		missing=1
		continue
	fi
	if is_listed "$pkg"; then
		how="listed in the Dockerfile"
		used+=("$pkg")
	elif in_base "$pkg"; then
		how="in $base already"
	elif [ -z "$direct" ] && in_deps "$pkg"; then
		how="a dependency of the listed packages"
	elif [ -n "$direct" ] && in_deps "$pkg"; then
		how="MISSING: ballast links it directly; name $pkg in the Dockerfile (it only comes in as a dependency)"
		missing=1
	else
		how="MISSING: add $pkg to the runtime stage of the Dockerfile"
		missing=1
	fi
	printf '  %-28s %-22s %s%s\n' "$lib" "$pkg" "$how" "$direct"
done < <(ldd "$BINARY")

for p in "${listed[@]}"; do
	case " ${used[*]:-} " in *" $p "*) continue ;; esac
	[ "$p" = ca-certificates ] && continue # data, not a library: TLS to API servers
	log "note: $p is listed in the Dockerfile but ships none of the binary's libraries"
done
if [ "$missing" -ne 0 ]; then
	log "FAILED: the runtime image would lack libraries $BINARY needs (see MISSING above)"
	exit 1
fi
log "ok: the runtime stage of $DOCKERFILE provides every library of $BINARY"
