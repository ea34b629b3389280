#!/usr/bin/env bash
# timeout: 180
# Two labs at once whose names are prefixes of each other ("X" and "X-b"): each has its own
# netns, cgroups and pods; tearing one down leaves the other working.
. "$(dirname "$0")/lib.sh"

B_NAME="$LAB_NAME-b"
B_DIR=$(mktemp -d /tmp/warren-e2e-parallel-b-XXXXXX)
labb() { WARREN_LAB_NAME="$B_NAME" WARREN_LAB_DIR="$B_DIR" "$LAB" "$@"; }
on_exit 'labb down >/dev/null 2>&1; rm -rf "$B_DIR"'

app() {
  cat <<YAML
apiVersion: v1
kind: Pod
metadata: {name: server}
spec:
  nodeName: node-2
  containers: [{name: c, command: [warren-probe, serve, --port, "8080"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  nodeName: node-1
  containers: [{name: c, command: [sleep, infinity]}]
YAML
}

lab_up 2
labb up --nodes 2
app >"$LAB_DIR/app.yaml"
"$LAB" apply -f "$LAB_DIR/app.yaml"
labb apply -f "$LAB_DIR/app.yaml"

step "both labs carry traffic, with the same addresses, each inside its own namespaces"
assert_eq "$(pod_ip default/server)" "$(labb get pods default/server --field podIP)" "same pod IPs in both labs"
out=$(probe_echo default/client "$(pod_ip default/server):8080" 1048576); assert_contains "$out" "echo verified"
out=$(labb exec default/client -- warren-probe send --to "$(pod_ip default/server):8080" --bytes 1048576 --retry 10)
assert_contains "$out" "echo verified"
assert_contains "$("$LAB" logs default/server)" "echoed 1048576" "lab A server log"
assert_contains "$(labb logs default/server)" "echoed 1048576" "lab B server log"

step "down of lab A leaves lab B intact"
"$LAB" down
leftovers_check
[ -e "/run/netns/$B_NAME-node-1" ] || fail "lab B's node netns was removed by lab A's down"
assert_eq "$(labb get pods default/server --field phase)" Running "lab B server"
out=$(labb exec default/client -- warren-probe send --to "$(labb get pods default/server --field podIP):8080" --bytes 65536)
assert_contains "$out" "echo verified"
labb down
leftovers_check "$B_NAME" "$B_DIR"
log "PASS"
