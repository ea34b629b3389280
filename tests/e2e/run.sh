#!/usr/bin/env bash
# Runs every tests/e2e/test_*.sh (each brings up and tears down its own lab), each bounded in
# time, and ends with "e2e: N passed, N failed, N skipped". A test that cannot run here (lib.sh
# `skip REASON`: exit 77) is counted as skipped with its reason, never as passed. Pass names to
# run a subset:
#   tests/e2e/run.sh BUILD [test_lab_basic ...]
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
skip_file=$(mktemp)
trap 'rm -f "$skip_file"' EXIT
for t in "${tests[@]}"; do
  [ -f "$t" ] || continue
  name=$(basename "$t" .sh)
  limit=$(grep -m1 -oE '^# timeout: [0-9]+' "$t" | grep -oE '[0-9]+' || true)
  echo "--- $name"
  start=$(date +%s)
  # Sanitized daemons run several times slower: WARREN_TIMEOUT_SCALE stretches the limit.
  limit=$(( ${limit:-300} * ${WARREN_TIMEOUT_SCALE:-1} ))
  : >"$skip_file"
  if E2E_SKIP_FILE="$skip_file" timeout --kill-after=10 "$limit" bash "$t"; then
    echo "--- $name: PASS ($(( $(date +%s) - start ))s)"
    passed=$((passed + 1))
  else
    rc=$?
    if [ "$rc" -eq 77 ]; then
      echo "--- $name: SKIP: $(head -1 "$skip_file") ($(( $(date +%s) - start ))s)"
      skipped=$((skipped + 1))
      skipped_names+=("$name")
      continue
    fi
    echo "--- $name: FAIL (exit $rc, $(( $(date +%s) - start ))s)"
    failed=$((failed + 1))
    failed_names+=("$name")
  fi
done
[ ${#failed_names[@]} -eq 0 ] || echo "e2e failed: ${failed_names[*]}"
[ ${#skipped_names[@]} -eq 0 ] || echo "e2e skipped: ${skipped_names[*]}"
echo "e2e: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
