#!/usr/bin/env bash
# hack/fuzz.sh — builds the libFuzzer targets of tests/fuzz (clang-14, ASan + UBSan, in
# build/fuzz) and runs each for a bounded time over a copy of its seed corpus. Fails on
# any crash, leak, timeout, out-of-memory or sanitizer report; prints one line per target:
# its name, executions, corpus size at the end and the result. A failing input is kept in
# build/fuzz/artifacts/<target>/ with the target's log next to it.
#   BALLAST_FUZZ_SECONDS  seconds per target (default 20)
#   BALLAST_FUZZ_TARGETS  space-separated subset, e.g. "promtext psc" (default: all)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$BALLAST_ROOT"

SECONDS_EACH="${BALLAST_FUZZ_SECONDS:-20}"
FUZZ_DIR="$BALLAST_ROOT/build/fuzz"
CC_FUZZ="${BALLAST_FUZZ_CC:-clang-14}"

step "fuzz: build the targets ($CC_FUZZ)"
cmake -S . -B "$FUZZ_DIR" -G Ninja -DCMAKE_C_COMPILER="$CC_FUZZ" -DBALLAST_FUZZ=ON \
	-DBALLAST_INTEGRATION=OFF >/dev/null
cmake --build "$FUZZ_DIR" -j "$(nproc)" --target fuzz

targets="${BALLAST_FUZZ_TARGETS:-}"
if [ -z "$targets" ]; then
	for f in tests/fuzz/fuzz_*.c; do
		n=$(basename "$f" .c)
		targets="$targets ${n#fuzz_}"
	done
fi

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
rc=0
for t in $targets; do
	step "fuzz: $t for ${SECONDS_EACH}s"
	work="$FUZZ_DIR/work/$t"
	art="$FUZZ_DIR/artifacts/$t"
	log="$FUZZ_DIR/artifacts/$t.log"
	rm -rf "$work" "$art"
	mkdir -p "$work" "$art"
	cp -r "tests/fuzz/corpus/$t/." "$work/"
	st=0
	"$FUZZ_DIR/fuzz_$t" "$work" -max_total_time="$SECONDS_EACH" -timeout=5 -rss_limit_mb=512 \
		-malloc_limit_mb=512 -detect_leaks=1 -print_final_stats=1 -close_fd_mask=1 \
		-artifact_prefix="$art/" </dev/null >"$log" 2>&1 || st=$?
	execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -n 1)
	size=$(find "$work" -type f | wc -l)
	result=ok
	if [ "$st" -ne 0 ] || [ -n "$(find "$art" -type f)" ] ||
		grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|SUMMARY: ' "$log"; then
		result="FAILED (exit $st; log $log; inputs in $art)"
		rc=1
	fi
	printf 'fuzz %-12s execs %-10s corpus %-6s %s\n' "$t" "${execs:-?}" "$size" "$result"
	if [ "$result" != ok ]; then
		grep -E 'ERROR:|SUMMARY:|runtime error:|^[a-z_]+: |^    #[0-9] ' "$log" | head -n 30 >&2 || true
	fi
done
exit "$rc"
