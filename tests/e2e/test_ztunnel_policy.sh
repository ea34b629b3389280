#!/usr/bin/env bash
# timeout: 420
# L4 authorization through the real data path (issue #5): AuthorizationPolicy ALLOW/DENY by
# principal, namespace and port, and PeerAuthentication STRICT, decided by the destination's
# ztunnel as Istio does (DENY first, then ALLOW; STRICT refuses plaintext from outside the
# mesh), in both directions between the nodes; a policy change closes an open connection it
# now denies.
. "$(dirname "$0")/lib.sh"
[ -x "$WARREN_BIN_DIR/warren-ztunnel" ] || fail "warren-ztunnel is not built"

lab_up 2
for n in 1 2; do wait_for 60 test -S "$LAB_DIR/nodes/node-$n/run/cni.sock"; done

step "apply: namespaces mesh and mesh2 (ambient), other (not); clients and servers"
lab_apply - <<'YAML'
apiVersion: v1
kind: Namespace
metadata: {name: mesh, labels: {warren.dev/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Namespace
metadata: {name: mesh2, labels: {warren.dev/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Namespace
metadata: {name: other}
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: mesh}
spec: {nodeName: node-1, serviceAccountName: a, containers: [{name: m, command: [sleep, infinity]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: mesh}
spec: {nodeName: node-1, serviceAccountName: b, containers: [{name: m, command: [sleep, infinity]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: c, namespace: mesh2}
spec: {nodeName: node-1, serviceAccountName: c, containers: [{name: m, command: [sleep, infinity]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: outside, namespace: other}
spec: {nodeName: node-1, containers: [{name: m, command: [sleep, infinity]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: srv, namespace: mesh, labels: {app: srv}}
spec:
  nodeName: node-2
  serviceAccountName: srv
  containers:
  - {name: web, command: [warren-probe, serve, --port, "8080"]}
  - {name: admin, command: [warren-probe, serve, --port, "9090"]}
---
apiVersion: v1
kind: Pod
metadata: {name: back, namespace: mesh, labels: {app: back}}
spec:
  nodeName: node-1
  serviceAccountName: back
  containers: [{name: web, command: [warren-probe, serve, --port, "8080"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: d, namespace: mesh}
spec: {nodeName: node-2, serviceAccountName: d, containers: [{name: m, command: [sleep, infinity]}]}
YAML
wait_pod_log mesh/srv "listening"
wait_pod_log mesh/back "listening"
SRV=$(pod_ip mesh/srv)
BACK=$(pod_ip mesh/back)
ready() { node_exec "$1" curl -sf -o /dev/null http://127.0.0.1:15021/healthz/ready; }
wait_for 60 ready node-1
wait_for 60 ready node-2

# allowed FROM TO / denied FROM TO: a decision may take a moment to reach ztunnel over xDS.
try() { "$LAB" exec "$1" -- warren-probe send --to "$2" --bytes 2048 --timeout 8 >/dev/null 2>&1; }
node_of() { case "$1" in "$SRV":*) echo node-2 ;; "$BACK":*) echo node-1 ;; *) fail "node of $1?" ;; esac; }
# Access-log records on NODE's ztunnel from CLIENT_IP: inbound DENY (the destination decided
# 401, or closed a plaintext connection STRICT refuses), and outbound DENY with the 401 the
# destination answered (the source side of a mesh client).
inbound_denies() {
  grep -cE "src\.addr=${2//./\\.}:[0-9]+ .*direction=\"inbound\".*flags=\"DENY\"" \
    "$LAB_DIR/nodes/$1/logs/ztunnel.log" || true
}
outbound_401s() {
  grep -cE "src\.addr=${2//./\\.}:[0-9]+ .*direction=\"outbound\".*flags=\"DENY\".*answered 401" \
    "$LAB_DIR/nodes/$1/logs/ztunnel.log" || true
}
# Denied means: the attempt fails AND the destination's ztunnel recorded a DENY for this
# client (and, for a client in the mesh, its own ztunnel the 401): a 503, a reset or a crash
# is not a denial.
denied_now() {
  local dst_node src_node ip in_before out_before i
  dst_node=$(node_of "$2")
  src_node=$(pod_node "$1")
  ip=$(pod_ip "$1")
  in_before=$(inbound_denies "$dst_node" "$ip")
  out_before=$(outbound_401s "$src_node" "$ip")
  try "$1" "$2" && return 1
  for i in $(seq 50); do
    if [ "$(inbound_denies "$dst_node" "$ip")" -gt "$in_before" ]; then
      case "$1" in
        other/*) return 0 ;;  # not in the mesh: no source ztunnel
        *) [ "$(outbound_401s "$src_node" "$ip")" -gt "$out_before" ] && return 0 ;;
      esac
    fi
    sleep 0.1
  done
  log "$1 -> $2 failed without a DENY from the destination (see $dst_node's ztunnel.log)"
  return 1
}
allowed() { step "allowed: $1 -> $2"; wait_for 30 try "$1" "$2"; try "$1" "$2" || fail "$1 -> $2 flapped"; }
denied() { step "denied:  $1 -> $2"; wait_for 30 denied_now "$1" "$2"; denied_now "$1" "$2" || fail "$1 -> $2 flapped"; }

# Each row: apply the policy set, then the expected decisions. Policies select app=srv.
step "== no policy: everyone in"
allowed mesh/a "$SRV:8080"
allowed mesh/a "$SRV:9090"
allowed mesh2/c "$SRV:8080"
allowed other/outside "$SRV:8080"
allowed mesh/d "$BACK:8080"

policy() {  # policy NAME ACTION 'rules YAML'
  lab_apply - <<YAML
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: $1, namespace: mesh}
spec:
  selector: {matchLabels: {app: srv}}
  action: $2
  rules: $3
YAML
}
unpolicy() { "$LAB" delete -f "$LAB_DIR/manifests/AuthorizationPolicy_mesh_$1.yaml" >/dev/null; }

step "== ALLOW principal mesh/sa/a"
policy by-principal ALLOW '[{from: [{source: {principals: ["cluster.local/ns/mesh/sa/a"]}}]}]'
denied mesh/b "$SRV:8080"
allowed mesh/a "$SRV:8080"
denied mesh2/c "$SRV:8080"
denied other/outside "$SRV:8080"
allowed mesh/d "$BACK:8080"   # other direction, not selected: untouched
unpolicy by-principal

step "== ALLOW namespace mesh2"
policy by-namespace ALLOW '[{from: [{source: {namespaces: ["mesh2"]}}]}]'
denied mesh/a "$SRV:8080"
allowed mesh2/c "$SRV:8080"
unpolicy by-namespace

step "== DENY port 9090 (ALLOW-less: the rest is allowed)"
policy no-admin DENY '[{to: [{operation: {ports: ["9090"]}}]}]'
denied mesh/a "$SRV:9090"
allowed mesh/a "$SRV:8080"
step "== DENY wins over a matching ALLOW"
policy allow-a ALLOW '[{from: [{source: {principals: ["cluster.local/ns/mesh/sa/a"]}}]}]'
denied mesh/a "$SRV:9090"
allowed mesh/a "$SRV:8080"
denied mesh/b "$SRV:8080"
unpolicy allow-a
unpolicy no-admin
allowed mesh/b "$SRV:8080"

step "== PeerAuthentication STRICT in mesh: plaintext from outside refused, mTLS in"
lab_apply - <<'YAML'
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: strict, namespace: mesh}
spec: {mtls: {mode: STRICT}}
YAML
denied other/outside "$SRV:8080"
allowed mesh/a "$SRV:8080"
allowed mesh/d "$BACK:8080"
"$LAB" delete -f "$LAB_DIR/manifests/PeerAuthentication_mesh_strict.yaml" >/dev/null
allowed other/outside "$SRV:8080"

step "== a policy change closes an open connection it now denies"
"$LAB" exec mesh/b -- bash -c "exec 3<>/dev/tcp/$SRV/8080; echo hello >&3; head -c 6 <&3; timeout 60 cat <&3 >/dev/null" \
  >"$LAB_DIR/long.out" 2>&1 &
LONG=$!
on_exit "kill $LONG 2>/dev/null; wait $LONG 2>/dev/null"
open_from_b() {
  node_exec node-2 curl -sf http://127.0.0.1:15000/connections |
    grep -q '"identity": "spiffe://cluster.local/ns/mesh/sa/b"'
}
wait_for 20 open_from_b
policy deny-b DENY '[{from: [{source: {principals: ["cluster.local/ns/mesh/sa/b"]}}]}]'
wait_for 20 bash -c "! kill -0 $LONG 2>/dev/null"
! open_from_b || fail "the denied connection is still open"
assert_contains "$(cat "$LAB_DIR/long.out")" "hello" "echo before the policy change"
wait_for 10 grep -q 'denied by a policy change' "$LAB_DIR/nodes/node-2/logs/ztunnel.log"
log "policy table ok"
