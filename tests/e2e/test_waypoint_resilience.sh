#!/usr/bin/env bash
# timeout: 360
# TrafficPolicy (warren.dev/v1alpha1) at the waypoint over the real path: client -> capture ->
# ztunnel -> HBONE -> warren-waypoint (admission, routing, then the TrafficPolicy step) ->
# HBONE -> ztunnel -> warren-echo. One node, one waypoint for `shop`, three Services each with
# its own policy (bound by targetRefs to the Service):
#   limited  localRateLimit per SourcePrincipal, 2 tokens an hour: the client's 3rd request is
#            429 `local_rate_limited`, flag RL in the access log, counted rate_limited in
#            warren_waypoint_rate_limit_total and istio_requests_total{response_flags="RL"};
#            another identity (robot) still gets 200 (its own bucket)
#   aborted  fault.abort httpStatus 418 at 100 %, and 50 % on `coin`: 418 `fault filter abort`
#            with FI; the 50 % one gives both 418 and 200 over 40 requests
#   delayed  fault.delay fixedDelay 1s at 100 %: 200 from the echo, no sooner than 1 s, DI
# Then a bad TrafficPolicy (maxTokens 0) is rejected by the agent with the field named in
# `warrenctl policies`, and the last good version keeps limiting while every route still works.
# Then Istio DestinationRules (networking.istio.io/v1) on Services of their own:
#   flaky    outlierDetection consecutive5xxErrors 3, maxEjectionPercent 50, over a two-pod echo
#            (`flaky`) whose first pod fails every request (`?failPod=`): exactly 3 503s, then
#            that pod ejected (/clusters `ejected`, warren_waypoint_outlier_detection_ejections_total
#            1, the 503s in the access log) and every later request answered 200 by the other pod
#   fragile  consecutive5xxErrors 1, maxEjectionPercent 100 over the same pods, /status/503:
#            both ejected, then 503 `no healthy upstream` with flag UH
#   bounded  connectionPool.http.http2MaxRequests 1: a second request while a slow one is in
#            flight is 503 with flag UO, warren_waypoint_upstream_rq_pending_overflow_total 1;
#            tcp.connectTimeout reported as not applied in `warrenctl policies`
#   pooled   tcp.maxConnections 1, http.http1MaxPendingRequests 1: a second request while a slow
#            one holds the one connection waits (/clusters pending_requests 1) and is served on
#            that same connection once it is released (the echo sees one peer); a third finds
#            the queue full: 503 UO; warren_waypoint_upstream_cx_overflow_total 2
# and a bad DestinationRule (maxEjectionPercent 101) rejected naming the field.
. "$(dirname "$0")/lib.sh"

CTL="$WARREN_BIN_DIR/warrenctl"
for b in warren-agent warren-ztunnel warren-waypoint warren-echo warrenctl; do
  [ -x "$WARREN_BIN_DIR/$b" ] || fail "$b is not built"
done
for t in curl jq awk; do command -v $t >/dev/null || fail "$t is not installed"; done
ctl() { "$CTL" --lab-dir "$LAB_DIR" "$@"; }

WARREN_E2E_AGENT_FLAGS="${WARREN_E2E_AGENT_FLAGS:-} --controller" lab_up 1
wait_for 20 test -S "$LAB_DIR/nodes/node-1/run/admin.sock"

step "shop: an echo Deployment, three Services on it, two client identities"
{
  cat "$WARREN_SOURCE_DIR/tests/e2e/waypoint_policy/shop.yaml"
  for s in limited aborted coin delayed bounded pooled flaky fragile; do
    app=echo
    case $s in flaky | fragile) app=flaky ;; esac
    cat <<YAML
---
apiVersion: v1
kind: Service
metadata: {name: $s, namespace: shop}
spec:
  selector: {app: $app}
  ports: [{name: http, port: 80, targetPort: 3000}]
YAML
  done
  cat <<YAML
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: flaky, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: flaky}}
  template:
    metadata: {labels: {app: flaky}}
    spec:
      containers:
      - name: echo
        command: [warren-echo, --port, "3000"]
        env:
        - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
YAML
} | lab_apply -

step "a waypoint for shop (one worker: warren.dev/workers), and the TrafficPolicies"
# One worker, so that the connection-limit step below sees every request in one worker's pool
# (concurrent tunnels from one client spread over the workers, and a worker with no
# connection to the endpoint opens one whatever the limit, as Envoy's do). `waypoint apply`
# keeps the annotation (it replaces the spec only).
ctl waypoint generate -n shop |
  sed 's|^  labels:|  annotations: {warren.dev/workers: "1"}\n  labels:|' | lab_apply -
out=$(ctl waypoint apply -n shop --enroll-namespace) || fail "waypoint apply: $out"
wait_waypoint shop
wp_admin() { pod_exec "shop/$wp_pod" curl -sf "http://127.0.0.1:15000$1"; }
assert_eq "$(wp_admin /stats | jq '.workers | length')" 1 "the waypoint's workers (warren.dev/workers)"
traffic_policy() {  # traffic_policy NAME SERVICE SPEC-LINES
  cat <<YAML
---
apiVersion: warren.dev/v1alpha1
kind: TrafficPolicy
metadata: {name: $1, namespace: shop}
spec:
  targetRefs: [{kind: Service, group: "", name: $2}]
$3
YAML
}
{
  traffic_policy limit limited "  localRateLimit: {maxTokens: 2, tokensPerFill: 2, fillInterval: 1h, bucketPer: SourcePrincipal}"
  traffic_policy teapot aborted "  fault: {abort: {httpStatus: 418}}"
  traffic_policy coin coin "  fault: {abort: {httpStatus: 418, percentage: {value: 50}}}"
  traffic_policy slow delayed "  fault: {delay: {fixedDelay: 1s, percentage: {value: 100}}}"
} | lab_apply -
policies_served() { wp_admin /policies | jq -e '.traffic_policies | length == 4' >/dev/null; }
wait_for 30 policies_served
diag=$(wp_admin /policies | jq -c .diagnostics)
assert_eq "$diag" "[]" "the waypoint's diagnostics for good policies"

# call FROM SERVICE [CURL-ARGS...]: one request from pod shop/FROM to SERVICE, "<status> <secs>"
call() {
  local from=$1 svc=$2
  shift 2
  pod_exec "shop/$from" curl -sS -o /dev/null -w '%{http_code} %{time_total}\n' --max-time 10 \
    "$@" "http://$(svc_ip "shop/$svc"):80/$svc"
}
wp_log() { access_log_until "shop/$wp_pod" "$@"; }  # wp_log TEXT...: the access log once they show
wp_metric() {  # wp_metric FAMILY LABEL-TEXT...: the sum of the matching series on :15020
  local family=$1 out
  shift
  out=$(pod_exec "shop/$wp_pod" curl -sf http://127.0.0.1:15020/metrics | grep -E "^$family\{" || true)
  for v in "$@"; do out=$(grep -F -- "$v" <<<"$out" || true); done
  awk '{s += $NF} END {print s + 0}' <<<"$out"
}

step "local rate limit: 2 tokens per source principal, the third is 429 RL"
assert_eq "$(call client limited | cut -d' ' -f1)" 200 "client request 1"
assert_eq "$(call client limited | cut -d' ' -f1)" 200 "client request 2"
r=$(pod_exec shop/client curl -sS -i --max-time 10 "http://$(svc_ip shop/limited):80/limited/third")
assert_eq "$(head -1 <<<"$r" | awk '{print $2}')" 429 "client request 3"
assert_contains "$r" "local_rate_limited" "the 429's body"
assert_eq "$(call robot limited | cut -d' ' -f1)" 200 "robot has its own bucket"
line=$(wp_log 'path="/limited/third"' | grep -F 'path="/limited/third"' | head -1)
[ -n "$line" ] || fail "no access log line for the rate-limited request"
assert_contains "$line" "response_code=429" "access log: the status"
assert_contains "$line" 'flags="RL"' "access log: RL"
assert_contains "$line" 'details="local_rate_limited"' "access log: the details"
assert_eq "$(wp_metric warren_waypoint_rate_limit_total 'policy="shop/limit"' 'decision="rate_limited"')" 1 \
  "warren_waypoint_rate_limit_total rate_limited"
assert_eq "$(wp_metric warren_waypoint_rate_limit_total 'policy="shop/limit"' 'decision="ok"')" 3 \
  "warren_waypoint_rate_limit_total ok"
assert_eq "$(wp_metric istio_requests_total 'destination_service="limited.shop.svc.cluster.local"' 'response_code="429"' 'response_flags="RL"')" 1 \
  "istio_requests_total 429 RL"

step "fault abort: 418 at 100 %, and both answers at 50 %"
r=$(pod_exec shop/client curl -sS -i --max-time 10 "http://$(svc_ip shop/aborted):80/aborted/x")
assert_eq "$(head -1 <<<"$r" | awk '{print $2}')" 418 "the injected status"
assert_contains "$r" "fault filter abort" "the abort's body"
line=$(wp_log 'path="/aborted/x"' | grep -F 'path="/aborted/x"' | head -1)
[ -n "$line" ] || fail "no access log line for the aborted request"
assert_contains "$line" 'flags="FI"' "access log: FI"
assert_contains "$line" 'details="fault_filter_abort"' "access log: the details"
assert_not_contains "$line" 'dst.addr=' "access log: no endpoint was chosen"
coin_url="http://$(svc_ip shop/coin):80/coin"
codes=$(pod_exec shop/client sh -c \
  "for i in \$(seq 40); do curl -sS -o /dev/null -w '%{http_code}\\n' --max-time 10 $coin_url/\$i; done")
n418=$(grep -c '^418$' <<<"$codes" || true)
n200=$(grep -c '^200$' <<<"$codes" || true)
log "50 % abort over 40 requests: $n418 x 418, $n200 x 200"
assert_eq "$((n418 + n200))" 40 "every answer is 418 or 200"
[ "$n418" -ge 1 ] && [ "$n200" -ge 1 ] || fail "a 50 % abort gave $n418 x 418 and $n200 x 200"
assert_eq "$(wp_metric warren_waypoint_faults_injected_total 'policy="shop/coin"' 'fault="abort"')" "$n418" \
  "warren_waypoint_faults_injected_total abort (coin)"
assert_eq "$(wp_metric istio_requests_total 'destination_service="aborted.shop.svc.cluster.local"' 'response_code="418"' 'response_flags="FI"')" 1 \
  "istio_requests_total 418 FI"

step "fault delay: 1 s, then the echo's answer"
r=$(call client delayed)
assert_eq "${r%% *}" 200 "the delayed request's status"
# A lower bound only (a delay cannot end early), never an upper one.
awk -v t="${r#* }" 'BEGIN {exit !(t >= 1.0)}' || fail "answered after ${r#* } s, before the 1 s delay"
line=$(wp_log 'path="/delayed"' | grep -F 'path="/delayed"' | head -1)
[ -n "$line" ] || fail "no access log line for the delayed request"
assert_contains "$line" 'flags="DI"' "access log: DI"
assert_contains "$line" 'response_code=200' "access log: the echo's status"
assert_eq "$(wp_metric warren_waypoint_faults_injected_total 'policy="shop/slow"' 'fault="delay"')" 1 \
  "warren_waypoint_faults_injected_total delay"

step "a bad TrafficPolicy: rejected naming the field, the last good version still limits"
traffic_policy limit limited "  localRateLimit: {maxTokens: 0, fillInterval: 1h}" | lab_apply -
rejected() {
  ctl --node node-1 policies -o json |
    jq -e '.items[] | select(.kind == "TrafficPolicy" and .name == "limit") | .errors[] | select(contains("spec.localRateLimit.maxTokens"))' >/dev/null
}
wait_for 20 rejected
assert_eq "$(call client limited | cut -d' ' -f1)" 429 "the last good limit still applies"
assert_eq "$(call client delayed | cut -d' ' -f1)" 200 "other Services are still served"
assert_eq "$(wp_admin /policies | jq -c .diagnostics)" "[]" "the waypoint got nothing bad"

step "DestinationRules: outlier detection on flaky and fragile, limits on bounded and pooled"
destination_rule() {  # destination_rule NAME HOST TRAFFIC-POLICY
  cat <<YAML
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: $1, namespace: shop}
spec:
  host: $2
  trafficPolicy: $3
YAML
}
{
  destination_rule flaky flaky.shop.svc.cluster.local \
    "{outlierDetection: {consecutive5xxErrors: 3, interval: 1s, baseEjectionTime: 5m, maxEjectionPercent: 50}}"
  destination_rule fragile fragile \
    "{outlierDetection: {consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 5m, maxEjectionPercent: 100}}"
  destination_rule bounded bounded.shop \
    "{connectionPool: {http: {http2MaxRequests: 1}, tcp: {connectTimeout: 5s}}}"
  destination_rule pooled pooled \
    "{connectionPool: {tcp: {maxConnections: 1}, http: {http1MaxPendingRequests: 1}}}"
} | lab_apply -
rules_served() { wp_admin /policies | jq -e '.destination_rules | length == 4' >/dev/null; }
wait_for 30 rules_served
assert_eq "$(wp_admin /policies | jq -c .diagnostics)" "[]" "the waypoint's diagnostics for good rules"
flaky_pods=$(lab get pods -n shop -o json | jq -r '.[] | select(.labels.app == "flaky") | .name' | sort)
bad_pod=$(head -1 <<<"$flaky_pods")
good_pod=$(tail -1 <<<"$flaky_pods")
[ -n "$bad_pod" ] && [ "$bad_pod" != "$good_pod" ] || fail "expected two flaky pods, got: $flaky_pods"
flaky_ready() {  # both pods answer through the waypoint before the test counts anything
  local seen
  seen=$(pod_exec shop/client sh -c "for i in \$(seq 12); do curl -sS --max-time 5 http://$(svc_ip shop/flaky):80/warm; echo; done" |
    jq -r .pod 2>/dev/null | sort -u | tr '\n' ' ')
  [ "$seen" = "$(tr '\n' ' ' <<<"$flaky_pods")" ]
}
wait_for 60 flaky_ready

step "outlier detection: $bad_pod fails every request, ejected after 3 consecutive 503s"
flaky_url="http://$(svc_ip shop/flaky):80/flaky?failPod=$bad_pod"
answers=$(pod_exec shop/client sh -c \
  "for i in \$(seq 30); do curl -sS -o /dev/null -w '%{http_code}\\n' --max-time 10 '$flaky_url'; done")
n503=$(grep -c '^503$' <<<"$answers" || true)
n200=$(grep -c '^200$' <<<"$answers" || true)
log "30 requests with $bad_pod failing: $n503 x 503, $n200 x 200"
assert_eq "$n503" 3 "503s before the failing pod was ejected (consecutive5xxErrors 3)"
assert_eq "$n200" 27 "every other request answered by $good_pod"
after=$(pod_exec shop/client sh -c \
  "for i in \$(seq 10); do curl -sS --max-time 10 '$flaky_url'; echo; done" | jq -r .pod | sort -u)
assert_eq "$after" "$good_pod" "after the ejection, only the healthy pod answers"
clusters=$(wp_admin /clusters)
ejected=$(jq -r '.clusters[] | select(.service == "shop/flaky.shop.svc.cluster.local") | .endpoints[] | select(.ejected) | .name' <<<"$clusters")
assert_eq "$ejected" "$bad_pod" "/clusters: the failing pod is the one ejected"
assert_eq "$(wp_metric warren_waypoint_outlier_detection_ejections_total 'destination_service="shop/flaky"' 'policy="shop/flaky"')" 1 \
  "warren_waypoint_outlier_detection_ejections_total (flaky)"
logged_503s() { wp_log | grep -F "failPod=$bad_pod" | grep -c 'response_code=503' || true; }
for _ in $(seq 50); do [ "$(logged_503s)" -ge 3 ] && break; sleep 0.2; done  # batched lines come late
assert_eq "$(logged_503s)" 3 \
  "access log: the three 503s"
assert_eq "$(wp_admin /stats | jq .total.outlier_ejections)" 1 "/stats: outlier_ejections"

step "outlier detection: every endpoint ejected (maxEjectionPercent 100) -> 503 UH"
fragile_url="http://$(svc_ip shop/fragile):80/status/503"
answers=$(pod_exec shop/client sh -c \
  "for i in 1 2 3 4; do curl -sS -o /dev/null -w '%{http_code}\\n' --max-time 10 '$fragile_url'; done")
assert_eq "$(tr '\n' ' ' <<<"$answers")" "503 503 503 503 " "fragile's answers"
assert_eq "$(wp_metric warren_waypoint_outlier_detection_ejections_total 'destination_service="shop/fragile"')" 2 \
  "both fragile endpoints ejected"
r=$(pod_exec shop/client curl -sS -i --max-time 10 "http://$(svc_ip shop/fragile):80/fragile/none-left")
assert_eq "$(head -1 <<<"$r" | awk '{print $2}')" 503 "no endpoint left"
assert_contains "$r" "ejected by outlier detection" "the 503's body"
line=$(wp_log 'path="/fragile/none-left"' | grep -F 'path="/fragile/none-left"' | head -1)
[ -n "$line" ] || fail "no access log line for the request without an endpoint"
assert_contains "$line" 'flags="UH"' "access log: UH"

assert_overflow_logged() {  # assert_overflow_logged PATH: its access log line is 503 UO
  local line
  line=$(wp_log "path=\"$1\"" | grep -F "path=\"$1\"" | head -1)
  [ -n "$line" ] || fail "no access log line for $1"
  assert_contains "$line" 'flags="UO"' "access log of $1: UO"
  assert_contains "$line" 'response_code=503' "access log of $1: 503"
}

step "request limit: http2MaxRequests 1, a second request while one is in flight is 503 UO"
bounded_ip=$(svc_ip shop/bounded)
pod_exec shop/robot curl -sS -o /dev/null --max-time 20 "http://$bounded_ip:80/bounded/slow?delay=4s" &
slow=$!
one_active() {
  wp_admin /clusters | jq -e '.destinations.services["shop/bounded"].active_requests == 1' >/dev/null
}
wait_for 10 one_active
r=$(pod_exec shop/client curl -sS -i --max-time 10 "http://$bounded_ip:80/bounded/second")
assert_eq "$(head -1 <<<"$r" | awk '{print $2}')" 503 "the request over the limit"
assert_contains "$r" "overflow" "the 503's body"
wait "$slow" || fail "the slow request failed"
assert_eq "$(call client bounded | cut -d' ' -f1)" 200 "the place is given back when the slow request ends"
assert_overflow_logged /bounded/second
assert_eq "$(wp_metric warren_waypoint_upstream_rq_pending_overflow_total 'destination_service="shop/bounded"' 'policy="shop/bounded"')" 1 \
  "warren_waypoint_upstream_rq_pending_overflow_total"
assert_eq "$(wp_metric istio_requests_total 'destination_service="bounded.shop.svc.cluster.local"' 'response_code="503"' 'response_flags="UO"')" 1 \
  "istio_requests_total 503 UO"
not_applied() {
  ctl --node node-1 policies -o json |
    jq -e '.items[] | select(.kind == "DestinationRule" and .name == "bounded") | .errors[] | select(contains("trafficPolicy.connectionPool.tcp.connectTimeout: not applied"))' >/dev/null
}
assert_ok not_applied
assert_eq "$(wp_admin /policies | jq -c '.destination_rules[] | select(.policy == "shop/bounded") | .not_applied')" \
  '["trafficPolicy.connectionPool.tcp.connectTimeout"]' "/policies: what the waypoint does not apply"

step "connection limit: maxConnections 1, the second request waits for the connection, the third is 503 UO"
pooled_ip=$(svc_ip shop/pooled)
pooled() { wp_admin /clusters | jq -r ".destinations.services[\"shop/pooled\"].$1 // 0"; }
assert_eq "$(call client pooled | cut -d' ' -f1)" 200 "a first request (its connection kept alive)"
slow_out="$LAB_DIR/pooled-slow.json" waiter_out="$LAB_DIR/pooled-waiter.json"
pod_exec shop/client curl -sS --max-time 20 "http://$pooled_ip:80/pooled/slow?delay=3s" >"$slow_out" &
slow=$!
slow_holds() { [ "$(pooled active_requests)" = 1 ] && [ "$(pooled connections)" = 1 ]; }
wait_for 10 slow_holds
pod_exec shop/client curl -sS --max-time 20 "http://$pooled_ip:80/pooled/waiter" >"$waiter_out" &
waiter=$!
one_waiting() { [ "$(pooled pending_requests)" = 1 ]; }
wait_for 10 one_waiting
assert_eq "$(pooled connections)" 1 "no second connection for the waiting request"
r=$(pod_exec shop/client curl -sS -i --max-time 10 "http://$pooled_ip:80/pooled/over")
assert_eq "$(head -1 <<<"$r" | awk '{print $2}')" 503 "the request that finds the queue full"
assert_contains "$r" "overflow" "the 503's body"
wait "$slow" || fail "the slow request failed"
wait "$waiter" || fail "the waiting request failed"
assert_eq "$(jq -r .path "$waiter_out")" /pooled/waiter "the waiting request was answered by the echo"
assert_eq "$(jq -r .peer "$waiter_out")" "$(jq -r .peer "$slow_out")" \
  "the waiting request went over the connection the slow one released"
assert_eq "$(pooled pending_requests)" 0 "nothing waits any more"
assert_overflow_logged /pooled/over
assert_eq "$(wp_metric warren_waypoint_upstream_cx_overflow_total 'destination_service="shop/pooled"' 'policy="shop/pooled"')" 2 \
  "warren_waypoint_upstream_cx_overflow_total: the waiter and the refused request found the limit"
assert_eq "$(wp_metric warren_waypoint_upstream_rq_pending_overflow_total 'destination_service="shop/pooled"')" 1 \
  "warren_waypoint_upstream_rq_pending_overflow_total (pooled)"
assert_eq "$(wp_admin /stats | jq .total.upstream_cx_overflow)" 2 "/stats: upstream_cx_overflow"

step "a bad DestinationRule: rejected naming the field"
destination_rule flaky flaky "{outlierDetection: {maxEjectionPercent: 101}}" | lab_apply -
dr_rejected() {
  ctl --node node-1 policies -o json |
    jq -e '.items[] | select(.kind == "DestinationRule" and .name == "flaky") | .errors[] | select(contains("spec.trafficPolicy.outlierDetection.maxEjectionPercent"))' >/dev/null
}
wait_for 20 dr_rejected
assert_eq "$(pod_exec shop/client curl -sS --max-time 10 "$flaky_url" | jq -r .pod)" "$good_pod" \
  "the last good rule still keeps the failing pod out"
assert_eq "$(wp_admin /policies | jq -c .diagnostics)" "[]" "the waypoint got nothing bad"
log "ok"
