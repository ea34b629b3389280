#!/usr/bin/env bash
# timeout: 240
# The scale tool works end to end, small: bench/scale.sh with 2 nodes, 20 real pods and a
# synthetic model grown to 500 workloads / 100 services in two stages brings up its own lab,
# measures, tears everything down and writes its JSON. Every measurement must have been
# observed (never judged by its value): each stage's push applied on every ztunnel (its snapshot
# gauges), every ztunnel's and agent's RSS read, the per-workload memory figure computed, the
# one-workload pushes applied everywhere, the namespace label followed by connections through
# the tunnel (eBPF redirects, outbound and inbound mTLS counted for each) and the DENY policy
# followed by denied connections (each counted as a DENY by the server node's ztunnel).
. "$(dirname "$0")/lib.sh"

out="$LAB_DIR/results"
scale_name="wss$$"
scale_name=${scale_name:0:20}
step "bench/scale.sh: 2 nodes, 20 pods, 250:50,500:100"
log_file="$LAB_DIR/scale.log"
if ! SCALE_NODES=2 SCALE_PODS=20 SCALE_STAGES=250:50,500:100 SCALE_PUSH_CHANGES=2 SCALE_DEADLINE=150 \
    SCALE_OUT="$out" SCALE_LAB_NAME="$scale_name" TMPDIR="$LAB_DIR" \
    "$WARREN_SOURCE_DIR/bench/scale.sh" "$(dirname "$WARREN_BIN_DIR")" >"$log_file" 2>&1; then
  tail -40 "$log_file" >&2
  fail "bench/scale.sh failed"
fi
tail -3 "$log_file"
json=$(ls "$out"/*-scale.json)
[ -f "${json%.json}.md" ] || fail "no markdown next to $json"

step "every measurement observed"
python3 - "$json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
problems = list(r["errors"]) + list(r["missing"])
nodes = {"node-1", "node-2"}
if r.get("real_pods_running") != 20:
    problems.append(f"real pods running: {r.get('real_pods_running')}")
if [s["name"] for s in r["stages"]] != ["250:50", "500:100"]:
    problems.append(f"stages: {[s['name'] for s in r['stages']]}")
for s in r["stages"]:
    if set(s["push"]["per_node"]) != nodes:
        problems.append(f"stage {s['name']}: push seen on {sorted(s['push']['per_node'])}")
    for n in nodes:  # the ztunnel's own snapshot holds exactly the model
        g = s["gauges"].get(n, {})
        if g.get("workloads") != s["workloads"] or g.get("services") != s["services"]:
            problems.append(f"stage {s['name']} {n}: gauges {g}, want {s['workloads']}/{s['services']}")
if len(r["incremental_push"]) != 2 or any(set(x["per_node"]) != nodes for x in r["incremental_push"]):
    problems.append(f"incremental pushes: {r['incremental_push']}")
lab, pol = r["label_to_enforcement"], r["policy_to_enforcement"]
if lab.get("tunnelled_attempts", 0) < 1 or not lab.get("counters_prove"):
    problems.append(f"label: {lab}")
if pol.get("denied_attempts", 0) < 1 or pol["counters"]["server_denied"] < pol["denied_attempts"]:
    problems.append(f"policy: {pol}")
if problems:
    print("\n".join(map(str, problems))); sys.exit(1)
print(f"ok: pushes {[s['push']['all_applied_s'] for s in r['stages']]} s, one workload "
      f"{[x['all_applied_s'] for x in r['incremental_push']]} s; ztunnel "
      f"{r['ztunnel_kib_per_workload']['median']:.2f} KiB/workload; label {lab['seconds']:.2f} s "
      f"({lab['tunnelled_attempts']} tunnelled, counters {lab['counters']}); policy {pol['seconds']:.2f} s "
      f"({pol['denied_attempts']} denied, counters {pol['counters']})")
PY

step "nothing of the scale lab remains"
ls -d "$LAB_DIR"/warren-scale-* 2>/dev/null && fail "bench/scale.sh left its scratch dir"
leftovers_check "$scale_name" "$LAB_DIR/warren-scale-gone"
log "scale smoke test passed"
