#!/usr/bin/env bash
# Runs every tests/e2e/test_*.sh (each brings up and tears down its own lab), each bounded in
# time, and ends with "e2e: N passed, N failed, N skipped". A test that cannot run here (lib.sh
# `skip REASON`: exit 77) is counted as skipped with its reason, never as passed. Pass names to
# run a subset:
#   tests/e2e/run.sh BUILD [test_lab_basic ...]
# WARREN_E2E_JOBS=N runs N tests at a time (default 2; output still one test after another).
set -uo pipefail
build=$(cd "${1:-build}" && pwd)
shift || true
here=$(cd "$(dirname "$0")" && pwd)
export WARREN_BIN_DIR="$build/bin"
export WARREN_SOURCE_DIR=$(cd "$here/../.." && pwd)
# A sanitized BUILD: its runtime options (scripts/test.sh sets them too; here for direct runs).
if [ -z "${WARREN_SANITIZER+x}" ]; then
  . "$WARREN_SOURCE_DIR/scripts/sanitizers/env.sh"
  warren_sanitizer_env "$build"
fi

if [ $# -gt 0 ]; then
  tests=()
  for n in "$@"; do tests+=("$here/${n%.sh}.sh"); done
else
  tests=("$here"/test_*.sh)
fi

passed=0 failed=0 skipped=0
failed_names=() skipped_names=()
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# run_one TEST: runs it bounded in time, output into $work/NAME.out, status into $work/NAME.rc
# ("PASS", "SKIP reason" or "FAIL exit"), seconds into $work/NAME.s.
run_one() {
  local t=$1 name limit start rc
  name=$(basename "$t" .sh)
  limit=$(grep -m1 -oE '^# timeout: [0-9]+' "$t" | grep -oE '[0-9]+' || true)
  # Sanitized daemons run several times slower: WARREN_TIMEOUT_SCALE stretches the limit.
  limit=$(( ${limit:-300} * ${WARREN_TIMEOUT_SCALE:-1} ))
  start=$(date +%s)
  : >"$work/$name.skip"
  E2E_SKIP_FILE="$work/$name.skip" timeout --kill-after=10 "$limit" bash "$t" >"$work/$name.out" 2>&1
  rc=$?
  echo $(( $(date +%s) - start )) >"$work/$name.s"
  if [ "$rc" -eq 0 ]; then echo PASS >"$work/$name.rc"
  elif [ "$rc" -eq 77 ]; then echo "SKIP: $(head -1 "$work/$name.skip")" >"$work/$name.rc"
  elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then echo "FAIL (time limit ${limit}s hit, exit $rc" >"$work/$name.rc"
  else echo "FAIL (exit $rc" >"$work/$name.rc"; fi
}

# report TEST: its output, then its verdict line, counted.
report() {
  local name verdict secs
  name=$(basename "$1" .sh)
  verdict=$(cat "$work/$name.rc") secs=$(cat "$work/$name.s")
  echo "--- $name"
  cat "$work/$name.out"
  case "$verdict" in
    PASS) echo "--- $name: PASS (${secs}s)"; passed=$((passed + 1)) ;;
    SKIP*) echo "--- $name: $verdict (${secs}s)"; skipped=$((skipped + 1)); skipped_names+=("$name") ;;
    *) echo "--- $name: $verdict, ${secs}s)"; failed=$((failed + 1)); failed_names+=("$name") ;;
  esac
}

# WARREN_E2E_JOBS tests at a time (each has its own lab: name, directory, namespaces, cgroups,
# BPF pins; test_lab_parallel proves two labs do not see each other). Output stays per test.
jobs=${WARREN_E2E_JOBS:-2}
pending=()
for t in "${tests[@]}"; do [ -f "$t" ] && pending+=("$t"); done
if [ "$jobs" -le 1 ]; then
  for t in "${pending[@]}"; do run_one "$t"; report "$t"; done
else
  # Start the longest-bounded tests first so the slots finish together.
  mapfile -t pending < <(for t in "${pending[@]}"; do
    echo "$(grep -m1 -oE '^# timeout: [0-9]+' "$t" | grep -oE '[0-9]+' || echo 300) $t"
  done | sort -rn -s -k1,1 | cut -d' ' -f2-)
  for t in "${pending[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
    run_one "$t" &
  done
  wait
  for t in "${pending[@]}"; do report "$t"; done
fi
[ ${#failed_names[@]} -eq 0 ] || echo "e2e failed: ${failed_names[*]}"
# Why each failed, again at the end (a CI log is often read from its tail): its FAIL line and the
# failure lines it logged, or the time limit that stopped it.
for name in "${failed_names[@]}"; do
  why=$(grep -E '\] FAIL: |failures: ' "$work/$name.out" | tail -6 | cut -c1-400)
  [ -n "$why" ] || why="no FAIL line ($(cat "$work/$name.rc"), $(cat "$work/$name.s")s); last lines: $(tail -3 "$work/$name.out")"
  printf '  %s: %s\n' "$name" "$why"
done
[ ${#skipped_names[@]} -eq 0 ] || echo "e2e skipped: ${skipped_names[*]}"
echo "e2e: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
