#!/usr/bin/env bash
# timeout: 300
# The waypoint control plane through the lab, with the real agents (both run the waypoint
# controller, `--controller`) and real sockets: `warrenctl waypoint apply --enroll-namespace`
# writes the Gateway and labels the namespace; one agent leads (Lease) and deploys the waypoint
# (ServiceAccount, Service, Deployment) and writes the Gateway's and the routes' status; the
# Service of the namespace is bound to the waypoint in xDS; on <run-dir>/proxy/xds.sock the
# waypoint pod (SO_PEERCRED -> its cgroup) gets its routes and its own certificate, while a pod
# that is not a waypoint is refused; a bad route is reported and does not take the good one
# down; `warrenctl waypoint list|status`, `routes` show it; `waypoint delete` removes it all.
# The lab runs warren-waypoint in the waypoint pod (test_waypoint_http.sh exercises it); here the
# test also speaks to proxy/xds.sock itself from that pod with warren-xds-probe, to see exactly
# what a waypoint is served.
. "$(dirname "$0")/lib.sh"

XDS_PROBE="$WARREN_BIN_DIR/warren-xds-probe"
CTL="$WARREN_BIN_DIR/warrenctl"
for b in warren-agent warren-xds-probe warrenctl; do
  [ -x "$WARREN_BIN_DIR/$b" ] || fail "$b is not built"
done
ctl() { "$CTL" --lab-dir "$LAB_DIR" "$@"; }

WARREN_E2E_AGENT_FLAGS="${WARREN_E2E_AGENT_FLAGS:-} --controller" lab_up 2
wait_for 20 test -S "$LAB_DIR/nodes/node-1/run/admin.sock"
wait_for 20 test -S "$LAB_DIR/nodes/node-2/run/admin.sock"
lab_apply "$WARREN_SOURCE_DIR/lab/examples/demo-app.yaml"

step "generate prints the Gateway; a bad name is refused naming it"
gen=$(ctl waypoint generate -n demo --for service)
assert_contains "$gen" "gatewayClassName: warren-waypoint" "generated Gateway"
assert_contains "$gen" "warren.dev/waypoint-for: service" "generated traffic type"
out=$(assert_fails ctl waypoint generate -n demo --name Bad_Name)
assert_contains "$out" "'Bad_Name' is not a valid DNS label" "bad name"

step "apply --enroll-namespace writes the Gateway and labels the namespace"
out=$(ctl waypoint apply -n demo --enroll-namespace) || fail "apply: $out"
assert_contains "$out" "waypoint demo/waypoint applied (Gateway created" "apply"
assert_contains "$out" "namespace demo labelled warren.dev/use-waypoint=waypoint" "enroll"
assert_eq "$(lab get namespaces demo --field labels | tr -d ' \n')" \
  '{"warren.dev/dataplane-mode":"ambient","warren.dev/use-waypoint":"waypoint"}' "namespace labels"

step "exactly one agent leads and deploys the waypoint"
leaders() {
  local n c=0
  for n in node-1 node-2; do
    [ "$(ctl --node "$n" -o json waypoint list | jq -r .controller.leading)" = true ] && c=$((c + 1))
  done
  echo "$c"
}
wait_for 30 test "$(leaders)" = 1
wait_for 30 lab get deployments demo/waypoint -o json
wait_for 30 lab get services demo/waypoint -o json
lab get serviceaccounts demo/waypoint -o json >/dev/null || fail "no ServiceAccount demo/waypoint"
dep=$(lab get deployments demo/waypoint -o json)
assert_eq "$(jq -r '.[0].metadata.ownerReferences[0].kind' <<<"$dep")" Gateway "Deployment owner"
assert_contains "$(jq -c '.[0].spec.template.spec.volumes' <<<"$dep")" '/var/run/warren/proxy' "proxy hostPath"
# The lab's kubelet: the Deployment's pod (running warren-waypoint), the Service's IP.
lab reconcile >/dev/null 2>&1 || true
wp_vip=$(svc_ip demo/waypoint)
[ -n "$wp_vip" ] || fail "the waypoint Service has no ClusterIP"
wp_pod=$(lab get pods -n demo -o json |
  jq -r '.[] | select(.labels["gateway.networking.k8s.io/gateway-name"] == "waypoint") | .name' | head -1)
[ -n "$wp_pod" ] || fail "no waypoint pod"
wp_node=$(pod_node "demo/$wp_pod")

step "the Gateway is Accepted and Programmed with the waypoint's address"
programmed() {
  lab get gateways demo/waypoint -o json |
    jq -e --arg a "$wp_vip" '.[0].status | (.conditions[] | select(.type == "Programmed") | .status == "True")
      and (.addresses[0].value == $a)' >/dev/null
}
wait_for 30 programmed
st=$(ctl --node node-1 waypoint status waypoint -n demo)
assert_contains "$st" "Accepted" "status table"
assert_contains "$(grep Programmed <<<"$st")" "True" "Programmed row"
lst=$(ctl --node node-1 waypoint list -n demo)
assert_contains "$lst" "waypoint" "list"
assert_contains "$lst" "$wp_vip" "list shows the address"

step "the namespace's Service is bound to the waypoint in xDS (not the waypoint's own)"
addr=$("$XDS_PROBE" --socket "$LAB_DIR/nodes/node-1/run/xds.sock" xds --json --timeout-ms 5000 \
  --wait-for "demo/echo.demo.svc.cluster.local")
echo_wp=$(jq -c 'select(.name == "demo/echo.demo.svc.cluster.local") | .resource.service.waypoint' <<<"$addr")
assert_contains "$echo_wp" "15008" "echo's waypoint port"
own_wp=$(jq -c 'select(.name == "demo/waypoint.demo.svc.cluster.local") | .resource.service.waypoint' <<<"$addr")
assert_eq "$own_wp" "null" "the waypoint's own Service has no waypoint"
ctl_svc=$(ctl --node node-1 -o json waypoints | jq -c '.items[] | select(.name == "waypoint") | .services')
assert_eq "$ctl_svc" '["demo/echo"]' "services using the waypoint"

step "an HTTPRoute is accepted and served to the waypoint pod on proxy/xds.sock"
lab_apply - <<'YAML'
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: echo-api, namespace: demo}
spec:
  parentRefs: [{group: "", kind: Service, name: echo, port: 80}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /api}}]
    backendRefs: [{name: echo, port: 80}]
YAML
route_accepted() {
  lab get httproutes demo/echo-api -o json |
    jq -e '.[0].status.parents[0].conditions[] | select(.type == "Accepted") | .status == "True"' >/dev/null
}
wait_for 30 route_accepted
routes() {  # as the waypoint pod: its netns, cgroup and hostPath /var/run/warren/proxy
  pod_exec "demo/$wp_pod" warren-xds-probe --socket /var/run/warren/proxy/xds.sock \
    xds --type routes --json --timeout-ms 3000 --wait-for "demo/echo.demo.svc.cluster.local"
}
wait_for 30 routes
r=$(routes | jq -c 'select(.name == "demo/echo.demo.svc.cluster.local") | .resource')
assert_eq "$(jq -r .waypoint <<<"$r")" "demo/waypoint" "routes' waypoint"
assert_eq "$(jq -r '.ports[0].matches[0].path.value' <<<"$r")" "/api" "served match"
assert_eq "$(jq -r '.ports[0].rules[0].route' <<<"$r")" "HTTPRoute/demo/echo-api" "served rule"

step "the waypoint pod gets its own certificate there, and only its own"
id="spiffe://cluster.local/ns/demo/sa/waypoint"
pod_exec "demo/$wp_pod" warren-xds-probe --socket /var/run/warren/proxy/xds.sock cert \
  --identity "$id" >"$LAB_DIR/wp.pem" || fail "the waypoint CA refused $id"
assert_contains "$(openssl x509 -in "$LAB_DIR/wp.pem" -noout -ext subjectAltName)" "URI:$id" "waypoint SAN"
out=$(assert_fails pod_exec "demo/$wp_pod" warren-xds-probe --socket /var/run/warren/proxy/xds.sock \
  cert --identity spiffe://cluster.local/ns/demo/sa/echo)
assert_contains "$out" "code 7" "another identity is refused (PERMISSION_DENIED)"

step "a pod that is not a waypoint is refused on proxy/xds.sock"
out=$(assert_fails pod_exec demo/client warren-xds-probe \
  --socket "$LAB_DIR/nodes/$(pod_node demo/client)/run/proxy/xds.sock" xds --type routes --timeout-ms 3000)
assert_contains "$out" "code 7" "client refused (PERMISSION_DENIED)"
assert_contains "$out" "demo/client" "the refusal names the caller"

step "a bad route gets a status naming its error; the good one is still served"
lab_apply - <<'YAML'
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: echo-bad, namespace: demo}
spec:
  parentRefs: [{group: "", kind: Service, name: echo, port: 80}]
  rules:
  - matches: [{path: {type: RegularExpression, value: "/(unclosed"}}]
    backendRefs: [{name: echo, port: 80}]
YAML
bad_reported() {
  lab get httproutes demo/echo-bad -o json |
    jq -e '.[0].status.parents[0].conditions[] | select(.type == "Accepted") | .status == "False"' >/dev/null
}
wait_for 30 bad_reported
msg=$(lab get httproutes demo/echo-bad -o json | jq -r '.[0].status.parents[0].conditions[] | select(.type == "Accepted") | .message')
assert_contains "$msg" "/(unclosed" "the message names the bad regex"
r=$(routes | jq -c 'select(.name == "demo/echo.demo.svc.cluster.local") | .resource')
assert_eq "$(jq -r '.ports[0].rules[0].route' <<<"$r")" "HTTPRoute/demo/echo-api" "good route kept"
rt=$(ctl --node "$wp_node" routes --waypoint demo/waypoint)
assert_contains "$rt" "PATH_PREFIX /api" "routes table"
assert_not_contains "$rt" "echo-bad" "the bad route is not served"

step "delete removes the Gateway and what the controller made for it"
out=$(ctl waypoint delete waypoint -n demo) || fail "delete: $out"
assert_contains "$out" "waypoint demo/waypoint deleted" "delete"
gone() { ! lab get deployments demo/waypoint -o json | jq -e 'length > 0' >/dev/null; }
wait_for 30 gone
out=$(assert_fails ctl waypoint delete waypoint -n demo)
assert_contains "$out" "not found" "a second delete"
log "ok"
