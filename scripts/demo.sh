#!/usr/bin/env bash
# `make demo`: a two-node Warren lab on this machine, the demo app from lab/examples, traffic
# between pods on the same node and across nodes (verified byte for byte), then teardown.
#   scripts/demo.sh BUILD      (as root; about half a minute)
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
LAB="$build/bin/warren-lab"
export WARREN_LAB_NAME=demo
export WARREN_LAB_DIR=$(mktemp -d /tmp/warren-demo-XXXXXX)

[ "$(id -u)" -eq 0 ] || { echo "demo: needs root (network namespaces, cgroups)" >&2; exit 1; }
[ -x "$LAB" ] || { echo "demo: $LAB is not built (make build)" >&2; exit 1; }

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
cleanup() {
  local rc=$?
  say "Tearing the lab down"
  "$LAB" down | tail -1 || true
  rm -rf "$WARREN_LAB_DIR"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The waypoint step needs the agents' waypoint controller; it runs once warren-waypoint is built.
WAYPOINT=""
[ -x "$build/bin/warren-waypoint" ] && WAYPOINT=1
say "Creating a 2-node lab '$WARREN_LAB_NAME' (network namespaces on a private underlay bridge)"
"$LAB" up --nodes 2 ${WAYPOINT:+--agent-flag=--controller}

say "Applying the demo app (lab/examples/*.yaml)"
"$LAB" apply -f "$root/lab/examples"

say "Pods and services"
"$LAB" get pods
echo
"$LAB" get services
components=$("$LAB" ps | awk 'NR > 1 && $2 !~ /\// {print $1 "/" $2 " (" $3 ")"}' | xargs)

ip_of() { "$LAB" get pods "$1" --field podIP; }
node_of() { "$LAB" get pods "$1" --field node; }
same="" cross=""
for p in demo/echo-0 demo/echo-1; do
  if [ "$(node_of $p)" = "$(node_of demo/client)" ]; then same=$p; else cross=$p; fi
done
results=()
for target in "$same" "$cross"; do
  [ -n "$target" ] || continue
  where="same node"; [ "$target" = "$cross" ] && where="cross node"
  ip=$(ip_of "$target")
  say "Traffic from demo/client ($(node_of demo/client)) to $target ($(node_of $target), $where)"
  echo "\$ warren-lab exec demo/client -- warren-probe send --to $ip:8080 --bytes 1048576"
  "$LAB" exec demo/client -- warren-probe send --to "$ip:8080" --bytes 1048576 --retry 10
  echo "\$ warren-lab exec demo/client -- warren-probe send --to $ip:9090 --bytes 10485760 --sink"
  out=$("$LAB" exec demo/client -- warren-probe send --to "$ip:9090" --bytes 10485760 --sink --retry 10)
  echo "$out"
  results+=("$where: 1 MiB echoed back intact and 10 MiB delivered with a matching sha256 ($(grep -oE '[0-9.]+ MiB/s' <<<"$out"))")
done

say "What the server on $cross logged"
"$LAB" logs "$cross" | tail -4

if [ -n "$cross" ] && [ -f "$WARREN_LAB_DIR/nodes/$(node_of "$cross")/logs/ztunnel.log" ]; then
  say "ztunnel on $(node_of "$cross") saw it arrive over mTLS (its access log, inbound side)"
  grep 'connection complete' "$WARREN_LAB_DIR/nodes/$(node_of "$cross")/logs/ztunnel.log" |
    grep 'direction="inbound"' | tail -2 | cut -c1-400
  results+=("the namespace is enrolled: every byte crossed the underlay inside HBONE (mTLS on 15008),
  and the receiving ztunnel logged the client's SPIFFE identity")
fi

# HTTP: the web Service (two warren-echo versions, lab/examples/web.yaml), first through ztunnel
# alone, then through a waypoint that splits by weight and routes by header.
web_vip=$("$LAB" get services demo/web --field clusterIP)
for p in demo/web-v1-0 demo/web-v2-0; do
  for i in $(seq 50); do "$LAB" logs "$p" 2>/dev/null | grep -q listening && break; sleep 0.2; done
done
# backends N [curl args]: N requests from demo/client to web, as "count pod" lines.
backends() {
  local n=$1; shift
  "$LAB" exec demo/client -- sh -c 'for i in $(seq '"$n"'); do
      curl -s --max-time 5 --retry 5 --retry-connrefused "$@" "http://'"$web_vip"'/demo"; echo
    done' sh "$@" | jq -r .pod | sort | uniq -c | sed 's/^ */    /'
}
say "HTTP from demo/client to the web Service ($web_vip) through ztunnel: which pod answered"
echo "\$ warren-lab exec demo/client -- curl -s http://$web_vip/demo   (one answer:)"
"$LAB" exec demo/client -- curl -s --max-time 5 --retry 5 --retry-connrefused "http://$web_vip/demo" |
  jq -c '{pod, path, host, method, proto}'
echo "20 requests, answered by:"
backends 20
results+=("HTTP to the web Service went through ztunnel too (L4: ztunnel picks a pod per connection);
  warren-echo answered with its pod name and what it received")

if [ -n "$WAYPOINT" ]; then
  say "A waypoint for namespace demo: web split 80/20 between v1 and v2, x-canary: true to v2"
  echo "\$ warren-lab apply -f lab/examples/waypoint/web-waypoint.yaml"
  "$LAB" apply -f "$root/lab/examples/waypoint/web-waypoint.yaml"
  for i in $(seq 150); do "$LAB" get deployments demo/waypoint -o json >/dev/null 2>&1 && break; sleep 0.2; done
  "$LAB" reconcile >/dev/null 2>&1 || true
  "$LAB" get pods -n demo | grep -E 'NAME|waypoint' || true
  # Routes reach the waypoint through xDS: wait (bounded) until a canary request lands on v2.
  for i in $(seq 60); do
    [ "$(backends 1 -H 'x-canary: true' | awk '{print $2}')" = web-v2-0 ] && break
    sleep 0.5
  done
  echo "40 requests without a header (80/20 by weight), answered by:"
  backends 40
  echo "10 requests with x-canary: true, answered by:"
  canary=$(backends 10 -H 'x-canary: true')
  echo "$canary"
  [ "$(awk '{print $2}' <<<"$canary" | sort -u)" = web-v2-0 ] || {
    echo "demo: x-canary requests did not all reach web-v2 through the waypoint" >&2
    exit 1
  }
  results+=("the waypoint (warren-waypoint, deployed from a Gateway) routed each HTTP request:
  by weight over web-v1/web-v2, and every x-canary request to web-v2")
else
  say "Waypoint step skipped: warren-waypoint is not built yet (issue 13)"
  echo "Once it is, this step applies lab/examples/waypoint/web-waypoint.yaml: a waypoint for"
  echo "namespace demo and an HTTPRoute splitting web 80/20 with x-canary: true sent to v2."
fi

say "What you just saw"
cat <<TEXT
- warren-lab built a cluster of 2 nodes on this one machine: each node is a network namespace
  joined to a private underlay bridge; each node routes its own pod range (10.244.<n>.0/24).
- Applying the manifests scheduled the Deployment's 2 replicas one per node and the client on
  node-1; each pod got its own network namespace and IP through the standard CNI plugins,
  exactly as a container runtime does, and its processes run in their own cgroup.
- The Service got a ClusterIP from 10.96.0.0/16, stored in the manifest directory that plays
  the API server.
$(printf -- '- %s\n' "${results[@]}")
- Node components running: ${components:-none yet (warren-agent / warren-ztunnel not built)}.
- Everything is removed on exit: namespaces, links, cgroups, processes and files.
TEXT

# Observability: what node-1's agent knows (admin API through warrenctl) and a metrics scrape
# of node-1's ztunnel. Each step is bounded and skipped when its binary is not built.
CTL="$build/bin/warrenctl"
if [ -x "$CTL" ] && [ -x "$build/bin/warren-agent" ]; then
  for i in $(seq 50); do [ -S "$WARREN_LAB_DIR/nodes/node-1/run/admin.sock" ] && break; sleep 0.1; done
  for what in workloads redirection certificates; do
    say "warrenctl --node node-1 $what"
    "$CTL" --node node-1 --timeout 3 "$what" || true
  done
  if [ -x "$build/bin/warren-ztunnel" ]; then
    say "node-1 ztunnel metrics (curl :15020/metrics | grep istio_tcp_ and warren_ families)"
    "$LAB" exec node-1 -- curl -sf --max-time 3 http://127.0.0.1:15020/metrics |
      grep -E '^(istio_tcp_|warren_)' | head -20 || true
  fi
fi
