#!/usr/bin/env bash
# timeout: 240
# warren-ztunnel's control half in the lab: the lab starts warren-agent and warren-ztunnel on
# node-1 at the same time (ztunnel retries until the agent is up); an enrolled pod shows up in
# ztunnel's /config_dump (workload from xDS, pod from ZDS), with a valid certificate from the
# agent's CA; ztunnel bound 15001/15006/15008 inside the pod netns; readiness answers 200.
. "$(dirname "$0")/lib.sh"

[ -x "$WARREN_BIN_DIR/warren-ztunnel" ] || fail "warren-ztunnel is not built"
lab_up 1

# The lab does not wait for the agent: a pod added before cni.sock exists fails its CNI ADD.
step "wait for the agent's CNI socket"
wait_for 60 test -S "$LAB_DIR/nodes/node-1/run/cni.sock"

step "apply an enrolled namespace and a pod"
lab_apply - <<'YAML'
apiVersion: v1
kind: Namespace
metadata:
  name: mesh
  labels: {warren.dev/dataplane-mode: ambient}
YAML
cat >"$LAB_DIR/web.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: mesh
spec:
  nodeName: node-1
  serviceAccountName: web-sa
  containers:
  - name: main
    command: [warren-probe, serve, --port, "8080"]
YAML
lab_apply "$LAB_DIR/web.yaml"

dump() { node_exec node-1 curl -sf http://127.0.0.1:15000/config_dump; }
has_workload_and_cert() {
  local d
  d=$(dump) || return 1
  [[ "$d" == *'"name": "web"'* ]] || return 1
  [[ "$d" == *'spiffe://cluster.local/ns/mesh/sa/web-sa'* ]] || return 1
  [[ "$d" == *'"state": "Valid"'* ]] || return 1
}
step "poll ztunnel's /config_dump for the workload and its certificate"
wait_for 90 has_workload_and_cert
d=$(dump)
assert_contains "$d" '"uid": ' "config_dump pods"
# 15006 registered for sk_lookup under the pod's address (the agent runs with eBPF in the lab).
web_ip=$(pod_ip mesh/web)
sk=$(printf '%s' "$d" | /usr/bin/python3 -c 'import json,sys; print(" ".join(a for p in json.load(sys.stdin)["pods"] for a in p["sk_lookup_addresses"]))')
assert_contains "$sk" "$web_ip" "sk_lookup registration of 15006"
log "config_dump has workload web and a valid certificate for web-sa"

step "ztunnel's listeners exist inside the pod netns"
pod_listening() { pod_exec mesh/web ss -ltnH | grep -q ":$1 "; }
for p in 15001 15006 15008; do wait_for 30 pod_listening "$p"; done

step "readiness and metrics"
wait_for 30 node_exec node-1 curl -sf http://127.0.0.1:15021/healthz/ready
m=$(node_exec node-1 curl -sf http://127.0.0.1:15020/metrics)
assert_contains "$m" "warren_ztunnel_certificates_issued_total" "metrics"
# The family present is not enough: web-sa's certificate was issued, so the count is > 0.
issued=$(metric_sum node-1 warren_ztunnel_certificates_issued_total)
[ "$issued" -gt 0 ] || fail "warren_ztunnel_certificates_issued_total is $issued after web-sa's certificate"

step "logs name identities, never keys or certificates"
logs=("$LAB_DIR"/nodes/node-1/logs/*.log)
assert_contains "$(cat "${logs[@]}")" "certificate for spiffe://cluster.local/ns/mesh/sa/web-sa issued" \
  "ztunnel log"
assert_contains "$(cat "${logs[@]}")" "CA issued a certificate for spiffe://cluster.local/ns/mesh/sa/web-sa" \
  "agent log"
if grep -l -e '-----BEGIN' -e 'PRIVATE KEY' "${logs[@]}"; then fail "PEM material in the node logs"; fi
d=$(dump) || fail "ztunnel's /config_dump did not answer"
if grep -q -e '-----BEGIN' -e 'PRIVATE KEY' <<<"$d"; then fail "PEM material in ztunnel's /config_dump"; fi

step "the admin port answers on localhost only; metrics and readiness on the node address too"
nip=$(node_ip node-1)
listen=$(node_exec node-1 ss -ltnH 'sport = :15000')
assert_contains "$listen" "127.0.0.1:15000" "15000 listener"
assert_not_contains "$listen" "0.0.0.0:15000" "15000 listener"
assert_not_contains "$listen" "*:15000" "15000 listener"
rc=0
node_exec node-1 curl -s --max-time 5 -o /dev/null "http://$nip:15000/config_dump" || rc=$?
assert_eq "$rc" 7 "curl $nip:15000 from the node (7: connection refused)"
m=$(node_exec node-1 curl -sf "http://$nip:15020/metrics")
assert_contains "$m" "warren_ztunnel_certificates_issued_total" "metrics on the node address"
node_exec node-1 curl -sf "http://$nip:15021/healthz/ready" >/dev/null || fail "readiness on $nip"

step "delete the pod: ztunnel forgets it and closes its listeners"
lab_delete "$LAB_DIR/web.yaml"
# Gone from a /config_dump that answered (a dead ztunnel's empty answer is not "forgotten").
gone() { local d; d=$(dump) && ! grep -q '"name": "web"' <<<"$d"; }
wait_for 60 gone
log "done"
