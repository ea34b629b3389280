#!/usr/bin/env bash
# timeout: 300
# The lab itself: 2 nodes, a Deployment spread over both, plain TCP same-node and cross-node
# verified byte for byte, label/get/exec/logs, an invalid manifest rejected whole, delete, down
# leaving nothing behind, and recovery from a crashed earlier run.
. "$(dirname "$0")/lib.sh"

lab_up 2

step "apply a namespace, an echo/sink Deployment (2 replicas), a Service and a client pod"
cat >"$LAB_DIR/app.yaml" <<'YAML'
apiVersion: v1
kind: Namespace
metadata:
  name: demo
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: echo
  namespace: demo
spec:
  replicas: 2
  selector:
    matchLabels: {app: echo}
  template:
    metadata:
      labels: {app: echo}
    spec:
      containers:
      - name: echo
        command: [warren-probe, serve, --port, "8080"]
      - name: sink
        command: [warren-probe, serve, --port, "9090", --sink]
---
apiVersion: v1
kind: Service
metadata:
  name: echo
  namespace: demo
spec:
  selector: {app: echo}
  ports:
  - {name: echo, port: 80, targetPort: 8080}
  - {name: sink, port: 90, targetPort: 9090}
---
apiVersion: v1
kind: Pod
metadata:
  name: client
  namespace: demo
spec:
  nodeName: node-1
  containers:
  - name: main
    command: [sleep, infinity]
YAML
lab_apply "$LAB_DIR/app.yaml"
"$LAB" get pods

step "scheduling: the Deployment is spread over both nodes, nodeName is honoured"
assert_eq "$(pod_node demo/client)" node-1 "client node"
n0=$(pod_node demo/echo-0); n1=$(pod_node demo/echo-1)
assert_ne "$n0" "$n1" "echo-0 and echo-1 nodes"
for p in demo/echo-0 demo/echo-1 demo/client; do
  assert_eq "$(pod_field $p phase)" Running "$p phase"
  ip=$(pod_ip $p); node=$(pod_node $p)
  [[ "$ip" == 10.244.${node#node-}.* ]] || fail "$p IP $ip is not in $node's pod CIDR"
  assert_eq "$(pod_field $p hostIP)" "$(node_ip $node)" "$p hostIP"
done
assert_eq "$("$LAB" get pods demo/echo-0 -o json | grep -c '"app": "echo"')" 1 "template labels on echo-0"
svc=$(svc_ip demo/echo)
[[ "$svc" == 10.96.* ]] || fail "Service ClusterIP $svc is not in 10.96.0.0/16"
assert_contains "$(cat "$LAB_DIR"/manifests/Service_demo_echo.yaml)" "clusterIP: $svc" "stored Service"

step "plain TCP: 1 MiB echo and 10 MiB sink, same node and cross node"
wait_pod_log demo/echo-0 "listening on 0.0.0.0:9090"
wait_pod_log demo/echo-1 "listening on 0.0.0.0:9090"
same="" cross=""
for p in demo/echo-0 demo/echo-1; do
  if [ "$(pod_node $p)" = node-1 ]; then same=$p; else cross=$p; fi
done
[ -n "$same" ] && [ -n "$cross" ] || fail "expected one echo pod on node-1 and one elsewhere"
for target in "$same" "$cross"; do
  ip=$(pod_ip "$target")
  out=$(probe_echo demo/client "$ip:8080" 1048576); log "$target: $out"
  assert_contains "$out" "echo verified"
  out=$(probe_sink demo/client "$ip:9090" 10485760); log "$target: $out"
  assert_contains "$out" "sha256"
done
# The probe really checks: a sink answer for other bytes must not match (exit 1 = mismatch).
set +e
"$LAB" exec demo/client -- warren-probe send --to "$(pod_ip "$cross"):8080" --bytes 100 --sink --timeout 10 >/dev/null 2>&1
rc=$?
set -e
assert_eq "$rc" 1 "probe exit code when an echo server is treated as a sink"

step "logs: the server saw the client's pod IP"
client_ip=$(pod_ip demo/client)
logs=$("$LAB" logs "$cross")
assert_contains "$logs" "conn $client_ip:" "echo log"
assert_contains "$logs" "echoed 1048576 bytes" "echo log"
assert_contains "$logs" "sink 10485760 bytes sha256" "sink log"

step "exec: pods run in their netns and cgroup; nodes route the pod CIDRs"
assert_contains "$(pod_exec demo/client ip -4 -o addr show dev eth0)" "$client_ip/24" "client eth0"
assert_contains "$(pod_exec demo/client cat /proc/self/cgroup)" "0::/$LAB_NAME/node-1/pod-demo-client" "client cgroup"
assert_contains "$(node_exec node-2 ip route)" "10.244.1.0/24 via 192.168.100.11" "node-2 routes"
assert_eq "$(node_exec node-1 cat /proc/sys/net/ipv4/ip_forward)" 1 "node-1 ip_forward"
set +e; "$LAB" exec demo/client -- sh -c 'exit 7'; rc=$?; set -e
assert_eq "$rc" 7 "exec exit code"
assert_contains "$("$LAB" ps)" "demo/echo-0" "ps"

step "label namespace and pod"
"$LAB" label namespace demo warren.dev/dataplane-mode=ambient
assert_contains "$("$LAB" get namespaces demo -o json)" '"warren.dev/dataplane-mode": "ambient"' "namespace labels"
"$LAB" label -n demo pod client warren.dev/dataplane-mode=none tier=client
assert_contains "$("$LAB" get pods demo/client --field labels)" '"tier":"client"' "pod labels"
"$LAB" label -n demo pod client tier-
assert_not_contains "$("$LAB" get pods demo/client --field labels)" "tier" "pod labels after removal"
assert_eq "$(pod_ip demo/client)" "$client_ip" "client IP after labelling (pod not restarted)"

step "an invalid manifest is rejected whole, naming file, object and field"
cat >"$LAB_DIR/bad.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: innocent
  namespace: demo
spec:
  containers: [{name: c, command: [sleep, infinity]}]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: broken
  namespace: demo
spec:
  replicas: lots
  template:
    metadata: {labels: {app: broken}}
    spec: {containers: [{name: c}]}
YAML
err=$(assert_fails "$LAB" apply -f "$LAB_DIR/bad.yaml")
assert_contains "$err" "bad.yaml" "error"
assert_contains "$err" "Deployment demo/broken" "error"
assert_contains "$err" "spec.replicas" "error"
assert_fails "$LAB" get pods demo/innocent >/dev/null
[ ! -e "$LAB_DIR/manifests/Pod_demo_innocent.yaml" ] || fail "part of a rejected file was stored"
assert_eq "$(pod_field demo/echo-0 phase)" Running "echo-0 after the rejected apply"
out=$(probe_echo demo/client "$(pod_ip "$cross"):8080" 4096); assert_contains "$out" "echo verified"

step "delete the Deployment: its pods, netns, cgroups and processes go"
cross_netns=$(pod_field "$cross" netns); cross_cgroup=$(pod_field "$cross" cgroup)
cat >"$LAB_DIR/del.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: echo, namespace: demo}
spec: {template: {spec: {containers: [{name: c}]}}}
YAML
"$LAB" delete -f "$LAB_DIR/del.yaml"
assert_fails "$LAB" get pods demo/echo-0 >/dev/null
[ ! -e "$cross_netns" ] || fail "netns $cross_netns still exists"
[ ! -e "$cross_cgroup" ] || fail "cgroup $cross_cgroup still exists"
assert_not_contains "$("$LAB" ps)" "demo/echo" "ps after delete"
assert_eq "$(pod_field demo/client phase)" Running "client after delete"

step "down removes everything"
"$LAB" down
leftovers_check

step "crash recovery: a lab whose CLI was killed mid-way, and one whose state file is gone"
"$LAB" up --nodes 3 &
upid=$!
sleep 0.15
kill -9 $upid 2>/dev/null || true
wait $upid 2>/dev/null || true
lab_up 2
lab_apply "$LAB_DIR/app.yaml"
assert_eq "$(pod_field demo/client phase)" Running "client after recovery"
old_pids=$("$LAB" get pods demo/client --field pids)
rm -f "$LAB_DIR/state.json"
lab_up 2
for pid in $(echo "$old_pids" | tr -d '[]' | tr ',' ' '); do
  ! pid_alive "$pid" || fail "process $pid of the crashed lab survived"
done
assert_fails "$LAB" get pods demo/client >/dev/null
lab_apply "$LAB_DIR/app.yaml"
out=$(probe_echo demo/client "$(pod_ip demo/echo-1):8080" 65536); assert_contains "$out" "echo verified"
step "a second up on a live lab is refused"
assert_contains "$(assert_fails "$LAB" up --nodes 2)" "already up"
assert_eq "$(pod_field demo/client phase)" Running "client after the refused up"
out=$(probe_echo demo/client "$(pod_ip demo/echo-0):8080" 1000); assert_contains "$out" "echo verified"
"$LAB" down
leftovers_check
log "PASS"
