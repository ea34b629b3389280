#!/usr/bin/env bash
# timeout: 420
# The benchmark harness works end to end: bench/run.sh in quick mode with one repeat brings
# up its own labs, runs every load on every path, tears everything down, and writes a results
# JSON where every scenario key holds a figure or says why not ("unavailable: ..." / "n/a:
# ..."), plus the markdown table and both SVG charts. Every Warren path must be measured and
# proven captured and tunnelled by its counters (eBPF redirects, outbound mTLS on the client
# node's ztunnel, inbound mTLS and no plaintext on the server node's, the sk_msg fast path
# carrying data where it is on), each peer path proven to go through both its proxies, the
# ztunnel PIDs verified and busy, and the perf profile present where perf works. The L7 row:
# nginx and haproxy (HTTP mode) measured, and the waypoint path proven by the waypoint's
# istio_requests_total (at least the answered, at most the sent requests) and both ztunnels'
# mTLS counters. It asserts the evidence, never a speed. A run that does not hold is printed
# and run once more: one quick repeat on a shared 2-core machine can lose a window to it (a load
# that errs once); the second must hold, so a harness that is broken still fails. Plaintext
# reaching a meshed server pod is never retried: no machine makes that happen, so it fails at once.
. "$(dirname "$0")/lib.sh"

bench_name="wbs$$"
bench_name=${bench_name:0:20}
perf_works=0
perf stat -e cpu-clock true >/dev/null 2>&1 && perf_works=1
# The checks of one run's results JSON: every problem printed, then one `failures:` line (the
# e2e runner repeats it at the end of the run: a CI log is read from its tail).
cat >"$LAB_DIR/check.py" <<'PY'
import json, sys
sys.path.insert(0, sys.argv[3])
import report  # noqa: E402  (the harness's own reason strings)
r = json.load(open(sys.argv[1]))
perf_works = sys.argv[2] == "1"
paths = ["plain", "plain-same", "warren-cross", "warren-same", "warren-same-skmsg", "stunnel", "haproxy",
         "haproxy-notls", "warren-waypoint", "nginx-http", "haproxy-http"]
figures = ["iperf_1stream_gbps", "iperf_4stream_gbps", "rr_p50_us", "rr_p99_us", "rr_tps",
           "http_p50_us", "http_p90_us", "http_p99_us", "http_achieved_rps", "wrk_rps",
           "connrate_cps", "idle_opened"]
per_side = ["iperf_1stream_cpu_s", "rr_cpu_s", "http_cpu_s", "http_peak_rss_mb", "http_vcpu_per_1k_rps",
            "http_rss_growth_mb", "wrk_cpu_us_per_req", "connrate_cpu_s", "idle_kib_per_conn"]
added = ["rr_added_p50_us", "http_added_p50_us", "http_added_p99_us"]
problems = []
fatal = []  # problems a second run must not excuse (exit 2: no retry)
def no_plaintext(where, d):
    if d.get("server_inbound_plaintext") != 0:
        fatal.append(f"{where}: plaintext reached the server pod: {d.get('server_inbound_plaintext')}")
def check(path, key):
    v = r["scenarios"].get(path, {}).get(key)
    if isinstance(v, dict):
        if not isinstance(v.get("median"), (int, float)) or v["min"] > v["median"] or v["median"] > v["max"]:
            problems.append(f"{path}/{key}: bad figure {v}")
    elif not (isinstance(v, str) and (v.startswith("unavailable: ") or v.startswith("n/a: "))):
        problems.append(f"{path}/{key}: missing or neither figure nor reason: {v!r}")
for p in paths:
    if p not in r["paths"]:
        problems.append(f"path {p} has no status")
    for k in figures + added + [f"{s}.{side}" for s in per_side for side in ("client", "server")]:
        check(p, k)
# The peers, the floor and plain must really be measured (they do not depend on the mesh data path).
for p in ["plain", "plain-same", "stunnel", "haproxy", "haproxy-notls"]:
    if r["paths"].get(p) != "ok":
        problems.append(f"path {p} not measured: {r['paths'].get(p)}")
    for k in ["iperf_1stream_gbps", "rr_p50_us", "http_p50_us", "wrk_rps", "connrate_cps", "idle_opened"]:
        if not isinstance(r["scenarios"][p].get(k), dict):
            problems.append(f"{p}/{k} has no figure: {r['scenarios'][p].get(k)}")
for p in ["stunnel", "haproxy", "haproxy-notls"]:
    if not isinstance(r["scenarios"][p].get("http_vcpu_per_1k_rps.client"), dict):
        problems.append(f"{p}: proxy CPU not measured")
# Every Warren path measured, and proven: the counters of every window, not just the verdict.
warren = {"warren-cross": ("client", "server"), "warren-same": ("client",), "warren-same-skmsg": ("client",)}
for p, sides in warren.items():
    if r["paths"].get(p) != "ok":
        problems.append(f"Warren path {p} not measured: {r['paths'].get(p)}")
        continue
    windows = r["capture"].get(p, {}).get("windows", [])
    if [w["window"] for w in windows][:1] != ["pre-check"] or not any(w["window"].startswith("repeat") for w in windows):
        problems.append(f"{p}: no pre-check and repeat evidence windows: {windows}")
    for w in windows:
        d, n = w["delta"], w["connections"]
        where = f"{p} {w['window']}"
        if w["verdict"] != "ok":
            problems.append(f"{where}: not proven: {w['verdict']}")
        for k in ("connect_redirected", "client_outbound_mtls", "server_inbound_mtls"):
            if not d.get(k, 0) >= n >= 1:
                problems.append(f"{where}: {k} +{d.get(k)} for {n} connections")
        no_plaintext(where, d)
        if p == "warren-same-skmsg" and not d.get("fastpath_redirected", 0) > 0:
            problems.append(f"{where}: the sk_msg fast path carried nothing")
        if w["window"].startswith("repeat"):
            for side in sides:
                if not d.get(f"{side}_proxy_cpu_s", 0) > 0:
                    problems.append(f"{where}: the {side} node's ztunnel used no CPU")
    for side in sides:  # the right ztunnel PIDs (the client node's used to read 0)
        v = r["scenarios"][p].get(f"iperf_1stream_cpu_s.{side}")
        if not (isinstance(v, dict) and v["median"] > 0):
            problems.append(f"{p}: iperf CPU of the {side} node's ztunnel is {v}")
# The L7 row: nginx and haproxy as HTTP proxies measured; the waypoint measured and proven by
# its own request counter (every answered request, no more than were sent) and both ztunnels.
for p in ["nginx-http", "haproxy-http", "warren-waypoint"]:
    if r["paths"].get(p) != "ok":
        problems.append(f"L7 path {p} not measured: {r['paths'].get(p)}")
        continue
    for k in ["http_p50_us", "http_added_p99_us", "http_vcpu_per_1k_rps.proxy", "http_peak_rss_mb.proxy"]:
        if not isinstance(r["scenarios"][p].get(k), dict):
            problems.append(f"{p}/{k} has no figure: {r['scenarios'][p].get(k)}")
    windows = r["capture"].get(p, {}).get("windows", [])
    if not any(w["window"].startswith("repeat") for w in windows):
        problems.append(f"{p}: no repeat evidence window: {windows}")
    for w in windows:
        d, n, (answered, sent) = w["delta"], w["connections"], w["requests"]
        where = f"{p} {w['window']}"
        if w["verdict"] != "ok" or answered < 1:
            problems.append(f"{where}: not proven ({answered} answers): {w['verdict']}")
        if p == "warren-waypoint" and not (d.get("client_to_waypoint_mtls", 0) >= n >= 1
                                           and answered <= d.get("waypoint_requests", -1) <= sent
                                           and d.get("server_from_waypoint_mtls", 0) >= 1):
            problems.append(f"{where}: the counters do not prove the waypoint path: {w}")
        if p == "warren-waypoint":
            no_plaintext(where, d)
for p in ["stunnel", "haproxy", "haproxy-notls"]:
    windows = r["capture"].get(p, {}).get("windows", [])
    if not windows:
        problems.append(f"{p}: no evidence windows")
    for w in windows:
        if w["verdict"] != "ok" or not all(v >= w["connections"] for k, v in w["delta"].items() if k.endswith(("accepted", "opened"))):
            problems.append(f"{p} {w['window']}: not proven through both proxies: {w}")
# The machine's floor (warren-bench-floor) at the start and the end, and in the goals' notes.
for when in ("floor_start", "floor_end"):
    f = r["machine"].get(when)
    if not (isinstance(f, dict) and all((f.get("same_cpu") or {}).get(k, {}).get("round_trips", 0) > 0
                                        for k in ("wake", "tcp_rr"))):
        problems.append(f"machine {when} not measured: {f!r}"[:300])
if not any("a proxy's two hops per request" in str(g.get("note")) for g in r["goals"]):
    problems.append("the per-request goals' notes lack the machine's floor")
for lab, nodes in r["components"].items():
    for node in ("node-1", "node-2"):
        if not {"agent", "ztunnel"} <= set(nodes.get(node, {})):
            problems.append(f"lab {lab}: {node} components not verified: {nodes.get(node)}")
if len(r["components"]) != 2:
    problems.append(f"expected the main and the sk_msg lab's components: {list(r['components'])}")
prof = r["profile"]
if perf_works:
    loads = prof.get("loads", {}) if isinstance(prof, dict) else {}
    for load in ("iperf3 1 stream", "64 B request/response"):
        sides = loads.get(load)
        if not isinstance(sides, dict) or set(sides) != {"client", "server"}:
            problems.append(f"profile {load}: {sides if sides else prof}")
            continue
        for side, s in sides.items():
            if not (s["samples"] > 0 and s["groups"] and s["top"]):
                problems.append(f"profile {load} {side}: empty: {s}")
elif not (isinstance(prof, str) and prof.startswith("unavailable: ")):
    problems.append(f"perf does not work here, yet the profile is {prof!r}")
if len(r["goals"]) < 12:
    problems.append(f"only {len(r['goals'])} goals reported")
for g in r["goals"]:  # every path measured: every goal judged (met or not, never which)
    # ... except a ratio to a peer whose added latency came out at or below zero (plain measured
    # slower than a proxied path: the machine, not the harness), which the report names.
    noisy = g["status"].startswith("unavailable: " + report.NOISY_PEER)
    if g["status"] not in ("met", "not met") and not noisy:
        problems.append(f"goal {g['goal']} not judged: {g['status']}")
if not r.get("micro"):
    problems.append("no micro-benchmarks")
problems = fatal + problems
if problems:
    print("\n".join(problems))
    # One line the e2e runner repeats at the end of the run (a CI log is read from its tail).
    print(f"failures: {len(problems)}: " + " | ".join(problems)[:600])
    sys.exit(2 if fatal else 1)
print(f"ok: {len(paths)} paths; statuses: " + ", ".join(f"{p}={r['paths'][p][:40]}" for p in paths))
for p in warren:
    w = [x for x in r["capture"][p]["windows"] if x["window"].startswith("repeat")][0]
    print(f"  {p} {w['window']}: {w['connections']} connections, " + ", ".join(f"{k} +{v:g}" for k, v in w["delta"].items()))
PY

# bench_run K: one quick run and its checks; 0 when they hold, else non-zero with $why set:
# 2 when a check no second run may excuse failed (check.py's exit status), 1 otherwise.
bench_run() {
  local k=$1 out="$LAB_DIR/results-$1" log_file="$LAB_DIR/bench-$1.log" json
  step "bench/run.sh, BENCH_QUICK=1, BENCH_REPEAT=1 (run $k)"
  if ! BENCH_QUICK=1 BENCH_REPEAT=1 BENCH_OUT="$out" BENCH_LAB_NAME="$bench_name" TMPDIR="$LAB_DIR" \
      "$WARREN_SOURCE_DIR/bench/run.sh" "$(dirname "$WARREN_BIN_DIR")" >"$log_file" 2>&1; then
    tail -40 "$log_file" >&2
    why="bench/run.sh failed (run $k)"
    return 1
  fi
  tail -5 "$log_file"
  json=$(ls "$out"/*.json)
  [ -f "${json%.json}.md" ] || { why="no markdown table next to $json"; return 1; }
  [ -f "${json%.json}-throughput.svg" ] || { why="no throughput chart"; return 1; }
  [ -f "${json%.json}-latency.svg" ] || { why="no latency chart"; return 1; }

  step "every scenario key is present, as a figure or a reason (run $k)"
  # A failed check also shows the harness's own account of what went wrong (a path's status
  # keeps 200 characters of an error; the log has all of it, e.g. why a lab did not come up).
  local held=0
  python3 "$LAB_DIR/check.py" "$json" "$perf_works" "$WARREN_SOURCE_DIR/bench/harness" || held=$?
  if [ "$held" -ne 0 ]; then
    echo "--- errors in the bench log (run $k):" >&2
    grep -iE 'lab up|error|failed|unavailable' "$log_file" | tail -30 >&2
    why="the results do not hold (run $k, above)"
  fi

  step "nothing of the bench labs remains (run $k)"
  ls -d "$LAB_DIR"/warren-bench-* 2>/dev/null && fail "bench/run.sh left its scratch dir"
  leftovers_check "$bench_name" "$LAB_DIR/warren-bench-gone"
  leftovers_check "${bench_name}f" "$LAB_DIR/warren-bench-gone"
  return $held
}

why=""
rc=0
bench_run 1 || rc=$?
if [ "$rc" -eq 2 ]; then
  fail "$why: plaintext reached a meshed server pod (never retried)"
elif [ "$rc" -ne 0 ]; then
  log "run 1 did not hold: $why; once more"
  bench_run 2 || fail "$why; run 1 did not hold either"
  log "run 2 held (run 1 did not: see above)"
fi
log "bench harness smoke test passed"
