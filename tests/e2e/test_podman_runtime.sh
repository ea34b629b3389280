#!/usr/bin/env bash
# timeout: 300
# The images of `make images`, run for real:
#  - each binary of each image starts (`podman run IMAGE --version`); the images hold only the
#    binaries, their shared libraries and passwd/group; warren-controller runs as non-root;
#    building again from the same commit gives the same image IDs;
#  - `warren-lab up --runtime podman`: every node component runs as a container from those
#    images, with exactly the capabilities deploy/base/node grants (checked against podman's
#    own view) and nothing privileged, and the core data path works: an enrolled pod reaches
#    a pod on the other node through ztunnel (HBONE, mutual TLS), a pod outside the mesh is
#    left alone, and the app sees the mesh client's address (warren-cni sets tcp_fwmark_accept, the
#    ztunnel container installs the routing);
#  - every container and image this test created is removed, even on failure.
. "$(dirname "$0")/lib.sh"
command -v podman >/dev/null || fail "podman is not installed (make deps)"
command -v buildah >/dev/null || fail "buildah is not installed (make deps)"
BUILD=$(dirname "$WARREN_BIN_DIR")
PODMAN=(podman --runtime runc)
# runc here refuses podman's default limits (above this machine's hard limits).
ULIMITS=(--ulimit "nofile=$(ulimit -Sn):$(ulimit -Hn)" --ulimit nproc=4096:4096)

step "make images (reusing the build)"
tag_of() { git -C "$WARREN_SOURCE_DIR" rev-parse --short=12 HEAD; }
existed=()
for i in warren-node warren-controller warren-waypoint; do
  for t in "git-$(tag_of)" "git-$(tag_of)-dirty"; do
    "${PODMAN[@]}" image exists "localhost/$i:$t" && existed+=("localhost/$i:$t")
  done
done
"$WARREN_SOURCE_DIR/scripts/images.sh" "$BUILD" | grep '^images:'
TAG=$(cat "$BUILD/images/tag")
# Images this test made (not ones that were there before) go when it ends.
remove_images() {
  local i ref
  for i in warren-node warren-controller warren-waypoint; do
    ref="localhost/$i:$TAG"
    [[ " ${existed[*]:-} " == *" $ref "* ]] || "${PODMAN[@]}" rmi -f "$ref" >/dev/null 2>&1
  done
}
on_exit remove_images
id1=$("${PODMAN[@]}" image inspect --format '{{.Id}}' "localhost/warren-node:$TAG")

step "the install overlay make images wrote pins these images and the CA"
if command -v kubectl >/dev/null; then
  rendered=$(kubectl kustomize "$BUILD/deploy/install")
  assert_eq "$(grep -E '^ +image:' <<<"$rendered" | sort -u | xargs)" "image: localhost/warren-node:$TAG" "install overlay images"
  assert_contains "$rendered" "secretName: warren-ca-" "install overlay CA Secret"
  assert_contains "$(kubectl kustomize "$BUILD/deploy/cleanup")" "image: localhost/warren-node:$TAG" "cleanup overlay image"
  rendered=$(kubectl kustomize "$BUILD/deploy/install-waypoint")
  assert_eq "$(grep -E '^ +image:' <<<"$rendered" | sort -u | xargs)" \
    "image: localhost/warren-controller:$TAG image: localhost/warren-node:$TAG" "install-waypoint overlay images"
  assert_contains "$rendered" "--waypoint-image=localhost/warren-waypoint:$TAG" "waypoints the controller creates pinned"
fi

step "each binary starts in its image"
for b in warren-agent warren-ztunnel warren-cni warrenctl; do
  out=$("${PODMAN[@]}" run --rm "${ULIMITS[@]}" --entrypoint "/usr/local/bin/$b" "localhost/warren-node:$TAG" --version 2>&1)
  assert_eq "$out" "$b 0.1.0" "warren-node $b --version"
done
out=$("${PODMAN[@]}" run --rm "${ULIMITS[@]}" "localhost/warren-controller:$TAG" --version 2>&1)
assert_eq "$out" "warren-agent 0.1.0" "warren-controller --version"
assert_eq "$("${PODMAN[@]}" image inspect --format '{{.Config.User}}' "localhost/warren-controller:$TAG")" "65532:65532" "controller user"
out=$("${PODMAN[@]}" run --rm "${ULIMITS[@]}" "localhost/warren-waypoint:$TAG" --version 2>&1)
assert_eq "$out" "warren-waypoint 0.1.0" "warren-waypoint --version"
assert_eq "$("${PODMAN[@]}" image inspect --format '{{.Config.User}}' "localhost/warren-waypoint:$TAG")" "65532:65532" "waypoint user"
wfiles=$(cd "$BUILD/images/warren-waypoint/rootfs" && find . -type f | sort)
wothers=$(grep -vE '^\./(usr/local/bin/warren-waypoint|etc/(passwd|group)|(usr/)?lib(64|/x86_64-linux-gnu)?/[^/]+\.so[.0-9]*)$' <<<"$wfiles" || true)
[ -z "$wothers" ] || fail "unexpected files in warren-waypoint: $wothers"
assert_eq "$("${PODMAN[@]}" image inspect --format '{{.Config.User}}' "localhost/warren-node:$TAG")" "0" "node user"
# Only binaries, the libraries they load and passwd/group: no shell, no package manager.
files=$(cd "$BUILD/images/warren-node/rootfs" && find . -type f | sort)
others=$(grep -vE '^\./(usr/local/bin/(warren-agent|warren-ztunnel|warren-cni|warrenctl)|etc/(passwd|group)|(usr/)?lib(64|/x86_64-linux-gnu)?/[^/]+\.so[.0-9]*)$' <<<"$files" || true)
[ -z "$others" ] || fail "unexpected files in warren-node: $others"
[ ! -e "$BUILD/images/warren-node/rootfs/bin/sh" ] || fail "warren-node has a shell"
log "warren-node: $(wc -l <<<"$files") files"

step "same commit, same image"
"$WARREN_SOURCE_DIR/scripts/images.sh" "$BUILD" >/dev/null
assert_eq "$("${PODMAN[@]}" image inspect --format '{{.Id}}' "localhost/warren-node:$TAG")" "$id1" "image ID after a rebuild"

step "up --runtime podman: node components as containers from the images"
# WARREN_E2E_AGENT_FLAGS (make e2e-fastpath) reaches the containers' agents as it does lab_up's.
lab_up_podman() {
  local extra=() f
  for f in ${WARREN_E2E_AGENT_FLAGS:-}; do extra+=("--agent-flag=$f"); done
  "$LAB" up --nodes 2 --runtime podman --image-tag "$TAG" "${extra[@]}"
}
lab_up_podman
prefix="$LAB_NAME-node-"
ctrs=$("${PODMAN[@]}" ps --format '{{.Names}}' | grep "^$prefix" | sort)
assert_eq "$(wc -l <<<"$ctrs")" 6 "containers (agent, install-cni, ztunnel on 2 nodes): $ctrs"
# Capabilities: exactly what deploy/base/node grants, as podman applied them.
caps_of() { "${PODMAN[@]}" inspect --format '{{.EffectiveCaps}} {{.HostConfig.Privileged}}' "$(grep -- "-$1\$" <<<"$ctrs" | head -1)"; }
assert_eq "$(caps_of agent)" "[CAP_BPF CAP_NET_ADMIN CAP_SYS_ADMIN] false" "agent capabilities"
assert_eq "$(caps_of ztunnel)" "[CAP_BPF CAP_NET_ADMIN CAP_SYS_ADMIN] false" "ztunnel capabilities"
assert_eq "$(caps_of install-cni)" "[] false" "install-cni capabilities"
assert_eq "$("${PODMAN[@]}" inspect --format '{{.Config.User}}' "$(grep -- '-ztunnel$' <<<"$ctrs" | head -1)")" 0 "ztunnel user"

step "the data path with those capabilities"
apply_mesh_pair 'apiVersion: v1
kind: Namespace
metadata: {name: plain}
---
apiVersion: v1
kind: Pod
metadata: {name: outsider, namespace: plain}
spec: {nodeName: node-1, containers: [{name: m, command: [sleep, infinity]}]}'
ECHO=$(pod_ip mesh/echo)
assert_contains "$(probe_echo mesh/client "$ECHO:8080" 1048576)" "echo verified"
assert_contains "$(probe_echo plain/outsider "$ECHO:8080" 65536)" "echo verified"
assert_eq "$(mtls_connections node-1 client echo)" 1 "client->echo through ztunnel with mutual TLS"
assert_eq "$(mtls_connections node-1 outsider echo)" 0 "the pod outside the mesh through ztunnel"
# The echo saw the client's address on the connection ztunnel made (mark 0x53a), though the
# ztunnel container's /proc/sys is read-only: warren-cni set tcp_fwmark_accept at the pod's ADD
# and ztunnel's container installed the routing rules.
echo_line=$("$LAB" logs mesh/echo | grep "echoed 1048576 bytes")
assert_contains "$echo_line" "conn $(pod_ip mesh/client):" "the address the echo saw from the mesh client"
assert_contains "$echo_line" " mark 0x53a" "the echo's connection from the mesh client"
metrics=$(node_exec node-1 curl -sf http://127.0.0.1:15020/metrics)
redirected=$(grep '^warren_redirect_decisions_total{decision="connect_redirected"}' <<<"$metrics" | awk '{print $2}')
[ "${redirected%.*}" -ge 1 ] || fail "the eBPF capture redirected nothing: $redirected"
if fast_path_on; then
  # The containers' agents run with the flag: the client pod's app <-> ztunnel leg (a loopback
  # pair in its netns) went socket to socket.
  fp=$(grep '^warren_redirect_decisions_total{decision="fastpath_redirected"}' <<<"$metrics" | awk '{print $2}')
  [ "${fp%.*}" -ge 1 ] || fail "the sk_msg fast path is on but redirected nothing: ${fp:-missing}"
  log "sk_msg fast path on in the containers: fastpath_redirected=$fp"
fi

step "down removes the containers"
"$LAB" down >/dev/null
names=$("${PODMAN[@]}" ps -a --format '{{.Names}}') || fail "podman ps failed after down"
assert_eq "$(grep -c "^$prefix" <<<"$names" || true)" 0 "containers after down"
leftovers_check
log "PASS"
