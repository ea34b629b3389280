#!/usr/bin/env bash
# timeout: 480
# HTTP/1.1 through a waypoint, over the real path: a Gateway applied in the lab (the leading
# agent's controller makes the Deployment, the lab's kubelet runs warren-waypoint from it), the
# namespace labelled to use it, a client pod with capture, two warren-echo backends. Every
# request goes client -> capture -> ztunnel -> HBONE -> warren-waypoint (routing by the
# HTTPRoute) -> HBONE with the waypoint's identity -> the backend's ztunnel -> warren-echo.
# Asserted: the header match picks v2, the weighted split reaches both, URLRewrite's path is
# what the backend saw, the redirect's Location, the 404 body, x-forwarded-*/x-request-id, a
# Service port without routes forwarded to the Service itself, keep-alive on one client
# connection, that the traffic really crossed the waypoint (its /stats and /requests, the
# ztunnels' mTLS connection counters client->waypoint and waypoint->echo), and the waypoint's
# telemetry: istio_requests_total{reporter="waypoint"} on its 15020 per status and endpoint
# workload, and its `request complete` access log lines. Then resilience on a second Service:
# a backend failing twice is retried (attempts=3 in the access log), timeouts.request gives 504
# with UT (access log and metrics), a RequestMirror copy reaches echo-mirror while the client
# gets echo-v1's answer; `warrenctl waypoint routes` shows the compiled rules and
# `warrenctl waypoint status` the Services using the waypoint. The same resilience cases run
# again over h2c (prior knowledge on the same port): status, access-log flags, metrics, counters.
# Then a second waypoint
# `--for workload` and a pod using it: traffic to the pod's IP crosses that waypoint at L4.
# Last, tracing: a third waypoint whose Gateway annotations name an OTLP/HTTP receiver running
# in a pod (otlp_receiver.py); a request with a sampled traceparent yields one exported SERVER
# span (decoded with protoc and the tree's OTLP .proto files) in that trace, its parent the
# client's span, its id the parent the echo received, with the route's name and attributes.
. "$(dirname "$0")/lib.sh"

CTL="$WARREN_BIN_DIR/warrenctl"
for b in warren-agent warren-ztunnel warren-waypoint warren-echo warrenctl; do
  [ -x "$WARREN_BIN_DIR/$b" ] || fail "$b is not built"
done
for t in curl jq python3 protoc openssl; do command -v $t >/dev/null || fail "$t is not installed"; done
HERE="$WARREN_SOURCE_DIR/tests/e2e"
ctl() { "$CTL" --lab-dir "$LAB_DIR" "$@"; }

WARREN_E2E_AGENT_FLAGS="${WARREN_E2E_AGENT_FLAGS:-} --controller" lab_up 2
wait_for 20 test -S "$LAB_DIR/nodes/node-1/run/admin.sock"
wait_for 20 test -S "$LAB_DIR/nodes/node-2/run/admin.sock"

step "two echo backends, their Services, the routed Service, a client with capture"
# echo_deployment NAME NODE LABELS: a one-replica warren-echo Deployment (:3000, service account
# echo) in shop on NODE whose pods carry LABELS (the inside of a YAML flow map).
echo_deployment() {
  cat <<YAML
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: $1, namespace: shop}
spec:
  replicas: 1
  selector: {matchLabels: {$3}}
  template:
    metadata: {labels: {$3}}
    spec:
      serviceAccountName: echo
      nodeName: $2
      containers:
      - name: echo
        command: [warren-echo, --port, "3000"]
        env:
        - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
        - {name: NAMESPACE, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
YAML
}
{
  cat <<'YAML'
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {warren.dev/dataplane-mode: ambient}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: echo, namespace: shop}
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: shop}
spec:
  selector: {app: echo}
  ports:
  - {name: http, port: 80, targetPort: 3000}
  - {name: http-plain, port: 81, targetPort: 3000}
  - {name: tcp-raw, port: 82, targetPort: 3000}
---
apiVersion: v1
kind: Service
metadata: {name: echo-v1, namespace: shop}
spec:
  selector: {app: echo, version: v1}
  ports: [{name: http, port: 8080, targetPort: 3000}]
---
apiVersion: v1
kind: Service
metadata: {name: echo-v2, namespace: shop}
spec:
  selector: {app: echo, version: v2}
  ports: [{name: http, port: 8080, targetPort: 3000}]
---
apiVersion: v1
kind: Service
metadata: {name: echo-mirror, namespace: shop}
spec:
  selector: {app: echo-mirror}
  ports: [{name: http, port: 8080, targetPort: 3000}]
---
apiVersion: v1
kind: Service
metadata: {name: resil, namespace: shop}
spec:
  selector: {app: echo, version: v1}
  ports: [{name: http, port: 80, targetPort: 3000}]
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: shop, labels: {app: client}}
spec:
  nodeName: node-1
  containers:
  - name: main
    command: [sleep, infinity]
YAML
  echo_deployment echo-v1 node-2 "app: echo, version: v1"
  echo_deployment echo-v2 node-1 "app: echo, version: v2"
  echo_deployment echo-mirror node-2 "app: echo-mirror"
} | lab_apply -

step "a waypoint for the namespace: Gateway -> Deployment -> warren-waypoint running"
out=$(ctl waypoint apply -n shop --enroll-namespace) || fail "waypoint apply: $out"
assert_contains "$out" "namespace shop labelled warren.dev/use-waypoint=waypoint" "enroll"
wait_for 60 lab get deployments shop/waypoint -o json
wait_waypoint shop
wp_ip=$(pod_ip "shop/$wp_pod")
log "waypoint pod shop/$wp_pod at $wp_ip"
wp_admin() { pod_exec "shop/$wp_pod" curl -sf "http://127.0.0.1:15000$1"; }
id=$(wp_admin /config_dump | jq -r .waypoint.identity)
assert_eq "$id" "spiffe://cluster.local/ns/shop/sa/waypoint" "the waypoint's own identity"

step "the HTTPRoute: header match, weighted split, redirect, URLRewrite; no catch-all"
lab_apply - <<'YAML'
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: echo-routes, namespace: shop}
spec:
  parentRefs: [{group: "", kind: Service, name: echo, port: 80}]
  rules:
  - name: pinned-v2
    matches: [{path: {type: PathPrefix, value: /}, headers: [{name: x-version, value: v2}]}]
    backendRefs: [{name: echo-v2, port: 8080}]
  - name: split
    matches: [{path: {type: PathPrefix, value: /split}}]
    backendRefs: [{name: echo-v1, port: 8080, weight: 50}, {name: echo-v2, port: 8080, weight: 50}]
  - name: moved
    matches: [{path: {type: PathPrefix, value: /old}}]
    filters:
    - type: RequestRedirect
      requestRedirect: {path: {type: ReplaceFullPath, replaceFullPath: /new}, statusCode: 301}
  - name: rewrite
    matches: [{path: {type: PathPrefix, value: /api}}]
    filters:
    - type: URLRewrite
      urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /internal}}
    - type: RequestHeaderModifier
      requestHeaderModifier: {set: [{name: x-routed-by, value: waypoint}]}
    backendRefs: [{name: echo-v1, port: 8080}]
YAML
route_served() { wp_admin /routes | jq -e '.accepted_rules == 4' >/dev/null; }
wait_for 30 route_served
vip=$(svc_ip shop/echo)
[ -n "$vip" ] || fail "no ClusterIP for shop/echo"
# get PATH [curl args...]: the response (headers and body) from the client pod, through capture.
get() {
  local path=$1
  shift
  pod_exec shop/client curl -sS -i --max-time 10 -H "Host: echo.shop" "$@" "http://$vip:80$path"
}
body() { sed -n '/^\r$/,$p' | tail -n +2; }
status() { head -1 | awk '{print $2}'; }

step "header match: x-version: v2 goes to echo-v2"
r=$(get /anything -H "x-version: v2")
assert_eq "$(status <<<"$r")" 200 "status"
assert_contains "$(body <<<"$r" | jq -r .pod)" "echo-v2" "the backend that answered"

step "URLRewrite: /api/items?q=1 reaches echo-v1 as /internal/items?q=1, with the header set"
r=$(get "/api/items?q=1")
assert_eq "$(status <<<"$r")" 200 "status"
b=$(body <<<"$r")
assert_eq "$(jq -r .path <<<"$b")" "/internal/items?q=1" "the path the backend saw"
assert_contains "$(jq -r .pod <<<"$b")" "echo-v1" "the backend that answered"
assert_eq "$(jq -r '.headers["X-Routed-By"][0]' <<<"$b")" "waypoint" "RequestHeaderModifier"
assert_eq "$(jq -r '.headers["X-Forwarded-Proto"][0]' <<<"$b")" "http" "x-forwarded-proto"
client_ip=$(pod_ip shop/client)
assert_contains "$(jq -r '.headers["X-Forwarded-For"][0]' <<<"$b")" "$client_ip" "x-forwarded-for"
rid=$(jq -r '.headers["X-Request-Id"][0]' <<<"$b")
[[ "$rid" =~ ^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]] ||
  fail "x-request-id '$rid' is not a generated UUID"
b=$(get /api/x -H "x-request-id: client-chose-this" | body)
assert_eq "$(jq -r '.headers["X-Request-Id"][0]' <<<"$b")" "client-chose-this" "x-request-id kept"

step "RequestRedirect: /old/page answers 301 with Location http://echo.shop/new"
r=$(get /old/page)
assert_eq "$(status <<<"$r")" 301 "status"
loc=$(grep -i '^location:' <<<"$r" | tr -d '\r' | awk '{print $2}')
assert_eq "$loc" "http://echo.shop/new" "Location"

step "no rule matches: 404 naming it"
r=$(get /nothing/here)
assert_eq "$(status <<<"$r")" 404 "status"
assert_contains "$(body <<<"$r")" "no_route_matched" "404 body"

step "weighted split 50/50: 40 requests on one kept-alive connection reach both versions"
urls=()
for i in $(seq 1 40); do urls+=("http://$vip:80/split/$i"); done
out=$(pod_exec shop/client curl -sS --max-time 30 -H "Host: echo.shop" "${urls[@]}")
v1=$(jq -r .pod <<<"$out" | grep -c echo-v1 || true)
v2=$(jq -r .pod <<<"$out" | grep -c echo-v2 || true)
log "split: v1=$v1 v2=$v2"
assert_eq "$((v1 + v2))" 40 "answers"
[ "$v1" -ge 5 ] && [ "$v2" -ge 5 ] || fail "split v1=$v1 v2=$v2: both backends should get a share"
assert_eq "$(jq -r .path <<<"$out" | sort -u | wc -l)" 40 "every request answered once"

step "a port without routes (81, http-plain) goes to the Service itself"
r=$(pod_exec shop/client curl -sS -i --max-time 10 "http://$vip:81/plain")
assert_eq "$(status <<<"$r")" 200 "status"
assert_eq "$(body <<<"$r" | jq -r .path)" "/plain" "path"

step "a TCP port (82, tcp-raw) is relayed at L4 through the waypoint to an endpoint"
r=$(pod_exec shop/client curl -sS -i --max-time 10 -H "Host: raw" "http://$vip:82/raw/bytes")
assert_eq "$(status <<<"$r")" 200 "status"
assert_eq "$(body <<<"$r" | jq -r .path)" "/raw/bytes" "the bytes reached the echo unchanged"
assert_eq "$(body <<<"$r" | jq -r '.headers["X-Request-Id"]')" "null" "no HTTP processing at L4"

step "HTTP/1.0 and HEAD through the waypoint"
r=$(pod_exec shop/client curl -sS -i --http1.0 --max-time 10 -H "Host: echo.shop" "http://$vip:80/api/old-client")
assert_eq "$(status <<<"$r")" 200 "HTTP/1.0 status"
assert_eq "$(body <<<"$r" | jq -r .path)" "/internal/old-client" "HTTP/1.0 body"
r=$(pod_exec shop/client curl -sS -I --max-time 10 -H "Host: echo.shop" "http://$vip:80/api/head")
assert_eq "$(status <<<"$r")" 200 "HEAD status"
assert_contains "$(tr -d '\r' <<<"$r" | tr 'A-Z' 'a-z')" "content-length:" "HEAD keeps the length"

step "bad HTTP from the client gets a clear status from the waypoint"
r=$(pod_exec shop/client bash -c "exec 3<>/dev/tcp/$vip/80; printf 'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n' >&3; timeout 5 cat <&3" || true)
assert_contains "$r" "HTTP/1.1 400" "duplicate Content-Length"
assert_contains "$r" "duplicate_content_length" "the rule named"

step "the traffic crossed the waypoint: its counters, its request log, both ztunnels"
st=$(wp_admin /stats) || fail "the waypoint's /stats: $st"
log "waypoint totals: $(jq -c .total <<<"$st")"
reqs=$(jq .total.requests <<<"$st")
[ "$reqs" -ge 49 ] || fail "the waypoint counted $reqs requests, expected at least 49"
[ "$(jq '[.workers[].connects_by_protocol.TCP // 0] | add' <<<"$st")" -ge 1 ] || fail "no TCP CONNECT: $st"
[ "$(jq .total.tcp_relays_done <<<"$st")" -ge 1 ] || fail "no L4 relay finished: $st"
[ "$(jq .total.hbone_connections_accepted <<<"$st")" -ge 1 ] || fail "no HBONE accepted: $st"
[ "$(jq .total.tunnels_opened <<<"$st")" -ge 2 ] || fail "no upstream tunnels: $st"
[ "$(jq .total.keepalive_reuses <<<"$st")" -ge 1 ] || fail "upstream keep-alive never reused: $st"
assert_eq "$(jq -r '.total.responses["301"]' <<<"$st")" 1 "one 301 counted"
cl=$(wp_admin /clusters) || fail "the waypoint's /clusters: $cl"
v1_ip=$(pod_ip "shop/$(lab get pods -n shop -o json | jq -r '.[] | select(.labels.version == "v1") | .name' | head -1)")
assert_eq "$(jq -r '.clusters[] | select(.service == "shop/echo-v1.shop.svc.cluster.local") | .endpoints[0].addresses[0]' <<<"$cl")" \
  "$v1_ip" "/clusters: echo-v1's endpoint"
td_sa=spiffe://cluster.local/ns/shop/sa
reqlog=$(wp_admin /requests) || fail "the waypoint's /requests: $reqlog"
rw=$(jq -c '[.items[] | select(.path == "/api/items?q=1")][0]' <<<"$reqlog")
assert_eq "$(jq -r .route <<<"$rw")" "HTTPRoute shop/echo-routes rule 3 (rewrite)" "route name"
assert_eq "$(jq -r '.["src.identity"]' <<<"$rw")" "spiffe://cluster.local/ns/shop/sa/default" "client identity"
assert_eq "$(jq -r '.["dst.addr"]' <<<"$rw")" "$v1_ip:3000" "upstream endpoint"
assert_eq "$(jq -r '.["dst.service"]' <<<"$rw")" "echo.shop.svc.cluster.local" "Service addressed"
assert_eq "$(jq -r .request_id <<<"$rw")" "$rid" "the x-request-id echo saw"

step "telemetry: istio_requests_total on the waypoint's 15020 (reporter waypoint), access log"
# wp_requests LABEL=VALUE...: the sum of the waypoint's istio_requests_total series with those.
wp_requests() {
  local out
  out=$(pod_exec "shop/$wp_pod" curl -sf http://127.0.0.1:15020/metrics | grep '^istio_requests_total{' || true)
  for v in "$@"; do out=$(grep -F "$v" <<<"$out" || true); done
  awk '{s += $NF} END {print s + 0}' <<<"$out"
}
src_labels=('reporter="waypoint"' 'source_workload_namespace="shop"'
  "source_principal=\"$td_sa/default\"" 'destination_service="echo.shop.svc.cluster.local"'
  'connection_security_policy="mutual_tls"')
ok_v1=$(wp_requests "${src_labels[@]}" 'destination_workload="echo"' 'destination_version="v1"' 'response_code="200"' 'response_flags="-"')
ok_v2=$(wp_requests "${src_labels[@]}" 'destination_workload="echo"' 'destination_version="v2"' 'response_code="200"' 'response_flags="-"')
nr=$(wp_requests "${src_labels[@]}" 'destination_workload="unknown"' 'response_code="404"' 'response_flags="NR"')
log "istio_requests_total: 200 via echo-v1 $ok_v1, via echo-v2 $ok_v2, 404 NR $nr"
if [ $((ok_v1 + ok_v2)) -eq 0 ]; then
  pod_exec "shop/$wp_pod" curl -s http://127.0.0.1:15020/metrics | grep '^istio_requests_total' | head -5 >&2 || true
fi
# Routed so far: 1 pinned v2 + 2 rewrite + 40 split + 2 HTTP/1.0 and HEAD (v1, port 80), plus
# port 81's one request to either version.
[ $((ok_v1 + ok_v2)) -ge 45 ] || fail "istio_requests_total 200: v1 $ok_v1 + v2 $ok_v2 < 45"
[ "$ok_v2" -ge 1 ] && [ "$ok_v1" -ge 3 ] || fail "istio_requests_total 200 per version: v1 $ok_v1 v2 $ok_v2"
assert_eq "$nr" 1 "istio_requests_total 404 NR for the request no rule matched"
before=$ok_v1
get /api/counted >/dev/null
after=$(wp_requests "${src_labels[@]}" 'destination_workload="echo"' 'destination_version="v1"' 'response_code="200"')
assert_eq "$((after - before))" 1 "one more routed request, one more count"
# The waypoint's loops slept through the sends nothing waited for (issue 12's quiet sends, in
# the waypoint's own counters): about two per request (to the upstream, back to the client);
# not every reply is quiet (one queued behind another is not), so the bound is loose.
wp_metrics=$(pod_exec "shop/$wp_pod" curl -sf http://127.0.0.1:15020/metrics)
quiet=$(awk '$1 == "warren_waypoint_loop_quiet_sends_total" {print $2}' <<<"$wp_metrics")
late=$(awk '$1 == "warren_waypoint_loop_quiet_sends_late_total" {print $2}' <<<"$wp_metrics")
log "waypoint: ${quiet:-?} quiet sends, ${late:-?} late"
[ -n "$quiet" ] && [ "$quiet" -ge 20 ] || fail "warren_waypoint_loop_quiet_sends_total ${quiet:-missing} < 20 after 45 routed requests"
wp_log=$(access_log_until "shop/$wp_pod" 'path="/nothing/here"')
line=$(grep -F 'path="/nothing/here"' <<<"$wp_log" | head -1)
[ -n "$line" ] || fail "no access log line for the 404"
assert_contains "$line" "response_code=404" "access log: the status"
assert_contains "$line" 'flags="NR"' "access log: no route"
assert_contains "$line" "src.identity=\"$td_sa/default\"" "access log: the client identity"
# opened LABEL=VALUE...: mTLS connections both ztunnels counted with those labels
# (istio_tcp_connections_opened_total; the lab names Deployment pods' workloads after the pod).
opened() {
  local n out sum=0 v
  for n in node-1 node-2; do
    # A ztunnel that does not answer fails the test (it must not read as "0 direct connections").
    out=$(node_exec "$n" curl -sf http://127.0.0.1:15020/metrics) || fail "$n's ztunnel did not answer /metrics"
    out=$(grep '^istio_tcp_connections_opened_total' <<<"$out" | grep 'connection_security_policy="mutual_tls"' || true)
    for v in "$@"; do out=$(grep -F "$v" <<<"$out" || true); done
    sum=$(( sum + $(awk '{s += $NF} END {print s + 0}' <<<"$out") ))
  done
  echo "$sum"
}
td=spiffe://cluster.local/ns/shop/sa
to_wp=$(opened 'reporter="source"' "source_principal=\"$td/default\"" "destination_principal=\"$td/waypoint\"")
[ "$to_wp" -ge 1 ] || fail "no ztunnel counted an mTLS connection client -> waypoint"
from_wp=$(opened 'reporter="destination"' "source_principal=\"$td/waypoint\"" 'destination_version="v1"')
[ "$from_wp" -ge 1 ] || fail "no ztunnel counted an mTLS connection waypoint -> echo-v1"
direct=$(opened "source_principal=\"$td/default\"" "destination_principal=\"$td/echo\"")
assert_eq "$direct" 0 "connections client -> echo that skipped the waypoint"
log "ztunnels: client->waypoint $to_wp, waypoint->echo-v1 $from_wp"

step "resilience: retry, timeouts.request and RequestMirror on shop/resil"
lab_apply - <<'YAML'
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: resil-routes, namespace: shop}
spec:
  parentRefs: [{group: "", kind: Service, name: resil, port: 80}]
  rules:
  - name: retried
    matches: [{path: {type: PathPrefix, value: /retry}}]
    backendRefs: [{name: echo-v1, port: 8080}]
    retry: {attempts: 2, codes: [503], backoff: 10ms}
  - name: slow
    matches: [{path: {type: PathPrefix, value: /slow}}]
    backendRefs: [{name: echo-v1, port: 8080}]
    timeouts: {request: 300ms}
  - name: mirrored
    matches: [{path: {type: PathPrefix, value: /mirror}}]
    filters:
    - type: RequestMirror
      requestMirror: {backendRef: {name: echo-mirror, port: 8080}}
    backendRefs: [{name: echo-v1, port: 8080}]
YAML
resil_served() { wp_admin /routes | jq -e '.accepted_rules == 7' >/dev/null; }
wait_for 30 resil_served
rvip=$(svc_ip shop/resil)
rget() { local path=$1; shift; pod_exec shop/client curl -sS -i --max-time 10 "$@" "http://$rvip:80$path"; }
key="e2e-$$-$RANDOM"
r=$(rget "/retry/x?failFirst=2&failKey=$key")
assert_eq "$(status <<<"$r")" 200 "retried request status"
assert_eq "$(body <<<"$r" | jq -r .failKeySeen)" 3 "echo-v1 saw two failures, then the answer"
r=$(rget "/slow/x?delay=3s")
assert_eq "$(status <<<"$r")" 504 "timeouts.request status"
assert_eq "$(body <<<"$r")" "upstream request timeout" "timeouts.request body"
mkey="mirror-$$-$RANDOM"
r=$(rget "/mirror/x?failFirst=0&failKey=$mkey")
assert_eq "$(status <<<"$r")" 200 "mirrored request status"
assert_contains "$(body <<<"$r" | jq -r .pod)" "echo-v1" "the client got the primary's answer"
# The copy reached echo-mirror: its per-key count already holds one request when we ask it.
mirror_saw() {
  local seen
  seen=$(pod_exec shop/client curl -sS --max-time 5 "http://$(svc_ip shop/echo-mirror):8080/probe?failFirst=0&failKey=$mkey" | jq -r .failKeySeen)
  [ "$seen" -ge 2 ]
}
wait_for 10 mirror_saw
wp_log=$(access_log_until "shop/$wp_pod" "failKey=$key" 'path="/slow/x?delay=3s"')
line=$(grep -F "failKey=$key" <<<"$wp_log" | head -1)
[ -n "$line" ] || fail "no access log line for the retried request"
assert_contains "$line" "attempts=3" "access log: the attempts of the retried request"
assert_contains "$line" "response_code=200" "access log: the retried request's status"
line=$(grep -F 'path="/slow/x?delay=3s"' <<<"$wp_log" | head -1)
[ -n "$line" ] || fail "no access log line for the timed-out request"
assert_contains "$line" 'flags="UT"' "access log: UT"
assert_contains "$line" 'details="response_timeout"' "access log: the timeout's details"
ut=$(wp_requests 'reporter="waypoint"' 'destination_service="resil.shop.svc.cluster.local"' 'response_code="504"' 'response_flags="UT"')
assert_eq "$ut" 1 "istio_requests_total 504 UT"
st=$(wp_admin /stats)
[ "$(jq .total.resilience.retries <<<"$st")" -ge 2 ] || fail "the waypoint counted no retries: $(jq -c .total.resilience <<<"$st")"
[ "$(jq .total.mirrors.sent <<<"$st")" -ge 1 ] || fail "the waypoint sent no mirror: $(jq -c .total.mirrors <<<"$st")"

step "resilience over h2c: the same retry, timeout and mirror through Http2Exchange"
# The client speaks HTTP/2 with prior knowledge on the same `http` port: the waypoint sees the
# preface, serves the connection with Http2Session and forwards over h2c to echo-v1.
h2get() { rget "$@" --http2-prior-knowledge; }
before_retries=$(jq .total.resilience.retries <<<"$st")
before_mirrors=$(jq .total.mirrors.sent <<<"$st")
key2="h2-$$-$RANDOM"
r=$(h2get "/retry/x?failFirst=2&failKey=$key2")
assert_eq "$(head -1 <<<"$r" | awk '{print $1}')" "HTTP/2" "the client spoke HTTP/2"
assert_eq "$(status <<<"$r")" 200 "h2c: retried request status"
assert_eq "$(body <<<"$r" | jq -r .failKeySeen)" 3 "h2c: echo-v1 saw two failures, then the answer"
assert_eq "$(body <<<"$r" | jq -r .proto)" "HTTP/2.0" "h2c: the upstream was HTTP/2 too"
ukey="h2x-$$-$RANDOM"
r=$(h2get "/retry/x?failFirst=5&failKey=$ukey")
assert_eq "$(status <<<"$r")" 503 "h2c: retries run out: the last answer"
r=$(h2get "/slow/h2?delay=3s")
assert_eq "$(status <<<"$r")" 504 "h2c: timeouts.request status"
assert_eq "$(body <<<"$r")" "upstream request timeout" "h2c: timeouts.request body"
mkey="mirror-h2-$$-$RANDOM"
r=$(h2get "/mirror/x?failFirst=0&failKey=$mkey" -X POST --data-binary "h2-body")
assert_eq "$(status <<<"$r")" 200 "h2c: mirrored request status"
assert_contains "$(body <<<"$r" | jq -r .pod)" "echo-v1" "h2c: the client got the primary's answer"
wait_for 10 mirror_saw
wp_log=$(access_log_until "shop/$wp_pod" "failKey=$key2" "failKey=$ukey" 'path="/slow/h2?delay=3s"')
line=$(grep -F "failKey=$key2" <<<"$wp_log" | head -1)
[ -n "$line" ] || fail "no access log line for the h2c retried request"
assert_contains "$line" 'protocol="HTTP/2"' "access log: HTTP/2"
assert_contains "$line" "attempts=3" "access log: the h2c request's attempts"
assert_contains "$line" "response_code=200" "access log: the h2c retried request's status"
line=$(grep -F "failKey=$ukey" <<<"$wp_log" | head -1)
assert_contains "$line" 'flags="URX"' "access log: h2c retries exhausted"
assert_contains "$line" "attempts=3" "access log: h2c, every attempt made"
line=$(grep -F 'path="/slow/h2?delay=3s"' <<<"$wp_log" | head -1)
[ -n "$line" ] || fail "no access log line for the h2c timed-out request"
assert_contains "$line" 'flags="UT"' "access log: h2c UT"
assert_contains "$line" 'details="response_timeout"' "access log: the h2c timeout's details"
ut=$(wp_requests 'reporter="waypoint"' 'destination_service="resil.shop.svc.cluster.local"' 'response_code="504"' 'response_flags="UT"')
assert_eq "$ut" 2 "istio_requests_total 504 UT (HTTP/1.1 and h2c)"
urx=$(wp_requests 'reporter="waypoint"' 'destination_service="resil.shop.svc.cluster.local"' 'response_code="503"' 'response_flags="URX"')
assert_eq "$urx" 1 "istio_requests_total 503 URX (h2c)"
st=$(wp_admin /stats)
assert_eq "$(($(jq .total.resilience.retries <<<"$st") - before_retries))" 4 "h2c retries counted (2 + 2)"
assert_eq "$(jq .total.resilience.retries_exhausted <<<"$st")" 1 "h2c retries exhausted counted"
assert_eq "$(($(jq .total.mirrors.sent <<<"$st") - before_mirrors))" 1 "h2c mirror copies sent"

step "warrenctl waypoint routes / status: the compiled rules and who uses the waypoint"
out=$(pod_exec "shop/$wp_pod" "$CTL" waypoint routes waypoint -n shop) || fail "waypoint routes: $out"
assert_contains "$out" "waypoint shop/waypoint" "the admin's Gateway"
assert_contains "$out" "attempts=2 codes=503 backoff=10ms" "the retry rule"
assert_contains "$out" "request=300ms" "the timeout rule"
assert_contains "$out" "shop/echo-mirror:8080" "the mirror"
out=$(ctl --node node-1 waypoint status waypoint -n shop 2>&1) || fail "waypoint status: $out"
assert_contains "$out" "shop/waypoint services:" "status lists the Services"
assert_contains "$out" "shop/resil" "shop/resil uses the waypoint"

step "workload-addressed traffic: a pod using a workload waypoint is reached through it (L4)"
out=$(ctl waypoint apply -n shop --name wl --for workload) || fail "waypoint apply wl: $out"
lab_apply - <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: echo-wl, namespace: shop, labels: {app: echo-wl, warren.dev/use-waypoint: wl}}
spec:
  serviceAccountName: echo
  nodeName: node-2
  containers:
  - name: echo
    command: [warren-echo, --port, "3000"]
    env:
    - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
YAML
wl_pod=""
find_wl() {
  lab reconcile >/dev/null 2>&1 || true
  wl_pod=$(lab get pods -n shop -o json |
    jq -r '.[] | select(.labels["gateway.networking.k8s.io/gateway-name"] == "wl") | .name' | head -1)
  [ -n "$wl_pod" ] && pod_exec "shop/$wl_pod" curl -sf "http://127.0.0.1:15021/healthz/ready" >/dev/null
}
wait_for 60 find_wl
ewl_ip=$(pod_ip shop/echo-wl)
[ -n "$ewl_ip" ] || fail "no IP for shop/echo-wl"
direct_get() { pod_exec shop/client curl -sS -i --max-time 5 "http://$ewl_ip:3000/direct"; }
wl_relayed() { [ "$(direct_get | status)" = 200 ]; }
wait_for 30 wl_relayed
r=$(direct_get)
assert_eq "$(body <<<"$r" | jq -r .path)" "/direct" "the pod answered through the workload waypoint"
assert_eq "$(body <<<"$r" | jq -r '.headers["X-Request-Id"]')" "null" "relayed at L4, not routed"
wst=$(pod_exec "shop/$wl_pod" curl -sf http://127.0.0.1:15000/stats)
[ "$(jq '[.workers[].connects_by_protocol.WORKLOAD_TCP // 0] | add' <<<"$wst")" -ge 1 ] ||
  fail "the wl waypoint relayed no workload-addressed CONNECT: $(jq -c .total <<<"$wst")"

step "tracing: a waypoint whose Gateway names an OTLP collector exports the request's span"
# A real OTLP/HTTP receiver in a pod (not enrolled), a third waypoint `traced` whose Gateway
# carries the tracing annotations, a Service (traced-echo: the Gateway's own Service is `traced`)
# using it. The client's traceparent (sampled) must
# come back as the exported SERVER span's parent, in the same trace, with the route's attributes;
# what the echo received is the continued context (same trace, the waypoint's span as parent).
otlp_dir="$LAB_DIR/otlp"
lab_apply - <<YAML
apiVersion: v1
kind: Namespace
metadata: {name: otel}
---
apiVersion: v1
kind: Pod
metadata: {name: collector, namespace: otel}
spec:
  nodeName: node-2
  containers:
  - name: receiver
    command: [python3, "$HERE/otlp_receiver.py", serve, "4318", "$otlp_dir"]
YAML
wait_pod_log otel/collector "listening on 4318"
col_ip=$(pod_ip otel/collector)
lab_apply - <<YAML
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: traced
  namespace: shop
  labels: {warren.dev/waypoint-for: service}
  annotations:
    warren.dev/tracing-otlp-endpoint: "http://$col_ip:4318"
    warren.dev/tracing-sampling: "0"
spec:
  gatewayClassName: warren-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
---
apiVersion: v1
kind: Service
metadata: {name: traced-echo, namespace: shop, labels: {warren.dev/use-waypoint: traced}}
spec:
  selector: {app: echo, version: v1}
  ports: [{name: http, port: 80, targetPort: 3000}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: traced-routes, namespace: shop}
spec:
  parentRefs: [{group: "", kind: Service, name: traced-echo, port: 80}]
  rules:
  - name: traced
    backendRefs: [{name: echo-v1, port: 8080}]
YAML
wait_waypoint shop traced
tr_pod=$wp_pod
traced_served() { pod_exec "shop/$tr_pod" curl -sf http://127.0.0.1:15000/routes | jq -e '.accepted_rules == 1' >/dev/null; }
wait_for 30 traced_served
tvip=$(svc_ip shop/traced-echo)
# Until the client's ztunnel sends shop/traced-echo to its waypoint (the destination refuses traffic
# for it that skipped the waypoint): requests without a trace context, never sampled (rate 0).
traced_up() {
  pod_exec shop/client curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://$tvip:80/warm" | grep -qx 200
}
wait_for 30 traced_up
trace=$(openssl rand -hex 16)
parent=$(openssl rand -hex 8)
r=$(pod_exec shop/client curl -sS -i --max-time 10 -H "traceparent: 00-$trace-$parent-01" "http://$tvip:80/traced/x")
assert_eq "$(status <<<"$r")" 200 "traced request status"
seen=$(body <<<"$r" | jq -r '.headers["Traceparent"][0]')
[[ "$seen" =~ ^00-$trace-([0-9a-f]{16})-01$ ]] || fail "the echo got traceparent '$seen', not trace $trace continued"
wp_span=${BASH_REMATCH[1]}
[ "$wp_span" != "$parent" ] || fail "the waypoint forwarded the client's span id instead of its own"
# exported_span: the span of our trace decoded from what the receiver got (the batch goes out
# within the exporter's 5 s flush interval).
span=""
exported_span() {
  span=$(python3 "$HERE/otlp_receiver.py" spans "$otlp_dir" "$WARREN_SOURCE_DIR/proto" |
    jq -c --arg t "$trace" 'select(.trace_id == $t)')
  [ -n "$span" ]
}
wait_for 20 exported_span
log "exported span: $span"
assert_eq "$(jq -s length <<<"$span")" 1 "spans of the trace exported (sampling 0: only the caller's decision)"
assert_eq "$(jq -r .parent_span_id <<<"$span")" "$parent" "the span's parent: the client's span"
assert_eq "$(jq -r .span_id <<<"$span")" "$wp_span" "the span is the one the echo saw as parent"
assert_eq "$(jq -r .kind <<<"$span")" SPAN_KIND_SERVER "span kind"
assert_eq "$(jq -r .name <<<"$span")" "traced-echo.shop.svc.cluster.local:80/*" "span name"
assert_eq "$(jq -r '.resource["service.name"]' <<<"$span")" "traced.shop" "resource service.name"
a=$(jq -c .attributes <<<"$span")
assert_eq "$(jq -r .route_name <<<"$a")" "HTTPRoute shop/traced-routes rule 0 (traced)" "route_name"
assert_eq "$(jq -r .upstream_cluster <<<"$a")" "outbound|80||traced-echo.shop.svc.cluster.local" "upstream_cluster"
assert_eq "$(jq -r '.["istio.namespace"]' <<<"$a")" shop "istio.namespace"
assert_eq "$(jq -r '.["http.status_code"]' <<<"$a")" 200 "http.status_code"
assert_eq "$(jq -r '.["source.principal"]' <<<"$a")" "$td/default" "source.principal"
exported=$(pod_exec "shop/$tr_pod" curl -sf http://127.0.0.1:15020/metrics |
  awk '/^warren_tracing_spans_total\{.*outcome="exported"/ {s += $NF} END {print s + 0}')
[ "$exported" -ge 1 ] || fail "warren_tracing_spans_total{outcome=\"exported\"} is $exported"
log "ok"
