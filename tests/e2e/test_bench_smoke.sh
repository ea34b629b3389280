#!/usr/bin/env bash
# timeout: 240
# The benchmark harness works end to end: bench/run.sh in quick mode with one repeat brings
# up its own labs, runs every load on every path, tears everything down, and writes a results
# JSON where every scenario key holds a figure or says why not ("unavailable: ..." / "n/a:
# ..."), plus the markdown table and both SVG charts. It never judges the figures.
. "$(dirname "$0")/lib.sh"

out="$LAB_DIR/results"
step "bench/run.sh, BENCH_QUICK=1, BENCH_REPEAT=1"
log_file="$LAB_DIR/bench.log"
bench_name="wbs$$"
bench_name=${bench_name:0:20}
if ! BENCH_QUICK=1 BENCH_REPEAT=1 BENCH_OUT="$out" BENCH_LAB_NAME="$bench_name" TMPDIR="$LAB_DIR" \
    "$WARREN_SOURCE_DIR/bench/run.sh" "$(dirname "$WARREN_BIN_DIR")" >"$log_file" 2>&1; then
  tail -40 "$log_file" >&2
  fail "bench/run.sh failed"
fi
tail -5 "$log_file"
json=$(ls "$out"/*.json)
[ -f "${json%.json}.md" ] || fail "no markdown table next to $json"
[ -f "${json%.json}-throughput.svg" ] || fail "no throughput chart"
[ -f "${json%.json}-latency.svg" ] || fail "no latency chart"

step "every scenario key is present, as a figure or a reason"
python3 - "$json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
paths = ["plain", "plain-same", "warren-cross", "warren-same", "warren-same-skmsg", "stunnel", "haproxy"]
figures = ["iperf_1stream_gbps", "iperf_4stream_gbps", "rr_p50_us", "rr_p99_us", "rr_tps",
           "http_p50_us", "http_p90_us", "http_p99_us", "http_achieved_rps", "wrk_rps",
           "connrate_cps", "idle_opened"]
per_side = ["http_cpu_s", "http_peak_rss_mb", "http_vcpu_per_1k_rps", "http_rss_mb_per_1k_rps",
            "wrk_cpu_us_per_req", "idle_kib_per_conn"]
added = ["rr_added_p50_us", "http_added_p50_us", "http_added_p99_us"]
problems = []
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
# The peers and plain must really be measured (they do not depend on the mesh data path).
for p in ["plain", "plain-same", "stunnel", "haproxy"]:
    if r["paths"].get(p) != "ok":
        problems.append(f"path {p} not measured: {r['paths'].get(p)}")
    for k in ["iperf_1stream_gbps", "rr_p50_us", "http_p50_us", "wrk_rps", "connrate_cps", "idle_opened"]:
        if not isinstance(r["scenarios"][p].get(k), dict):
            problems.append(f"{p}/{k} has no figure: {r['scenarios'][p].get(k)}")
for p in ["stunnel", "haproxy"]:
    if not isinstance(r["scenarios"][p].get("http_vcpu_per_1k_rps.client"), dict):
        problems.append(f"{p}: proxy CPU not measured")
if len(r["goals"]) < 7:
    problems.append(f"only {len(r['goals'])} goals reported")
if not r.get("micro"):
    problems.append("no micro-benchmarks")
if problems:
    print("\n".join(problems)); sys.exit(1)
print(f"ok: {len(paths)} paths; statuses: " + ", ".join(f"{p}={r['paths'][p][:40]}" for p in paths))
PY

step "nothing of the bench labs remains"
ls -d "$LAB_DIR"/warren-bench-* 2>/dev/null && fail "bench/run.sh left its scratch dir"
leftovers_check "$bench_name" "$LAB_DIR/warren-bench-gone"
leftovers_check "${bench_name}f" "$LAB_DIR/warren-bench-gone"
log "bench harness smoke test passed"
