#!/usr/bin/env bash
# Benchmarks the mesh in the lab with its peers in the same run (see bench/README.md).
#   bench/run.sh [BUILD_DIR]          (default build; `make bench` passes it)
# Env: BENCH_REPEAT (default 3), BENCH_QUICK=1 (short smoke run), BENCH_OUT (results dir,
# default bench/results), BENCH_IDLE_CONNS (default 10000), BENCH_LAB_NAME (default wb<pid>),
# BENCH_PROFILE=0 (no perf profile), BENCH_PROFILE_ONLY=1 (prove warren-cross captured, then
# only the profile: `make bench-profile`), TMPDIR (where the scratch dir goes),
# BENCH_KEEP_WORK=1 (keep it: configs, proxy logs, perf.data), BENCH_PATHS=a,b (only these paths,
# e.g. warren-waypoint,nginx-http,haproxy-http; no micro benchmarks, README untouched). Needs root.
# Prints the path of the results JSON last. Benchmarks report; a poor figure never fails.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build}" && pwd)
out=${BENCH_OUT:-$here/results}
[ "$(id -u)" -eq 0 ] || { echo "bench/run.sh: the lab needs root" >&2; exit 1; }
for b in warren-lab warren-probe warren-bench-rr warren-bench-http warren-bench-connrate \
         warren-bench-idle warren-bench-echo warren-bench-floor; do
  [ -x "$build/bin/$b" ] || { echo "bench/run.sh: $build/bin/$b is not built" >&2; exit 1; }
done
for t in iperf3 nginx stunnel4 haproxy wrk openssl ss curl; do
  command -v "$t" >/dev/null || { echo "bench/run.sh: $t is missing (scripts/deps.sh)" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/warren-bench-XXXXXX")
# Lab names: the main lab is NAME, the sk_msg lab NAMEf (lowercase, <= 23 chars).
name=${BENCH_LAB_NAME:-wb$$}
pid=""
cleanup() {
  local rc=$?
  set +e
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"; for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  # Whatever the harness left: every lab it may have brought up ("" and "f" suffixes).
  for suffix in "" f; do
    if [ -d "$work/lab$suffix" ]; then
      WARREN_LAB_DIR="$work/lab$suffix" WARREN_LAB_NAME="$name$suffix" "$build/bin/warren-lab" down >/dev/null 2>&1
    fi
  done
  [ "${BENCH_KEEP_WORK:-0}" = 1 ] && echo "bench/run.sh: kept $work" >&2 || rm -rf "$work"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

python3 "$here/harness/main.py" --bin "$build/bin" --src "$here/.." --out "$out" --work "$work" \
  --name "$name" &
pid=$!
wait "$pid"
