#!/usr/bin/env bash
# timeout: 300
# Malformed and abusive HTTP/2 against the real ztunnel's HBONE port (issue #5): a raw client
# (tests/tools/h2_abuse.py, hyperframe) with a mesh certificate from the lab CA sends a bad
# CONNECT, a missing or foreign :authority, an illegal port, rapid resets, CONTINUATION, PING and
# SETTINGS floods, a window overflow and data before the 200. Every scenario must get the right
# status or a closed connection; afterwards the same ztunnel is still running, its memory is
# bounded, and mesh traffic still flows.
. "$(dirname "$0")/lib.sh"
[ -x "$WARREN_BIN_DIR/warren-ztunnel" ] || fail "warren-ztunnel is not built"
/usr/bin/python3 -c 'import hyperframe, hpack' 2>/dev/null || fail "python3-hyperframe/hpack missing (make deps)"
ABUSE="$WARREN_SOURCE_DIR/tests/tools/h2_abuse.py"

lab_up 2
for n in 1 2; do wait_for 60 test -S "$LAB_DIR/nodes/node-$n/run/cni.sock"; done
lab_apply - <<'YAML'
apiVersion: v1
kind: Namespace
metadata: {name: mesh, labels: {warren.dev/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Pod
metadata: {name: srv, namespace: mesh}
spec: {nodeName: node-2, serviceAccountName: srv, containers: [{name: m, command: [warren-probe, serve, --port, "8080"]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: mesh}
spec: {nodeName: node-1, containers: [{name: m, command: [sleep, infinity]}]}
YAML
wait_pod_log mesh/srv "listening"
SRV=$(pod_ip mesh/srv)
wait_for 60 node_exec node-2 curl -sf -o /dev/null http://127.0.0.1:15021/healthz/ready
probe_echo mesh/client "$SRV:8080" 4096

step "a mesh client certificate from the lab CA (spiffe://cluster.local/ns/mesh/sa/abuser)"
C="$LAB_DIR/abuser"
mkdir -p "$C"
openssl ecparam -name prime256v1 -genkey -noout -out "$C/key.pem" 2>/dev/null
openssl req -new -key "$C/key.pem" -subj "/" -out "$C/req.pem" 2>/dev/null ||
  openssl req -new -key "$C/key.pem" -subj "/O=abuser" -out "$C/req.pem"
cat >"$C/ext.cnf" <<'EXT'
subjectAltName = critical, URI:spiffe://cluster.local/ns/mesh/sa/abuser
extendedKeyUsage = serverAuth, clientAuth
keyUsage = critical, digitalSignature
basicConstraints = critical, CA:FALSE
EXT
openssl x509 -req -in "$C/req.pem" -CA "$LAB_DIR/ca/ca.crt" -CAkey "$LAB_DIR/ca/ca.key" \
  -CAcreateserial -days 1 -extfile "$C/ext.cnf" -out "$C/cert.pem" 2>/dev/null || fail "cannot sign"

zpid() { "$LAB" ps | awk '$1 == "node-2" && $2 == "ztunnel" {print $4}'; }
PID=$(zpid)
step "abuse node-2's ztunnel on $SRV:15008 (pid $PID), from node-1's netns"
out=$(node_exec node-1 /usr/bin/python3 "$ABUSE" --host "$SRV" --port 15008 --cert "$C/cert.pem" \
  --key "$C/key.pem" --ca "$LAB_DIR/ca/ca.crt" --local-ip "$SRV" --target-port 8080 \
  --server-id spiffe://cluster.local/ns/mesh/sa/srv --expect-echo --timeout 5 2>&1) || {
  echo "$out" >&2
  fail "an abuse scenario was not answered as expected"
}
echo "$out" | sed 's/^/  /'
# Every scenario the tool knows ran and was answered as expected (an empty or cut-short output
# must not pass as "all of none ok").
all=$(/usr/bin/python3 "$ABUSE" --list | wc -l)
[ "$all" -ge 10 ] || fail "h2_abuse.py knows only $all scenarios"
assert_eq "$(echo "$out" | grep -c '"scenario"')" "$all" "scenarios run"
assert_eq "$(echo "$out" | grep -c '"ok": true')" "$all" "scenarios ok"

step "the same ztunnel still runs, with bounded memory, and still carries traffic"
assert_eq "$(zpid)" "$PID" "ztunnel pid"
rss=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status")
log "ztunnel RSS after the abuse: ${rss} KiB"
[ "$rss" -lt 262144 ] || fail "ztunnel RSS ${rss} KiB after the abuse"
probe_echo mesh/client "$SRV:8080" 65536
