#!/usr/bin/env bash
# timeout: 540
# The fault matrix, fail closed (issue 16, item 3): one 2-node lab, one fault after another,
# each asserting what established and new connections do, and that nothing went plaintext.
# A mesh connection counts as "through the mesh" only when node-2's ztunnel counted a new
# mutual-TLS connection from the client's workload; and at every step the echo server must
# never have seen a connection from a client's address that ztunnel did not make: ztunnel
# connects to the app from the client's address (source routing in the pod netns), and those
# connections carry ztunnel's mark 0x53a (the echo logs its accepted socket's mark); one
# without it came past ztunnel. Faults:
#  - agent hung (SIGSTOP, both nodes): an open connection and new ones keep working; the DENY
#    on port 9090 is still enforced;
#  - corrupt manifest (the DENY policy's file overwritten with bad YAML): the agent names the
#    file and keeps the last good state (DENY still enforced, traffic flows);
#  - bpffs pins removed by hand (every link and map pin of node-1): capture stays on (the agent
#    holds the links), the agent pins them again, and an agent restart afterwards re-adopts
#    them (one attachment per program); removed while no agent runs: capture stays on
#    (ztunnel's capture pin keeper holds the links), connections are mutual TLS, ztunnel pins
#    the same links and maps back (/config_dump capture_pins), and the agent started afterwards
#    re-adopts them (one attachment each, nothing attached afresh). KNOWN GAP, asserted as it
#    is: removed while neither the agent nor ztunnel runs, capture is off until the agent
#    starts (meanwhile a connection goes in plaintext to node-2's 15006; bpf/README.md);
#  - fd exhaustion (RLIMIT_NOFILE of a running ztunnel lowered to what it holds + 6): on the
#    server node new connections are refused (503: the client sees a close) while held ones
#    keep echoing; on the client node new connections wait in the listen backlog while held
#    ones keep echoing, and are served once descriptors are free (the accept is re-armed);
#  - ztunnel killed (kill -9) on the client node: its open connection ends, a new one is
#    refused (captured by eBPF: connect_redirected grows, nobody on 15001); on the server node:
#    mesh and non-mesh clients refused (sk_lookup finds no listener: lookup_no_listener grows);
#  - xDS gone (both agents killed, not restarted): last good state kept: the DENY deleted from
#    the API meanwhile is still enforced, traffic flows;
#  - CA gone (same): the valid certificate is kept, renewal retried with growing back-off
#    (ztunnel's log and warren_ztunnel_certificate_failures_total);
#  - certificate expired (30 s TTL, CA still gone): new connections fail closed (TLS_FAILURE
#    in istio_tcp metrics), nothing reaches the server; agents back: renewed, new state applied;
#  - a pod's netns deleted under load (the pod deleted with a connection open): another pod's load on
#    the same ztunnel has zero failures, ztunnel keeps running, forgets the pod;
#  - full disk for logs (node-1's log dir on a full 256 KiB tmpfs, debug logging): agent and
#    ztunnel keep running and serving.
# Clock jump: skipped (printed with the reason): time namespaces virtualise CLOCK_MONOTONIC and
# CLOCK_BOOTTIME only; certificate validity follows CLOCK_REALTIME, which only the host clock
# moves, and this shared machine's clock is not ours to move.
. "$(dirname "$0")/lib.sh"
for b in warren-agent warren-ztunnel; do [ -x "$WARREN_BIN_DIR/$b" ] || fail "$b is not built"; done
for c in prlimit jq bpftool; do command -v $c >/dev/null || fail "$c is needed (make deps)"; done
PY=/usr/bin/python3
HELD="$WARREN_SOURCE_DIR/tests/e2e/held_connections.py"

export SECRET_TTL=30s  # every ztunnel's certificates: the expiry below comes within 30 s
lab_up 2
for n in 1 2; do wait_for 60 test -S "$LAB_DIR/nodes/node-$n/run/cni.sock"; done
lab_apply - <<'YAML'
apiVersion: v1
kind: Namespace
metadata: {name: mesh, labels: {warren.dev/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Namespace
metadata: {name: other}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: mesh}
spec: {nodeName: node-1, serviceAccountName: client, containers: [{name: m, command: [sleep, infinity]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client2, namespace: mesh}
spec: {nodeName: node-1, serviceAccountName: client2, containers: [{name: m, command: [sleep, infinity]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: echo, namespace: mesh, labels: {app: echo}}
spec:
  nodeName: node-2
  serviceAccountName: echo
  containers:
  - {name: web, command: [warren-probe, serve, --port, "8080"]}
  - {name: admin, command: [warren-probe, serve, --port, "9090"]}
---
apiVersion: v1
kind: Pod
metadata: {name: outsider, namespace: other}
spec: {nodeName: node-1, containers: [{name: m, command: [sleep, infinity]}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-admin, namespace: mesh}
spec:
  selector: {matchLabels: {app: echo}}
  action: DENY
  rules: [{to: [{operation: {ports: ["9090"]}}]}]
YAML
wait_pod_log mesh/echo "listening on 0.0.0.0:9090"
ECHO=$(pod_ip mesh/echo) CLIENT=$(pod_ip mesh/client) CLIENT2=$(pod_ip mesh/client2)
POLICY_FILE="$LAB_DIR/manifests/AuthorizationPolicy_mesh_deny-admin.yaml"
cp "$POLICY_FILE" "$LAB_DIR/deny-admin.yaml"
PINS1="/sys/fs/bpf/warren/$LAB_NAME-node-1" PINS2="/sys/fs/bpf/warren/$LAB_NAME-node-2"
wait_for 60 ztunnel_ready node-1
wait_for 60 ztunnel_ready node-2

# ---- evidence ----
comp_pid() { "$LAB" ps | awk -v n="$1" -v c="$2" '$1 == n && $2 == c {print $4}'; }
kill9() {  # kill9 NODE COMPONENT: SIGKILL, and wait until it is gone (not restarted)
  local pid
  pid=$(comp_pid "$1" "$2")
  kill -9 "$pid"
  wait_for 10 bash -c "! kill -0 $pid 2>/dev/null"
  log "$1 $2 (pid $pid) killed"
}
mtls_in() {  # mtls_in WORKLOAD [SCRAPE]: mutual-TLS connections node-2's ztunnel accepted from
  # WORKLOAD to the echo (from SCRAPE of node-2's metrics when given)
  local m=${2:-}
  [ -n "$m" ] || m=$(metrics_of node-2) || exit 1
  metric_sum_in "$m" istio_tcp_connections_opened_total "source_workload=\"$1\"" \
    'destination_workload="echo"' 'connection_security_policy="mutual_tls"'
}
# echo_log: the echo server's log; fails the test when it cannot be read (an unreadable log
# must not count as "the echo saw nothing"). After the baseline it always holds connections.
echo_log() {
  local out
  out=$("$LAB" logs mesh/echo) || fail "cannot read the echo server's log"
  grep '^conn ' <<<"$out" || true
}
echo_conns() {
  local log
  log=$(echo_log) || exit 1
  [ -z "$log" ] && echo 0 || wc -l <<<"$log"
}
# plaintext_in WORKLOAD: connections node-2's ztunnel accepted from WORKLOAD without mutual
# TLS (15006: plaintext steered by sk_lookup). The echo cannot tell these apart: ztunnel
# connects to it from the client's address, with its mark, either way.
plaintext_in() {  # plaintext_in WORKLOAD [SCRAPE]: from SCRAPE of node-2 when given
  local m=${2:-}
  [ -n "$m" ] || m=$(metrics_of node-2) || exit 1
  metric_sum_in "$m" istio_tcp_connections_opened_total "source_workload=\"$1\"" \
    'destination_workload="echo"' 'connection_security_policy="unknown"'
}
# The plaintext connections of the known gap below (pins removed while neither the agent nor
# ztunnel runs on node-1); node-2's ztunnel restarts later in the run, so its count can only be
# lower than this, never higher.
PLAINTEXT_KNOWN=0
no_plaintext() {  # no_plaintext WHAT [SCRAPE of node-2's metrics]
  local log n m=${2:-}
  [ -n "$m" ] || m=$(metrics_of node-2) || exit 1
  log=$(echo_log) || exit 1
  [ -n "$log" ] || fail "$1: the echo server logged no connection at all"
  n=$(grep -E "^conn (${CLIENT//./\\.}|${CLIENT2//./\\.}):" <<<"$log" | grep -vc " mark 0x53a$" || true)
  assert_eq "$n" 0 "$1: connections the echo saw from a client's address, not made by ztunnel (past it)"
  n=$(( $(plaintext_in client "$m") + $(plaintext_in client2 "$m") ))
  [ "$n" -le "$PLAINTEXT_KNOWN" ] ||
    fail "$1: node-2's ztunnel accepted $n plaintext connections from the clients (known: $PLAINTEXT_KNOWN)"
}
# mesh_ok FROM WHAT: a new connection FROM -> echo:8080, 4 KiB verified, that node-2's ztunnel
# counted as mutual TLS from FROM's workload.
mesh_ok() {
  local before after m
  before=$(mtls_in "${1#*/}")
  assert_ok "$LAB" exec "$1" -- warren-probe send --to "$ECHO:8080" --bytes 4096 --retry 10 --timeout 20 >/dev/null
  m=$(metrics_of node-2) || exit 1  # one scrape for both checks
  after=$(mtls_in "${1#*/}" "$m")
  [ "$after" -gt "$before" ] ||
    fail "$2: $1 -> echo worked, but node-2's ztunnel counted no new mutual-TLS connection ($before -> $after)"
  no_plaintext "$2" "$m"
  log "$2: $1 -> echo:8080 through the mesh (mutual TLS connections $before -> $after)"
}
# fails_closed FROM IP:PORT WHAT: the connection fails, and the echo saw nothing new.
fails_closed() {
  local before rc=0
  before=$(echo_conns)
  "$LAB" exec "$1" -- warren-probe send --to "$2" --bytes 4096 --timeout 15 >"$LAB_DIR/last.out" 2>&1 || rc=$?
  [ "$rc" -ne 0 ] || fail "$3: $1 -> $2 succeeded: $(cat "$LAB_DIR/last.out")"
  sleep 0.3
  assert_eq "$(echo_conns)" "$before" "$3: connections the echo server saw"
  log "$3: $1 -> $2 failed closed (warren-probe exit $rc: $(tail -1 "$LAB_DIR/last.out"))"
}
# denied_admin WHAT: echo:9090 is refused with node-2's ztunnel recording the DENY.
denied_admin() {
  local before after i
  before=$(metric_sum node-2 istio_tcp_connections_opened_total 'response_flags="DENY"' 'destination_workload="echo"')
  fails_closed mesh/client "$ECHO:9090" "$1: DENY on port 9090"
  for i in $(seq 30); do
    after=$(metric_sum node-2 istio_tcp_connections_opened_total 'response_flags="DENY"' 'destination_workload="echo"')
    [ "$after" -gt "$before" ] && return 0
    sleep 0.1
  done
  fail "$1: echo:9090 failed without a DENY on node-2 ($before -> $after)"
}
# hold_open FROM SECONDS NAME: one connection FROM -> echo:8080 echoing a line every 0.1 s, in
# the background ($HOLD_PID); it exits 0 only when every line came back.
hold_open() {
  "$LAB" exec "$1" -- bash -c "exec 3<>/dev/tcp/$ECHO/8080
    for i in \$(seq $(($2 * 10))); do echo line-\$i >&3; read -t 5 -r l <&3
      [ \"\$l\" = line-\$i ] || { echo \"broke at line \$i\"; exit 1; }; sleep 0.1; done" \
    >"$LAB_DIR/$3.hold" 2>&1 &
  HOLD_PID=$!
  on_exit "kill $HOLD_PID 2>/dev/null"
}

step "baseline: the mesh works, the DENY on 9090 is enforced"
mesh_ok mesh/client baseline
mesh_ok mesh/client2 baseline
denied_admin baseline

step "agent hung (SIGSTOP on both nodes)"
hold_open mesh/client 5 hung
A1=$(comp_pid node-1 agent) A2=$(comp_pid node-2 agent)
kill -STOP "$A1" "$A2"
on_exit "kill -CONT $A1 $A2 2>/dev/null"
mesh_ok mesh/client "agent hung"
mesh_ok mesh/client2 "agent hung"
denied_admin "agent hung"
wait "$HOLD_PID" || fail "agent hung: the open connection broke: $(cat "$LAB_DIR/hung.hold")"
kill -CONT "$A1" "$A2"
pid_alive "$A1" && pid_alive "$A2" || fail "an agent died after SIGCONT"

step "corrupt manifest: the DENY policy's file overwritten with bad YAML"
printf 'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: deny-admin\nspec: [[[\n' \
  >"$LAB_DIR/manifests/.corrupt.yaml"
mv "$LAB_DIR/manifests/.corrupt.yaml" "$POLICY_FILE"
for n in 1 2; do
  wait_for 15 grep -q "config source: .*AuthorizationPolicy_mesh_deny-admin.yaml" "$LAB_DIR/nodes/node-$n/logs/agent.log"
done
log "agent: $(grep -m1 "config source: .*deny-admin.yaml" "$LAB_DIR/nodes/node-1/logs/agent.log" | cut -c1-200)"
denied_admin "corrupt manifest"
mesh_ok mesh/client "corrupt manifest"
pid_alive "$A1" && pid_alive "$A2" || fail "an agent died on the corrupt manifest"
cp "$LAB_DIR/deny-admin.yaml" "$LAB_DIR/manifests/.good.yaml"
mv "$LAB_DIR/manifests/.good.yaml" "$POLICY_FILE"

step "bpffs pins removed by hand on node-1 (every link and map)"
pins_before=$(cd "$PINS1" && find . ! -type d | sort | tr '\n' ' ')
npins=$(wc -w <<<"$pins_before")
redirected_before=$(bpf_counter_of_node node-1 0)
find "$PINS1" ! -type d -delete
assert_eq "$(find "$PINS1" ! -type d | wc -l)" 0 "pins left after rm"
mesh_ok mesh/client "pins removed"
wait_for 15 test -e "$PINS1/link_connect4"
REPAIRED="pin(s) were removed (by hand?): pinned again"
wait_for 15 grep -qF "$REPAIRED" "$LAB_DIR/nodes/node-1/logs/agent.log"
pins_after=$(cd "$PINS1" && find . ! -type d | sort | tr '\n' ' ')
assert_eq "$pins_after" "$pins_before" "pins after the agent put them back"
# Counted, and logged once per repair (a line naming the pins it put back; one repair, or two
# when a re-sync ran in the middle of the rm), never again by the 2 s re-syncs that follow.
pin_repairs() { "$WARREN_BIN_DIR/warrenctl" redirection --node node-1 -o json | jq -c .pin_repairs; }
all_restored() { [ "$(pin_repairs | jq .pins_restored)" = "$npins" ]; }
wait_for 10 all_restored  # published at the end of the pass that logged the repair
repairs=$(pin_repairs)
log "node-1 pin_repairs: $repairs"
assert_eq "$(jq -c '[.pins_restored, .failures, .last_error]' <<<"$repairs")" "[$npins,0,\"\"]" \
  "node-1's pins restored, failures, last error (warrenctl redirection)"
n=$(jq .repairs <<<"$repairs")
[ "$n" -ge 1 ] && [ "$n" -le 2 ] || fail "node-1 counted $n repairs for one rm"
sleep 6
assert_eq "$(grep -cF "$REPAIRED" "$LAB_DIR/nodes/node-1/logs/agent.log")" "$n" \
  "repair lines in node-1's agent log after three more re-syncs"
[ "$(bpf_counter_of_node node-1 0)" -gt "$redirected_before" ] || fail "pins removed: connect_redirected did not grow"
step "... then the agent restarted (kill -9): it re-adopts the links, one attachment each"
assert_ok "$LAB" restart node-1 agent --kill >/dev/null
SHOW=$(bpftool cgroup show "$CGROUP2/$LAB_NAME/node-1")
for t in warren_connect4 warren_connect6 warren_sockops warren_getsockopt; do
  assert_eq "$(grep -cwE "$t|${t}_fastpath" <<<"$SHOW")" 1 "$t attachments on node-1's cgroup"
done
mesh_ok mesh/client "pins removed, agent restarted"

# With no agent running, ztunnel's capture pin keeper (bpf/loader/pin_keeper.h) is the links'
# second holder: removing the pins detaches nothing, and it pins them back from its fds (no
# agent alive: the owner lock <run-dir>/bpf_pin_owner.lock is free; no link detached on purpose).
capture_pins() {  # node-1's ztunnel's capture_pins (/config_dump)
  node_exec node-1 curl -sf --max-time 10 http://127.0.0.1:15000/config_dump | jq -ce .capture_pins
}
keeper_holds_all() {  # keeper_holds_all AGENT_ALIVE: ztunnel holds every pin, sees the agent so
  local c
  c=$(capture_pins) || return 1
  [ "$(jq .agent_alive <<<"$c")" = "$1" ] && [ "$(jq '.held.links + .held.maps' <<<"$c")" = "$npins" ]
}
link_id() { bpftool link show pinned "$1" -j | jq .id; }
step "bpffs pins removed by hand on node-1 while no agent runs: ztunnel keeps capture, pins them back"
wait_for 10 keeper_holds_all true
kill9 node-1 agent
wait_for 10 keeper_holds_all false  # the kernel dropped the dead agent's lock
keeper_before=$(capture_pins)
log "node-1 ztunnel capture_pins with the agent dead: $keeper_before"
id_connect4=$(link_id "$PINS1/link_connect4")
find "$PINS1" ! -type d -delete
log "pins left right after rm: $(find "$PINS1" ! -type d | wc -l) (ztunnel puts them back within 2 s)"
SHOW=$(bpftool cgroup show "$CGROUP2/$LAB_NAME/node-1")
for t in warren_connect4 warren_connect6 warren_sockops warren_getsockopt; do
  assert_eq "$(grep -cwE "$t|${t}_fastpath" <<<"$SHOW")" 1 "$t attachments on node-1's cgroup with the pins removed and no agent"
done
plain_before=$(plaintext_in client)
mesh_ok mesh/client "pins removed with no agent"  # mutual TLS counted, nothing in plaintext
assert_eq "$(plaintext_in client)" "$plain_before" "plaintext connections from mesh/client with the pins removed and no agent"
restored() { [ "$(cd "$PINS1" && find . ! -type d | sort | tr '\n' ' ')" = "$pins_before" ]; }
wait_for 15 restored
wait_for 10 grep -qF "pinned again from ztunnel's fds" "$LAB_DIR/nodes/node-1/logs/ztunnel.log"
assert_eq "$(link_id "$PINS1/link_connect4")" "$id_connect4" "link_connect4's id after ztunnel pinned it back"
keeper_after=$(capture_pins)
log "node-1 ztunnel capture_pins after the repair: $keeper_after"
n=$(( $(jq .restored <<<"$keeper_after") - $(jq .restored <<<"$keeper_before") ))
[ "$n" -ge "$npins" ] || fail "ztunnel counted $n pins restored, $npins were removed"
assert_eq "$(jq -c '[.failures, .last_error, .agent_alive]' <<<"$keeper_after")" '[0,"",false]' \
  "node-1 ztunnel capture_pins failures, last error, agent alive"
step "... then the agent starts: it re-adopts what ztunnel kept, one attachment each"
AGENT_LOG_MARK=$(wc -l <"$LAB_DIR/nodes/node-1/logs/agent.log")
assert_ok "$LAB" restart node-1 agent --kill >/dev/null
agent_log() { tail -n +"$((AGENT_LOG_MARK + 1))" "$LAB_DIR/nodes/node-1/logs/agent.log"; }
readopted() { agent_log | grep -q "bpf: re-adopted .*/link_connect4"; }
wait_for 30 readopted
! agent_log | grep -E "bpf: attached .*/link_" || fail "the agent attached links afresh instead of re-adopting ztunnel's"
SHOW=$(bpftool cgroup show "$CGROUP2/$LAB_NAME/node-1")
for t in warren_connect4 warren_connect6 warren_sockops warren_getsockopt; do
  assert_eq "$(grep -cwE "$t|${t}_fastpath" <<<"$SHOW")" 1 "$t attachments on node-1's cgroup"
done
assert_eq "$(link_id "$PINS1/link_connect4")" "$id_connect4" "link_connect4's id after the agent re-adopted it"
wait_for 10 keeper_holds_all true  # the new agent holds the owner lock: ztunnel only holds
redirected_before=$(bpf_counter_of_node node-1 0)
mesh_ok mesh/client "pins restored by ztunnel, agent started"
[ "$(bpf_counter_of_node node-1 0)" -gt "$redirected_before" ] || fail "agent started: connect_redirected did not grow"

# KNOWN GAP, asserted as it is so that a fix has to change this step: with neither the agent
# nor ztunnel running nothing holds the links, the pins are their only references, and removing
# them detaches capture until the next agent attaches again (bpf/README.md). Meanwhile an
# enrolled pod's connection is not captured; it reaches node-2's sk_lookup, which steers it to
# ztunnel's 15006, and it is served in plaintext across the underlay.
step "bpffs pins removed by hand on node-1 while neither agent nor ztunnel runs, then both start"
kill9 node-1 agent
kill9 node-1 ztunnel
find "$PINS1" ! -type d -delete
assert_eq "$(find "$PINS1" ! -type d | wc -l)" 0 "pins left after rm"
SHOW=$(bpftool cgroup show "$CGROUP2/$LAB_NAME/node-1")
assert_eq "$(grep -c warren_ <<<"$SHOW" || true)" 0 "Warren programs on node-1's cgroup with no pins, no agent, no ztunnel"
mtls_before=$(mtls_in client) plain_before=$(plaintext_in client)
assert_ok "$LAB" exec mesh/client -- warren-probe send --to "$ECHO:8080" --bytes 4096 --timeout 20 >/dev/null
assert_eq "$(mtls_in client)" "$mtls_before" "mutual-TLS connections during the window (not captured)"
assert_eq "$(plaintext_in client)" $((plain_before + 1)) "plaintext connections node-2 accepted during the window"
PLAINTEXT_KNOWN=$((PLAINTEXT_KNOWN + 1))
log "KNOWN GAP: with pins removed, no agent and no ztunnel, mesh/client -> echo went in plaintext (node-2's 15006)"
AGENT_LOG_MARK=$(wc -l <"$LAB_DIR/nodes/node-1/logs/agent.log")
assert_ok "$LAB" restart node-1 agent --kill >/dev/null
assert_ok "$LAB" restart node-1 ztunnel --kill >/dev/null
wait_for 30 test -e "$PINS1/link_connect4"
wait_for 15 restored
# Nothing was left to re-adopt: the new agent attached (and pinned) each link afresh.
grep -q "bpf: attached .*/link_connect4" <<<"$(agent_log)" || fail "the agent did not attach link_connect4 afresh"
SHOW=$(bpftool cgroup show "$CGROUP2/$LAB_NAME/node-1")
for t in warren_connect4 warren_connect6 warren_sockops warren_getsockopt; do
  assert_eq "$(grep -cwE "$t|${t}_fastpath" <<<"$SHOW")" 1 "$t attachments on node-1's cgroup"
done
wait_for 60 ztunnel_ready node-1
redirected_before=$(bpf_counter_of_node node-1 0)  # a new counters map: read it again
mesh_ok mesh/client "pins removed with no agent and no ztunnel, both started"
[ "$(bpf_counter_of_node node-1 0)" -gt "$redirected_before" ] || fail "both started: connect_redirected did not grow"

# held NAME COUNT: held_connections.py from mesh/client with COUNT connections to echo:8080
# in the background ($HELD_PID, waiting for $LAB_DIR/NAME.release); waits for its "held" line.
held() {
  "$LAB" exec mesh/client -- "$PY" "$HELD" "$ECHO:8080" "$2" "$LAB_DIR/$1.release" >"$LAB_DIR/$1.out" 2>&1 &
  HELD_PID=$!
  on_exit "touch $LAB_DIR/$1.release; kill $HELD_PID 2>/dev/null"
  wait_for 60 grep -q '"phase": "held"' "$LAB_DIR/$1.out"
  log "$1 held: $(grep '"held"' "$LAB_DIR/$1.out")"
}
result() { grep "\"phase\": \"$2\"" "$LAB_DIR/$1.out" | jq -r ".$3"; }  # result NAME PHASE FIELD
nofile() { prlimit --pid "$1" --nofile --raw --noheadings -o SOFT; }

step "fd exhaustion on node-2's ztunnel (the server's)"
mesh_ok mesh/client "before fd exhaustion"
# node-1's pools spread overlapping tunnels over up to 4 HBONE connections per worker, and each
# new one is an accept on node-2 that takes one of the free descriptors below its limit: 10
# held tunnels could open 8 and leave none for the upstream connects (seen once: none of 10
# served). The same 10 first, at the normal limit, open those connections (kept 5 min idle);
# below the limit the tunnels reuse them and the free descriptors go to the upstream connects.
held fd2-warm 10
assert_eq "$(result fd2-warm held served)" 10 "fd2: warm-up connections served at the normal limit"
touch "$LAB_DIR/fd2-warm.release"
wait "$HELD_PID" || true
uf_before=$(metric_sum node-2 istio_tcp_connections_opened_total 'response_flags="UF"' 'destination_workload="echo"')
Z2=$(comp_pid node-2 ztunnel) soft=$(nofile "$(comp_pid node-2 ztunnel)")
on_exit "prlimit --pid $Z2 --nofile=$soft: 2>/dev/null"
# The limit bounds descriptor numbers and the table has holes: leave exactly 6 free below it.
limit=$(ls "/proc/$Z2/fd" | "$PY" -c '
import sys
used, limit, free = set(map(int, sys.stdin.read().split())), 0, 0
while free < 6:
    free += limit not in used
    limit += 1
print(limit)')
prlimit --pid "$Z2" --nofile="$limit":
log "node-2 ztunnel (pid $Z2) holds $(ls "/proc/$Z2/fd" | wc -l) fds; RLIMIT_NOFILE $soft -> $limit (6 free below)"
held fd2 10
[ "$(result fd2 held served)" -ge 1 ] || fail "fd2: no connection was served below the limit"
[ "$(result fd2 held refused)" -ge 1 ] || fail "fd2: no connection was refused at the limit"
assert_eq "$(result fd2 held waiting)" 0 "fd2: connections left hanging instead of refused"
assert_eq "$(result fd2 held old_ok)" "$(result fd2 held served)" "fd2: held connections still echoing at the limit"
touch "$LAB_DIR/fd2.release"
wait "$HELD_PID" || true
prlimit --pid "$Z2" --nofile="$soft":
pid_alive "$Z2" || fail "node-2's ztunnel died at its fd limit"
uf_after=$(metric_sum node-2 istio_tcp_connections_opened_total 'response_flags="UF"' 'destination_workload="echo"')
[ "$uf_after" -gt "$uf_before" ] || fail "fd2: refused without an upstream failure (UF, 503) counted ($uf_before -> $uf_after)"
log "node-2 answered 503 (UF) $((uf_after - uf_before)) times at its fd limit"
mesh_ok mesh/client "after fd exhaustion on node-2"

# On the client side the accepting socket is ztunnel's: an io_uring multishot accept takes
# RLIMIT_NOFILE when it is armed, so a limit lowered later does not bind it. ztunnel starts
# under the limit instead (as it would on a node configured so), with 8 descriptors to spare.
step "fd exhaustion on node-1's ztunnel (the client's), started with a low RLIMIT_NOFILE"
# fd1_round SPARE: ztunnel restarted under RLIMIT_NOFILE = BASE + SPARE, 16 connections held,
# then released. At the limit a new connection is either not accepted (it waits in the listen
# backlog) or accepted and then closed, when its worker cannot open the HBONE connection
# (each worker has its own pool); never passed on in any other way, never lost. Succeeds when
# a backlog was built (an accept met the limit: EMFILE, the accept paused). It is not built
# when the descriptors left never reach 0 at an accept: a served connection takes more than
# one, and each refusal frees its own, so with the wrong remainder every later accept
# succeeds and is refused; the next SPARE changes the remainder.
fd1_round() {
  local name="fd1-$1" pauses
  prlimit --nofile="$((BASE + $1))": "$LAB" restart node-1 ztunnel --kill >/dev/null
  wait_for 60 ztunnel_ready node-1
  Z1=$(comp_pid node-1 ztunnel)
  on_exit "prlimit --pid $Z1 --nofile=$soft: 2>/dev/null"
  log "node-1 ztunnel (pid $Z1) started under RLIMIT_NOFILE $(nofile "$Z1"), holds $(ls "/proc/$Z1/fd" | wc -l) fds"
  held "$name" 16
  served=$(result "$name" held served) waiting=$(result "$name" held waiting) refused=$(result "$name" held refused)
  [ "$served" -ge 1 ] || fail "$name: no connection was served below the limit"
  assert_eq "$((served + waiting + refused))" 16 "$name: connections served, waiting or refused"
  assert_eq "$(result "$name" held old_ok)" "$served" "$name: held connections still echoing at the limit"
  touch "$LAB_DIR/$name.release"  # the held ones close: descriptors free, the backlog is served
  wait_for 30 grep -q '"phase": "released"' "$LAB_DIR/$name.out"
  wait "$HELD_PID" || true
  log "node-1 released: $(grep '"released"' "$LAB_DIR/$name.out") ($waiting were waiting in the backlog)"
  assert_eq "$(result "$name" released late_served)" "$waiting" "$name: queued connections served once fds were free"
  prlimit --pid "$Z1" --nofile="$soft":
  # Read now: at the limit ztunnel cannot accept a scrape either.
  pauses=$(metric_sum node-1 warren_ztunnel_accept_pauses_total)
  log "$name: $pauses accepts met the limit (served $served, waiting $waiting, refused $refused)"
  [ "$pauses" -gt 0 ]
}
Z1=$(comp_pid node-1 ztunnel)
soft=$(nofile "$Z1") BASE=$(ls "/proc/$Z1/fd" | wc -l)
backlog=""
for spare in 8 9 10 11 12; do
  if fd1_round "$spare"; then backlog=$spare; break; fi
done
[ -n "$backlog" ] || fail "fd1: no accept met the limit with 8..12 descriptors to spare: no backlog was ever built"
# Every worker accepts again (an accept the kernel ended used to stay ended).
held fd1-after 16
touch "$LAB_DIR/fd1-after.release"
assert_eq "$(result fd1-after held served)" 16 "fd1: connections served after the limit went"
wait "$HELD_PID" || true
log "node-1: accepts paused at the limit (with $backlog to spare) and armed again; 16 of 16 served afterwards"
mesh_ok mesh/client "after fd exhaustion on node-1"

step "ztunnel killed on node-1 (the client's)"
hold_open mesh/client 20 zkill
sleep 1
redirected_before=$(bpf_counter_of_node node-1 0)
kill9 node-1 ztunnel
if wait "$HOLD_PID"; then fail "the connection open through the killed ztunnel kept working"; fi
log "open connection: $(cat "$LAB_DIR/zkill.hold")"
fails_closed mesh/client "$ECHO:8080" "ztunnel-1 killed"
[ "$(bpf_counter_of_node node-1 0)" -gt "$redirected_before" ] ||
  fail "ztunnel-1 killed: connect_redirected did not grow (the connect was not captured)"
assert_ok "$LAB" restart node-1 ztunnel --kill >/dev/null
wait_for 60 ztunnel_ready node-1
mesh_ok mesh/client "ztunnel-1 back"

step "ztunnel killed on node-2 (the server's)"
no_listener_before=$(bpf_counter_of_node node-2 12)
kill9 node-2 ztunnel
fails_closed mesh/client "$ECHO:8080" "ztunnel-2 killed, mesh client"
fails_closed other/outsider "$ECHO:8080" "ztunnel-2 killed, client outside the mesh"
[ "$(bpf_counter_of_node node-2 12)" -gt "$no_listener_before" ] ||
  fail "ztunnel-2 killed: lookup_no_listener did not grow (the plaintext connect was not steered)"
assert_ok "$LAB" restart node-2 ztunnel --kill >/dev/null
wait_for 60 ztunnel_ready node-2
mesh_ok mesh/client "ztunnel-2 back"

step "xDS and CA gone: both agents killed, not restarted"
hold_open mesh/client 8 cp-gone
workloads=$(metric_sum node-2 warren_ztunnel_workloads)
[ "$workloads" -gt 0 ] || fail "node-2's ztunnel knows no workload before the control plane goes"
LOG_MARK=$(wc -l <"$LAB_DIR/nodes/node-1/logs/ztunnel.log")  # renewal lines after this one
failures_before=$(metric_sum node-1 warren_ztunnel_certificate_failures_total)
kill9 node-1 agent
kill9 node-2 agent
xds_down() { [ "$(metric_sum "$1" warren_ztunnel_xds_connected)" = 0 ]; }
wait_for 20 xds_down node-1
wait_for 20 xds_down node-2
assert_eq "$(metric_sum node-2 warren_ztunnel_workloads)" "$workloads" "workloads node-2 keeps without xDS"
# The API changes meanwhile (the DENY goes): nobody serves it, so the last good state holds.
"$LAB" delete -f "$LAB_DIR/deny-admin.yaml" >/dev/null
mesh_ok mesh/client "xDS gone"
denied_admin "xDS gone, DENY deleted from the API but not pushed"
wait "$HOLD_PID" || fail "xDS gone: the open connection broke: $(cat "$LAB_DIR/cp-gone.hold")"

CLIENT_ID=spiffe://cluster.local/ns/mesh/sa/client
# retries: the back-off delays node-1's ztunnel logged for the client's certificate while it
# kept the valid one, in order.
retries() {
  tail -n +"$((LOG_MARK + 1))" "$LAB_DIR/nodes/node-1/logs/ztunnel.log" | grep -F "certificate for $CLIENT_ID: " |
    grep -oE 'retry in [0-9]+ ms, keeping the valid one' | grep -oE '[0-9]+' | tr '\n' ' '
}
three_retries() { [ "$(wc -w <<<"$(retries)")" -ge 3 ]; }
step "CA gone: the valid certificate is kept, renewal retried with back-off"
wait_for 40 three_retries
read -r -a delays <<<"$(retries)"
log "renewal retried, back-off (ms): ${delays[*]}"
for i in 1 2; do
  [ "${delays[$i]}" -gt "${delays[$((i - 1))]}" ] || fail "CA gone: back-off does not grow: ${delays[*]}"
done
[ "$(metric_sum node-1 warren_ztunnel_certificate_failures_total)" -gt "$failures_before" ] ||
  fail "CA gone: warren_ztunnel_certificate_failures_total did not grow"
mesh_ok mesh/client "CA gone, certificate still valid"

# cert_state [NODE ID]: the state of a certificate in NODE's ztunnel (default node-1, the client's).
cert_state() {
  node_exec "${1:-node-1}" curl -sf --max-time 10 http://127.0.0.1:15000/config_dump |
    jq -r --arg id "${2:-$CLIENT_ID}" '.certificates[] | select(.identity == $id) | .state'
}
not_valid() { local s; s=$(cert_state); [ -n "$s" ] && [ "$s" != Valid ]; }
step "certificate expired (CA still gone): new connections fail closed"
wait_for 45 not_valid
log "client certificate on node-1: $(cert_state)"
tls_before=$(metric_sum node-1 istio_tcp_connections_opened_total 'response_flags="TLS_FAILURE"' 'source_workload="client"')
fails_closed mesh/client "$ECHO:8080" "certificate expired"
tls_after=$(metric_sum node-1 istio_tcp_connections_opened_total 'response_flags="TLS_FAILURE"' 'source_workload="client"')
[ "$tls_after" -gt "$tls_before" ] || fail "certificate expired: no TLS_FAILURE counted ($tls_before -> $tls_after)"

step "control plane back: certificates renewed, the new state (no DENY) pushed"
assert_ok "$LAB" restart node-1 agent --kill >/dev/null
assert_ok "$LAB" restart node-2 agent --kill >/dev/null
valid() { [ "$(cert_state "$@")" = Valid ]; }
wait_for 90 valid
# The next steps load from mesh/client2 to echo: their certificates expired too while the CA was
# gone, and each ztunnel renews them once its CA client is back (seen once: node-2's came back
# 16 s after its agent, and echo's certificate was still missing while mesh/client2 loaded).
wait_for 90 valid node-1 spiffe://cluster.local/ns/mesh/sa/client2
wait_for 90 valid node-2 spiffe://cluster.local/ns/mesh/sa/echo
mesh_ok mesh/client "control plane back"
admin_open() { "$LAB" exec "${1:-mesh/client}" -- warren-probe send --to "$ECHO:9090" --bytes 1024 --timeout 5; }
wait_for 90 admin_open
log "echo:9090 allowed again: the DELETE reached the ztunnels"

step "a pod's netns deleted under load: mesh/client deleted with a connection open, mesh/client2 loading"
"$LAB" exec mesh/client2 -- bash -c "end=\$((SECONDS + 12)); ok=0; bad=0
  while [ \$SECONDS -lt \$end ]; do
    if $WARREN_BIN_DIR/warren-probe send --to $ECHO:8080 --bytes 2048 --timeout 10 >/dev/null 2>&1; then ok=\$((ok + 1)); else bad=\$((bad + 1)); fi
  done; echo ok \$ok fail \$bad" >"$LAB_DIR/netns.load" 2>&1 &
LOAD_PID=$!
on_exit "kill $LOAD_PID 2>/dev/null"
hold_open mesh/client 20 netns-del
sleep 3
Z1=$(comp_pid node-1 ztunnel)
pods_before=$(metric_sum node-1 warren_ztunnel_pods)
NETNS=$(pod_field mesh/client netns)
[[ "$NETNS" == /* ]] || NETNS="/run/netns/$NETNS"
printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: client, namespace: mesh}\n' >"$LAB_DIR/client.yaml"
"$LAB" delete -f "$LAB_DIR/client.yaml" >/dev/null
[ ! -e "$NETNS" ] || fail "the pod's netns $NETNS is still there"
if wait "$HOLD_PID"; then fail "the connection of the deleted pod kept working"; fi
one_pod_less() { [ "$(metric_sum node-1 warren_ztunnel_pods)" -eq $((pods_before - 1)) ]; }
wait_for 20 one_pod_less
client_conns() {
  node_exec node-1 curl -sf --max-time 10 http://127.0.0.1:15000/connections |
    jq '[.items[] | select(.source.workload == "client")] | length'
}
no_client_conns() { [ "$(client_conns)" = 0 ]; }
wait_for 20 no_client_conns
wait "$LOAD_PID" || true
r=$(cat "$LAB_DIR/netns.load")
log "mesh/client2 during the deletion: $r"
[[ "$r" =~ ^ok\ ([0-9]+)\ fail\ ([0-9]+)$ ]] || fail "bad load result '$r'"
[ "${BASH_REMATCH[1]}" -gt 5 ] || fail "too few connections from mesh/client2 (${BASH_REMATCH[1]})"
assert_eq "${BASH_REMATCH[2]}" 0 "failed connections of mesh/client2 while mesh/client's netns went"
assert_eq "$(comp_pid node-1 ztunnel)" "$Z1" "node-1's ztunnel pid"
pid_alive "$Z1" || fail "node-1's ztunnel died"
mesh_ok mesh/client2 "after the netns deletion"

step "full disk for logs on node-1 (a full 256 KiB tmpfs, debug logging)"
LOGS1="$LAB_DIR/nodes/node-1/logs"
mount -t tmpfs -o size=256k warren-e2e-full-logs "$LOGS1"
on_exit "umount -l '$LOGS1' 2>/dev/null"
assert_ok "$LAB" restart node-1 agent --kill >/dev/null
assert_ok "$LAB" restart node-1 ztunnel --kill >/dev/null
wait_for 60 ztunnel_ready node-1
cat /dev/zero >"$LOGS1/fill" 2>/dev/null || true
assert_eq "$(df --output=avail "$LOGS1" | tail -1 | tr -d ' ')" 0 "free KiB on the log tmpfs"
if echo more >"$LOGS1/one-more" 2>/dev/null; then fail "the log tmpfs is not full"; fi
node_exec node-1 curl -sf -X PUT "http://127.0.0.1:15000/api/v1/log?level=debug" >/dev/null
A1=$(comp_pid node-1 agent) Z1=$(comp_pid node-1 ztunnel)
for i in 1 2 3; do mesh_ok mesh/client2 "full disk for logs ($i)"; done
assert_ok admin_open mesh/client2 >/dev/null
pid_alive "$A1" && pid_alive "$Z1" || fail "full disk: agent or ztunnel died"
assert_eq "$(comp_pid node-1 ztunnel)" "$Z1" "node-1's ztunnel pid with the disk full"

log "clock jump: SKIPPED (time namespaces move CLOCK_MONOTONIC/BOOTTIME only; certificate" \
  "validity follows CLOCK_REALTIME, which only the host clock moves: not ours on a shared machine)"
no_plaintext "end"
log "fault matrix ok"
