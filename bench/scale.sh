#!/usr/bin/env bash
# The scale run (see bench/README.md "Scale"): a lab of SCALE_NODES nodes, SCALE_PODS real pause
# pods, a synthetic model of SCALE_STAGES (cumulative workloads:services written into the lab's
# manifest store); push times to every ztunnel, ztunnel and agent memory, label and policy to
# enforcement.
#   bench/scale.sh [BUILD_DIR]        (default build; `make scale` passes it)
# Env: SCALE_NODES (10), SCALE_PODS (1000), SCALE_STAGES (1000:1000,10000:2000),
# SCALE_PUSH_CHANGES (4), SCALE_DEADLINE (840 s: the run stops by itself, then tears the lab down),
# SCALE_OUT (results dir, default bench/results), SCALE_LAB_NAME (default ws<pid>), TMPDIR.
# Needs root (the lab). Prints the path of the results JSON last; exits 1 when the run stopped
# early (the JSON says why).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build}" && pwd)
out=${SCALE_OUT:-$here/results}
deadline=${SCALE_DEADLINE:-840}
[ "$(id -u)" -eq 0 ] || { echo "bench/scale.sh: the lab needs root" >&2; exit 1; }
for b in warren-lab warren-agent warren-ztunnel warren-cni warrenctl warren-echo; do
  [ -x "$build/bin/$b" ] || { echo "bench/scale.sh: $build/bin/$b is not built" >&2; exit 1; }
done
for t in curl python3 ip; do
  command -v "$t" >/dev/null || { echo "bench/scale.sh: $t is missing (scripts/deps.sh)" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/warren-scale-XXXXXX")
name=${SCALE_LAB_NAME:-ws$$}
pid=""
cleanup() {
  local rc=$?
  set +e
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"; for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  # Whatever the harness left (a `down` it could not finish, a killed harness).
  if [ -d "$work/lab" ]; then
    WARREN_LAB_DIR="$work/lab" WARREN_LAB_NAME="$name" "$build/bin/warren-lab" down >/dev/null 2>&1
  fi
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The harness stops itself at the deadline, saves its results and tears the lab down (minutes
# with 1,000 pods); SIGTERM when that is not over 4 minutes later (the trap then runs down).
timeout --signal=TERM --kill-after=30 $((deadline + 240)) \
  python3 "$here/harness/scale.py" --bin "$build/bin" --src "$here/.." --out "$out" --work "$work" \
  --name "$name" --nodes "${SCALE_NODES:-10}" --pods "${SCALE_PODS:-1000}" \
  --stages "${SCALE_STAGES:-1000:1000,10000:2000}" --push-changes "${SCALE_PUSH_CHANGES:-4}" \
  --deadline "$deadline" &
pid=$!
wait "$pid"
