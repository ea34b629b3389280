#!/usr/bin/env bash
# timeout: 180
# Node components and the CNI chain, with stand-ins for warren-agent, warren-ztunnel and
# warren-cni placed next to a copy of warren-lab: exact flags, node netns, cgroups, restart
# (SIGTERM and --kill), logs, ps; warren-cni chained after bridge with prevResult, the pod stored
# Pending before ADD, DEL on delete; the cluster CA; BPF pins removed by down.
. "$(dirname "$0")/lib.sh"

BIN="$LAB_DIR/bin"
mkdir -p "$BIN"
cp "$WARREN_BIN_DIR/warren-lab" "$WARREN_BIN_DIR/warren-probe" "$BIN/"
LAB="$BIN/warren-lab"

# A node component stand-in: reports its args, netns address and cgroup, handles SIGTERM.
for comp in warren-agent warren-ztunnel; do
  cat >"$BIN/$comp" <<'SH'
#!/bin/sh
echo "args: $*"
echo "addr: $(ip -4 -o addr show dev eth0 | awk '{print $4}')"
echo "cgroup: $(grep '^0::' /proc/self/cgroup)"
pins=$(echo "$*" | sed -n 's/.*--bpf-pin-dir \([^ ]*\).*/\1/p')
if [ -n "$pins" ] && [ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" = bpf_fs ]; then
  mkdir -p "$pins" && echo "pins: $pins"
fi
# Like the agent, expose the CNI socket `up` waits for when warren-cni is chained.
run=$(echo "$*" | sed -n 's/.*--run-dir \([^ ]*\).*/\1/p')
case "$0" in *warren-agent) touch "$run/cni.sock" ;; esac
trap 'echo "got SIGTERM"; exit 0' TERM
while :; do sleep 0.1; done
SH
  chmod +x "$BIN/$comp"
done

# warren-cni stand-in: logs what kubelet-style invocation gave it and passes prevResult on.
cat >"$BIN/warren-cni" <<'SH'
#!/bin/sh
config=$(cat)
run=$(printf '%s' "$config" | sed 's/.*"runDir":"\([^"]*\)".*/\1/')
ns=$(printf '%s' "$CNI_ARGS" | sed 's/.*K8S_POD_NAMESPACE=\([^;]*\).*/\1/')
pod=$(printf '%s' "$CNI_ARGS" | sed 's/.*K8S_POD_NAME=\([^;]*\).*/\1/')
{
  echo "$CNI_COMMAND ifname=$CNI_IFNAME netns=$CNI_NETNS args=$CNI_ARGS path=$CNI_PATH"
  echo "node-addr: $(ip -4 -o addr show dev eth0 | awk '{print $4}')"
  echo "stored-phase: $(grep -h 'phase:' "$run/../../../manifests/Pod_${ns}_${pod}.yaml" | xargs)"
  echo "config: $config"
} >>"$run/cni-calls.log"
if [ "$CNI_COMMAND" = ADD ]; then
  printf '%s' "$config" | sed 's/.*"prevResult":\(.*\),"runDir".*/\1/'
fi
SH
chmod +x "$BIN/warren-cni"

lab_up 2

step "node components run in their node netns and cgroups with exactly the contract's flags"
assert_contains "$("$LAB" ps)" "agent" "ps"
for i in 1 2; do
  wait_for 10 grep -q cgroup: "$LAB_DIR/nodes/node-$i/logs/agent.log"
  wait_for 10 grep -q cgroup: "$LAB_DIR/nodes/node-$i/logs/ztunnel.log"
  pins="/sys/fs/bpf/warren/$LAB_NAME-node-$i"
  agent=$("$LAB" logs node-$i agent)
  assert_contains "$agent" "args: --node node-$i --node-ip 192.168.100.1$i --run-dir $LAB_DIR/nodes/node-$i/run --manifests $LAB_DIR/manifests --ca-dir $LAB_DIR/ca --cgroup $CGROUP2/$LAB_NAME/node-$i --bpf-pin-dir $pins --pod-cidr 10.244.$i.0/24 --trust-domain cluster.local --log-level info" "agent args"
  assert_contains "$agent" "addr: 192.168.100.1$i/24" "agent netns"
  assert_contains "$agent" "cgroup: 0::/$LAB_NAME/node-$i/system-agent" "agent cgroup"
  if [ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" = bpf_fs ]; then
    assert_contains "$agent" "pins: $pins" "agent pin dir"
    [ -d "$pins" ] || fail "pin dir $pins was not created"
  fi
  zt=$("$LAB" logs node-$i ztunnel)
  assert_contains "$zt" "args: --node node-$i --run-dir $LAB_DIR/nodes/node-$i/run --log-level info" "ztunnel args"
  assert_contains "$zt" "cgroup: 0::/$LAB_NAME/node-$i/system-ztunnel" "ztunnel cgroup"
done

step "the cluster CA is an EC P-256 CA"
ca=$(openssl x509 -in "$LAB_DIR/ca/ca.crt" -noout -text)
assert_contains "$ca" "CA:TRUE" "ca.crt"
assert_contains "$ca" "prime256v1" "ca.crt"
assert_ok openssl verify -CAfile "$LAB_DIR/ca/ca.crt" "$LAB_DIR/ca/ca.crt" >/dev/null
assert_contains "$(openssl pkey -in "$LAB_DIR/ca/ca.key" -noout -text)" "prime256v1" "ca.key"
assert_eq "$(stat -c %a "$LAB_DIR/ca/ca.key")" 600 "ca.key mode"

step "restart: SIGTERM, then --kill; same flags, new PID"
pid_of() { "$LAB" ps | awk -v n="$1" -v c="$2" '$1 == n && $2 == c {print $4}'; }
old=$(pid_of node-1 agent)
"$LAB" restart node-1 agent
new=$(pid_of node-1 agent)
assert_ne "$new" "$old" "agent PID after restart"
! pid_alive "$old" || fail "old agent $old still running"
wait_for 10 sh -c "[ \$(grep -c '^args:' '$LAB_DIR/nodes/node-1/logs/agent.log') -eq 2 ]"
assert_contains "$("$LAB" logs node-1 agent)" "got SIGTERM" "agent log"
"$LAB" restart node-1 agent --kill
newer=$(pid_of node-1 agent)
assert_ne "$newer" "$new" "agent PID after restart --kill"
wait_for 10 sh -c "[ \$(grep -c '^args:' '$LAB_DIR/nodes/node-1/logs/agent.log') -eq 3 ]"
assert_eq "$(grep -c 'got SIGTERM' "$LAB_DIR/nodes/node-1/logs/agent.log")" 1 "SIGTERMs seen (none for --kill)"
assert_eq "$("$LAB" ps | awk '$1 == "node-1" && $2 == "agent" {print $3}')" running "agent state"

step "warren-cni is chained after bridge, called like kubelet does"
lab_apply - <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: demo}
spec:
  nodeName: node-2
  containers: [{name: c, command: [warren-probe, serve, --port, "8080"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: demo}
spec:
  nodeName: node-1
  containers: [{name: c, command: [sleep, infinity]}]
YAML
calls="$LAB_DIR/nodes/node-2/run/cni-calls.log"
log_text=$(cat "$calls")
uid=$(pod_field demo/web uid)
assert_contains "$log_text" "ADD ifname=eth0 netns=/run/netns/$LAB_NAME-pod-demo_web args=IgnoreUnknown=1;K8S_POD_NAMESPACE=demo;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=" "ADD call"
assert_contains "$log_text" ";K8S_POD_UID=$uid path=/usr/lib/cni:$BIN" "ADD call"
assert_contains "$log_text" "node-addr: 192.168.100.12/24" "plugin runs in the node netns"
assert_contains "$log_text" "stored-phase: phase: Pending" "pod stored Pending before ADD"
assert_contains "$log_text" "\"prevResult\":{" "prevResult"
assert_contains "$log_text" "\"address\":\"$(pod_ip demo/web)/24\"" "prevResult carries the bridge's IP"
assert_eq "$(pod_field demo/web phase)" Running "web phase"
out=$(probe_echo demo/client "$(pod_ip demo/web):8080" 100000); assert_contains "$out" "echo verified"
printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: demo}\nspec: {containers: [{name: c}]}\n' >"$LAB_DIR/web.yaml"
"$LAB" delete -f "$LAB_DIR/web.yaml"
assert_contains "$(cat "$calls")" "DEL ifname=eth0 netns=/run/netns/$LAB_NAME-pod-demo_web" "DEL call"

step "down removes components, pins and all"
"$LAB" down
leftovers_check
log "PASS"
