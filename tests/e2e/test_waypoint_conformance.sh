#!/usr/bin/env bash
# timeout: 900
# The Gateway API MESH conformance scenarios through the lab (tests/e2e/mesh_conformance/: the
# manifests, the scenario table in scenarios.py, runner.py). Two parts, chosen with
# WARREN_MESH_CONFORMANCE=baseline|waypoint|all (default all):
#  - baseline: the scenarios that need no route (MeshBasic and its extra rows) from the client
#    pod to the echo Services and a pod IP, through the real capture and both ztunnels (no
#    waypoint): every case must pass, and each ztunnel's istio_tcp metrics must show the
#    client -> echo connections as mutual TLS.
#  - waypoint: the namespace gets a warren-waypoint (waypoint.yaml), then every scenario in turn:
#    its routes applied, its requests sent until they converge, its routes deleted. Needs the
#    warren-waypoint binary: without it the test reports "skipped: warren-waypoint not built"
#    (counted as skipped by run.sh) after the baseline. With it: the waypoint's own /stats must
#    count the requests (at least the 500 of the weight scenario) and its 3xx/404 answers, its
#    HTTP/2 sessions (h2c clients on the `http` ports, found by their preface) and multiplexed
#    h2c upstream streams, and its request metrics the gRPC calls with their grpc-status.
# Every HTTP case runs over HTTP/1.1 and h2c (WARREN_MESH_NO_H2C=1: h2c reported skipped); the
# GRPCRoute scenarios (MeshGRPCRouteWeight, MeshGRPCRouteRequestHeaderModifier) are gRPC calls
# from python3-grpcio to the echo Services' grpc port 7070.
# One scenario alone: WARREN_MESH_ONLY=MeshTrafficSplit,...
. "$(dirname "$0")/lib.sh"

SUITE="$WARREN_SOURCE_DIR/tests/e2e/mesh_conformance"
MODE=${WARREN_MESH_CONFORMANCE:-all}
case "$MODE" in baseline | waypoint | all) ;; *) fail "WARREN_MESH_CONFORMANCE=$MODE: baseline, waypoint or all" ;; esac
for b in warren-echo warren-agent warren-ztunnel; do
  [ -x "$WARREN_BIN_DIR/$b" ] || fail "$b is not built"
done
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import h2, grpc' 2>/dev/null ||
  fail "the runner needs /usr/bin/python3 with python3-h2 and python3-grpcio (scripts/deps.sh)"
if [ "$MODE" = waypoint ] && [ ! -x "$WARREN_BIN_DIR/warren-waypoint" ]; then
  skip "warren-waypoint not built"
fi

runner() {  # runner MODE [extra args]: the suite, its output kept in $LAB_DIR/conformance-MODE.log
  local mode=$1; shift
  local args=(suite --lab "$LAB" --mode "$mode" --work-dir "$LAB_DIR")
  [ -z "${WARREN_MESH_ONLY:-}" ] || args+=(--only "$WARREN_MESH_ONLY")
  [ -z "${WARREN_MESH_NO_H2C:-}" ] || args+=(--no-h2c)
  /usr/bin/python3 "$SUITE/runner.py" "${args[@]}" "$@" | tee "$LAB_DIR/conformance-$mode.log"
  return "${PIPESTATUS[0]}"
}

WARREN_E2E_AGENT_FLAGS="${WARREN_E2E_AGENT_FLAGS:-} --controller" lab_up 2
lab_apply "$SUITE/base.yaml"
for p in echo-v1-0 echo-v2-0; do wait_pod_log "gateway-conformance-mesh/$p" "listening on 0.0.0.0:8080" 30; done

if [ "$MODE" != waypoint ]; then
  step "baseline: the scenarios without routes, through the capture and both ztunnels"
  runner baseline || fail "baseline scenarios failed (above)"
  out=$(cat "$LAB_DIR/conformance-baseline.log")
  assert_contains "$out" "SCENARIO MeshBasic: PASS" "baseline"
  assert_not_contains "$out" "FAIL " "baseline"
  [ -n "${WARREN_MESH_NO_H2C:-}" ] || assert_contains "$out" "PASS MeshBasic #0 [h2c]" "h2c baseline"
  # The echo saw what the client sent: the pod the runner names answered (its own log).
  for p in echo-v1-0 echo-v2-0; do
    assert_contains "$(lab logs "gateway-conformance-mesh/$p")" "-> 200" "$p served requests"
  done
  # Through ztunnel, as mutual TLS, on both sides: the ztunnel of each echo pod's node counted
  # connections from the client to workload "echo" (the app label), and so did the client's.
  for p in client echo-v1-0 echo-v2-0; do
    n=$(pod_node "gateway-conformance-mesh/$p")
    c=$(mtls_connections "$n" client echo || true)
    [ "${c:-0}" -gt 0 ] || fail "ztunnel on $n ($p) counted no mTLS connection client -> echo"
    log "ztunnel on $n ($p): $c mTLS connection(s) client -> echo"
  done
  [ "$MODE" = baseline ] && exit 0
fi

[ -x "$WARREN_BIN_DIR/warren-waypoint" ] || skip "warren-waypoint not built"

step "a warren-waypoint for gateway-conformance-mesh"
lab_apply "$SUITE/waypoint.yaml"
wait_for 60 lab get deployments gateway-conformance-mesh/waypoint -o json
lab reconcile >/dev/null 2>&1 || true
programmed() {
  lab get gateways gateway-conformance-mesh/waypoint -o json |
    jq -e '.[0].status.conditions[] | select(.type == "Programmed") | .status == "True"' >/dev/null
}
wait_for 60 programmed
wp_pod=$(lab get pods -n gateway-conformance-mesh -o json |
  jq -r '.[] | select(.labels["gateway.networking.k8s.io/gateway-name"] == "waypoint") | .name' | head -1)
[ -n "$wp_pod" ] || fail "no waypoint pod"
log "waypoint pod gateway-conformance-mesh/$wp_pod on $(pod_node "gateway-conformance-mesh/$wp_pod")"

step "waypoint: every scenario, its routes applied in turn"
rc=0
runner waypoint --converge 30 || rc=$?
out=$(cat "$LAB_DIR/conformance-waypoint.log")
grep '^SCENARIO ' <<<"$out"
[ "$rc" -eq 0 ] || fail "waypoint scenarios failed (above)"
if [ -z "${WARREN_MESH_ONLY:-}" ]; then
  assert_contains "$out" "SCENARIO MeshHTTPRouteWeight: PASS" "weights"
  assert_contains "$out" "SCENARIO MeshGRPCRouteWeight: PASS" "gRPC weights"
fi

step "the requests crossed the waypoint: its own counters"
st=$(lab exec "gateway-conformance-mesh/$wp_pod" -- curl -sf http://127.0.0.1:15000/stats) ||
  fail "the waypoint's /stats: $st"
log "waypoint totals: $(jq -c .total <<<"$st")"
reqs=$(jq .total.requests <<<"$st")
[ "${reqs:-0}" -ge 1 ] || fail "the waypoint counted no request"
[ -z "${WARREN_MESH_ONLY:-}" ] || exit 0  # the checks below count what the whole suite sends
# The weight scenario alone sends 500 requests (and every scenario's rounds more) through it.
[ "${reqs:-0}" -ge 500 ] || fail "the waypoint counted ${reqs:-no} requests, expected at least 500"
for code in 301 302 307 308 404; do  # redirects and no-match answers came from the waypoint
  [ "$(jq -r --arg c "$code" '.total.responses[$c] // 0' <<<"$st")" -ge 1 ] ||
    fail "the waypoint counted no $code response: $(jq -c .total.responses <<<"$st")"
done
# h2c and gRPC went through its HTTP/2 front end and out on multiplexed h2c upstream streams.
for k in http2_sessions_started h2_connections_opened h2_streams_opened; do
  [ "$(jq -r --arg k "$k" '.total[$k] // 0' <<<"$st")" -ge 1 ] || fail "the waypoint's $k is 0"
done
[ -n "${WARREN_MESH_NO_H2C:-}" ] || [ "$(jq .total.h2_streams_opened <<<"$st")" -ge 500 ] ||
  fail "h2c: $(jq .total.h2_streams_opened <<<"$st") upstream h2c streams, expected at least 500"
# Its request metrics count the gRPC calls as gRPC, with their grpc-status (Istio's labels).
m=$(lab exec "gateway-conformance-mesh/$wp_pod" -- curl -sf http://127.0.0.1:15020/metrics) ||
  fail "the waypoint's metrics: $m"
grep '^istio_requests_total{' <<<"$m" | grep 'request_protocol="grpc"' |
  grep -q 'grpc_response_status="0"' ||
  fail "no istio_requests_total series with request_protocol=grpc, grpc_response_status=0"
