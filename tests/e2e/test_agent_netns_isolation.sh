#!/usr/bin/env bash
# timeout: 300
# Two labs side by side with the same pod range: lab A's namespace is in the mesh, lab B's is
# not, and both run a pod "mesh/server" with the same IP. Lab A's agent takes a pod's netns
# from CNI only, and after a restart (kill -9) from its own CNI records: it must reopen lab A's
# pod, never take lab B's pod with the same address for it. Checked where it shows: ztunnel's
# listeners (15001/15006/15008) exist in lab A's pod and never in lab B's, the agent reports
# lab A's netns for the pod, and traffic in lab A still goes through ztunnel afterwards.
. "$(dirname "$0")/lib.sh"

CTL="$WARREN_BIN_DIR/warrenctl"
B_NAME="$LAB_NAME-b"
B_DIR=$(mktemp -d /tmp/warren-e2e-isolation-b-XXXXXX)
labb() { WARREN_LAB_NAME="$B_NAME" WARREN_LAB_DIR="$B_DIR" "$LAB" "$@"; }
on_exit 'labb down >/dev/null 2>&1; rm -rf "$B_DIR"'

app() {  # app ambient|none
  cat <<YAML
apiVersion: v1
kind: Namespace
metadata: {name: mesh, labels: {warren.dev/dataplane-mode: $1}}
---
apiVersion: v1
kind: Pod
metadata: {name: server, namespace: mesh}
spec:
  nodeName: node-1
  containers: [{name: c, command: [warren-probe, serve, --port, "8080"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: mesh}
spec:
  nodeName: node-1
  containers: [{name: c, command: [sleep, infinity]}]
YAML
}

lab_up 1
labb up --nodes 1
app ambient >"$LAB_DIR/a.yaml"
app none >"$LAB_DIR/b.yaml"
lab_apply "$LAB_DIR/a.yaml"
labb apply -f "$LAB_DIR/b.yaml"
ip=$(pod_ip mesh/server)
assert_eq "$(labb get pods mesh/server --field podIP)" "$ip" "the same pod IP in both labs"
a_netns=$(pod_field mesh/server netns)
b_netns=$(labb get pods mesh/server --field netns)
assert_ne "$a_netns" "$b_netns" "pod netns of the two labs"

listens() {  # listens NETNS PORT
  ip netns exec "$(basename "$1")" ss -ltnH "sport = :$2" | grep -q .
}
server_netns_reported() {
  "$CTL" --node node-1 redirection -o json |
    jq -e --arg n "$a_netns" '.items[] | select(.pod == "server" and .netns == $n and .state == "enrolled")'
}
check_isolated() {  # check_isolated WHEN
  local p
  # Lab B's pod netns is there and readable (its own server listens on 8080): "no ztunnel
  # port in it" below is then a finding, not a failed look into a netns that is not there.
  wait_for 30 listens "$b_netns" 8080
  for p in 15001 15006 15008; do
    wait_for 60 listens "$a_netns" "$p"
    if listens "$b_netns" "$p"; then fail "$1: lab A's ztunnel listens on $p in lab B's pod netns"; fi
  done
  wait_for 60 server_netns_reported
  log "$1: listeners in lab A's pod only, the agent reports $a_netns"
}

step "after CNI ADD: lab A's pod is enrolled, lab B's untouched"
check_isolated "after CNI ADD"
out=$(probe_echo mesh/client "$ip:8080" 65536); assert_contains "$out" "echo verified"

step "the agent's records of CNI ADDs are root-only"
run="$LAB_DIR/nodes/node-1/run"
assert_eq "$(stat -c %a "$run")" 700 "run dir mode"
assert_eq "$(stat -c %a "$run/pods")" 700 "records dir mode"
for f in "$run"/pods/*.json; do assert_eq "$(stat -c %a "$f")" 600 "record $f mode"; done
grep -qF "\"netns\":\"$a_netns\"" "$run"/pods/*.json || fail "no record names $a_netns"

step "kill -9 lab A's agent and start it again: it reopens its pods from its records"
lab restart node-1 agent --kill
wait_for 60 test -S "$run/admin.sock"
check_isolated "after the agent restart"
assert_contains "$(cat "$LAB_DIR/nodes/node-1/logs/agent.log")" \
  "netns of mesh/server from its CNI record: $a_netns" "agent log"
before=$(lab logs mesh/server | grep -c "echoed" || true)
out=$(probe_echo mesh/client "$ip:8080" 65536); assert_contains "$out" "echo verified"
assert_eq "$(lab logs mesh/server | grep -c "echoed")" $((before + 1)) "lab A's server served it"
b_log=$(labb logs mesh/server) || fail "cannot read lab B's server log"
assert_contains "$b_log" "listening" "lab B's server log"
if grep -q "echoed" <<<"$b_log"; then fail "lab B's server got lab A's traffic"; fi

step "a deleted pod's record goes with its CNI DEL"
lab_delete "$LAB_DIR/a.yaml"
no_records() { ! ls "$run"/pods/*.json >/dev/null 2>&1; }
wait_for 60 no_records
log "PASS"
