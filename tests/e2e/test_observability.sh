#!/usr/bin/env bash
# timeout: 240
# Observability in a 2-node lab: the agent admin API on <run-dir>/admin.sock read through
# warrenctl, and ztunnel's /metrics.
#  - `warrenctl --node node-2 workloads -o json` lists every pod, each with the node it runs on;
#  - `warrenctl redirection --node node-1 -o json`: link and program ids equal what bpftool
#    reads from the pins; the enrolled client shows up with its netns cookie; the counters grow
#    after a connect from the enrolled client (the connect itself is not expected to succeed:
#    this ztunnel has no data path yet, so it is bounded with timeout);
#  - `warrenctl certificates` shows a Valid certificate for the client's identity (ztunnel
#    fetches certificates for the pods ZDS hands it);
#  - node-1's ztunnel :15020/metrics passes `promtool check metrics` and carries
#    warren_redirect_decisions_total;
#  - `warrenctl --node node-9 workloads` fails with the "cannot reach" error.
. "$(dirname "$0")/lib.sh"
CTL="$WARREN_BIN_DIR/warrenctl"
for b in warrenctl warren-agent warren-ztunnel; do
  [ -x "$WARREN_BIN_DIR/$b" ] || fail "$b is not built"
done
command -v jq >/dev/null || fail "jq is needed (Debian package jq)"

lab_up 2
PINS1="/sys/fs/bpf/warren/$LAB_NAME-node-1"
# The agent runs as deploy/base/node says: it sees the node's pin dir at /sys/fs/bpf/warren and
# the node's cgroup at /sys/fs/cgroup, and reports those paths.
AGENT_PINS=/sys/fs/bpf/warren
wait_for 30 test -S "$LAB_DIR/nodes/node-1/run/admin.sock"
wait_for 30 test -S "$LAB_DIR/nodes/node-2/run/admin.sock"
wait_for 30 test -e "$PINS1/link_connect4"

step "apply the demo app, enrol its namespace"
lab_apply "$WARREN_SOURCE_DIR/lab/examples/demo-app.yaml"
lab label namespace demo warren.dev/dataplane-mode=ambient
wait_for 30 test -n "$(pod_ip demo/client)"

step "warrenctl --node node-2 workloads: node-2's pods; the agent itself knows every pod"
# --node both picks node-2's admin.sock and keeps the items whose node is node-2; --socket on
# the same socket shows the agent's whole (cluster-wide) list.
SOCK2="$LAB_DIR/nodes/node-2/run/admin.sock"
all_listed() {
  local n
  n=$("$CTL" --socket "$SOCK2" workloads -o json | jq '[.items[] | select(.namespace == "demo")] | length')
  [ "$n" -eq 3 ]
}
wait_for 30 all_listed
all=$(assert_ok "$CTL" --socket "$SOCK2" workloads -o json)
assert_eq "$(jq -r .node <<<"$all")" node-2 "envelope node"
for pod in client echo-0 echo-1; do
  want=$(pod_node "demo/$pod")
  got=$(jq -r --arg p "$pod" '.items[] | select(.namespace == "demo" and .name == $p) | .node' <<<"$all")
  assert_eq "$got" "$want" "node of demo/$pod"
  assert_eq "$(jq -r --arg p "$pod" '.items[] | select(.name == $p) | .enrolled' <<<"$all")" true "demo/$pod enrolled"
done
w=$(assert_ok "$CTL" --node node-2 workloads -o json)
want=$(for pod in client echo-0 echo-1; do if [ "$(pod_node "demo/$pod")" = node-2 ]; then echo "$pod"; fi; done | sort | xargs)
got=$(jq -r '.items[] | select(.namespace == "demo") | .name' <<<"$w" | sort | xargs)
assert_eq "$got" "$want" "warrenctl --node node-2 workloads"
assert_eq "$(jq -r '[.items[].node] | unique | join(",")' <<<"$w")" node-2 "nodes listed by --node node-2"
log "workloads: $(jq -c '[.items[] | select(.namespace == "demo") | {name, node}]' <<<"$all")"
assert_contains "$("$CTL" --node node-2 workloads)" "echo-" "table form"

step "warrenctl redirection --node node-1 matches bpftool"
client_enrolled() {
  "$CTL" redirection --node node-1 -o json |
    jq -e '.items[] | select(.pod == "client" and .state == "enrolled" and .netns_cookie != null)'
}
wait_for 30 client_enrolled
r=$(assert_ok "$CTL" redirection --node node-1 -o json)
assert_eq "$(jq -r .pin_dir <<<"$r")" "$AGENT_PINS" "pin_dir"
for l in link_connect4 link_connect6 link_sockops link_getsockopt; do
  bt=$(bpftool -j link show pinned "$PINS1/$l")
  want_id=$(jq -r .id <<<"$bt")
  want_prog=$(jq -r .prog_id <<<"$bt")
  got=$(jq -c --arg p "$AGENT_PINS/$l" '.links[] | select(.pin == $p)' <<<"$r")
  [ -n "$got" ] || fail "redirection has no link pinned at $AGENT_PINS/$l: $(jq -c .links <<<"$r")"
  assert_eq "$(jq -r .id <<<"$got")" "$want_id" "$l id"
  assert_eq "$(jq -r .program_id <<<"$got")" "$want_prog" "$l program id"
  assert_eq "$(jq -r .target <<<"$got")" "/sys/fs/cgroup" "$l target"
  prog_name=$(bpftool -j prog show id "$want_prog" | jq -r .name)
  assert_eq "$(jq -r --argjson id "$want_prog" '.programs[] | select(.id == $id) | .name' <<<"$r")" \
    "$prog_name" "program $want_prog name"
done
cookie=$(jq -r '.items[] | select(.pod == "client") | .netns_cookie' <<<"$r")
bt=$(bpftool -j link show pinned "$PINS1/netns/$cookie")
assert_eq "$(jq -r --arg c "netns cookie $cookie" '.links[] | select(.target == $c) | .id' <<<"$r")" \
  "$(jq -r .id <<<"$bt")" "sk_lookup link of the client's netns"
log "links: $(jq -c '[.links[] | {id, program, target}]' <<<"$r")"

step "counters grow after a connect from the enrolled client"
before=$(jq -r '.counters.connect_redirected' <<<"$r")
vip=$(svc_ip demo/echo)
# Redirected to ztunnel's 15001 listener: with no data path the connect may be accepted and
# then hang, or be refused; either way it went through connect4. Bounded.
pod_exec demo/client timeout 3 "$PROBE" send --to "$vip:80" --bytes 10 --timeout 2 >/dev/null 2>&1 || true
grew() {
  local now
  now=$("$CTL" redirection --node node-1 -o json | jq -r '.counters.connect_redirected')
  [ "$now" -gt "$before" ]
}
wait_for 10 grew
r=$("$CTL" redirection --node node-1 -o json)
log "counters: $(jq -c .counters <<<"$r")"
assert_eq "$(jq '.counters | length' <<<"$r")" \
  "$(bpftool -j map dump pinned "$PINS1/warren_counters" | jq length)" "one counter per map index"

step "warrenctl certificates: a Valid certificate for the client's identity"
client_id="spiffe://cluster.local/ns/demo/sa/default"
has_cert() {
  "$CTL" certificates --node node-1 -o json |
    jq -e --arg id "$client_id" '.items[] | select(.identity == $id and .state == "Valid" and (.chain | length) >= 2)'
}
wait_for 60 has_cert
c=$("$CTL" certificates --node node-1 -o json)
log "certificate: $(jq -c --arg id "$client_id" '.items[] | select(.identity == $id) | {state, serial, not_after, chain: (.chain | length)}' <<<"$c")"
assert_contains "$("$CTL" certificates --node node-1)" "Valid" "table form"

step "node-1's ztunnel /metrics: promtool clean, with the eBPF counter family"
m=$(node_exec node-1 curl -sf --max-time 5 http://127.0.0.1:15020/metrics) || fail "scrape failed"
printf '%s\n' "$m" >"$LAB_DIR/metrics.txt"
lint=$(promtool check metrics <"$LAB_DIR/metrics.txt" 2>&1) || fail "promtool check metrics: $lint"
[ -z "$lint" ] || fail "promtool complained: $lint"
assert_contains "$m" '# TYPE warren_redirect_decisions_total counter' "metrics"
assert_contains "$m" 'warren_redirect_decisions_total{decision="connect_redirected"}' "metrics"
log "$(grep '^warren_redirect_decisions_total' "$LAB_DIR/metrics.txt" | head -3 | tr '\n' ' ')"

step "log level through the agent, for the agent and for ztunnel"
assert_contains "$(assert_ok "$CTL" --node node-1 log debug)" "debug" "agent log level"
assert_contains "$(assert_ok "$CTL" --node node-1 log warn --component ztunnel)" "warn" "ztunnel log level"
out=$(assert_fails "$CTL" --node node-1 log loud)
assert_contains "$out" "loud" "bad level error"

step "a node that does not exist: the clear cannot-reach error"
out=$(assert_fails "$CTL" --node node-9 workloads)
assert_contains "$out" "cannot reach the warren agent admin API" "node-9 error"
assert_contains "$out" "node-9" "node-9 error"
log "ok"
