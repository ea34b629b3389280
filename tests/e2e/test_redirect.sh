#!/usr/bin/env bash
# timeout: 420
# eBPF capture in the lab, real programs, with warren-zds-probe standing in for ztunnel's ZDS
# side (binds 15001/15006 in each enrolled pod netns, echoes, reports what it accepted):
#  - enrolled pod -> pod IP and -> Service VIP land on 15001 with SO_ORIGINAL_DST = original;
#  - opted-out pod, unlabelled namespace: direct;
#  - non-mesh client -> enrolled pod lands on 15006 with the original local address;
#    a connect from the node's own address does not;
#  - label / unlabel a namespace with a long-lived connection open: it survives, new
#    connections follow the new state;
#  - kill -9 the agent during traffic: nothing fails, each program attached exactly once;
#  - uninstall removes every pin and link; down leaves nothing.
. "$(dirname "$0")/lib.sh"
ZDS_PROBE="$WARREN_BIN_DIR/warren-zds-probe"
AGENT="$WARREN_BIN_DIR/warren-agent"
[ -x "$ZDS_PROBE" ] && [ -x "$AGENT" ] || fail "warren-agent / warren-zds-probe not built"

# warren-zds-probe stands in for ztunnel: the real one must not share the pods' listeners.
export WARREN_LAB_SKIP=ztunnel
lab_up 2
RUN1="$LAB_DIR/nodes/node-1/run"
PINS1="/sys/fs/bpf/warren/$LAB_NAME-node-1"
NODE_CG1="$CGROUP2/$LAB_NAME/node-1"
wait_for 30 test -S "$RUN1/zds.sock"
wait_for 30 test -e "$PINS1/link_connect4"

# The probe needs no netns of its own (it enters pod netns by fd, like ztunnel); it runs in a
# cgroup under the node cgroup, where the getsockopt program is attached.
step "start warren-zds-probe for node-1 (stand-in for ztunnel's pod hand-off)"
ZOUT="$LAB_DIR/zds-probe-node-1.out"
: >"$ZOUT"
"$ZDS_PROBE" --run-dir "$RUN1" --bpf-pin-dir "$PINS1" --out "$ZOUT" \
  --cgroup "$NODE_CG1/system-zds-probe" >"$LAB_DIR/zds-probe.log" 2>&1 &
ZPID=$!
on_exit "kill $ZPID 2>/dev/null; wait $ZPID 2>/dev/null; sed 's/^/  zds-probe: /' $LAB_DIR/zds-probe.log $ZOUT | tail -30 >&2; rmdir $NODE_CG1/system-zds-probe 2>/dev/null"
wait_for 20 grep -q snapshot-sent "$ZOUT"

step "apply: namespace mesh (ambient), namespace other (unlabelled), servers and clients"
lab_apply - <<'YAML'
apiVersion: v1
kind: Namespace
metadata:
  name: mesh
  labels: {warren.dev/dataplane-mode: ambient}
---
apiVersion: v1
kind: Namespace
metadata:
  name: other
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: mesh}
spec:
  nodeName: node-1
  containers: [{name: main, command: [sleep, infinity]}]
---
apiVersion: v1
kind: Pod
metadata:
  name: optout
  namespace: mesh
  labels: {warren.dev/dataplane-mode: none}
spec:
  nodeName: node-1
  containers: [{name: main, command: [sleep, infinity]}]
---
apiVersion: v1
kind: Pod
metadata: {name: srv, namespace: mesh, labels: {app: srv}}
spec:
  nodeName: node-1
  containers: [{name: echo, command: [warren-probe, serve, --port, "8080"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: outside, namespace: other}
spec:
  nodeName: node-1
  containers: [{name: main, command: [sleep, infinity]}]
---
apiVersion: v1
kind: Pod
metadata: {name: osrv, namespace: other, labels: {app: osrv}}
spec:
  nodeName: node-2
  containers: [{name: echo, command: [warren-probe, serve, --port, "8080"]}]
---
apiVersion: v1
kind: Service
metadata: {name: osrv, namespace: other}
spec:
  selector: {app: osrv}
  ports: [{name: echo, port: 80, targetPort: 8080}]
YAML
wait_pod_log mesh/srv "listening"
wait_pod_log other/osrv "listening"
OSRV=$(pod_ip other/osrv)
SRV=$(pod_ip mesh/srv)
VIP=$(svc_ip other/osrv)
UID_CLIENT=$(pod_field mesh/client uid)
UID_OPTOUT=$(pod_field mesh/optout uid)
UID_SRV=$(pod_field mesh/srv uid)
UID_OUTSIDE=$(pod_field other/outside uid)
log "osrv $OSRV srv $SRV vip $VIP"
wait_for 20 grep -q "add pod=$UID_CLIENT" "$ZOUT"
wait_for 20 grep -q "add pod=$UID_SRV" "$ZOUT"
accepts() { grep -c "accept pod=$1 $2" "$ZOUT" || true; }

step "enrolled pod -> pod IP: lands on 15001 with the original destination"
probe_echo mesh/client "$OSRV:8080" 4096
wait_for 5 grep -q "accept pod=$UID_CLIENT port=15001 orig=$OSRV:8080" "$ZOUT"

step "enrolled pod -> Service VIP: original destination is the VIP"
probe_echo mesh/client "$VIP:80" 4096
wait_for 5 grep -q "accept pod=$UID_CLIENT port=15001 orig=$VIP:80" "$ZOUT"

step "opted-out pod and unlabelled namespace connect directly"
probe_echo mesh/optout "$OSRV:8080" 4096
probe_echo other/outside "$OSRV:8080" 4096
assert_eq "$(accepts "$UID_OPTOUT" port=)" 0 "captured connections of the opted-out pod"
assert_eq "$(accepts "$UID_OUTSIDE" port=)" 0 "captured connections of the unlabelled pod"

step "non-mesh client -> enrolled pod: lands on 15006 with the original local address"
probe_echo other/outside "$SRV:8080" 4096
wait_for 5 grep -q "accept pod=$UID_SRV port=15006 local=$SRV:8080" "$ZOUT"

step "from the node's own address: not captured (kubelet probes)"
before=$(accepts "$UID_SRV" port=15006)
assert_ok node_exec node-1 warren-probe send --to "$SRV:8080" --bytes 1024 --timeout 20 >/dev/null
assert_eq "$(accepts "$UID_SRV" port=15006)" "$before" "15006 accepts after a node-originated connect"

step "fail closed: an enrolled pod without a listening ztunnel gets refused, not plaintext"
kill "$ZPID"; wait "$ZPID" 2>/dev/null || true
if lab exec mesh/client -- warren-probe send --to "$OSRV:8080" --bytes 64 --timeout 5 >/dev/null 2>&1; then
  fail "connect from an enrolled pod succeeded with no ztunnel listening"
fi
"$ZDS_PROBE" --run-dir "$RUN1" --bpf-pin-dir "$PINS1" --out "$ZOUT" \
  --cgroup "$NODE_CG1/system-zds-probe" >>"$LAB_DIR/zds-probe.log" 2>&1 &
ZPID=$!
on_exit "kill $ZPID 2>/dev/null; wait $ZPID 2>/dev/null"
wait_for 20 bash -c "[ \$(grep -c snapshot-sent '$ZOUT') -ge 2 ]"
probe_echo mesh/client "$OSRV:8080" 1024

# A long-lived connection: write, wait for the label change, write again; both echoes must
# come back on the same connection.
long_lived() {  # long_lived POD IP:PORT OUTFILE FLAGFILE
  local ip=${2%:*} port=${2#*:}
  lab exec "$1" -- bash -c "exec 3<>/dev/tcp/$ip/$port || exit 1
    echo one >&3; read -t 10 a <&3; echo \"\$a\"
    for i in \$(seq 100); do [ -e '$4' ] && break; sleep 0.2; done
    echo two >&3; read -t 10 b <&3; echo \"\$b\"" >"$3" 2>&1
}

step "label namespace other ambient with a long-lived connection open"
rm -f "$LAB_DIR/flag1"
long_lived other/outside "$OSRV:8080" "$LAB_DIR/ll1.out" "$LAB_DIR/flag1" &
LL=$!
wait_for 10 grep -q one "$LAB_DIR/ll1.out"
lab label namespace other warren.dev/dataplane-mode=ambient
wait_for 20 grep -q "add pod=$UID_OUTSIDE" "$ZOUT"
touch "$LAB_DIR/flag1"
wait "$LL" || fail "long-lived connection broke across labelling: $(cat "$LAB_DIR/ll1.out")"
assert_eq "$(tr '\n' ' ' <"$LAB_DIR/ll1.out")" "one two " "long-lived connection echoes"
assert_eq "$(accepts "$UID_OUTSIDE" port=)" 0 "the established connection was not captured"
probe_echo other/outside "$OSRV:8080" 2048
wait_for 5 grep -q "accept pod=$UID_OUTSIDE port=15001 orig=$OSRV:8080" "$ZOUT"

step "unlabel it with a (captured) long-lived connection open"
rm -f "$LAB_DIR/flag2"
long_lived other/outside "$OSRV:8080" "$LAB_DIR/ll2.out" "$LAB_DIR/flag2" &
LL=$!
wait_for 10 grep -q one "$LAB_DIR/ll2.out"
n_before=$(accepts "$UID_OUTSIDE" port=15001)
lab label namespace other warren.dev/dataplane-mode-
wait_for 20 grep -q "del pod=$UID_OUTSIDE" "$ZOUT" || true
touch "$LAB_DIR/flag2"
wait "$LL" || fail "long-lived connection broke across unlabelling: $(cat "$LAB_DIR/ll2.out")"
probe_echo other/outside "$OSRV:8080" 2048
# Positive control first: an enrolled pod's connect is still captured and logged, so the probe
# is alive and writing; then the unlabelled pod's count must not have moved.
client_before=$(accepts "$UID_CLIENT" port=15001)
probe_echo mesh/client "$OSRV:8080" 1024
client_grew() { [ "$(accepts "$UID_CLIENT" port=15001)" -gt "$client_before" ]; }
wait_for 5 client_grew
assert_eq "$(accepts "$UID_OUTSIDE" port=15001)" "$n_before" "captures after unlabelling"

step "kill -9 the agent during traffic: no connection fails, programs attached once"
TRAFFIC_LOG="$LAB_DIR/traffic.log"
( for i in $(seq 30); do
    lab exec mesh/client -- warren-probe send --to "$OSRV:8080" --bytes 512 --timeout 10 || echo "FAILED $i"
    sleep 0.1
  done ) >"$TRAFFIC_LOG" 2>&1 &
TRAFFIC=$!
sleep 1
lab restart node-1 agent --kill
wait "$TRAFFIC"
if grep -q FAILED "$TRAFFIC_LOG"; then fail "connections failed across the agent restart: $(grep FAILED "$TRAFFIC_LOG" | head)"; fi
# (the agent names its pins as it sees them: the node pin dir is its /sys/fs/bpf/warren)
wait_for 30 grep -q "re-adopted /sys/fs/bpf/warren/link_connect4" "$LAB_DIR/nodes/node-1/logs/agent.log"
probe_echo mesh/client "$OSRV:8080" 1024
SHOW=$(bpftool cgroup show "$NODE_CG1")
log "bpftool cgroup show $NODE_CG1:"; echo "$SHOW"
for t in warren_connect4 warren_connect6 warren_sockops warren_getsockopt; do
  # (with WARREN_E2E_AGENT_FLAGS=--sockmap-fast-path the sockops program is warren_sockops_fastpath)
  assert_eq "$(echo "$SHOW" | grep -cwE "$t|${t}_fastpath")" 1 "$t attachments on the node cgroup"
done

if fast_path_on; then
  # app <-> ztunnel stand-in on the pod's 127.0.0.1:15001 is a loopback pair: fast path.
  red=$(bpftool -j map lookup pinned "$PINS1/warren_counters" key 15 0 0 0 | /usr/bin/python3 -c \
    'import json,sys; print(sum(v["value"] for v in json.load(sys.stdin)["formatted"]["values"]))')
  log "sk_msg fast path on: fastpath_redirected=$red"
  [ "$red" -gt 0 ] || fail "the sk_msg fast path is on but redirected nothing"
fi

step "uninstall removes every pin and link"
kill "$ZPID"; wait "$ZPID" 2>/dev/null || true
assert_ok "$AGENT" uninstall --bpf-pin-dir "$PINS1" --cgroup "$NODE_CG1" >/dev/null
[ ! -e "$PINS1" ] || fail "pins left under $PINS1: $(ls -R "$PINS1")"
assert_eq "$(bpftool cgroup show "$NODE_CG1" | grep -c warren_ || true)" 0 "attachments after uninstall"
# The agent is still running; stop it before down so it does not re-install.
lab_down
leftovers_check
