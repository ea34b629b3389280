# Shared helpers for end-to-end tests; every tests/e2e/test_*.sh sources this first:
#   . "$(dirname "$0")/lib.sh"
# It gives each test its own lab (unique name + temp dir, exported as WARREN_LAB_NAME and
# WARREN_LAB_DIR so plain "$LAB <command>" talks to it), and an EXIT trap that prints
# diagnostics on failure, runs `down` and removes the temp dir, whatever happened.
set -euo pipefail

: "${WARREN_BIN_DIR:?run through tests/e2e/run.sh BUILD (sets WARREN_BIN_DIR)}"
WARREN_SOURCE_DIR=${WARREN_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
LAB="$WARREN_BIN_DIR/warren-lab"
PROBE="$WARREN_BIN_DIR/warren-probe"
E2E_TEST=$(basename "${BASH_SOURCE[1]:-$0}" .sh)
# Lab names: lowercase, starting with a letter, <= 24 chars, unique per running test.
LAB_NAME=${LAB_NAME:-e2e-$$-$((RANDOM % 1000))}
LAB_DIR=$(mktemp -d "/tmp/warren-e2e-${E2E_TEST}-XXXXXX")
export WARREN_LAB_NAME="$LAB_NAME" WARREN_LAB_DIR="$LAB_DIR"
CGROUP2=$(grep -m1 ' - cgroup2 ' /proc/self/mountinfo | awk '{print $5}')  # like cgroup2Mount()
E2E_START=$(date +%s)
_e2e_cleanups=()

# skip REASON: the test cannot run here (a binary not built yet, no root): says why and exits
# with E2E_SKIP (77, automake's convention), which run.sh counts as skipped, not passed. The
# reason goes to $E2E_SKIP_FILE when run.sh gave one.
E2E_SKIP=77
skip() {
  echo "SKIP $E2E_TEST: $*"
  [ -z "${E2E_SKIP_FILE:-}" ] || printf '%s\n' "$*" >"$E2E_SKIP_FILE"
  exit "$E2E_SKIP"
}

[ "$(id -u)" -eq 0 ] || skip "the lab needs root"
[ -x "$LAB" ] || { echo "FAIL $E2E_TEST: $LAB is not built" >&2; exit 1; }

# ---- sanitizers ----
# In a sanitized build (make asan / make tsan) every process the lab starts (agent, ztunnel,
# warren-cni, warren-probe, warren-lab itself) inherits these options and writes its reports
# into the lab dir; the exit trap fails the test when any report was written. A plain build
# ignores them.
SANITIZER_DIR="$LAB_DIR/sanitizer"
mkdir -p "$SANITIZER_DIR"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$SANITIZER_DIR/asan"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$SANITIZER_DIR/ubsan"
export TSAN_OPTIONS="${TSAN_OPTIONS:+$TSAN_OPTIONS:}log_path=$SANITIZER_DIR/tsan"
# sanitizer_stop_daemons: in a sanitized build, SIGTERM every node component and wait (bounded)
# before `down` kills what is left: their shutdown runs under the sanitizer too, and leaks are
# reported at exit (down alone would SIGKILL them).
sanitizer_stop_daemons() {
  [ -n "${WARREN_SANITIZER:-}" ] && [ -f "$LAB_DIR/state.json" ] || return 0
  local pids=() pid end
  pids=($("$LAB" ps 2>/dev/null | awk '$2 == "agent" || $2 == "ztunnel" { if ($3 == "running") print $4 }'))
  [ ${#pids[@]} -gt 0 ] || return 0
  kill -TERM "${pids[@]}" 2>/dev/null
  end=$(( $(date +%s) + 60 ))
  for pid in "${pids[@]}"; do
    while pid_alive "$pid" && [ "$(date +%s)" -lt "$end" ]; do sleep 0.2; done
  done
}
# sanitizer_check: fails (printing them) when any sanitizer report was written.
sanitizer_check() {
  local reports=("$SANITIZER_DIR"/*)
  [ -e "${reports[0]}" ] || return 0
  local f
  for f in "${reports[@]}"; do
    echo "---- sanitizer report ${f#$LAB_DIR/} ($(grep -m1 -oE 'SUMMARY: .*' "$f" || echo '?'))" >&2
    head -60 "$f" >&2
  done
  echo "[$E2E_TEST] FAIL: ${#reports[@]} sanitizer report(s)" >&2
  return 1
}

# ---- logging and assertions ----
log() { echo "[$E2E_TEST +$(( $(date +%s) - E2E_START ))s] $*"; }
step() { log "== $*"; }
fail() { echo "[$E2E_TEST] FAIL: $*" >&2; exit 1; }
assert_eq() {  # assert_eq ACTUAL EXPECTED WHAT
  [ "$1" == "$2" ] || fail "${3:-value}: got '$1', expected '$2'"
}
assert_ne() {  # assert_ne ACTUAL UNEXPECTED WHAT
  [ "$1" != "$2" ] || fail "${3:-value}: got '$1', expected something else"
}
assert_contains() {  # assert_contains HAYSTACK NEEDLE WHAT
  [[ "$1" == *"$2"* ]] || fail "${3:-output} does not contain '$2': $1"
}
assert_not_contains() {  # assert_not_contains HAYSTACK NEEDLE WHAT
  [[ "$1" != *"$2"* ]] || fail "${3:-output} contains '$2': $1"
}
assert_ok() {  # assert_ok CMD...: runs it, fails the test with its output when it fails
  local out
  out=$("$@" 2>&1) || fail "command failed: $*: $out"
  printf '%s\n' "$out"
}
assert_fails() {  # assert_fails CMD...: the command must fail; prints its output
  local out
  if out=$("$@" 2>&1); then fail "command succeeded but should have failed: $*: $out"; fi
  printf '%s\n' "$out"
}
# wait_for SECONDS CMD...: polls CMD (quietly) every 0.2 s until it succeeds.
wait_for() {
  local limit=$1; shift
  local end=$(( $(date +%s) + limit ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || fail "timed out after ${limit}s waiting for: $*"
    sleep 0.2
  done
}

# ---- the lab ----
lab() { "$LAB" "$@"; }
# WARREN_E2E_AGENT_FLAGS="--a --b=c": extra agent flags for every lab_up (up --agent-flag), e.g.
# to run a whole test with the sk_msg fast path: WARREN_E2E_AGENT_FLAGS=--sockmap-fast-path
# (`make e2e-fastpath` runs every test so).
# fast_path_on: whether lab_up turns the sk_msg fast path on.
fast_path_on() { [[ " ${WARREN_E2E_AGENT_FLAGS:-} " == *" --sockmap-fast-path "* ]]; }
lab_up() {  # lab_up [NODES]
  local extra=() f
  for f in ${WARREN_E2E_AGENT_FLAGS:-}; do extra+=("--agent-flag=$f"); done
  step "lab up: ${1:-2} nodes, name $LAB_NAME, dir $LAB_DIR${extra[*]:+, ${extra[*]}}"
  "$LAB" up --nodes "${1:-2}" "${extra[@]}"
}
lab_down() { "$LAB" down; }
# lab_apply FILE... or lab_apply - (YAML on stdin).
lab_apply() {
  if [ "${1:-}" = "-" ]; then
    local f
    f=$(mktemp "$LAB_DIR/.stdin-XXXXXX.yaml")
    cat >"$f"
    "$LAB" apply -f "$f"
  else
    local args=()
    for f in "$@"; do args+=(-f "$f"); done
    "$LAB" apply "${args[@]}"
  fi
}
lab_delete() { local args=(); for f in "$@"; do args+=(-f "$f"); done; "$LAB" delete "${args[@]}"; }
pod_field() { "$LAB" get pods "$1" --field "$2"; }  # pod_field NS/POD podIP|node|hostIP|phase|netns|cgroup|uid
pod_ip() { pod_field "$1" podIP; }
pod_node() { pod_field "$1" node; }
svc_ip() { "$LAB" get services "$1" --field clusterIP; }  # svc_ip NS/SVC
node_ip() { echo "192.168.100.$(( 10 + ${1#node-} ))"; }  # node_ip node-2
pod_exec() { local p=$1; shift; "$LAB" exec "$p" -- "$@"; }  # pod_exec NS/POD CMD...
node_exec() { local n=$1; shift; "$LAB" exec "$n" -- "$@"; }  # node_exec node-1 CMD...
# wait_pod_log NS/POD TEXT [SECONDS]: until the pod's log contains TEXT (e.g. "listening on").
wait_pod_log() {
  local end=$(( $(date +%s) + ${3:-20} ))
  until "$LAB" logs "$1" 2>/dev/null | grep -qF -- "$2"; do
    [ "$(date +%s)" -lt "$end" ] || fail "pod $1 log never showed '$2': $("$LAB" logs "$1" 2>&1 | tail -5)"
    sleep 0.2
  done
}
# access_log_until NS/POD TEXT...: the pod's `request complete` lines once every TEXT is on one of
# them (the waypoint writes its access log in batches, --access-log-flush-ms: up to 10 s). After
# 10 s it prints what there is (and says what is missing on stderr): the caller's assertion fails.
access_log_until() {
  local pod=$1 end=$(( $(date +%s) + 10 )) lines t missing
  shift
  while :; do
    lines=$("$LAB" logs "$pod" 2>/dev/null | grep 'request complete' || true)
    missing=""
    for t in "$@"; do grep -qF -- "$t" <<<"$lines" || missing=$t; done
    if [ -z "$missing" ] || [ "$(date +%s)" -ge "$end" ]; then
      [ -z "$missing" ] || echo "access_log_until: no line with '$missing' in $pod's log after 10 s" >&2
      printf '%s\n' "$lines"
      return 0
    fi
    sleep 0.2
  done
}
# probe_echo FROM_POD IP:PORT BYTES / probe_sink FROM_POD IP:PORT BYTES: warren-probe send from
# inside a pod, byte-for-byte / sha256 verified; prints the probe's result line.
probe_echo() { assert_ok "$LAB" exec "$1" -- warren-probe send --to "$2" --bytes "$3" --retry 10 --timeout 60; }
probe_sink() { assert_ok "$LAB" exec "$1" -- warren-probe send --to "$2" --bytes "$3" --sink --retry 10 --timeout 60; }

# apply_mesh_pair [EXTRA-YAML]: namespace mesh (ambient), pod mesh/client (node-1, sleeping) and
# pod mesh/echo (node-2, warren-probe serve 8080), plus any extra documents; waits for the echo.
apply_mesh_pair() {
  lab_apply - <<YAML
apiVersion: v1
kind: Namespace
metadata: {name: mesh, labels: {warren.dev/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: mesh}
spec: {nodeName: node-1, containers: [{name: m, command: [sleep, infinity]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: echo, namespace: mesh}
spec: {nodeName: node-2, containers: [{name: m, command: [warren-probe, serve, --port, "8080"]}]}
${1:+---
$1}
YAML
  wait_pod_log mesh/echo "listening"
}
# wait_waypoint NS [GATEWAY]: after `warrenctl waypoint apply`, runs the lab's kubelet until the
# Gateway's pod exists, sets wp_pod to its name, and waits for its readiness (15021); fails with
# the readiness answer and the pod's log when it never gets ready.
wait_waypoint() {
  local ns=$1 gw=${2:-waypoint}
  wp_pod=""
  _find_wp() {
    "$LAB" reconcile >/dev/null 2>&1 || true
    wp_pod=$("$LAB" get pods -n "$ns" -o json |
      jq -r --arg gw "$gw" '.[] | select(.labels["gateway.networking.k8s.io/gateway-name"] == $gw) | .name' | head -1)
    [ -n "$wp_pod" ]
  }
  wait_for 60 _find_wp
  local end=$(( $(date +%s) + 60 ))
  until pod_exec "$ns/$wp_pod" curl -sf "http://127.0.0.1:15021/healthz/ready" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$end" ]; then
      pod_exec "$ns/$wp_pod" curl -s "http://127.0.0.1:15021/healthz/ready" || true
      "$LAB" logs "$ns/$wp_pod" 2>/dev/null | tail -30 || true
      fail "the waypoint $ns/$wp_pod never became ready"
    fi
    sleep 0.2
  done
}
# mtls_connections NODE SRC_WORKLOAD DST_WORKLOAD: connections ztunnel on NODE opened from SRC to
# DST with mutual TLS (istio_tcp_connections_opened_total), 0 when none.
mtls_connections() {
  metric_sum "$1" istio_tcp_connections_opened_total "source_workload=\"$2\"" \
    "destination_workload=\"$3\"" 'connection_security_policy="mutual_tls"'
}

# ztunnel_ready NODE: the node's ztunnel answers its readiness probe (:15021) with 200.
ztunnel_ready() { node_exec "$1" curl -sf -o /dev/null --max-time 10 http://127.0.0.1:15021/healthz/ready; }
# metric_sum NODE FAMILY [LABEL-TEXT...]: the sum of the series of FAMILY on NODE's ztunnel
# :15020/metrics whose labels contain every LABEL-TEXT (e.g. 'response_flags="DENY"'); 0 when
# there is none. When ztunnel does not answer it prints nothing and fails (a dead ztunnel must
# not read as "0 connections", "0 DENYs", "xDS disconnected"): `x=$(metric_sum ...)` ends the
# test, a wait_for retries.
metric_sum() {
  local node=$1 out
  shift
  out=$(metrics_of "$node") || return 1
  metric_sum_in "$out" "$@"
}
# metrics_of NODE: NODE's ztunnel :15020/metrics; fails (saying so) when it does not answer.
metrics_of() {
  node_exec "$1" curl -sf --max-time 10 http://127.0.0.1:15020/metrics || {
    echo "metrics_of: $1's ztunnel did not answer :15020/metrics" >&2
    return 1
  }
}
# metric_sum_in TEXT FAMILY [LABEL-TEXT...]: metric_sum over a scrape already made (several
# sums from one scrape).
metric_sum_in() {
  local out family=$2 f
  out=$(grep -E "^$family(\{| )" <<<"$1" || true)
  shift 2
  for f in "$@"; do out=$(grep -F -- "$f" <<<"$out" || true); done
  awk '{s += $NF} END {printf "%.0f\n", s}' <<<"$out"
}
# bpf_counter PINS INDEX: the per-CPU sum of one entry of the pinned warren_counters map (INDEX
# as in enum warren_counter, bpf/include/warren_abi.h: 0 connect_redirected, 12
# lookup_no_listener, 14.. the fast path's). bpf_counter_of_node node-N INDEX: of this lab's node.
bpf_counter() {
  bpftool -j map lookup pinned "$1/warren_counters" key "$2" 0 0 0 | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
def num(v):
    if isinstance(v, int): return v
    if isinstance(v, list): return int.from_bytes(bytes(int(b, 16) for b in v), "little")
    return int(v, 0)
vals = d.get("formatted", d).get("values", d.get("values"))
print(sum(num(v["value"]) for v in vals))'
}
bpf_counter_of_node() { bpf_counter "/sys/fs/bpf/warren/$LAB_NAME-$1" "$2"; }

# pid_alive PID: running (a zombie waiting for its reaper counts as gone).
pid_alive() {
  local st
  st=$({ sed -E 's/.*\) ([A-Za-z]).*/\1/' "/proc/$1/stat"; } 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# ---- leftovers: nothing of this lab may remain after down ----
leftovers_check() {
  local name=${1:-$LAB_NAME} dir=${2:-$LAB_DIR} problems=()
  local ns
  for ns in $(ls /run/netns 2>/dev/null); do
    case "$ns" in
      "$name-ul" | "$name-node-"[0-9]* | "$name-pod-"*) problems+=("netns $ns") ;;
    esac
  done
  [ ! -e "$CGROUP2/$name" ] || problems+=("cgroup $CGROUP2/$name")
  local v1  # cgroup v1 hierarchies (podman containers' parents on hybrid hosts)
  for v1 in $(awk '$0 ~ / - cgroup / {print $5}' /proc/self/mountinfo); do
    [ ! -e "$v1/$name" ] || problems+=("cgroup $v1/$name")
  done
  local pin
  for pin in /sys/fs/bpf/warren/"$name"-node-[0-9]*; do [ -e "$pin" ] && problems+=("bpf pins $pin"); done
  if [ "$name" = wl ]; then
    for pin in /sys/fs/bpf/warren/node-[0-9]*; do [ -e "$pin" ] && problems+=("bpf pins $pin"); done
  fi
  # Processes: in the lab's cgroups, or started with the lab dir on their command line (one
  # grep over /proc each, so this stays fast on a busy machine).
  local f pid
  for f in $(grep -ls "^0::/$name/" /proc/[0-9]*/cgroup 2>/dev/null || true); do
    pid=${f#/proc/}; pid=${pid%/cgroup}
    pid_alive "$pid" && problems+=("process $pid in cgroup /$name")
  done
  for f in $(grep -lsaF -- "$dir/" /proc/[0-9]*/cmdline 2>/dev/null || true); do
    pid=${f#/proc/}; pid=${pid%/cmdline}
    [ "$pid" != "$$" ] && [ "$pid" != "$BASHPID" ] || continue
    pid_alive "$pid" && problems+=("process $pid: $({ tr '\0' ' ' <"$f"; } 2>/dev/null | cut -c1-100)")
  done
  # Links: nothing of the lab may show up in the root netns (all its links live in its netns).
  if ip -o link show 2>/dev/null | grep -qF -- "$name-"; then problems+=("link in root netns mentioning $name-"); fi
  [ ! -e "$dir/state.json" ] || problems+=("file $dir/state.json")
  [ ! -d "$dir/nodes" ] || problems+=("dir $dir/nodes")
  if [ ${#problems[@]} -gt 0 ]; then
    printf '  leftover: %s\n' "${problems[@]}" >&2
    fail "lab $name left things behind"
  fi
  log "leftovers_check: nothing of lab $name remains"
}

# ---- cleanup ----
on_exit() { _e2e_cleanups+=("$1"); }  # on_exit 'shell command': run at exit, before down
_e2e_exit() {
  local rc=$?
  set +e
  if [ $rc -ne 0 ] && [ $rc -ne "$E2E_SKIP" ] && [ -f "$LAB_DIR/state.json" ]; then
    echo "---- diagnostics for lab $LAB_NAME (exit $rc)" >&2
    "$LAB" get pods >&2
    "$LAB" ps >&2
    for f in "$LAB_DIR"/pods/*/*.log "$LAB_DIR"/nodes/*/logs/*.log; do
      [ -f "$f" ] || continue
      echo "---- ${f#$LAB_DIR/} (last 20 lines)" >&2
      tail -20 "$f" >&2
    done
  fi
  local c
  for c in "${_e2e_cleanups[@]}"; do eval "$c"; done
  sanitizer_stop_daemons
  "$LAB" down >/dev/null 2>&1 || "$LAB" down >&2
  # After down: the daemons have exited, so leak reports (written at exit) are in.
  if ! sanitizer_check && [ $rc -eq 0 ]; then rc=1; fi
  rm -rf "$LAB_DIR"
  exit $rc
}
trap _e2e_exit EXIT
trap 'exit 130' INT TERM
