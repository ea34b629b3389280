#!/usr/bin/env bash
# timeout: 480
# The agent's sk_msg same-node fast path (--sockmap-fast-path) in the lab. The fast path
# applies to every pair of local sockets (loopback pairs, pod pairs inside the node's pod
# CIDR), enrolled or not, so the pods here sit in an UNenrolled namespace: their traffic is
# not captured, and this branch's warren-ztunnel (no data path yet) is never in the way.
#  - default lab (flag off): traffic intact, fastpath counters stay 0, no warren_socks map, no
#    link_sk_msg, the cgroup runs the plain sockops, no sk_msg program loaded;
#  - `up --agent-flag=--sockmap-fast-path`: same-node pod -> pod (sha256-verified sink, and
#    echo) and a loopback pair inside a pod go socket to socket (fastpath_redirected grows),
#    bytes intact; cross-node traffic is not touched; a bulk sender into a reader that does not
#    read is held by TCP after its 4 MiB redirect budget (bounded, bytes intact), and iperf3
#    bulk runs through it (it failed with ENOMEM before the budget);
#  - kill -9 + restart of the agent keeps the flag, re-adopts link_sk_msg (same link id, one
#    sk_msg program on the map), traffic keeps flowing;
#  - `warren-agent uninstall` removes every pin; traffic still works; down leaves nothing.
. "$(dirname "$0")/lib.sh"
AGENT="$WARREN_BIN_DIR/warren-agent"
[ -x "$AGENT" ] || fail "warren-agent not built"
command -v bpftool >/dev/null || fail "bpftool not installed"
PY=/usr/bin/python3
# This test turns the flag off and on itself (`make e2e-fastpath` sets it for every lab_up).
# Under `make e2e-fastpath` the other labs of the run have the fast path on as well, so the
# system-wide checks (no warren_socks map, no sk_msg program loaded anywhere) cannot hold:
# only this lab's pins and cgroups are checked then.
SYSTEM_WIDE=1
fast_path_on && SYSTEM_WIDE=0
# Another lab of the same run with the fast path on (the bench smoke test's sk_msg lab, when the
# schedule puts the two side by side) holds sockmaps and sk_msg programs of its own: the
# system-wide checks are then skipped, and said so, rather than counting its maps as ours.
others_fast_path() {
  local pins
  pins=$(ls -d /sys/fs/bpf/warren/*/warren_socks 2>/dev/null | grep -v "/$LAB_NAME-node-" || true)
  [ -n "$pins" ] || return 1
  log "another lab has the fast path on ($(echo $pins)): system-wide checks skipped"
}
system_wide() { [ "$SYSTEM_WIDE" = 1 ] && ! others_fast_path; }
WARREN_E2E_AGENT_FLAGS=$(sed 's/--sockmap-fast-path//g' <<<"${WARREN_E2E_AGENT_FLAGS:-}")

# fp_counter PINS NAME: the per-CPU sum of one warren_counters entry.
declare -A COUNTER_INDEX=([fastpath_inserted]=14 [fastpath_redirected]=15 [fastpath_miss]=16 [fastpath_budget_spent]=17)
fp_counter() { bpf_counter "$1" "${COUNTER_INDEX[$2]}"; }
# sk_msg programs loaded, by name.
sk_msg_progs_loaded() { bpftool prog show | grep -cw warren_sk_msg || true; }

apply_pods() {
  lab_apply - <<'YAML'
apiVersion: v1
kind: Namespace
metadata: {name: plain}
---
apiVersion: v1
kind: Pod
metadata: {name: srv, namespace: plain}
spec:
  nodeName: node-1
  containers:
  - {name: sink, command: [warren-probe, serve, --port, "8080", --sink]}
  - {name: echo, command: [warren-probe, serve, --port, "8081"]}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: plain}
spec:
  nodeName: node-1
  containers: [{name: main, command: [sleep, infinity]}]
---
apiVersion: v1
kind: Pod
metadata: {name: far, namespace: plain}
spec:
  nodeName: node-2
  containers: [{name: main, command: [sleep, infinity]}]
YAML
  wait_pod_log plain/srv "listening"
  wait_for 20 bash -c "[ \$('$LAB' logs plain/srv 2>/dev/null | grep -c listening) -ge 2 ]"
}

PINS1="/sys/fs/bpf/warren/$LAB_NAME-node-1"
PINS2="/sys/fs/bpf/warren/$LAB_NAME-node-2"
NODE_CG1="$CGROUP2/$LAB_NAME/node-1"

# ---------------------------------------------------------------------------------------------
step "flag off (default lab): nothing of the fast path exists"
lab_up 2
wait_for 30 test -e "$PINS1/link_sockops"
apply_pods
SRV=$(pod_ip plain/srv)
probe_sink plain/client "$SRV:8080" 1048576
probe_echo plain/client "$SRV:8081" 262144
for n in fastpath_inserted fastpath_redirected fastpath_miss fastpath_budget_spent; do
  assert_eq "$(fp_counter "$PINS1" $n)" 0 "$n on node-1 with the flag off"
done
[ ! -e "$PINS1/warren_socks" ] || fail "warren_socks pinned with the flag off"
[ ! -e "$PINS1/warren_socks_state" ] || fail "warren_socks_state pinned with the flag off"
[ ! -e "$PINS1/link_sk_msg" ] || fail "link_sk_msg pinned with the flag off"
SHOW=$(bpftool cgroup show "$NODE_CG1")
assert_eq "$(echo "$SHOW" | grep -cw warren_sockops)" 1 "plain sockops on the node cgroup"
assert_eq "$(echo "$SHOW" | grep -c warren_sockops_ || true)" 0 "fast-path sockops on the node cgroup"
if system_wide; then
  assert_eq "$(bpftool map show | grep -cw warren_socks || true)" 0 "warren_socks maps loaded"
  assert_eq "$(sk_msg_progs_loaded)" 0 "sk_msg programs loaded"
fi
lab_down
leftovers_check

# ---------------------------------------------------------------------------------------------
step "flag on: up --agent-flag=--sockmap-fast-path"
"$LAB" up --nodes 2 --agent-flag=--sockmap-fast-path
wait_for 30 test -e "$PINS1/link_sk_msg"
wait_for 30 test -e "$PINS2/link_sk_msg"
AGENT_PID=$("$PY" -c "import json; print(json.load(open('$LAB_DIR/state.json'))['components']['node-1']['agent']['pid'])")
assert_contains "$(tr '\0' ' ' </proc/$AGENT_PID/cmdline)" "--sockmap-fast-path" "agent command line"
assert_contains "$(bpftool cgroup show "$NODE_CG1")" "warren_sockops_fastpath" "node cgroup sockops"
apply_pods
SRV=$(pod_ip plain/srv)

step "same-node pod -> pod: socket to socket, sha256 verified"
ins0=$(fp_counter "$PINS1" fastpath_inserted)
red0=$(fp_counter "$PINS1" fastpath_redirected)
probe_sink plain/client "$SRV:8080" 4194304
ins1=$(fp_counter "$PINS1" fastpath_inserted)
red1=$(fp_counter "$PINS1" fastpath_redirected)
log "fastpath_inserted $ins0 -> $ins1, fastpath_redirected $red0 -> $red1"
[ $((ins1 - ins0)) -ge 2 ] || fail "both ends of the pod pair should be inserted: $ins0 -> $ins1"
[ "$red1" -gt "$red0" ] || fail "fastpath_redirected did not grow: $red0 -> $red1"
probe_echo plain/client "$SRV:8081" 1048576
red2=$(fp_counter "$PINS1" fastpath_redirected)
[ "$red2" -gt "$red1" ] || fail "echo traffic was not redirected: $red1 -> $red2"

step "loopback pair inside a pod: socket to socket"
# The lab's CNI chain has no loopback plugin, so a pod's lo is down; bring it up in this
# test's own pod netns (Kubernetes pods always have it up).
assert_ok lab exec plain/srv -- ip link set lo up >/dev/null
probe_sink plain/srv "127.0.0.1:8080" 1048576
red3=$(fp_counter "$PINS1" fastpath_redirected)
[ "$red3" -gt "$red2" ] || fail "loopback traffic was not redirected: $red2 -> $red3"

step "bulk into a reader that does not read: bounded, then TCP, bytes intact"
# Redirection into the peer's ingress queue has no flow control: before the redirect budget a
# fast sender queued everything at once (64 MiB here; in the benchmark iperf3 went on until
# tcp_mem's hard limit and got ENOMEM). Now a socket redirects at most 4 MiB, then TCP's flow
# control holds the sender while the reader sleeps.
lab_apply - <<YAML
apiVersion: v1
kind: Pod
metadata: {name: slow, namespace: plain}
spec:
  nodeName: node-1
  containers:
  - {name: main, command: [/usr/bin/python3, "$WARREN_SOURCE_DIR/tests/e2e/slow_reader.py", serve, "8082", "4"]}
  - {name: iperf, command: [iperf3, -s, -4, -p, "5201"]}
YAML
wait_pod_log plain/slow "listening on 8082"
SLOW=$(pod_ip plain/slow)
red_a=$(fp_counter "$PINS1" fastpath_redirected)
spent_a=$(fp_counter "$PINS1" fastpath_budget_spent)
OUT=$(assert_ok lab exec plain/client -- "$PY" "$WARREN_SOURCE_DIR/tests/e2e/slow_reader.py" send "$SLOW:8082" 67108864 2)
log "slow reader: $OUT"
json_field() { "$PY" -c "import json,sys; print(json.loads(sys.argv[1])$2)" "$1"; }
ACCEPTED=$(json_field "$OUT" '["accepted_while_unread"]')
[ "$ACCEPTED" -lt $((24 << 20)) ] || fail "the kernel took $ACCEPTED bytes for a reader that did not read (no flow control)"
assert_eq "$(json_field "$OUT" '["answer"]')" \
  "sha256 $(json_field "$OUT" '["sha256"]') $(json_field "$OUT" '["bytes"]')" "what the slow reader got"
[ "$(fp_counter "$PINS1" fastpath_redirected)" -gt "$red_a" ] || fail "the bulk sender was never redirected"
spent_b=$(fp_counter "$PINS1" fastpath_budget_spent)
[ "$spent_b" -gt "$spent_a" ] || fail "fastpath_budget_spent did not grow: $spent_a -> $spent_b"

step "iperf3 bulk through the fast path (ENOMEM before the budget)"
# -4 on the server: a dual-stack [::] listener's sockets are AF_INET6 (v4-mapped), which is not
# a pair of the same family for the fast path, so iperf3's default would never be redirected.
IPERF=$(assert_ok lab exec plain/client -- timeout 30 iperf3 -c "$SLOW" -p 5201 -t 2 -J)
GOT=$("$PY" -c 'import json,sys; d=json.load(sys.stdin); assert "error" not in d, d["error"]; print(int(d["end"]["sum_received"]["bytes"]))' <<<"$IPERF") \
  || fail "iperf3 through the fast path: $(echo "$IPERF" | grep -m1 error)"
[ "$GOT" -gt $((8 << 20)) ] || fail "iperf3 moved only $GOT bytes"
log "iperf3 bulk: $GOT bytes received in 2 s"
spent_c=$(fp_counter "$PINS1" fastpath_budget_spent)
[ "$spent_c" -gt "$spent_b" ] || fail "iperf3's stream did not spend its budget: $spent_b -> $spent_c"

step "cross-node pod -> pod: not a local pair, untouched"
ins_a=$(fp_counter "$PINS1" fastpath_inserted)
ins_b=$(fp_counter "$PINS2" fastpath_inserted)
probe_sink plain/far "$SRV:8080" 1048576
assert_eq "$(fp_counter "$PINS1" fastpath_inserted)" "$ins_a" "node-1 inserts after cross-node traffic"
assert_eq "$(fp_counter "$PINS2" fastpath_inserted)" "$ins_b" "node-2 inserts after cross-node traffic"

step "kill -9 the agent: restarted with the flag, link_sk_msg re-adopted"
LINK_ID=$(bpftool -j link show pinned "$PINS1/link_sk_msg" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
lab restart node-1 agent --kill
# (the agent names its pins as it sees them: the node pin dir is its /sys/fs/bpf/warren)
wait_for 30 grep -q "re-adopted /sys/fs/bpf/warren/link_sk_msg" "$LAB_DIR/nodes/node-1/logs/agent.log"
AGENT_PID=$("$PY" -c "import json; print(json.load(open('$LAB_DIR/state.json'))['components']['node-1']['agent']['pid'])")
assert_contains "$(tr '\0' ' ' </proc/$AGENT_PID/cmdline)" "--sockmap-fast-path" "restarted agent command line"
assert_eq "$(bpftool -j link show pinned "$PINS1/link_sk_msg" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["id"])')" \
  "$LINK_ID" "link_sk_msg id after the restart"
SHOW=$(bpftool cgroup show "$NODE_CG1")
assert_eq "$(echo "$SHOW" | grep -c warren_sockops)" 1 "sockops attachments on the node cgroup"
MAP_ID=$(bpftool -j map show pinned "$PINS1/warren_socks" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
# sk_msg programs that use this map (the attached one; the killed agent's copy is freed once
# nothing holds it): exactly one. (bpftool 7.1 cannot list a sockmap's attachments.)
msg_progs_on_map() {
  bpftool -j prog show | "$PY" -c "
import json, sys
print(sum(1 for p in json.load(sys.stdin) if p.get('type') == 'sk_msg' and $MAP_ID in p.get('map_ids', [])))"
}
one_msg_prog_on_map() { [ "$(msg_progs_on_map)" = 1 ]; }
wait_for 20 one_msg_prog_on_map
assert_eq "$(msg_progs_on_map)" 1 "sk_msg programs on warren_socks"
red4=$(fp_counter "$PINS1" fastpath_redirected)
probe_sink plain/client "$SRV:8080" 2097152
red5=$(fp_counter "$PINS1" fastpath_redirected)
[ "$red5" -gt "$red4" ] || fail "not redirected after the restart: $red4 -> $red5"

step "uninstall removes every pin; traffic still flows"
assert_ok "$AGENT" uninstall --bpf-pin-dir "$PINS1" --cgroup "$NODE_CG1" >/dev/null
[ ! -e "$PINS1" ] || fail "pins left under $PINS1: $(ls -R "$PINS1")"
assert_eq "$(bpftool cgroup show "$NODE_CG1" | grep -c warren_ || true)" 0 "attachments after uninstall"
probe_sink plain/client "$SRV:8080" 1048576
lab_down
leftovers_check
no_sk_msg_progs() { [ "$(sk_msg_progs_loaded)" -eq 0 ]; }
if system_wide; then
  wait_for 20 no_sk_msg_progs
  log "no sk_msg program left loaded"
fi
