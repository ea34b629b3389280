#!/usr/bin/env bash
# timeout: 180
# Each node's warren-agent, started by `warren-lab up`, serves delta xDS and the CA on its
# <run-dir>/xds.sock: workloads of every node appear (and leave) through the manifest
# directory, and each node's CA signs only identities of pods on its own node; the issued
# chain verifies against the lab's CA.
. "$(dirname "$0")/lib.sh"

XDS_PROBE="$WARREN_BIN_DIR/warren-xds-probe"
[ -x "$WARREN_BIN_DIR/warren-agent" ] || fail "warren-agent is not built"
[ -x "$XDS_PROBE" ] || fail "warren-xds-probe is not built"

step "up with 2 nodes"
lab_up 2
sock() { echo "$LAB_DIR/nodes/$1/run/xds.sock"; }
wait_for 20 test -S "$(sock node-1)"
wait_for 20 test -S "$(sock node-2)"

step "apply the demo app in an ambient namespace"
lab_apply "$WARREN_SOURCE_DIR/lab/examples/demo-app.yaml"
lab label namespace demo warren.dev/dataplane-mode=ambient
client_node=$(pod_node demo/client)
client_ip=$(pod_ip demo/client)

step "both agents serve the client's workload (by uid and by IP alias)"
for n in node-1 node-2; do
  wait_for 20 "$XDS_PROBE" --socket "$(sock $n)" xds --wait-for "Kubernetes//Pod/demo/client" --timeout-ms 2000
  wait_for 20 "$XDS_PROBE" --socket "$(sock $n)" xds --wait-for "/$client_ip" --timeout-ms 2000
done
out=$("$XDS_PROBE" --socket "$(sock node-2)" xds --wait-for "demo/echo.demo.svc.cluster.local" --timeout-ms 5000) ||
  fail "service not served: $out"

step "the CA on the client's node signs its identity; the chain verifies against the lab CA"
id="spiffe://cluster.local/ns/demo/sa/default"  # the demo client has no serviceAccountName
"$XDS_PROBE" --socket "$(sock "$client_node")" cert --identity "$id" >"$LAB_DIR/chain.pem" ||
  fail "CA on $client_node refused $id"
openssl x509 -in "$LAB_DIR/chain.pem" -out "$LAB_DIR/leaf.pem"
assert_ok openssl verify -CAfile "$LAB_DIR/ca/ca.crt" "$LAB_DIR/leaf.pem" >/dev/null
assert_contains "$(openssl x509 -in "$LAB_DIR/leaf.pem" -noout -ext subjectAltName)" "URI:$id" "leaf SAN"

step "an identity with no pod on a node is refused there"
out=$(assert_fails "$XDS_PROBE" --socket "$(sock node-1)" cert --identity "spiffe://cluster.local/ns/demo/sa/nobody")
assert_contains "$out" "code 7" "refusal status (PERMISSION_DENIED)"

step "deleting the client removes its workload"
cat >"$LAB_DIR/client.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: demo}
spec: {containers: [{name: c}]}
YAML
lab_delete "$LAB_DIR/client.yaml"
# Gone means: the agent is alive and answers a fresh subscription with its whole current state,
# which still holds the echo service but no longer the client (a dead agent or a broken stream
# fails the probe, not passes it).
check_gone() {
  local out
  out=$("$XDS_PROBE" --socket "$(sock node-1)" xds --timeout-ms 2000) || return 1
  grep -q "^+ demo/echo.demo.svc.cluster.local " <<<"$out" || return 1
  ! grep -q "^+ Kubernetes//Pod/demo/client " <<<"$out"
}
wait_for 20 check_gone
log "ok"
