#!/usr/bin/env bash
# timeout: 180
# Node components started from deploy/base/node, with stand-ins for warren-agent,
# warren-ztunnel, warrenctl and warren-cni placed next to a copy of warren-lab: the manifest's
# args with the downward API filled in, env, node netns, cgroups, each volume showing the lab
# node's path (and nothing else), readiness waited on, restart as a rolling update (maxSurge 0
# for the agent, 1 for ztunnel) and --kill of one container, logs, ps; the real `warren-cni
# install` chaining the plugin after bridge, called like kubelet with prevResult, the pod
# stored Pending before ADD, DEL on delete; the cluster CA; BPF pins removed by down.
. "$(dirname "$0")/lib.sh"

BIN="$LAB_DIR/bin"
mkdir -p "$BIN"
cp "$WARREN_BIN_DIR/warren-lab" "$WARREN_BIN_DIR/warren-probe" "$BIN/"
LAB="$BIN/warren-lab"

# Stand-ins for the node components, started by `up` from deploy/base/node exactly as the
# manifests say: each reports its args, env, netns address, cgroup and what its volumes show.
cat >"$BIN/warren-agent" <<'SH'
#!/bin/sh
echo "args: $*"
echo "env: NODE_NAME=$NODE_NAME INSTANCE_IP=$INSTANCE_IP POD_NAMESPACE=$POD_NAMESPACE POD_NAME=$POD_NAME"
echo "addr: $(ip -4 -o addr show dev eth0 | awk '{print $4}')"
echo "cgroup: $(grep '^0::' /proc/self/cgroup)"
echo "ca: $(ls /etc/warren/ca | tr '\n' ' ')"
# /sys/fs/cgroup is the node's cgroup: it holds this component's own cgroup.
echo "node-cgroup: $(ls -d /sys/fs/cgroup/system-agent 2>/dev/null)"
mkdir -p /sys/fs/bpf/warren/stand-in && echo "pins: $(stat -f -c %T /sys/fs/bpf/warren)"
# The readiness probe (warrenctl version) and the CNI plugin look for these.
touch /var/run/warren/admin.sock /var/run/warren/cni.sock
trap 'echo "got SIGTERM"; exit 0' TERM
while :; do sleep 0.1; done
SH
cat >"$BIN/warren-ztunnel" <<'SH'
#!/bin/sh
echo "args: $*"
echo "env: NODE_NAME=$NODE_NAME INSTANCE_IP=$INSTANCE_IP"
echo "cgroup: $(grep '^0::' /proc/self/cgroup)"
# Readiness is an HTTP GET of :15021/healthz/ready.
mkdir -p /var/run/warren/zt-www/healthz && touch /var/run/warren/zt-www/healthz/ready
/usr/bin/python3 -m http.server 15021 --directory /var/run/warren/zt-www >/dev/null 2>&1 &
trap 'echo "got SIGTERM"; kill $!; exit 0' TERM
while :; do sleep 0.1; done
SH
cat >"$BIN/warrenctl" <<'SH'
#!/bin/sh
# warrenctl --socket=PATH --timeout=N version: ready once the agent made its socket.
sock=$(echo "$*" | sed -n 's/.*--socket=\([^ ]*\).*/\1/p')
test -e "$sock"
SH
# warren-cni stand-in: install/status run the real installer, then put this script in its place
# as the plugin, which logs how kubelet-style invocation called it and passes prevResult on.
cat >"$BIN/warren-cni" <<SH
#!/bin/sh
case "\$1" in
  install)
    echo "install-cni sees: run=\$(ls /var/run/warren 2>&1 | wc -l) conf=\$(ls /etc/cni/net.d)"
    shift; args=\$(echo "\$*" | sed 's/ --watch//')
    "$WARREN_BIN_DIR/warren-cni" install \$args || exit 1
    cp "\$0" /opt/cni/bin/warren-cni
    trap 'exit 0' TERM
    while :; do sleep 0.1; done ;;
  status|uninstall) exec "$WARREN_BIN_DIR/warren-cni" "\$@" ;;
esac
config=\$(cat)
run=\$(printf '%s' "\$config" | sed 's/.*"runDir":"\([^"]*\)".*/\1/')
ns=\$(printf '%s' "\$CNI_ARGS" | sed 's/.*K8S_POD_NAMESPACE=\([^;]*\).*/\1/')
pod=\$(printf '%s' "\$CNI_ARGS" | sed 's/.*K8S_POD_NAME=\([^;]*\).*/\1/')
{
  echo "\$CNI_COMMAND ifname=\$CNI_IFNAME netns=\$CNI_NETNS args=\$CNI_ARGS path=\$CNI_PATH"
  echo "node-addr: \$(ip -4 -o addr show dev eth0 | awk '{print \$4}')"
  echo "stored-phase: \$(grep -h 'phase:' "$LAB_DIR/manifests/Pod_\${ns}_\${pod}.yaml" | xargs)"
  echo "config: \$config"
} >>"\$run/cni-calls.log"
if [ "\$CNI_COMMAND" = ADD ]; then
  printf '%s' "\$config" | sed 's/.*"prevResult":\(.*\),"runDir".*/\1/'
fi
SH
chmod +x "$BIN"/warren-agent "$BIN"/warren-ztunnel "$BIN"/warrenctl "$BIN"/warren-cni

lab_up 2

step "node components run as deploy/base/node says: args, downward API env, netns, cgroups, volumes"
assert_contains "$("$LAB" ps)" "agent" "ps"
for i in 1 2; do
  wait_for 10 grep -q pins: "$LAB_DIR/nodes/node-$i/logs/agent.log"
  wait_for 10 grep -q cgroup: "$LAB_DIR/nodes/node-$i/logs/ztunnel.log"
  pins="/sys/fs/bpf/warren/$LAB_NAME-node-$i"
  agent=$("$LAB" logs node-$i agent)
  assert_contains "$agent" "args: --node=node-$i --node-ip=192.168.100.1$i --run-dir=/var/run/warren --ca-dir=/etc/warren/ca --cgroup=/sys/fs/cgroup --bpf-pin-dir=/sys/fs/bpf/warren --trust-domain=cluster.local --log-level=info --manifests=$LAB_DIR/manifests --pod-cidr=10.244.$i.0/24" "agent args"
  assert_contains "$agent" "env: NODE_NAME=node-$i INSTANCE_IP=192.168.100.1$i POD_NAMESPACE=warren-system POD_NAME=warren-agent-" "agent env"
  assert_contains "$agent" "addr: 192.168.100.1$i/24" "agent netns"
  assert_contains "$agent" "cgroup: 0::/$LAB_NAME/node-$i/system-agent" "agent cgroup"
  assert_contains "$agent" "ca: ca.crt ca.key" "agent's Secret volume warren-ca"
  assert_contains "$agent" "node-cgroup: /sys/fs/cgroup/system-agent" "agent's cgroup volume is the node's cgroup"
  assert_contains "$agent" "pins: bpf_fs" "agent pin volume"
  [ -d "$pins/stand-in" ] || fail "the agent's /sys/fs/bpf/warren is not the lab pin dir $pins"
  [ -e "$LAB_DIR/nodes/node-$i/run/admin.sock" ] || fail "the agent's /var/run/warren is not the node run dir"
  zt=$("$LAB" logs node-$i ztunnel)
  assert_contains "$zt" "args: --node=node-$i --run-dir=/var/run/warren --drain-seconds=10 --log-level=info" "ztunnel args"
  assert_contains "$zt" "cgroup: 0::/$LAB_NAME/node-$i/system-ztunnel" "ztunnel cgroup"
  # install-cni mounts only the CNI dirs: the node's run dir is hidden from it.
  assert_contains "$("$LAB" logs node-$i install-cni)" "install-cni sees: run=0 conf=10-lab.conflist" "install-cni volumes"
  assert_ok "$WARREN_BIN_DIR/warren-cni" status --cni-bin-dir="$LAB_DIR/nodes/node-$i/cni/bin" \
    --cni-conf-dir="$LAB_DIR/nodes/node-$i/cni/net.d" >/dev/null
done

step "the cluster CA is an EC P-256 CA"
ca=$(openssl x509 -in "$LAB_DIR/ca/ca.crt" -noout -text)
assert_contains "$ca" "CA:TRUE" "ca.crt"
assert_contains "$ca" "prime256v1" "ca.crt"
assert_ok openssl verify -CAfile "$LAB_DIR/ca/ca.crt" "$LAB_DIR/ca/ca.crt" >/dev/null
assert_contains "$(openssl pkey -in "$LAB_DIR/ca/ca.key" -noout -text)" "prime256v1" "ca.key"
assert_eq "$(stat -c %a "$LAB_DIR/ca/ca.key")" 600 "ca.key mode"

step "restart: a rolling update of the pod (updateStrategy), then --kill of one container"
pid_of() { "$LAB" ps | awk -v n="$1" -v c="$2" '$1 == n && $2 == c {print $4}'; }
old=$(pid_of node-1 agent)
old_cni=$(pid_of node-1 install-cni)
"$LAB" restart node-1 agent
new=$(pid_of node-1 agent)
assert_ne "$new" "$old" "agent PID after restart"
assert_ne "$(pid_of node-1 install-cni)" "$old_cni" "install-cni (same pod) PID after restart"
! pid_alive "$old" || fail "old agent $old still running"
wait_for 10 sh -c "[ \$(grep -c '^args:' '$LAB_DIR/nodes/node-1/logs/agent.log') -eq 2 ]"
assert_contains "$("$LAB" logs node-1 agent)" "got SIGTERM" "agent log"
# maxSurge 0 (warren-agent): the old agent was gone before the new one started.
assert_eq "$(grep -E '^(args|got SIGTERM)' "$LAB_DIR/nodes/node-1/logs/agent.log" | cut -c1-4 | tr '\n' ' ')" "args got  args " "agent order"
cni_pid=$(pid_of node-1 install-cni)
"$LAB" restart node-1 agent --kill
newer=$(pid_of node-1 agent)
assert_ne "$newer" "$new" "agent PID after restart --kill"
assert_eq "$(pid_of node-1 install-cni)" "$cni_pid" "install-cni untouched by the agent container's restart"
wait_for 10 sh -c "[ \$(grep -c '^args:' '$LAB_DIR/nodes/node-1/logs/agent.log') -eq 3 ]"
assert_eq "$(grep -c 'got SIGTERM' "$LAB_DIR/nodes/node-1/logs/agent.log")" 1 "SIGTERMs seen (none for --kill)"
assert_eq "$("$LAB" ps | awk '$1 == "node-1" && $2 == "agent" {print $3}')" running "agent state"
# maxSurge 1 (warren-ztunnel): the new one starts (and is ready) before the old one gets SIGTERM.
"$LAB" restart node-2 ztunnel
assert_eq "$(grep -E '^(args|got SIGTERM)' "$LAB_DIR/nodes/node-2/logs/ztunnel.log" | cut -c1-4 | tr '\n' ' ')" "args args got  " "ztunnel order"

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
assert_contains "$log_text" ";K8S_POD_UID=$uid path=/opt/cni/bin:/usr/lib/cni" "ADD call"
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
