#!/usr/bin/env bash
# timeout: 240
# Soak (issue 16, item 4): mixed load for SOAK_SECONDS (default 45 here; `make soak` runs 600)
# while the control and data planes are disturbed, counting every connection:
#  - bulk: 8 MiB transfers, sha256-verified by the sink (warren-probe --sink), node-1 -> node-2
#    and node-1 -> node-1, back to back;
#  - request/response: 64 B round trips (warren-bench-rr, a new connection every 2 s), node-1
#    -> both nodes;
#  - churn: a new connection per 2 KiB echo, verified byte for byte, node-2 -> both nodes;
#  all between enrolled pods, so every connection is captured and tunnelled (HBONE, mTLS);
#  - meanwhile: an agent kill -9 + restart every AGENT_EVERY s (alternating nodes), a rolling
#    restart of a ztunnel every ROLL_EVERY s (alternating), certificates with a 60 s TTL (30 s
#    for runs under 2 minutes; SOAK_CERT_TTL), rotated at half-life and again by every roll.
# Asserted: 0 failed connections, 0 corrupted transfers, every load made progress, and RSS and
# fd counts of the agents and ztunnels flat after warm-up (<= 10 % growth, or within a small
# absolute slack for tiny counts; RSS over windows of 30 s or more, so in long runs only)
# for each process that lived long enough to be measured (both
# ztunnels always; the agents in runs that restart them slowly enough, e.g. `make soak`), a
# certificate issued, and each node's running ztunnel counting mutual-TLS connections.
# The summary (also $SOAK_OUT when set) goes to bench/README.md for the long run.
. "$(dirname "$0")/lib.sh"
for b in warren-agent warren-ztunnel warren-bench-rr; do
  [ -x "$WARREN_BIN_DIR/$b" ] || fail "$b is not built"
done
SOAK=${SOAK_SECONDS:-45}
[[ "$SOAK" =~ ^[0-9]+$ ]] && [ "$SOAK" -ge 20 ] || fail "SOAK_SECONDS=$SOAK: a number of seconds >= 20"
AGENT_EVERY=$((SOAK / 20 > 10 ? SOAK / 20 : 10))
ROLL_EVERY=$((SOAK / 5 > 15 ? SOAK / 5 : 15))
WARMUP=$((SOAK / 4 > 20 ? 20 : SOAK / 4))
PY=/usr/bin/python3

# Certificates rotate at half-life: 60 s certificates for a long run, 30 s ones for a short one
# (so they rotate inside it too).
export SECRET_TTL=${SOAK_CERT_TTL:-$([ "$SOAK" -ge 120 ] && echo 60s || echo 30s)}
lab_up 2
for n in 1 2; do wait_for 60 test -S "$LAB_DIR/nodes/node-$n/run/cni.sock"; done
lab_apply - <<'YAML'
apiVersion: v1
kind: Namespace
metadata: {name: soak, labels: {warren.dev/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Pod
metadata: {name: client-1, namespace: soak}
spec: {nodeName: node-1, containers: [{name: m, command: [sleep, infinity]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client-2, namespace: soak}
spec: {nodeName: node-2, containers: [{name: m, command: [sleep, infinity]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: near, namespace: soak}
spec:
  nodeName: node-1
  containers:
  - {name: sink, command: [warren-probe, serve, --port, "8080", --sink]}
  - {name: echo, command: [warren-probe, serve, --port, "8081"]}
---
apiVersion: v1
kind: Pod
metadata: {name: far, namespace: soak}
spec:
  nodeName: node-2
  containers:
  - {name: sink, command: [warren-probe, serve, --port, "8080", --sink]}
  - {name: echo, command: [warren-probe, serve, --port, "8081"]}
YAML
wait_pod_log soak/near "listening on 0.0.0.0:8081"
wait_pod_log soak/far "listening on 0.0.0.0:8081"
NEAR=$(pod_ip soak/near) FAR=$(pod_ip soak/far)
wait_for 60 ztunnel_ready node-1
wait_for 60 ztunnel_ready node-2
probe_sink soak/client-1 "$FAR:8080" 4096 >/dev/null
probe_echo soak/client-2 "$NEAR:8081" 4096 >/dev/null

# load NAME POD 'CMD with {TO}' TARGET...: CMD in a loop inside POD for SOAK seconds, {TO}
# cycling through the targets; counts exit 0 (ok), 1 (warren-probe: bytes differ) and others
# (failed); writes "ok N corrupt N fail N" to $LAB_DIR/NAME.load, failure times and messages to
# $LAB_DIR/NAME.failures.
load() {
  local name=$1 pod=$2 cmd=$3
  shift 3
  "$LAB" exec "$pod" -- bash -c "end=\$((SECONDS + $SOAK)); ok=0; corrupt=0; bad=0; i=0
    targets=($*)
    while [ \$SECONDS -lt \$end ]; do
      to=\${targets[\$((i % \${#targets[@]}))]}; i=\$((i + 1))
      out=\$(${cmd//\{TO\}/\$to} 2>&1); rc=\$?
      case \$rc in
        0) ok=\$((ok + 1)) ;;
        1) corrupt=\$((corrupt + 1)); echo \"\$(date +%T.%N) \$to corrupt: \$out\" >>$LAB_DIR/$name.failures ;;
        *) bad=\$((bad + 1)); echo \"\$(date +%T.%N) \$to rc \$rc: \$out\" >>$LAB_DIR/$name.failures ;;
      esac
    done; echo ok \$ok corrupt \$corrupt fail \$bad" >"$LAB_DIR/$name.load" 2>&1 &
  LOAD_PIDS+=($!)
  on_exit "kill $! 2>/dev/null"
}
LOAD_PIDS=()
BULK=8388608
step "soak for ${SOAK}s: bulk, 64 B request/response, churn; agent restart every ${AGENT_EVERY}s, ztunnel roll every ${ROLL_EVERY}s, $SECRET_TTL certificates"
issued_mark() { cat "$LAB_DIR"/nodes/node-*/logs/ztunnel.log | grep -c ' issued, serial ' || true; }
issued_before=$(issued_mark)
load bulk soak/client-1 "$WARREN_BIN_DIR/warren-probe send --to {TO} --bytes $BULK --sink --timeout 60" "$FAR:8080" "$NEAR:8080"
load rr soak/client-1 "$WARREN_BIN_DIR/warren-bench-rr --to {TO} --size 64 --duration 2 --warmup 0 --timeout 20" "$FAR:8081" "$NEAR:8081"
load churn soak/client-2 "$WARREN_BIN_DIR/warren-probe send --to {TO} --bytes 2048 --timeout 20" "$NEAR:8081" "$FAR:8081"

# Sampler: RSS (KiB) and open fds of every running agent and ztunnel, every 2 s; for a ztunnel
# also what its heap holds and what glibc keeps freed (KiB, its :15000/memory; "-" when the
# answer came from the other ztunnel of a roll or none came).
sample() {
  local end=$(($(date +%s) + SOAK)) node comp pid heap
  while [ "$(date +%s)" -lt "$end" ]; do
    "$LAB" ps 2>/dev/null | awk '($2 == "agent" || $2 == "ztunnel") && $3 == "running" {print $1, $2, $4}' |
      while read -r node comp pid; do
        rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null) || continue
        fds=$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)
        heap="- -"
        [ "$comp" != ztunnel ] || heap=$(node_exec "$node" curl -sf --max-time 2 \
          http://127.0.0.1:15000/memory 2>/dev/null | jq -r --argjson pid "$pid" \
          'if .pid == $pid then "\(.heap.allocated_bytes / 1024 | floor) \(.heap.free_bytes / 1024 | floor)" else "- -" end' 2>/dev/null) || heap="- -"
        [ -n "$heap" ] || heap="- -"
        [ -n "$rss" ] && echo "$(date +%s) $node $comp $pid $rss $fds $heap"
      done >>"$LAB_DIR/samples"
    sleep 2
  done
}
sample &
SAMPLER=$!
on_exit "kill $SAMPLER 2>/dev/null"

start=$(date +%s)
agent_restarts=0 rolls=0 next_agent=$((start + AGENT_EVERY)) next_roll=$((start + ROLL_EVERY))
while [ "$(date +%s)" -lt $((start + SOAK - 3)) ]; do
  now=$(date +%s)
  if [ "$now" -ge "$next_agent" ]; then
    n=node-$((agent_restarts % 2 + 1))
    assert_ok "$LAB" restart "$n" agent --kill >/dev/null
    agent_restarts=$((agent_restarts + 1)) next_agent=$((now + AGENT_EVERY))
    log "agent on $n killed and restarted ($agent_restarts)"
  fi
  if [ "$now" -ge "$next_roll" ]; then
    n=node-$((2 - rolls % 2))
    assert_ok "$LAB" restart "$n" ztunnel >/dev/null
    rolls=$((rolls + 1)) next_roll=$(($(date +%s) + ROLL_EVERY))
    log "ztunnel on $n rolled ($rolls)"
  fi
  sleep 1
done
for p in "${LOAD_PIDS[@]}"; do wait "$p" || true; done
wait "$SAMPLER" || true
issued=$(($(issued_mark) - issued_before))
# Through the mesh: each node's ztunnel (the one running now, counters restart with a roll)
# counted mutual-TLS connections: node-1 carries client-1's outbound and near's inbound, node-2
# client-2's outbound and far's inbound.
mtls=""
for n in 1 2; do
  wait_for 30 ztunnel_ready node-$n
  mtls+="node-$n=$(metric_sum node-$n istio_tcp_connections_opened_total 'connection_security_policy="mutual_tls"') "
done

# What each running ztunnel's allocator kept freed: malloc_trim gives it back (after the
# samples, so it does not shape the curve above).
for n in 1 2; do
  node_exec node-$n curl -sf -X POST --max-time 10 http://127.0.0.1:15000/memory/trim |
    jq -c --arg n node-$n '{node: $n, rss_kib: ([.before.rss_bytes, .after.rss_bytes] | map(. / 1024 | floor)),
      heap_free_kib: ([.before.heap.free_bytes, .after.heap.free_bytes] | map(. / 1024 | floor)),
      heap_allocated_kib: (.after.heap.allocated_bytes / 1024 | floor), arenas: .after.heap.arenas}' \
    >>"$LAB_DIR/trims" || log "node-$n's ztunnel did not answer POST /memory/trim"
done

step "results"
summary=$("$PY" - "$LAB_DIR" "$WARMUP" "$SOAK" "$BULK" "$agent_restarts" "$rolls" "$issued" \
  "$AGENT_EVERY" "$ROLL_EVERY" <<'PY'
import json, os, re, statistics, sys
d, warm, soak, bulk, restarts, rolls, issued, agent_every, roll_every = \
    sys.argv[1], *map(int, sys.argv[2:])
loads = {}
for name in ("bulk", "rr", "churn"):
    text = open(f"{d}/{name}.load").read().strip()
    m = re.fullmatch(r"ok (\d+) corrupt (\d+) fail (\d+)", text)
    loads[name] = dict(zip(("ok", "corrupt", "failed"), map(int, m.groups()))) if m else {"bad": text}
samples = {}
heaps = {}  # (node, comp, pid) -> [(t, allocated KiB, free KiB)] where the ztunnel answered
for line in open(f"{d}/samples"):
    t, node, comp, pid, rss, fds, alloc, free = line.split()
    samples.setdefault((node, comp, pid), []).append((int(t), int(rss), int(fds)))
    if alloc != "-":
        heaps.setdefault((node, comp, pid), []).append((int(t), int(alloc), int(free)))
# Per node component: the process that lived longest after its warm-up; first and last values
# are medians of three samples (one sample is noise on a shared machine).
procs = {}
for (node, comp, pid), s in samples.items():
    s = [x for x in s if x[0] >= s[0][0] + warm]
    if len(s) < 4:
        continue
    span = s[-1][0] - s[0][0]
    if span > procs.get((node, comp), (0,))[0]:
        procs[(node, comp)] = (span, pid, s)
def slope(s):  # KiB of RSS per minute, least squares over (time, rss) samples
    if len(s) < 2:
        return 0.0
    tm, rm = statistics.mean(x[0] for x in s), statistics.mean(x[1] for x in s)
    var = sum((x[0] - tm) ** 2 for x in s)
    return 60 * sum((x[0] - tm) * (x[1] - rm) for x in s) / var if var else 0.0
growth, problems = [], []
for (node, comp), (span, pid, s) in sorted(procs.items()):
    rss0, rss1 = (statistics.median(x[1] for x in part) for part in (s[:3], s[-3:]))
    fd0, fd1 = (statistics.median(x[2] for x in part) for part in (s[:3], s[-3:]))
    g = {"node": node, "component": comp, "pid": int(pid), "seconds": span,
         "rss_kib": [int(rss0), int(rss1)], "rss_growth_pct": round(100 * (rss1 - rss0) / rss0, 1),
         "fds": [int(fd0), int(fd1)], "fd_growth_pct": round(100 * (fd1 - fd0) / max(fd0, 1), 1)}
    # The shape, not only the ends (samples every 2 s): the least-squares RSS slope over the
    # whole window and over its second half. A pool filling up levels off (the second half's
    # slope near 0); a leak keeps its slope.
    g["rss_slope_kib_per_min"] = round(slope(s), 1)
    g["rss_slope_second_half_kib_per_min"] = round(slope(s[len(s) // 2:]), 1)
    # RSS is judged over a window of at least 30 s after warm-up: a ztunnel of the short
    # run lives 30 s between rolls and is still filling its pools, buffers and allocator arenas
    # then (its growth is reported, not judged; `make soak` judges every process).
    g["rss_judged"] = span >= 30
    # Where the RSS went (ztunnels): what the program holds (a leak or a pool grows this) and
    # what glibc's arenas keep freed (fragmentation grows this), over the same window.
    h = [x for x in heaps.get((node, comp, pid), []) if x[0] >= s[0][0]]
    if len(h) >= 4:
        for i, key in ((1, "heap_allocated_kib"), (2, "heap_free_kib")):
            g[key] = [int(statistics.median(x[i] for x in part)) for part in (h[:3], h[-3:])]
        g["heap_allocated_slope_kib_per_min"] = round(slope([(x[0], x[1]) for x in h]), 1)
    growth.append(g)
    # 10 %, or a slack for small absolute numbers (allocator arenas, a pooled connection).
    if g["rss_judged"] and rss1 > rss0 * 1.10 and rss1 - rss0 > 4096:
        problems.append(f"{node} {comp} RSS {rss0:.0f} -> {rss1:.0f} KiB")
    if fd1 > fd0 * 1.10 and fd1 - fd0 > 8:
        problems.append(f"{node} {comp} fds {fd0:.0f} -> {fd1:.0f}")
# A component that lives long enough between two of its restarts (alternating nodes: one every
# 2 * ROLL_EVERY or 2 * AGENT_EVERY on a node) to give eight samples after its warm-up must have
# been measured: ztunnels always are; agents in long runs only (restarted every 20 s otherwise).
must = [(n, comp) for comp, every in (("ztunnel", roll_every), ("agent", agent_every))
        if 2 * every >= warm + 16 for n in ("node-1", "node-2")]
for key in must:
    if key not in procs:
        problems.append(f"{key[0]} {key[1]}: no process sampled long enough after warm-up")
for (node, comp), (span, pid, s) in procs.items():
    if comp == "ztunnel" and not any(g["node"] == node and "heap_allocated_kib" in g for g in growth):
        problems.append(f"{node} ztunnel: no :15000/memory sample of the process measured")
trims = [json.loads(l) for l in open(f"{d}/trims")] if os.path.exists(f"{d}/trims") else []
print(json.dumps({"seconds": soak, "loads": loads, "trim_at_end": trims,
                  "bulk_bytes_verified": loads["bulk"].get("ok", 0) * bulk,
                  "agent_restarts": restarts, "ztunnel_rolls": rolls,
                  "certificates_issued": issued, "flat_after_warmup": growth,
                  "growth_problems": problems}))
PY
)
echo "$summary" | jq .
[ -z "${SOAK_OUT:-}" ] || echo "$summary" >"$SOAK_OUT"
for name in bulk rr churn; do
  [ -s "$LAB_DIR/$name.failures" ] && log "$name failures: $(head -5 "$LAB_DIR/$name.failures")"
  [ "$(jq ".loads.$name.ok" <<<"$summary")" -gt 0 ] || fail "$name made no progress: $(cat "$LAB_DIR/$name.load")"
  assert_eq "$(jq ".loads.$name.failed" <<<"$summary")" 0 "$name: failed connections"
  assert_eq "$(jq ".loads.$name.corrupt" <<<"$summary")" 0 "$name: corrupted transfers"
done
[ "$agent_restarts" -ge 2 ] || fail "only $agent_restarts agent restarts"
[ "$rolls" -ge 1 ] || fail "no ztunnel roll"
for n in 1 2; do
  [[ "$mtls" =~ node-$n=([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -gt 0 ] ||
    fail "node-$n's ztunnel counted no mutual-TLS connection during the soak ($mtls)"
done
[ "$issued" -gt 0 ] || fail "no certificate was issued during the soak (rotation at half-life of $SECRET_TTL)"
assert_eq "$(jq -r '.growth_problems | join("; ")' <<<"$summary")" "" "RSS / fd growth after warm-up"
log "soak ok: $(jq -c '{loads, agent_restarts, ztunnel_rolls, certificates_issued}' <<<"$summary")"
