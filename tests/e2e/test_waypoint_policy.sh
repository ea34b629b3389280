#!/usr/bin/env bash
# timeout: 300
# L7 policy at the waypoint over the real path: client -> capture -> ztunnel -> HBONE ->
# warren-waypoint (JWT, AuthorizationPolicy, then routing) -> HBONE -> ztunnel -> warren-echo.
# Policies bound by targetRefs (the waypoint's Gateway, the Service) reach the waypoint as
# warren.l7.v1.WaypointPolicy. Asserted: a path DENY answers 403 "RBAC: access denied", with the
# DENY in the access log and in warren_waypoint_authz_decisions_total; ALLOW by principal, by
# namespace + method + header; dry-run and AUDIT recorded, not enforced; RequestAuthentication:
# no token 403, bad/expired token 401 with WWW-Authenticate, good token 200 with the claim header
# forwarded and the token stripped (inline JWKS), or kept (forwardOriginalToken; keys fetched
# from a jwksUri inside the cluster); the path normalization table
# (waypoint_policy/normalization.tsv, 70+ request variants) over HTTP/1.1 and over h2c (the
# :path sent verbatim); hostile HTTP/1.1 clients (smuggling shapes, 431 limits, slowloris 408,
# pipelining) and hostile HTTP/2 clients (tests/tools/h2_abuse.py --h2c: rapid reset,
# CONTINUATION flood, PING and SETTINGS floods, empty DATA frames, a header block that never
# ends) while other clients are served, the waypoint's GOAWAYs counted by code and its RSS
# bounded.
. "$(dirname "$0")/lib.sh"

CTL="$WARREN_BIN_DIR/warrenctl"
for b in warren-agent warren-ztunnel warren-waypoint warren-echo warrenctl; do
  [ -x "$WARREN_BIN_DIR/$b" ] || fail "$b is not built"
done
for t in curl python3 openssl jq; do command -v $t >/dev/null || fail "$t is not installed"; done
ctl() { "$CTL" --lab-dir "$LAB_DIR" "$@"; }
HERE="$WARREN_SOURCE_DIR/tests/e2e/waypoint_policy"
RAW="python3 $HERE/raw_http.py"
# The HTTP/2 clients need python3-hyperframe/hpack (Debian's, as test_ztunnel_h2_abuse.sh).
ABUSE="/usr/bin/python3 $WARREN_SOURCE_DIR/tests/tools/h2_abuse.py"
RAW_H2="/usr/bin/python3 $HERE/raw_http.py"
/usr/bin/python3 -c 'import hyperframe, hpack' 2>/dev/null || fail "python3-hyperframe/hpack missing (make deps)"

WARREN_E2E_AGENT_FLAGS="${WARREN_E2E_AGENT_FLAGS:-} --controller" lab_up 1
wait_for 20 test -S "$LAB_DIR/nodes/node-1/run/admin.sock"

step "keys: one JWKS inline, one served inside the cluster"
keys="$LAB_DIR/keys"
mkdir -p "$keys/www"
openssl genrsa -out "$keys/inline.pem" 2048 2>/dev/null
openssl genrsa -out "$keys/url.pem" 2048 2>/dev/null
openssl genrsa -out "$keys/stranger.pem" 2048 2>/dev/null
inline_jwks=$(python3 "$HERE/jwt_tool.py" jwks "$keys/inline.pem" inline-1)
python3 "$HERE/jwt_tool.py" jwks "$keys/url.pem" url-1 >"$keys/www/jwks.json"

{
  cat "$HERE/shop.yaml"
  cat <<YAML
---
apiVersion: v1
kind: Namespace
metadata: {name: other, labels: {warren.dev/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: shop}
spec:
  selector: {app: echo}
  ports: [{name: http, port: 80, targetPort: 3000}]
---
apiVersion: v1
kind: Pod
metadata: {name: visitor, namespace: other}
spec:
  containers: [{name: main, command: [sleep, infinity]}]
---
apiVersion: v1
kind: Pod
metadata: {name: keys, namespace: other, labels: {app: keys}}
spec:
  containers:
  - name: www
    command: [python3, -m, http.server, "8080", --bind, 0.0.0.0, --directory, "$keys/www"]
---
apiVersion: v1
kind: Service
metadata: {name: keys, namespace: other}
spec:
  selector: {app: keys}
  ports: [{name: http, port: 8080, targetPort: 8080}]
YAML
} | lab_apply -

step "a waypoint for shop"
out=$(ctl waypoint apply -n shop --enroll-namespace) || fail "waypoint apply: $out"
wait_waypoint shop
wp_admin() { pod_exec "shop/$wp_pod" curl -sf "http://127.0.0.1:15000$1"; }

step "policies bound by targetRefs: DENY (Gateway), ALLOW (Service), dry-run, AUDIT, JWT"
lab_apply - <<YAML
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-admin, namespace: shop}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  action: DENY
  rules:
  - to: [{operation: {paths: ["/admin", "/admin/*"]}}]
  - to: [{operation: {hosts: ["blocked.shop", "blocked.shop:*"]}}]
  - to: [{operation: {hosts: ["exact.shop"], paths: ["/exact"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: echo-access, namespace: shop}
spec:
  targetRefs: [{kind: Service, group: "", name: echo}]
  rules:
  - from: [{source: {principals: ["cluster.local/ns/shop/sa/client"]}}]
    to: [{operation: {methods: [GET, HEAD]}}]
  - from: [{source: {namespaces: [other]}}]
    to: [{operation: {methods: [POST], paths: ["/orders"]}}]
    when: [{key: "request.headers[x-team]", values: [blue]}]
  - from: [{source: {requestPrincipals: ["https://inline.lab/*", "https://url.lab/*"]}}]
    to: [{operation: {paths: ["/jwt/*"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: shadow-deny, namespace: shop, annotations: {istio.io/dry-run: "true"}}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  action: DENY
  rules: [{to: [{operation: {paths: ["/public/shadow"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: audit-public, namespace: shop}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  action: AUDIT
  rules: [{to: [{operation: {paths: ["/public/audited"]}}]}]
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: shop}
spec:
  targetRefs: [{kind: Service, group: "", name: echo}]
  jwtRules:
  - issuer: https://inline.lab
    jwks: '$inline_jwks'
    outputClaimToHeaders: [{header: x-jwt-group, claim: group}]
  - issuer: https://url.lab
    jwksUri: http://keys.other.svc.cluster.local:8080/jwks.json
    forwardOriginalToken: true
YAML
policies_served() {
  local p
  p=$(wp_admin /policies) || return 1
  [ "$(jq '.authorization_policies | length' <<<"$p")" -eq 4 ] &&
    [ "$(jq '[.jwks_fetches[] | select(.keys == 1)] | length' <<<"$p")" -eq 1 ]
}
end=$(( $(date +%s) + 30 ))
until policies_served; do
  if [ "$(date +%s)" -ge "$end" ]; then
    wp_admin /policies >&2 || true
    fail "the waypoint never held the 4 policies and the fetched JWKS"
  fi
  sleep 0.2
done
assert_eq "$(wp_admin /policies | jq -r '.diagnostics | length')" 0 "policy diagnostics"

vip=$(svc_ip shop/echo)
[ -n "$vip" ] || fail "no ClusterIP for shop/echo"
# req POD METHOD PATH [curl args]: "status|body" through capture.
req() {
  local pod=$1 method=$2 path=$3
  shift 3
  pod_exec "$pod" curl -sS --max-time 10 -X "$method" -H "Host: echo.shop" -w '|%{http_code}' "$@" \
    "http://$vip:80$path"
}
code() { echo "${1##*|}"; }
body() { echo "${1%|*}"; }

step "background: a slowloris client and 100 half-sent heads while everything else runs"
# The waypoint process (in its pod's netns), found once: the same process is measured after
# the abuse, and a waypoint that died or was replaced meanwhile fails the check.
wp_pid=$(for pid in $(ip netns pids "$(basename "$(pod_field "shop/$wp_pod" netns)")" 2>/dev/null); do
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = warren-waypoint ] && echo "$pid"
done | head -1)
[ -n "$wp_pid" ] || fail "cannot find the waypoint process in its pod's netns"
rss() {  # the waypoint's resident set in KiB; fails when the process is gone
  local kib
  kib=$(awk '/VmRSS/ {print $2}' "/proc/$wp_pid/status" 2>/dev/null)
  [ -n "$kib" ] && pid_alive "$wp_pid" || fail "the waypoint (pid $wp_pid) is gone"
  echo "$kib"
}
rss_before=$(rss)
pod_exec shop/client $RAW slowloris "$vip:80" 25 >"$LAB_DIR/slowloris.out" 2>&1 &
slow_pid=$!
pod_exec other/visitor $RAW hold "$vip:80" 100 20 >"$LAB_DIR/hold.out" 2>&1 &
hold_pid=$!
# An HTTP/2 header block that never ends (HEADERS without END_HEADERS, then silence).
pod_exec shop/client $ABUSE --h2c --host "$vip" --port 80 --authority echo.shop \
  --scenario header-timeout --timeout 20 >"$LAB_DIR/h2hold.out" 2>&1 &
h2hold_pid=$!

step "DENY by path: 403 RBAC: access denied"
r=$(req shop/client GET /admin/users)
assert_eq "$(code "$r")" 403 "GET /admin/users"
assert_eq "$(body "$r")" "RBAC: access denied" "the 403 body"
# The same decision over h2c (prior knowledge on the http port: the waypoint's Http2Session
# asks the same RequestAdmission).
r=$(req shop/client GET /admin/users --http2-prior-knowledge)
assert_eq "$(code "$r")" 403 "GET /admin/users over h2c"
assert_eq "$(body "$r")" "RBAC: access denied" "the 403 body over h2c"
assert_eq "$(code "$(req shop/client GET /public/x --http2-prior-knowledge)")" 200 "client GET over h2c"
assert_eq "$(code "$(req shop/robot GET /public/x --http2-prior-knowledge)")" 403 "robot GET over h2c (principal)"

step "ALLOW by principal and method; by namespace, method, path and header"
r=$(req shop/client GET /public/x)
assert_eq "$(code "$r")" 200 "client GET"
assert_eq "$(body "$r" | jq -r .path)" /public/x "the echo saw"
assert_eq "$(code "$(req shop/client POST /public/x)")" 403 "client POST (method)"
assert_eq "$(code "$(req shop/robot GET /public/x)")" 403 "robot GET (principal)"
assert_eq "$(code "$(req other/visitor POST /orders -H 'x-team: blue')")" 200 "visitor POST with x-team"
assert_eq "$(code "$(req other/visitor POST /orders -H 'x-team: red')")" 403 "visitor POST, other team"
assert_eq "$(code "$(req other/visitor POST /orders)")" 403 "visitor POST without the header"
assert_eq "$(code "$(req other/visitor GET /orders -H 'x-team: blue')")" 403 "visitor GET"

step "dry-run and AUDIT: recorded, not enforced"
assert_eq "$(code "$(req shop/client GET /public/shadow)")" 200 "dry-run DENY does not deny"
assert_eq "$(code "$(req shop/client GET /public/audited)")" 200 "AUDIT does not deny"

step "RequestAuthentication: no token 403, bad or expired 401, good 200 with the claim header"
tok_inline=$(python3 "$HERE/jwt_tool.py" token "$keys/inline.pem" inline-1 \
  '{"iss": "https://inline.lab", "sub": "alice", "group": "admins"}')
tok_url=$(python3 "$HERE/jwt_tool.py" token "$keys/url.pem" url-1 '{"iss": "https://url.lab", "sub": "bob"}')
tok_forged=$(python3 "$HERE/jwt_tool.py" token "$keys/stranger.pem" inline-1 \
  '{"iss": "https://inline.lab", "sub": "mallory"}')
tok_expired=$(python3 "$HERE/jwt_tool.py" token "$keys/inline.pem" inline-1 \
  '{"iss": "https://inline.lab", "sub": "alice", "exp": 1000000000}')
r=$(req shop/robot GET /jwt/profile)
assert_eq "$(code "$r")" 403 "no token: the ALLOW needs a request principal"
r=$(pod_exec shop/robot curl -sS -i --max-time 10 -H "Host: echo.shop" \
  -H "Authorization: Bearer $tok_forged" "http://$vip:80/jwt/profile")
assert_contains "$(head -1 <<<"$r")" " 401" "a token signed by another key"
assert_contains "$(tr -d '\r' <<<"$r" | tr 'A-Z' 'a-z')" \
  'www-authenticate: bearer realm="http://echo.shop/jwt/profile", error="invalid_token"' "WWW-Authenticate"
assert_contains "$r" "Jwt verification fails" "the 401 body"
r=$(req shop/robot GET /jwt/profile -H "Authorization: Bearer $tok_expired")
assert_eq "$(code "$r")" 401 "an expired token"
assert_contains "$(body "$r")" "Jwt is expired" "the 401 body"
r=$(req shop/robot GET /jwt/profile -H "Authorization: Bearer $tok_inline" -H "x-jwt-group: forged")
assert_eq "$(code "$r")" 200 "a good token (inline JWKS)"
assert_eq "$(body "$r" | jq -r '.headers["X-Jwt-Group"] | join(",")')" admins "outputClaimToHeaders"
assert_eq "$(body "$r" | jq -r '.headers.Authorization')" null "the token is not forwarded"
r=$(req shop/robot GET /jwt/profile -H "Authorization: Bearer $tok_url")
assert_eq "$(code "$r")" 200 "a good token (JWKS fetched from keys.other)"
assert_eq "$(body "$r" | jq -r '.headers.Authorization[0]')" "Bearer $tok_url" "forwardOriginalToken"

step "the path normalization table over HTTP/1.1 (the slowloris and held heads still open)"
out=$(pod_exec shop/client $RAW table "$HERE/normalization.tsv" "$vip:80" 2>&1) || fail "table:
$out"
log "$(tail -1 <<<"$out")"
rows=$(grep -vc '^#' "$HERE/normalization.tsv")
[ "$rows" -ge 60 ] || fail "the table has $rows rows"
assert_eq "$(tail -1 <<<"$out")" "table: $rows/$rows ok" "normalization table"

step "the same table over h2c: each target as :path, verbatim"
out=$(pod_exec shop/client $RAW_H2 table-h2c "$HERE/normalization.tsv" "$vip:80" 2>&1) || fail "table over h2c:
$out"
log "$(tail -1 <<<"$out")"
assert_eq "$(tail -1 <<<"$out")" "table: $rows/$rows ok" "normalization table over h2c"

step "hostile HTTP/1.1 clients: smuggling shapes and limits, each its status"
out=$(pod_exec shop/client $RAW abuse "$vip:80" 2>&1) || fail "abuse:
$out"
assert_contains "$out" "cl_and_te 400" "CL + TE"
assert_contains "$out" "duplicate_content_length 400" "duplicate Content-Length"
assert_contains "$out" "invalid_chunk_size 400" "chunk size"
assert_contains "$out" "too_many_headers 431" "header count"
out=$(pod_exec shop/client $RAW pipeline "$vip:80")
assert_eq "$out" "pipeline /public/1 /public/2 /public/3" "pipelined requests answered in order"

step "hostile HTTP/2 clients on the waypoint's downstream, while another client is served"
# Another client's requests, one every 200 ms through the abuse: every one must be answered.
pod_exec other/visitor sh -c 'for i in $(seq 50); do
    curl -sS -o /dev/null --max-time 5 -w "%{http_code}\n" -X POST -H "Host: echo.shop" \
      -H "x-team: blue" "http://'"$vip"':80/orders" || echo fail; sleep 0.2; done' \
  >"$LAB_DIR/bystander.out" 2>&1 &
bystander_pid=$!
goaways_before=$(wp_admin /stats | jq -c .total.http2_goaways_sent)
out=$(pod_exec shop/client $ABUSE --h2c --host "$vip" --port 80 --authority echo.shop \
  --timeout 5 2>&1) || fail "an HTTP/2 abuse scenario was not answered as expected:
$out"
echo "$out" | sed 's/^/  /'
assert_eq "$(grep -c '"ok": true' <<<"$out")" 6 "h2c abuse scenarios ok (rapid reset, CONTINUATION, PING, SETTINGS, window, empty DATA)"
wait "$bystander_pid" || true
codes=$(sort "$LAB_DIR/bystander.out" | uniq -c | tr -s ' ' | tr '\n' ';')
log "the other client during the abuse: $codes"
assert_eq "$(grep -c '^200$' "$LAB_DIR/bystander.out")" 50 "the other client's 50 requests answered 200"
goaways=$(wp_admin /stats | jq -c .total.http2_goaways_sent)
log "the waypoint's GOAWAYs: $goaways_before before, $goaways after"
calm=$(jq '.ENHANCE_YOUR_CALM // 0' <<<"$goaways")
[ "$calm" -ge 2 ] || fail "GOAWAY ENHANCE_YOUR_CALM counted $calm times (CONTINUATION, empty DATA)"

step "slowloris and the held heads got 408 (header timeout, 10 s); others were served meanwhile"
wait "$slow_pid" || true
wait "$hold_pid" || true
slow=$(cat "$LAB_DIR/slowloris.out")
log "$slow; $(cat "$LAB_DIR/hold.out")"
assert_contains "$slow" "slowloris 408" "the slow head"
wait "$h2hold_pid" || true
h2hold=$(cat "$LAB_DIR/h2hold.out")
log "$h2hold"
assert_contains "$h2hold" '"result": "goaway ENHANCE_YOUR_CALM"' "the HTTP/2 header block that never ended"
timeouts=$(wp_admin /stats | jq '[.workers[].request_header_timeouts] | add')
[ "$timeouts" -ge 102 ] || fail "request_header_timeouts $timeouts: the 100 held heads, the slowloris, the HTTP/2 block"
assert_eq "$(code "$(req shop/client GET /public/after)")" 200 "served after the abuse"
rss_after=$(rss)
log "waypoint RSS (pid $wp_pid): $rss_before KiB before, $rss_after KiB after"
[ $((rss_after - rss_before)) -lt 32768 ] || fail "RSS grew by $((rss_after - rss_before)) KiB"

step "the decisions in the access log, /requests and the metrics"
wp_log=$(access_log_until "shop/$wp_pod" 'path="/admin/users"' 'path="/public/shadow"' \
  'path="/public/audited"' 'path="/jwt/profile"')
line=$(grep -F 'path="/admin/users"' <<<"$wp_log" | head -1)
[ -n "$line" ] || fail "no access log line for GET /admin/users"
assert_contains "$line" "response_code=403" "access log: 403"
assert_contains "$line" 'authz="denied"' "access log: denied"
assert_contains "$line" 'authz_policy="shop/deny-admin"' "access log: the DENY"
assert_contains "$line" 'details="rbac_access_denied_matched_policy[shop/deny-admin]"' "access log: details"
line=$(grep -F 'path="/public/shadow"' <<<"$wp_log" | head -1)
assert_contains "$line" 'authz_dry_run="denied shop/shadow-deny"' "access log: dry-run shadow"
line=$(grep -F 'path="/public/audited"' <<<"$wp_log" | head -1)
assert_contains "$line" 'authz_audit="shop/audit-public"' "access log: AUDIT"
line=$(grep -F 'response_code=200' <<<"$wp_log" | grep -F 'path="/jwt/profile"' | head -1)
assert_contains "$line" 'request_principal="https://inline.lab/alice"' "access log: the JWT principal"
metrics=$(pod_exec "shop/$wp_pod" curl -sf http://127.0.0.1:15020/metrics)
series() { grep -F "$1" <<<"$metrics" | awk '{s += $NF} END {print s + 0}'; }
n=$(series 'warren_waypoint_authz_decisions_total{decision="denied",policy="shop/deny-admin"}')
[ "$n" -ge 1 ] || fail "no denied decision of shop/deny-admin in the metrics"
n=$(series 'warren_waypoint_authz_decisions_total{decision="shadow_denied",policy="shop/shadow-deny"}')
assert_eq "$n" 1 "the dry-run shadow denial"
n=$(series 'warren_waypoint_jwt_authn_total{outcome="rejected"}')
assert_eq "$n" 2 "JWT rejections"
n=$(grep '^istio_requests_total{' <<<"$metrics" | grep -F 'response_code="403"' | awk '{s += $NF} END {print s + 0}')
[ "$n" -ge 5 ] || fail "istio_requests_total 403: $n"
log "ok"
