#!/usr/bin/env bash
# hack/test.sh — the whole test suite, from a fresh machine: installs what is missing
# (Debian packages, control-plane binaries, Kafka jars; cached after the first run),
# builds with ASan+UBSan, runs unit and integration tests (ctest, against a real local
# control plane; the realnodes label on three real nodes with images built from this
# repository), then runs the unit tests again under valgrind, every fuzz target for a
# bounded time (hack/fuzz.sh), and the threaded unit tests under ThreadSanitizer.
# Exit code: ctest's, or 1 when fuzzing or the ThreadSanitizer run failed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$BALLAST_ROOT"
t0=$SECONDS
JOBS=$(nproc)

step "install Debian packages"
bash hack/deps.sh
step "install control-plane tools"
bash hack/install-tools.sh
if [ -f hack/install-kafka.sh ]; then
	step "install Apache Kafka"
	bash hack/install-kafka.sh
fi
step "build the container images (debootstrap bases, operator, testkit)"
bash hack/images.sh build
log "set-up done in $((SECONDS - t0))s"

ASAN_DIR="$BALLAST_ROOT/build/asan"
VG_DIR="$BALLAST_ROOT/build/valgrind"
export BALLAST_CLUSTER_DIR="$ASAN_DIR/cluster"
LOGS="$BALLAST_ROOT/build/test-logs"
mkdir -p "$LOGS"
# The realnodes tests write their figures (set-up time, node memory) here.
export BALLAST_REALNODES_REPORT="$LOGS/realnodes.txt"
: >"$BALLAST_REALNODES_REPORT"
# Whatever happens, leave no control-plane process and no real node behind.
trap 'bash "$BALLAST_ROOT/hack/local-cluster.sh" down >/dev/null 2>&1 || true
	BALLAST_CLUSTER_DIR="$ASAN_DIR/cluster-real" bash "$BALLAST_ROOT/hack/local-cluster.sh" down >/dev/null 2>&1 || true' EXIT
rc=0

# run_ctest LOGFILE ARGS... — ctest with its output shown and kept; a failure sets rc.
run_ctest() {
	local out=$1 st
	shift
	set +e
	ctest "$@" 2>&1 | tee "$out"
	st=${PIPESTATUS[0]}
	set -e
	[ "$st" -eq 0 ] || rc=1
}

step "build the unit tests without sanitizers, for valgrind"
cmake -S . -B "$VG_DIR" -G Ninja -DBALLAST_INTEGRATION=OFF -DBALLAST_VALGRIND=ON >/dev/null
cmake --build "$VG_DIR" -j "$JOBS"
step "unit tests under valgrind memcheck"
run_ctest "$LOGS/valgrind.txt" --test-dir "$VG_DIR" --output-on-failure -j "$JOBS"

step "build with AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B "$ASAN_DIR" -G Ninja -DBALLAST_SANITIZE=ON >/dev/null
cmake --build "$ASAN_DIR" -j "$JOBS"
step "unit + integration tests (ASan/UBSan, real control plane)"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
run_ctest "$LOGS/asan.txt" --test-dir "$ASAN_DIR" --output-on-failure --timeout 900

step "fuzz every parser of untrusted bytes (libFuzzer, ${BALLAST_FUZZ_SECONDS:-20}s each)"
bash hack/fuzz.sh 2>&1 | tee "$LOGS/fuzz.txt" || rc=1

# The unit tests of threaded code (ctest label `threaded`) once more, under ThreadSanitizer.
# Only those are built; a failed build counts as a failed run.
TSAN_DIR="$BALLAST_ROOT/build/tsan"
step "threaded unit tests under ThreadSanitizer (build/tsan)"
if cmake -S . -B "$TSAN_DIR" -G Ninja -DBALLAST_TSAN=ON -DBALLAST_INTEGRATION=OFF \
	-DBALLAST_REALNODES=OFF >/dev/null &&
	tsan_tests=$(ctest --test-dir "$TSAN_DIR" -L threaded -N | sed -nE 's|.*Test +#[0-9]+: unit/(test_[a-z_]+).*|\1|p') &&
	[ -n "$tsan_tests" ] && cmake --build "$TSAN_DIR" -j "$JOBS" --target $tsan_tests; then
	TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1" ASAN_OPTIONS= \
		run_ctest "$LOGS/tsan.txt" --test-dir "$TSAN_DIR" -L threaded --output-on-failure -j "$JOBS"
else
	log "the ThreadSanitizer build failed"
	rc=1
fi

if [ -s "$BALLAST_REALNODES_REPORT" ]; then
	log "real nodes:"
	cat "$BALLAST_REALNODES_REPORT" >&2
fi
grep -E 'Test +#[0-9]+: realnodes/' "$LOGS/asan.txt" >&2 || true

# One closing line over both ctest runs, e.g. "tests: 40 passed, 0 failed".
total=0
failed=0
for f in "$LOGS/valgrind.txt" "$LOGS/asan.txt"; do
	line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$f" | tail -n 1 || true)
	if [ -z "$line" ]; then
		log "no ctest summary in $f"
		rc=1
		continue
	fi
	n=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
	k=$(sed -E 's/.*tests passed, ([0-9]+) tests? failed.*/\1/' <<<"$line")
	total=$((total + n))
	failed=$((failed + k))
done
log "test suite finished in $((SECONDS - t0))s"
[ "$failed" -eq 0 ] || rc=1
echo "tests: $((total - failed)) passed, $failed failed"
exit "$rc"
