#!/usr/bin/env bash
# Runs the test tiers and ends with one summary line: "total: N passed, N failed[, N skipped]".
#   scripts/test.sh BUILD [unit|fuzz|e2e]...   (default: every tier)
# A sanitized BUILD (cmake -DWARREN_SANITIZE=address|thread) runs with its sanitizer options;
# WARREN_E2E_TESTS limits the e2e tier to the named tests.
set -uo pipefail
build=${1:-build}
shift || true
tiers=("$@")
[ ${#tiers[@]} -gt 0 ] || tiers=(unit fuzz e2e)
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=$(cd "$build" && pwd)
# Every tier's tests find fixtures and binaries through these.
export WARREN_SOURCE_DIR="$root" WARREN_BIN_DIR="$build/bin"
# A sanitized build (make asan / make tsan): its runtime options for every tier.
. "$root/scripts/sanitizers/env.sh"
warren_sanitizer_env "$build"
[ -z "$WARREN_SANITIZER" ] || echo "== sanitizer build: $WARREN_SANITIZER (scripts/sanitizers/env.sh)"

passed=0 failed=0 skipped=0
failures=()

run_unit() {
  echo "== unit tests (ctest)"
  local log
  log=$(mktemp)
  # WARREN_TIMEOUT_SCALE stretches every limit (sanitized builds run several times slower).
  (cd "$build" && ctest --output-on-failure -j"$(nproc)" \
    --timeout $((120 * ${WARREN_TIMEOUT_SCALE:-1}))) | tee "$log"
  # ctest: "100% tests passed, 0 tests failed out of 34"
  local line total nfail
  line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -1)
  total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
  nfail=$(sed -E 's/.*passed, ([0-9]+) tests failed.*/\1/' <<<"$line")
  if [ -z "$line" ]; then failures+=("unit: ctest did not finish"); failed=$((failed + 1)); rm -f "$log"; return; fi
  passed=$((passed + total - nfail))
  failed=$((failed + nfail))
  [ "$nfail" -eq 0 ] || failures+=("unit: $nfail ctest failures")
  rm -f "$log"
}

run_fuzz() {
  # Each fuzz target replays its seed corpus (built as a plain binary when not fuzzing).
  local found=0
  for target in "$build"/fuzz/*_fuzz; do
    [ -x "$target" ] || continue
    found=1
    local name corpus
    name=$(basename "$target")
    corpus="fuzz/corpus/${name%_fuzz}"
    echo "== fuzz corpus replay: $name"
    if "$target" "$corpus"/* >/dev/null 2>&1; then passed=$((passed + 1)); else
      failed=$((failed + 1)); failures+=("fuzz: $name"); fi
  done
  [ $found -eq 1 ] || echo "== fuzz: no targets built yet"
}

run_e2e() {
  echo "== end-to-end tests in the lab"
  if [ "$(id -u)" -ne 0 ]; then
    echo "e2e: skipped: the lab needs root (network namespaces, cgroups, eBPF)"
    skipped=$((skipped + 1))
    return
  fi
  local out
  out=$(mktemp)
  # WARREN_E2E_TESTS="test_a test_b": a subset (make asan / make tsan run the data-path ones).
  # shellcheck disable=SC2086
  tests/e2e/run.sh "$build" ${WARREN_E2E_TESTS:-} | tee "$out"
  local line
  line=$(grep -E '^e2e: [0-9]+ passed, [0-9]+ failed' "$out" | tail -1)
  if [ -z "$line" ]; then failures+=("e2e: runner did not finish"); failed=$((failed + 1)); rm -f "$out"; return; fi
  local p f s
  p=$(sed -E 's/^e2e: ([0-9]+) passed.*/\1/' <<<"$line")
  f=$(sed -E 's/^e2e: [0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")
  # "..., N skipped": tests that could not run here (a binary not built yet), not passes.
  s=$(sed -nE 's/.* ([0-9]+) skipped.*/\1/p' <<<"$line")
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + ${s:-0}))
  [ "$f" -eq 0 ] || failures+=("e2e: $f failures (see above)")
  rm -f "$out"
}

for t in "${tiers[@]}"; do
  case "$t" in
    unit) run_unit ;;
    fuzz) run_fuzz ;;
    e2e) run_e2e ;;
    *) echo "test.sh: unknown tier '$t' (unit, fuzz, e2e)" >&2; exit 2 ;;
  esac
done

echo
for f in "${failures[@]}"; do echo "FAILED: $f"; done
echo "total: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
