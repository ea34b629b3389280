#!/usr/bin/env bash
# timeout: 420
# The ztunnel data path in the lab, real eBPF and real mTLS (issue #5 "Done when"):
#  - pod -> pod cross-node and same-node, and pod -> Service VIP spread over its endpoints,
#    carry 100 MiB intact (warren-probe compares the sink's sha256);
#  - the server side sees the client's SPIFFE identity (inbound ztunnel's /connections during
#    a transfer, and its access log);
#  - a capture in node-2's netns (everything leaving or entering the node) shows HBONE on
#    15008 only: no packet to the app port, no plaintext marker;
#  - a dual-stack client (AF_INET6 socket dialling ::ffff:<pod-ip>) is captured as IPv4 and
#    goes through HBONE (node-2's mutual_tls counter rises, the sink's sha256 matches);
#  - a non-mesh client reaches an enrolled pod through 15006 (plaintext inbound capture), and an
#    enrolled pod a pod outside the mesh (passthrough): both relays run on splice (node-1's
#    warren_ztunnel_plain_relays_total{engine="splice"} rises for each);
#  - istio_tcp_* metrics after the traffic pass promtool and carry the workload labels;
#  - the client pod's connections were accepted by more than one ztunnel worker;
#  - both ztunnels' loops slept through sends nothing waited for (quiet sends counted).
. "$(dirname "$0")/lib.sh"
[ -x "$WARREN_BIN_DIR/warren-ztunnel" ] || fail "warren-ztunnel is not built"

lab_up 2
for n in 1 2; do wait_for 60 test -S "$LAB_DIR/nodes/node-$n/run/cni.sock"; done

step "apply: enrolled namespace mesh with a client and sinks on both nodes, a Service over them"
lab_apply - <<'YAML'
apiVersion: v1
kind: Namespace
metadata:
  name: mesh
  labels: {warren.dev/dataplane-mode: ambient}
---
apiVersion: v1
kind: Namespace
metadata:
  name: other
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: mesh}
spec:
  nodeName: node-1
  serviceAccountName: client-sa
  containers: [{name: main, command: [sleep, infinity]}]
---
apiVersion: v1
kind: Pod
metadata: {name: sink-far, namespace: mesh, labels: {app: sink}}
spec:
  nodeName: node-2
  serviceAccountName: sink-sa
  containers: [{name: main, command: [warren-probe, serve, --port, "9000", --sink]}]
---
apiVersion: v1
kind: Pod
metadata: {name: sink-near, namespace: mesh, labels: {app: sink}}
spec:
  nodeName: node-1
  serviceAccountName: sink-sa
  containers: [{name: main, command: [warren-probe, serve, --port, "9000", --sink]}]
---
apiVersion: v1
kind: Service
metadata: {name: sink, namespace: mesh}
spec:
  selector: {app: sink}
  ports: [{name: tcp, port: 90, targetPort: 9000}]
---
apiVersion: v1
kind: Pod
metadata: {name: outside, namespace: other}
spec:
  nodeName: node-1
  containers: [{name: main, command: [sleep, infinity]}]
YAML
wait_pod_log mesh/sink-far "listening"
wait_pod_log mesh/sink-near "listening"
FAR=$(pod_ip mesh/sink-far)
NEAR=$(pod_ip mesh/sink-near)
CLIENT=$(pod_ip mesh/client)
VIP=$(svc_ip mesh/sink)
log "client $CLIENT sink-far $FAR sink-near $NEAR vip $VIP"
ready() { node_exec "$1" curl -sf -o /dev/null http://127.0.0.1:15021/healthz/ready; }
wait_for 60 ready node-1
wait_for 60 ready node-2

step "cross-node: 100 MiB through HBONE, sha256 verified"
probe_sink mesh/client "$FAR:9000" $((100 * 1024 * 1024))
step "same-node: 100 MiB through HBONE, sha256 verified"
probe_sink mesh/client "$NEAR:9000" $((100 * 1024 * 1024))

step "dual-stack client: an AF_INET6 socket dialling ::ffff:<pod-ip> goes through HBONE"
# gRPC and Java clients open AF_INET6 sockets and dial IPv4 destinations as ::ffff:a.b.c.d.
# connect6 must capture that as the IPv4 destination it is (ztunnel listens on 127.0.0.1:15001
# only; it used to be sent to [::1]:15001 and refused). Evidence it went through the tunnel:
# node-2's mutual_tls connection counter for this client rises, and the sink's sha256 answer
# (sent after the client's half-close) matches what the AF_INET6 socket wrote.
mtls_opened() {
  node_exec node-2 curl -sf http://127.0.0.1:15020/metrics | awk '
    /^istio_tcp_connections_opened_total\{/ && /reporter="destination"/ &&
    /connection_security_policy="mutual_tls"/ && /source_workload="client"/ { n += $NF }
    END { print n + 0 }'
}
before=$(mtls_opened)
answer=$(pod_exec mesh/client /usr/bin/python3 - "$FAR" 9000 <<'PY'
import hashlib, socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.settimeout(30)
s.connect(("::ffff:" + sys.argv[1], int(sys.argv[2])))
data = bytes(range(256)) * 4096  # 1 MiB
s.sendall(data)
s.shutdown(socket.SHUT_WR)
reply = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    reply += b
print("want sha256 %s %d" % (hashlib.sha256(data).hexdigest(), len(data)))
print("got " + reply.decode().strip())
PY
) || fail "the AF_INET6 client could not talk to ::ffff:$FAR:9000: $answer"
log "$answer"
want=$(echo "$answer" | sed -n 's/^want //p')
got=$(echo "$answer" | sed -n 's/^got //p')
[ -n "$want" ] || fail "the AF_INET6 client printed nothing: $answer"
assert_eq "$got" "$want" "sink's answer to the AF_INET6 client"
mtls_rose() { [ "$(mtls_opened)" -gt "$before" ]; }
wait_for 10 mtls_rose
log "mutual_tls connections opened from client on node-2: $before -> $(mtls_opened)"

step "the server side saw the client's identity (inbound access log on node-2)"
id_client="spiffe://cluster.local/ns/mesh/sa/client-sa"
wait_for 10 grep -q "src.identity=\"$id_client\".*direction=\"inbound\"" \
  "$LAB_DIR/nodes/node-2/logs/ztunnel.log"
# The first inbound connection from the client on node-2 is the cross-node 100 MiB one (the
# dual-stack step's 1 MiB came after it).
line=$(grep "direction=\"inbound\"" "$LAB_DIR/nodes/node-2/logs/ztunnel.log" | grep "$id_client" | head -1)
assert_contains "$line" "dst.identity=\"spiffe://cluster.local/ns/mesh/sa/sink-sa\"" "inbound log"
assert_contains "$line" "bytes_sent=104857600" "inbound log bytes"

step "Service VIP: 100 MiB intact, and connections spread over both endpoints"
probe_sink mesh/client "$VIP:90" $((100 * 1024 * 1024))
for i in $(seq 1 12); do probe_sink mesh/client "$VIP:90" 4096 >/dev/null; done
far_n=$("$LAB" logs mesh/sink-far | grep -c "sink 4096 bytes" || true)
near_n=$("$LAB" logs mesh/sink-near | grep -c "sink 4096 bytes" || true)
log "VIP connections: sink-far $far_n, sink-near $near_n"
[ "$far_n" -ge 1 ] && [ "$near_n" -ge 1 ] || fail "VIP traffic did not reach both endpoints ($far_n/$near_n)"
assert_eq "$((far_n + near_n))" 12 "VIP connections delivered"

step "the apps see the client pod's address, not their own (source routing in the pod netns)"
# Inbound ztunnel connects to the app from the client's address (IP_TRANSPARENT, mark 0x53a,
# routed back to ztunnel inside the pod netns): cross-node and same-node alike.
sink_peers() { "$LAB" logs "$1" | sed -n 's/^conn \([0-9.]*\):[0-9]*: sink 4096 bytes.*/\1/p' | sort -u; }
assert_eq "$(sink_peers mesh/sink-far)" "$CLIENT" "the address sink-far (node-2) saw"
assert_eq "$(sink_peers mesh/sink-near)" "$CLIENT" "the address sink-near (node-1) saw"
rules=$(pod_exec mesh/sink-far ip rule)
assert_contains "$rules" "fwmark 0x53a lookup 1337" "sink-far's netns rules"
preserved=$(node_exec node-2 curl -sf http://127.0.0.1:15000/config_dump |
  jq -r '.pods[] | select(.name == "sink-far") | .source_address_preserved.ipv4')
assert_eq "$preserved" "true" "node-2 ztunnel's /config_dump: sink-far's source_address_preserved.ipv4"

step "live connection shows both identities in node-2's /connections during a transfer"
pod_exec mesh/client warren-probe send --to "$FAR:9000" --bytes $((400 * 1024 * 1024)) --sink \
  --timeout 120 >"$LAB_DIR/long.out" 2>&1 &
LONG=$!
on_exit "kill $LONG 2>/dev/null; wait $LONG 2>/dev/null"
live() {
  node_exec node-2 curl -sf http://127.0.0.1:15000/connections | /usr/bin/python3 -c '
import json, sys
items = json.load(sys.stdin)["items"]
ok = [c for c in items if c["direction"] == "inbound"
      and c["source"]["identity"] == "spiffe://cluster.local/ns/mesh/sa/client-sa"
      and c["destination"]["identity"] == "spiffe://cluster.local/ns/mesh/sa/sink-sa"]
sys.exit(0 if ok else 1)'
}
wait_for 30 live
wait "$LONG" || fail "the long transfer failed: $(cat "$LAB_DIR/long.out")"

step "capture on node-2: only TLS on 15008, no plaintext marker, nothing to the app port"
CAP="$LAB_DIR/node2.pcap"
# -B: a 16 MiB capture buffer (offloaded segments are up to 64 KiB each; the default 2 MiB
# dropped some on a busy machine).
node_exec node-2 timeout 60 tcpdump -i any -U -B 16384 -s 0 -w "$CAP" "host $CLIENT" >"$LAB_DIR/tcpdump.log" 2>&1 &
TCPDUMP=$!
on_exit "kill $TCPDUMP 2>/dev/null; wait $TCPDUMP 2>/dev/null"
wait_for 10 grep -q "listening on" "$LAB_DIR/tcpdump.log"
pod_exec mesh/client bash -c "exec 3<>/dev/tcp/$FAR/9000; yes WARRENPLAINTEXTMARKER | head -c 2000000 >&3; exec 3>&-" \
  || fail "marker transfer failed"
# TCP payload bytes on 15008 ("length N" closes each line): the 2 MB, in TLS records. Counted in
# bytes, not packets: with segmentation offload the veth carries it in anything from ~30 to
# hundreds of packets. The client's write returns before the tunnel has carried it all: read the
# (packet-buffered) capture until it holds the 2 MB or 10 s passed.
hbone_bytes_now() {
  tcpdump -nr "$CAP" 'tcp port 15008' 2>/dev/null |
    awk '$(NF-1) == "length" { s += $NF } END { printf "%.0f\n", s }'
}
for _ in $(seq 50); do
  [ "$(hbone_bytes_now)" -ge 2000000 ] && break
  sleep 0.2
done
sleep 0.5  # anything after the 2 MB (a plaintext leak would come with it)
kill "$TCPDUMP" 2>/dev/null; wait "$TCPDUMP" 2>/dev/null || true
hbone=$(tcpdump -nr "$CAP" 'tcp port 15008' 2>/dev/null | wc -l)
hbone_bytes=$(hbone_bytes_now)
app=$(tcpdump -nr "$CAP" 'tcp port 9000' 2>/dev/null | wc -l)
marker=$(grep -c WARRENPLAINTEXTMARKER "$CAP" || true)
log "captured: $hbone packets ($hbone_bytes payload bytes) on 15008, $app on 9000, marker hits $marker"
[ "$hbone_bytes" -ge 2000000 ] || fail "expected the 2 MB transfer on 15008, saw $hbone_bytes bytes in $hbone packets"
assert_eq "$app" 0 "packets to the app port on the underlay"
assert_eq "$marker" 0 "plaintext marker in the capture"
if command -v tshark >/dev/null; then
  # tshark must have read the capture and dissected TLS in it: one that could not read the
  # file would count 0 non-TLS segments too.
  tls=$(tshark -r "$CAP" -d tcp.port==15008,tls -Y 'tcp.port==15008 && tls' 2>/dev/null | wc -l)
  [ "$tls" -gt 0 ] || fail "tshark found no TLS on 15008 in the capture"
  nontls=$(tshark -r "$CAP" -d tcp.port==15008,tls -Y 'tcp.port==15008 && tcp.len>0 && !tls' 2>/dev/null | wc -l)
  assert_eq "$nontls" 0 "non-TLS payload segments on 15008 ($tls TLS ones)"
fi

# The plaintext relays (15006 inbound, passthrough) splice: node-1's
# warren_ztunnel_plain_relays_total{engine="splice"} counts each one that did. With the sk_msg
# fast path on they copy instead (splice does not read what sk_msg redirects into a socket).
ENGINE=splice
fast_path_on && ENGINE=copy
relays() {
  node_exec node-1 curl -sf http://127.0.0.1:15020/metrics |
    awk -v k="warren_ztunnel_plain_relays_total{engine=\"$ENGINE\"}" '$1 == k { print $NF }'
}
step "non-mesh client -> enrolled pod: inbound through 15006, intact, relayed by $ENGINE"
s0=$(relays)
probe_sink other/outside "$NEAR:9000" $((1024 * 1024))
wait_for 10 grep -q "src.addr=$(pod_ip other/outside):.*direction=\"inbound\"" \
  "$LAB_DIR/nodes/node-1/logs/ztunnel.log"
s1=$(relays)
[ "${s1:-0}" -gt "${s0:-0}" ] || fail "the 15006 relay did not $ENGINE ($ENGINE relays $s0 -> $s1)"
outside_peer=$("$LAB" logs mesh/sink-near | sed -n 's/^conn \([0-9.]*\):[0-9]*: sink 1048576 bytes.*/\1/p' | sort -u)
assert_eq "$outside_peer" "$(pod_ip other/outside)" "the address sink-near saw through 15006"

step "enrolled pod -> pod outside the mesh: passthrough, intact, relayed by $ENGINE"
pod_exec other/outside warren-probe serve --port 9100 --sink >"$LAB_DIR/outside-sink.log" 2>&1 &
OUTSIDE_SINK=$!
on_exit "kill $OUTSIDE_SINK 2>/dev/null; wait $OUTSIDE_SINK 2>/dev/null"
wait_for 10 grep -q "listening" "$LAB_DIR/outside-sink.log"
probe_sink mesh/client "$(pod_ip other/outside):9100" $((4 * 1024 * 1024))
s2=$(relays)
[ "${s2:-0}" -gt "$s1" ] || fail "the passthrough relay did not $ENGINE ($ENGINE relays $s1 -> $s2)"
log "node-1 $ENGINE relays: $s0 -> $s1 (15006) -> $s2 (passthrough)"

step "istio_tcp metrics: promtool accepts them, labels name both workloads"
node_exec node-2 curl -sf http://127.0.0.1:15020/metrics >"$LAB_DIR/metrics.txt"
if command -v promtool >/dev/null; then
  promtool check metrics <"$LAB_DIR/metrics.txt" >"$LAB_DIR/promtool.out" 2>&1 ||
    fail "promtool: $(cat "$LAB_DIR/promtool.out")"
fi
m=$(grep '^istio_tcp_connections_opened_total{' "$LAB_DIR/metrics.txt" | grep 'reporter="destination"' | head -1)
assert_contains "$m" 'source_workload="client"' "opened metric labels"
assert_contains "$m" 'destination_principal="spiffe://cluster.local/ns/mesh/sa/sink-sa"' "opened metric labels"
assert_contains "$m" 'destination_workload_namespace="mesh"' "opened metric labels"
assert_contains "$m" 'connection_security_policy="mutual_tls"' "opened metric labels"
assert_contains "$(grep '^istio_tcp_received_bytes_total{' "$LAB_DIR/metrics.txt")" \
  'source_principal="spiffe://cluster.local/ns/mesh/sa/client-sa"' "received bytes metric"
step "every worker accepts: node-1's 15001 connections spread over its ztunnel's workers"
# One SO_REUSEPORT socket per worker per pod port: the kernel hashes each connection to one of
# them (issue 12 "use every core"; they used to share one dup()ed socket and land on one
# worker). Over the ~17 connections this test made from the client pod, all on one of two
# workers has odds of 1 in 2^16.
node_exec node-1 curl -sf http://127.0.0.1:15020/metrics >"$LAB_DIR/metrics-1.txt"
per_worker=$(awk '/^warren_ztunnel_accepted_connections_total\{/ && /listener="15001"/ {print $2}' \
  "$LAB_DIR/metrics-1.txt" | tr '\n' ' ')
log "node-1 15001 accepted per worker: $per_worker"
workers=$(echo $per_worker | wc -w)
busy=$(echo $per_worker | tr ' ' '\n' | awk '$1 > 0' | wc -l)
[ "$workers" -ge 1 ] || fail "no warren_ztunnel_accepted_connections_total series for 15001"
if [ "$workers" -ge 2 ]; then
  [ "$busy" -ge 2 ] || fail "every 15001 connection landed on one worker ($per_worker)"
else
  log "one data-path worker on this machine: spreading not observable"
fi

step "quiet sends: replies on the data path did not each cost their loop a wake-up"
# A send that fits its socket buffer and that nothing waits for completes inside the
# io_uring_enter that submits it, and the loop sleeps on through its completion (issue 12;
# common/uring/README.md, "Quiet sends"). This test's traffic crossed both ztunnels.
for node in node-1 node-2; do
  quiet=$(metric_sum "$node" warren_ztunnel_loop_quiet_sends_total) ||
    fail "$node: no metrics for the quiet-send count"
  late=$(metric_sum "$node" warren_ztunnel_loop_quiet_sends_late_total) || late="?"
  # Exported beside them (read from the scraping thread, as the quiet sends): how often a
  # worker's provided-buffer ring ran dry. Its value depends on the batches; it must be there.
  ranout=$(metric_sum "$node" warren_ztunnel_loop_recv_buffers_ran_out_total) ||
    fail "$node: no warren_ztunnel_loop_recv_buffers_ran_out_total"
  log "$node: $quiet quiet sends, $late late; receive buffers ran out $ranout times"
  [ "$quiet" -gt 0 ] || fail "$node: warren_ztunnel_loop_quiet_sends_total is $quiet after the traffic"
done

# Every named CPU flag is in /proc/cpuinfo.
cpu_has() {
  local flags f
  flags=$(grep -m1 '^flags' /proc/cpuinfo) || return 1
  for f in "$@"; do grep -qw "$f" <<<"$flags" || return 1; done
}

step "kernel TLS: offered after the handshake where the kernel has the TLS ULP, known otherwise"
# --kernel-tls auto (the default): the ztunnel asks the kernel for the TLS ULP once at start-up
# (common/tls/kernel_tls.h); where it has one each HBONE connection offers its records once
# nothing is in flight. This lab's kernel has none: the ztunnel knew it before its first
# connection, so no connection had to try, and the engines' own record layers carried the
# records (the traffic above proves they flowed).
for node in node-1 node-2; do
  out=$(metrics_of "$node") || fail "$node: no metrics"
  enabled=$(metric_sum_in "$out" warren_ztunnel_kernel_tls_enabled)
  installed=$(metric_sum_in "$out" warren_ztunnel_kernel_tls_total 'result="installed"')
  unavailable=$(metric_sum_in "$out" warren_ztunnel_kernel_tls_total 'result="unavailable"')
  failed=$(metric_sum_in "$out" warren_ztunnel_kernel_tls_total 'result="failed"')
  log "$node: kernel TLS enabled $enabled; installed $installed, unavailable $unavailable, failed $failed"
  grep -q '^warren_ztunnel_kernel_tls_total{' <<<"$out" || fail "$node: warren_ztunnel_kernel_tls_total missing"
  grep -q '^warren_ztunnel_kernel_tls_enabled ' <<<"$out" || fail "$node: warren_ztunnel_kernel_tls_enabled missing"
  [ "$failed" -eq 0 ] || fail "$node: $failed connections half-installed kernel TLS"
  # Whose AES-128-GCM carried the records above: Warren's own wherever the CPU has the vector
  # instructions it needs (unit-tested against OpenSSL's in aes128_gcm_test), else OpenSSL's.
  want_aead=openssl
  if [ "${WARREN_TLS_AEAD:-}" != openssl ] && cpu_has aes pclmulqdq avx2 avx512f avx512bw avx512vl vaes vpclmulqdq; then
    want_aead=vaes-avx512
  fi
  grep -q "^warren_ztunnel_tls_record_aead_info{code=\"$want_aead\"} 1" <<<"$out" ||
    fail "$node: want warren_ztunnel_tls_record_aead_info{code=\"$want_aead\"} 1, got: $(grep aead <<<"$out")"
  log "$node: TLS records on $want_aead"
  if grep -qw tls /proc/sys/net/ipv4/tcp_available_ulp; then
    [ "$enabled" -eq 1 ] || fail "$node: the kernel has the TLS ULP and kernel TLS is not enabled (the start-up check, or a refused offer: unavailable $unavailable)"
    [ "$installed" -ge 1 ] || fail "$node: the kernel has the TLS ULP and no connection used it"
  else
    [ "$enabled" -eq 0 ] || fail "$node: no TLS ULP in the kernel, yet kernel TLS is on"
    [ "$unavailable" -eq 0 ] || fail "$node: $unavailable connections offered to a kernel known to have no TLS ULP"
    [ "$installed" -eq 0 ] || fail "$node: $installed installed on a kernel without the TLS ULP?"
  fi
done
log "data path ok"
