#!/usr/bin/env bash
# timeout: 300
# The lab runs deploy/base/node, so a manifest that does not work fails here. Copies of the
# DaemonSets, each with one mistake, must make `warren-lab up` fail with an error naming it,
# and leave nothing behind:
#  - a wrong flag (the agent refuses it: the lab reports the container exiting, with its log);
#  - a wrong env var (a $(VAR) the container no longer defines);
#  - a wrong mount (a hostPath that no node has).
# Then the real manifests: the CNI install step keeps warren-cni chained when the node's
# primary CNI rewrites its config (inotify), and an enrolled pod still goes through ztunnel;
# uninstalling (`warren-lab node-cleanup`: the pods go, deploy/cleanup runs on every node)
# removes the pins, the CNI config entry and binary, and the run dir.
. "$(dirname "$0")/lib.sh"
for b in warren-agent warren-ztunnel warren-cni warrenctl; do
  [ -x "$WARREN_BIN_DIR/$b" ] || fail "$b is not built"
done
SRC="$WARREN_SOURCE_DIR/deploy/base/node"
PY=/usr/bin/python3

# broken NAME SED-EXPR FILE: a copy of the node manifests with one edit; prints its dir.
broken() {
  local dir="$LAB_DIR/ds-$1"
  mkdir -p "$dir"
  cp "$SRC"/*.yaml "$dir/"
  sed -i "$2" "$dir/$3"
  ! cmp -s "$SRC/$3" "$dir/$3" || fail "edit '$2' changed nothing in $3"
  echo "$dir"
}

# fails_naming NAME WHAT SED-EXPR FILE ERROR...: `up` with that one edit fails, its message
# holding every ERROR, and leaves nothing behind.
fails_naming() {
  local name=$1 what=$2 expr=$3 file=$4 ds out want
  shift 4
  step "a wrong $what"
  ds=$(broken "$name" "$expr" "$file")
  out=$(assert_fails "$LAB" up --nodes 1 --daemonsets "$ds")
  log "$out"
  for want in "$@"; do assert_contains "$out" "$want" "error"; done
  leftovers_check
}
fails_naming flag "flag: --run-dir misspelt in the agent's args" '0,/--run-dir=/s//--rundir=/' \
  agent-daemonset.yaml \
  "DaemonSet warren-system/warren-agent: container agent exited before it was ready" \
  "unknown flag --rundir"
fails_naming env "env var: NODE_NAME renamed, still referred to as \$(NODE_NAME)" \
  '0,/- name: NODE_NAME/s//- name: NODENAME/' ztunnel-daemonset.yaml \
  "container ztunnel: args[0] refers to \$(NODE_NAME), which is not in the container's env"
fails_naming mount "mount: the run dir's hostPath misspelt" \
  '0,/path: \/var\/run\/warren$/s//path: \/var\/run\/warren-typo/' agent-daemonset.yaml \
  "container agent: volumeMounts[0] (run): hostPath /var/run/warren-typo is not a path of the lab's nodes"

step "the real manifests: up, then the primary CNI rewrites its config"
lab_up 2
conf="$LAB_DIR/nodes/node-1/cni/net.d/10-lab.conflist"
assert_contains "$(cat "$conf")" '"type": "warren-cni"' "chained by install-cni"
# What a primary CNI does on its own restart: its config, without us, written in place.
"$PY" - "$conf" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["plugins"] = [p for p in c["plugins"] if p["type"] != "warren-cni"]
open(sys.argv[1], "w").write(json.dumps(c, indent=2))
PY
wait_for 10 grep -q '"warren-cni"' "$conf"
assert_contains "$("$LAB" logs node-1 install-cni)" "warren-cni: chained 10-lab.conflist" "install-cni log"
apply_mesh_pair
probe_echo mesh/client "$(pod_ip mesh/echo):8080" 65536 >/dev/null
# Through ztunnel (HBONE, mutual TLS): ztunnel on node-1 counted it.
assert_eq "$(mtls_connections node-1 client echo)" 1 "client->echo through ztunnel"

step "uninstall: the node DaemonSets' pods go, then deploy/cleanup runs on every node"
for n in 1 2; do
  [ -n "$(ls "/sys/fs/bpf/warren/$LAB_NAME-node-$n")" ] || fail "node-$n has no pins before the clean-up"
  [ -S "$LAB_DIR/nodes/node-$n/run/xds.sock" ] || fail "node-$n has no agent sockets before the clean-up"
done
assert_ok "$LAB" node-cleanup
for n in 1 2; do
  nd="$LAB_DIR/nodes/node-$n"
  assert_eq "$(ls -A "/sys/fs/bpf/warren/$LAB_NAME-node-$n" 2>/dev/null)" "" "node-$n pins after the clean-up"
  assert_not_contains "$(cat "$nd/cni/net.d/10-lab.conflist")" "warren-cni" "node-$n CNI config"
  assert_contains "$(cat "$nd/cni/net.d/10-lab.conflist")" '"type": "bridge"' "node-$n primary CNI kept"
  [ ! -e "$nd/cni/bin/warren-cni" ] || fail "node-$n: warren-cni still in the CNI bin dir"
  # (the dir itself is the clean-up container's mount point: emptied, not removed)
  assert_eq "$(ls -A "$nd/run")" "" "node-$n run dir after the clean-up"
  assert_contains "$("$LAB" logs "node-$n" uninstall-agent)" "removed eBPF links and pins" "node-$n uninstall-agent log"
done
assert_eq "$("$LAB" ps | awk '$2 == "agent" || $2 == "ztunnel"' | wc -l)" 0 "node components after the clean-up"
# Nothing captures any more: the pods talk directly, and new pods start without warren-cni.
assert_contains "$(probe_echo mesh/client "$(pod_ip mesh/echo):8080" 65536)" "echo verified"
log "PASS"
