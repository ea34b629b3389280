"""From the raw runs to the figures: median and min–max per path and figure, ratios to plain
and to the best peer, the goals, the markdown table and the SVG charts. Pure functions."""
import html
import math
import statistics

import perf_profile

PEERS = ["stunnel", "haproxy"]
L7_PEERS = ["nginx-http", "haproxy-http"]
# The L7 proxy paths run only the fixed-rate HTTP load (HTTP_LOAD) and compare with L7_PEERS.
L7_PATHS = ["warren-waypoint", *L7_PEERS]
HTTP_LOAD = "HTTP/1.1 fixed 1000 req/s, 1 KiB, 4 connections"
# Path -> (description, the plain path it is compared with).
PATHS = {
    "plain": ("plain TCP, cross-node, namespace not enrolled", "plain"),
    "plain-same": ("plain TCP, same node, namespace not enrolled", "plain-same"),
    "warren-cross": ("Warren (ztunnel HBONE), cross-node", "plain"),
    "warren-same": ("Warren, same node, sk_msg fast path off", "plain-same"),
    "warren-same-skmsg": ("Warren, same node, sk_msg fast path on (lab up --agent-flag=--sockmap-fast-path)",
                          "plain-same"),
    "stunnel": ("stunnel4 mTLS pair, client proxy on the client node, server proxy on the server node", "plain"),
    "haproxy": ("haproxy mTLS pair, client proxy on the client node, server proxy on the server node", "plain"),
    "haproxy-notls": ("the floor, not a peer: the same haproxy pair with no TLS (mode tcp, plaintext between "
                      "the nodes): what two per-node proxies cost on this machine before any mesh work", "plain"),
    "warren-waypoint": ("Warren waypoint (L7, HTTPRoute on the Service): client pod -> node-1 ztunnel -> HBONE -> "
                        "warren-waypoint -> HBONE -> node-2 ztunnel -> server pod", "plain"),
    "nginx-http": ("nginx HTTP reverse proxy (one worker, upstream keep-alive, no TLS) in node-1's netns -> "
                   "server pod", "plain"),
    "haproxy-http": ("haproxy mode http (default threads, http-reuse always, no TLS) in node-1's netns -> "
                     "server pod", "plain"),
}
SIDES = ["client", "server", "proxy"]
# Proxy processes measured per path: the client-node and server-node proxy; on one node one
# ztunnel serves both ends ("client" is that ztunnel); "proxy" is an L7 path's HTTP proxy (the
# waypoint process, nginx, haproxy), the one its L7 peers are compared on.
PATH_SIDES = {"plain": [], "plain-same": [], "warren-cross": ["client", "server"], "warren-same": ["client"],
              "warren-same-skmsg": ["client"], "stunnel": ["client", "server"], "haproxy": ["client", "server"],
              "haproxy-notls": ["client", "server"], "warren-waypoint": SIDES, "nginx-http": ["proxy"], "haproxy-http": ["proxy"]}

# Load -> figures; a figure ending in ".side" exists per proxy side. (unit, higher_is_better)
LOADS = [
    ("iperf3 bulk", [("iperf_1stream_gbps", "Gbit/s", True), ("iperf_4stream_gbps", "Gbit/s", True),
                     ("iperf_1stream_cpu_s.side", "CPU s", False), ("iperf_4stream_cpu_s.side", "CPU s", False)]),
    ("64 B request/response", [("rr_p50_us", "µs", False), ("rr_p99_us", "µs", False),
                               ("rr_added_p50_us", "µs", False), ("rr_added_p99_us", "µs", False),
                               ("rr_tps", "trans/s", True), ("rr_cpu_s.side", "CPU s", False)]),
    (HTTP_LOAD,
     [("http_p50_us", "µs", False), ("http_p90_us", "µs", False), ("http_p99_us", "µs", False),
      ("http_added_p50_us", "µs", False), ("http_added_p90_us", "µs", False),
      ("http_added_p99_us", "µs", False), ("http_achieved_rps", "req/s", True),
      ("http_errors", "count", False), ("http_cpu_s.side", "CPU s", False),
      ("http_peak_rss_mb.side", "MB", False), ("http_vcpu_per_1k_rps.side", "vCPU", False),
      ("http_rss_growth_mb.side", "MB", False)]),
    ("wrk closed loop, 4 connections", [("wrk_rps", "req/s", True), ("wrk_cpu_s.side", "CPU s", False),
                                        ("wrk_cpu_us_per_req.side", "CPU µs", False)]),
    ("new connections", [("connrate_cps", "conn/s", True), ("connrate_setup_p50_us", "µs", False),
                         ("connrate_cpu_s.side", "CPU s", False)]),
    ("idle tunneled connections", [("idle_opened", "conns", True), ("idle_alive_after_hold", "conns", True),
                                   ("idle_kib_per_conn.side", "KiB/conn", False),
                                   ("idle_rss_mb.side", "MB", False)]),
]
ADDED = {"rr_added_p50_us": "rr_p50_us", "rr_added_p99_us": "rr_p99_us", "http_added_p50_us": "http_p50_us",
         "http_added_p90_us": "http_p90_us", "http_added_p99_us": "http_p99_us"}


def peers_of(path):
    """The peers a path's "× best peer" compares with."""
    return L7_PEERS if path in L7_PATHS else PEERS


def _missing_side(path, side):
    if not PATH_SIDES[path]:
        return "n/a: no proxy on this path"
    if side == "proxy":
        return "n/a: no L7 proxy on this path"
    if path in L7_PATHS:
        return "n/a: one HTTP proxy in node-1's netns"
    return "n/a: one ztunnel serves both ends on one node"


def figure_keys(path, proxy_sides):
    """Every figure key of a path, with the reason a key has no number by construction."""
    keys = {}
    for load, figs in LOADS:
        for name, _, _ in figs:
            if path in L7_PATHS and load != HTTP_LOAD:
                for side in SIDES if name.endswith(".side") else [None]:
                    key = name if side is None else f"{name[: -len('.side')]}.{side}"
                    keys[key] = "n/a: an L7 proxy path runs only the fixed-rate HTTP load"
                continue
            if name.endswith(".side"):
                base = name[: -len(".side")]
                for side in SIDES:
                    keys[f"{base}.{side}"] = None if side in proxy_sides else _missing_side(path, side)
            elif name in ADDED and PATHS[path][1] == path:
                keys[name] = "n/a: this is the plain baseline"
            else:
                keys[name] = None
    return keys


def meta(key):
    base = key.split(".")[0]
    for _, figs in LOADS:
        for name, unit, higher in figs:
            if name.split(".")[0] == base:
                return unit, higher
    return "", True


def stats(samples):
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples),
            "n": len(samples), "samples": samples}


def aggregate(runs, path_status):
    """runs: path -> list (per repeat) of dicts figure -> number, plus '_errors' -> [str].
    Returns scenarios: path -> figure -> stats dict | 'unavailable: ...' | 'n/a: ...'."""
    scenarios = {}
    for path in PATHS:
        status = path_status.get(path, "unavailable: not run")
        keys = figure_keys(path, PATH_SIDES[path])
        out = {}
        reps = runs.get(path, [])
        base_reps = runs.get(PATHS[path][1], [])
        for key, fixed in keys.items():
            if status != "ok":
                out[key] = status
                continue
            if fixed:
                out[key] = fixed
                continue
            if key in ADDED:
                raw = ADDED[key]
                vals = [r[raw] - b[raw] for r, b in zip(reps, base_reps) if raw in r and raw in b]
                why = "no paired plain figure"
            else:
                vals = [r[key] for r in reps if key in r]
                why = "; ".join(sorted({e for r in reps for e in r.get("_errors", [])}))[:300] or "not measured"
            out[key] = stats(vals) if vals else f"unavailable: {why}"
        scenarios[path] = out
    _add_ratios(scenarios)
    return scenarios


# The reason a ratio to the best peer is missing although every figure was measured.
NOISY_PEER = "the best peer's figure is at or below zero:"


def _add_ratios(scenarios):
    for path, figs in scenarios.items():
        plain = scenarios.get(PATHS[path][1], {})
        for key, v in figs.items():
            if not isinstance(v, dict):
                continue
            _, higher = meta(key)
            p = plain.get(key)
            if isinstance(p, dict) and p["median"] and key not in ADDED:
                v["ratio_to_plain"] = v["median"] / p["median"]
            peers = [scenarios[x][key]["median"] for x in peers_of(path)
                     if x in scenarios and isinstance(scenarios[x].get(key), dict)]
            if peers:
                best = max(peers) if higher else min(peers)
                # An added latency at or below zero (a peer that measured under plain in a noisy
                # run) has no meaningful ratio.
                if best > 0:
                    v["best_peer"] = best
                    v["ratio_to_best_peer"] = v["median"] / best
                else:
                    v["no_ratio"] = (f"unavailable: {NOISY_PEER} {best:.3g} (a peer measured at or under "
                                     "plain: a noisy run)")


def _med(scenarios, path, key):
    v = scenarios.get(path, {}).get(key)
    return v["median"] if isinstance(v, dict) else None


def _why(scenarios, path, key):
    v = scenarios.get(path, {}).get(key)
    return v if isinstance(v, str) else "unavailable: not measured"


# The path whose figures bound what any per-node proxy can reach on the machine of the run.
FLOOR = "haproxy-notls"


def _floor_note(scenarios, key, unit):
    v = scenarios.get(FLOOR, {}).get(key)
    if not isinstance(v, dict):
        return f"floor ({FLOOR}): {_why(scenarios, FLOOR, key)}"
    return f"floor ({FLOOR}, no TLS): {fmt(v['median'])}{unit}"


def _floor_entry(machine_floor, where, kind):
    """One measurement of warren-bench-floor ({} when not measured): `where` same_cpu /
    across_cpus, `kind` wake / tcp_rr."""
    return (machine_floor.get(where) or {}).get(kind) or {}


def _floor_figure(machine_floor, where, what):
    """One figure of warren-bench-floor's TCP round trips (None when not measured)."""
    return _floor_entry(machine_floor, where, "tcp_rr").get(what)


def _hops_note(machine_floor, what, label, show):
    """"; <label>: <show(figure)> on one CPU, <show(figure)> across two" from warren-bench-floor's
    64 B TCP round trips ("" when the floor was not measured)."""
    if not isinstance(machine_floor, dict):
        return ""
    same = _floor_figure(machine_floor, "same_cpu", what)
    if same is None:
        return ""
    across = _floor_figure(machine_floor, "across_cpus", what)
    return f"; {label}: {show(same)} on one CPU" + (f", {show(across)} across two" if across is not None else "")


def _hop_note(machine_floor):
    """The least CPU one proxy spends per request on this machine (the two threads of a TCP round
    trip: two wake-ups, receives and sends, as a proxy's request and answer), in vCPU per 1000
    req/s, with its hops on one CPU and across two."""
    return _hops_note(machine_floor, "cpu_us", "a proxy's two hops per request", lambda us: f"{us / 1000:.3f}")


def _rtt_note(machine_floor):
    """What four hops (the two a proxy pair adds each way) cost: two TCP round trips."""
    return _hops_note(machine_floor, "p50_us", "four hops", lambda us: f"{fmt(2 * us)} µs")


def goals(scenarios, machine_floor=None):
    """The targets of issue #12 ("a fast data path"), each met / not met / the reason it could
    not be judged. Ratios use medians of the same run. The notes of the per-request targets give
    the floor's figure in the same run (FLOOR: a proxy pair with no TLS at all) and, given the
    machine's (warren-bench-floor's JSON), what the hops themselves cost there."""
    g = []

    def add(name, path, key, field, target, ok, note=""):
        v = scenarios.get(path, {}).get(key)
        x = (v.get(field) if field else v["median"]) if isinstance(v, dict) else None
        why = (v.get("no_ratio", "unavailable: not measured") if isinstance(v, dict)
               else _why(scenarios, path, key))
        g.append({"goal": name, "path": path, "value": x if x is not None else why, "target": target,
                  "status": ("met" if ok(x) else "not met") if x is not None else why, "note": note})

    add("cross-node 1 stream vs plain", "warren-cross", "iperf_1stream_gbps", "ratio_to_plain", ">= 0.45x",
        lambda r: r >= 0.45)
    add("cross-node 1 stream vs best peer", "warren-cross", "iperf_1stream_gbps", "ratio_to_best_peer", "> 1x",
        lambda r: r > 1)
    add("cross-node 4 streams vs best peer", "warren-cross", "iperf_4stream_gbps", "ratio_to_best_peer",
        ">= 1.4x", lambda r: r >= 1.4)
    add("added 64 B RTT p50 (cross-node)", "warren-cross", "rr_added_p50_us", None, "<= 30 µs", lambda a: a <= 30,
        _floor_note(scenarios, "rr_added_p50_us", " µs") + _rtt_note(machine_floor))
    add("added 64 B RTT p50 vs best peer", "warren-cross", "rr_added_p50_us", "ratio_to_best_peer", "< 1x",
        lambda r: r < 1)
    for side in ("client", "server"):
        add(f"ztunnel ({side} node) vCPU per 1000 req/s", "warren-cross", f"http_vcpu_per_1k_rps.{side}", None,
            "<= 0.03", lambda c: c <= 0.03,
            _floor_note(scenarios, f"http_vcpu_per_1k_rps.{side}", "") + _hop_note(machine_floor))
        add(f"ztunnel ({side} node) RSS growth at 1000 req/s", "warren-cross", f"http_rss_growth_mb.{side}", None,
            "<= 8 MB", lambda m: m <= 8)
    off = scenarios.get("warren-same", {}).get("iperf_1stream_gbps")
    off_note = (f"sk_msg off: {off['ratio_to_plain']:.2f}x" if isinstance(off, dict) and "ratio_to_plain" in off
                else f"sk_msg off: {_why(scenarios, 'warren-same', 'iperf_1stream_gbps')}")
    add("same-node 1 stream, sk_msg on, vs plain", "warren-same-skmsg", "iperf_1stream_gbps", "ratio_to_plain",
        ">= 0.5x", lambda r: r >= 0.5, off_note)
    add("waypoint vCPU per 1000 req/s (issue #13)", "warren-waypoint", "http_vcpu_per_1k_rps.proxy", None,
        "<= 0.10", lambda c: c <= 0.10,
        "Istio's Envoy waypoint publishes 0.25; " + _floor_note(scenarios, "http_vcpu_per_1k_rps.client", " per proxy")
        + _hop_note(machine_floor))
    add("new connections/s (cross-node) vs best peer", "warren-cross", "connrate_cps", "ratio_to_best_peer", "> 1x",
        lambda r: r > 1)
    for side in ("client", "server"):
        add(f"idle KiB per connection ({side} node) vs best peer", "warren-cross", f"idle_kib_per_conn.{side}",
            "ratio_to_best_peer", "< 1x", lambda r: r < 1)
    return g


def fmt(x):
    if x is None:
        return "—"
    a = abs(x)
    if a == 0:
        return "0"
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 100:
        return f"{x:.0f}"
    if a >= 10:
        return f"{x:.1f}"
    if a >= 1:
        return f"{x:.2f}"
    return f"{x:.3g}"


def _cell_text(v):
    return html.escape(v, quote=False).replace("|", "\\|")


def figures_markdown(result):
    """The goals and one table per load."""
    sc = result["scenarios"]
    lines = []
    lines += ["", "## Goals (issues #12, #13)", "", "| goal | value | target | status | note |", "|---|---|---|---|---|"]
    for g in result["goals"]:
        v = g["value"]
        if isinstance(v, str) and g.get("path") and v == result["paths"].get(g["path"]):
            v = f"{g['path']} unavailable (see Paths)"
        lines.append(f"| {g['goal']} | {fmt(v) if isinstance(v, (int, float)) else _cell_text(str(v))} | "
                     f"{g['target']} | {g['status'] if g['status'] in ('met', 'not met') else 'unavailable'} | "
                     f"{_cell_text(g.get('note', ''))} |")
    down = [p for p in PATHS if result["paths"].get(p) != "ok"]
    for load, figs in LOADS:
        lines += ["", f"## {load}", ""]
        runs_it = [p for p in down if load == HTTP_LOAD or p not in L7_PATHS]
        if runs_it:
            lines += [f"Not measured (see Paths): {', '.join(runs_it)}.", ""]
        lines += ["| figure | path | median | min–max | × plain | × best peer |", "|---|---|---|---|---|---|"]
        for name, unit, _ in figs:
            base = name[: -len(".side")] if name.endswith(".side") else name
            keys = [f"{base}.{s}" for s in SIDES] if name.endswith(".side") else [name]
            for key in keys:
                for path in PATHS:
                    v = sc.get(path, {}).get(key)
                    if v is None or (isinstance(v, str) and v.startswith("n/a")) or path in down:
                        continue
                    label = f"{key} ({unit})"
                    if isinstance(v, str):
                        lines.append(f"| {label} | {path} | {_cell_text(v[:160])} | | | |")
                        continue
                    rp = v.get("ratio_to_plain")
                    rb = v.get("ratio_to_best_peer")
                    lines.append(f"| {label} | {path} | {fmt(v['median'])} | {fmt(v['min'])}–{fmt(v['max'])} | "
                                 f"{'—' if rp is None else f'{rp:.2f}×'} | {'—' if rb is None else f'{rb:.2f}×'} |")
    return lines


def machine_floor_of(m):
    """The run's warren-bench-floor figures for the goals' notes: the start's, else the end's."""
    for when in ("floor_start", "floor_end"):
        if isinstance(m.get(when), dict):
            return m[when]
    return None


def machine_floor_markdown(m):
    """The machine's primitives at the start and end of the run (warren-bench-floor), a table."""
    runs = [(when, m.get(f"floor_{when}")) for when in ("start", "end") if f"floor_{when}" in m]
    if not runs:
        return []
    lines = ["What the machine charges for what every proxy is made of (`warren-bench-floor`, 1 s each: "
             "two threads; a wake-up round trip is two wake-ups of a thread sleeping on an eventfd, a TCP "
             "round trip is 64 B each way over loopback, two hops; CPU is both threads' per round trip):", "",
             "| when | system call | wake-up round trip, one CPU | across two CPUs | 64 B TCP round trip, "
             "one CPU | across two CPUs |", "|---|---|---|---|---|---|"]

    def cell(f, where, kind):
        x = _floor_entry(f, where, kind)
        return "—" if not x else f"{fmt(x['p50_us'])} µs p50, {fmt(x['cpu_us'])} µs CPU"
    for when, f in runs:
        if not isinstance(f, dict):
            lines.append(f"| {when} | {_cell_text(str(f))} | | | | |")
            continue
        lines.append(f"| {when} | {fmt(f.get('syscall_ns'))} ns | {cell(f, 'same_cpu', 'wake')} | "
                     f"{cell(f, 'across_cpus', 'wake')} | {cell(f, 'same_cpu', 'tcp_rr')} | "
                     f"{cell(f, 'across_cpus', 'tcp_rr')} |")
    return lines + [""]


def markdown(result):
    m = result["machine"]
    changed = (f"; the source was at {result['commit_at_end']} when it ended"
               if result.get("commit_at_end") else "")
    lines = [f"# Warren benchmark {result['date']} ({result['commit']}{changed})", "",
             f"Machine: {m['cpu']} x{m['cpus']}, {m['mem_gib']} GiB, {m['kernel']}. "
             f"Repeats: {result['config']['repeat']}{' (quick mode)' if result['config']['quick'] else ''}. "
             f"Load average at start / end (other jobs on the machine): {' '.join(m.get('loadavg_start', []))} / "
             f"{' '.join(m.get('loadavg_end', []))}. "
             f"Figures: median (min–max over the repeats); ratios use medians, same run.", ""]
    lines += machine_floor_markdown(m)
    lines += ["## Paths", "", "| path | what | status |", "|---|---|---|"]
    for p, (desc, _) in PATHS.items():
        lines.append(f"| {p} | {desc} | {_cell_text(result['paths'].get(p, 'not run'))} |")
    lines += evidence_markdown(result.get("capture", {}), result.get("components", {}))
    if not result["config"].get("profile_only"):  # make bench-profile measures no figures
        lines += figures_markdown(result)
    lines += profile_markdown(result.get("profile"))
    micro = result.get("micro", {})
    if micro:
        lines += ["", "## Micro-benchmarks (Google Benchmark, CPU time per iteration)", "",
                  "| binary | benchmark | CPU time | throughput |", "|---|---|---|---|"]
        for binary, entry in micro.items():
            if isinstance(entry, str):
                lines.append(f"| {binary} | {_cell_text(entry[:160])} | | |")
                continue
            for b in entry:
                tput = ""
                if b.get("bytes_per_second"):
                    tput = f"{b['bytes_per_second'] / 2**20:,.0f} MiB/s"
                elif b.get("items_per_second"):
                    tput = f"{b['items_per_second']:,.0f} items/s"
                lines.append(f"| {binary} | {_cell_text(b['name'])} | {fmt(b['cpu_time'])} {b['time_unit']} | {tput} |")
    return "\n".join(lines) + "\n"


WARREN_EVIDENCE = [("connect_redirected", "eBPF connect redirected (client node)"),
                   ("client_outbound_mtls", "outbound mTLS opened (client node ztunnel)"),
                   ("server_inbound_mtls", "inbound mTLS opened (server node ztunnel)"),
                   ("server_inbound_plaintext", "inbound plaintext (must stay 0)"),
                   ("fastpath_redirected", "sk_msg messages redirected"),
                   ("client_proxy_cpu_s", "ztunnel CPU s, client node"),
                   ("server_proxy_cpu_s", "ztunnel CPU s, server node")]
WAYPOINT_EVIDENCE = [("connect_redirected", "eBPF connect redirected (client node)"),
                     ("client_to_waypoint_mtls", "mTLS to the waypoint opened (client node ztunnel)"),
                     ("waypoint_requests", "waypoint istio_requests_total 200"),
                     ("server_from_waypoint_mtls", "mTLS from the waypoint accepted (server node ztunnel)"),
                     ("server_from_waypoint_open", "mTLS from the waypoint open at the end (server node ztunnel)"),
                     ("server_inbound_plaintext", "inbound plaintext (must stay 0)"),
                     ("proxy_proxy_cpu_s", "waypoint CPU s"),
                     ("client_proxy_cpu_s", "ztunnel CPU s, client node"),
                     ("server_proxy_cpu_s", "ztunnel CPU s, server node")]
L7_PEER_EVIDENCE = [("client_node_accepted", "node-1 netns TCP accepted"),
                    ("client_node_opened", "node-1 netns TCP opened"),
                    ("client_node_upstream_open", "proxy to server open at the end"),
                    ("proxy_proxy_cpu_s", "proxy CPU s")]
PEER_EVIDENCE = [("client_node_accepted", "node-1 netns TCP accepted"),
                 ("client_node_opened", "node-1 netns TCP opened"),
                 ("server_node_accepted", "node-2 netns TCP accepted"),
                 ("server_node_opened", "node-2 netns TCP opened"),
                 ("client_proxy_cpu_s", "client proxy CPU s"),
                 ("server_proxy_cpu_s", "server proxy CPU s")]


def _delta_cell(v):
    if v is None:
        return "—"
    text = f"{int(v):,}" if float(v).is_integer() else fmt(v)
    return f"+{text}" if v >= 0 else text


def evidence_markdown(capture, components):
    """The proof that each path went where it says: per evidence window (the pre-check, then
    each repeat's loads), the connections the harness opened and the counter deltas."""
    lines = ["", "## Capture evidence", "",
             "Every client runs in its pod (`warren-lab exec`: the pod's netns and cgroup). A window is the "
             "pre-check (one 1 KiB echo) or one repeat's loads; *connections* is a lower bound of the TCP "
             "connections the harness opened from the client pod in it. A Warren window is proven when the "
             "client node's eBPF redirected and its ztunnel opened at least that many outbound mTLS connections, "
             "the server node's ztunnel accepted at least that many inbound mTLS connections for the destination "
             "pod and no plaintext connection reached it (and, with the sk_msg fast path on, it carried data); a "
             "peer window when both node netns accepted and opened at least that many TCP connections (only the "
             "peer proxies open TCP connections there); in the repeats every proxy process of the path must also "
             "have used CPU. A repeat that is not proven is dropped; a path with no proven window is "
             "`unavailable: not captured` / `not through its proxies`. The L7 paths' pre-check is one GET of the "
             "1 KiB file; a waypoint window is proven when the client node's eBPF redirected and its ztunnel opened "
             "at least that many mTLS connections to the waypoint's identity, the waypoint's istio_requests_total "
             "(reporter waypoint, the Service, 200) rose by at least the 2xx answers the client got and at most the "
             "requests it sent, the server node's ztunnel accepted mTLS from the waypoint for the server pod or had such "
             "a connection open at the window's end (the waypoint keeps upstream connections alive) and no "
             "plaintext reached it; an L7 peer window when node-1's netns accepted that many connections and opened "
             "one to the server pod or had one open to it at the window's end (upstream keep-alive; only the peer "
             "proxies open TCP there)."]
    if components:
        lines += ["", "Node components (PIDs from `warren-lab ps`, each checked: binary, `--node`, cgroup, netns): "
                  + "; ".join(f"{lab} " + ", ".join(f"{node} " + "/".join(f"{c} {pid}" for c, pid in sorted(cs.items()))
                                                     for node, cs in sorted(comps.items()))
                              for lab, comps in components.items()) + "."]
    for kind, cols in (("warren", WARREN_EVIDENCE), ("peer", PEER_EVIDENCE), ("waypoint", WAYPOINT_EVIDENCE),
                       ("l7peer", L7_PEER_EVIDENCE)):
        rows = [(p, e) for p, e in capture.items() if e.get("kind") == kind]
        if not rows:
            continue
        l7 = kind in ("waypoint", "l7peer")
        lines += ["", "| path | window | connections | " + ("requests answered / sent | " if l7 else "")
                  + " | ".join(c[1] for c in cols) + " | verdict |", "|---" * (len(cols) + 4 + l7) + "|"]
        for path, e in rows:
            for w in e["windows"]:
                d = w["delta"]
                asked = w.get("requests", [0, 0])
                lines.append(f"| {path} | {w['window']} | {w['connections']:,} | "
                             + (f"{asked[0]:,} / {asked[1]:,} | " if l7 else "")
                             + " | ".join(_delta_cell(d.get(k)) for k, _ in cols)
                             + f" | {_cell_text(w['verdict'][:200])} |")
    return lines


def _process(side):
    """The process a profile side is: the waypoint (an L7 path's proxy) or a node's ztunnel."""
    return "waypoint" if side == "proxy" else f"ztunnel {side} node"


def profile_markdown(profile):
    lines = ["", "## Where the time goes (perf)", ""]
    if not isinstance(profile, dict):
        return lines + [_cell_text(str(profile or "not run"))]
    lines += [f"`perf record -e {profile['event']} -F 999 -g` of each ztunnel for {profile['seconds']} s of "
              "warren-cross load (and of the waypoint and both ztunnels for as long under the waypoint path's "
              "fixed-rate HTTP load). Each sample counts for its leaf symbol (self time, as `perf report --no-children`) "
              "and its group; a leaf that only marks where time surfaced (a lock's irq-restore point, a retpoline "
              "thunk) is grouped by its first telling caller. Percent of that process's samples; libraries without "
              "symbols are named by file."]
    for load, sides in profile["loads"].items():
        lines += ["", f"### {load}", ""]
        if not isinstance(sides, dict):
            lines.append(_cell_text(str(sides)))
            continue
        names = list(sides)
        groups = [g for g in perf_profile.ORDER if any(g in sides[s]["groups"] for s in names)]
        lines += ["| group | " + " | ".join(f"{_process(s)} ({sides[s]['samples']:,} samples)" for s in names) + " |",
                  "|---" * (len(names) + 1) + "|"]
        for g in groups:
            lines.append(f"| {g} | " + " | ".join(f"{sides[s]['groups'].get(g, 0):.1f} %" for s in names) + " |")
        for s in names:
            top = ", ".join(f"`{_cell_text(t['symbol'][:60])}` {t['percent']:.1f} %" for t in sides[s]["top"][:8])
            lines += ["", f"Top symbols, {_process(s)}: {top}."]
    return lines


COLORS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948"]


def bar_chart_svg(title, unit, series, paths, scenarios, log=False):
    """Grouped bars: one group per path, one bar per (figure key, label) in series, with a
    min–max whisker; a path without the figure shows 'n/a'."""
    width, height, left, top, bottom = 140 + 110 * len(paths), 360, 70, 40, 80
    plot_h = height - top - bottom
    vals = [scenarios[p][k] for p in paths for k, _ in series
            if isinstance(scenarios.get(p, {}).get(k), dict)]
    vmax = max([v["max"] for v in vals] + [1e-9])
    vmin = min([v["min"] for v in vals if v["min"] > 0] + [vmax / 1000 if vmax > 0 else 1])
    if log:
        lo, hi = math.floor(math.log10(max(vmin, 1e-9))), math.ceil(math.log10(vmax))
        hi = max(hi, lo + 1)

        def y(v):
            v = max(v, 10 ** lo)
            return top + plot_h - (math.log10(v) - lo) / (hi - lo) * plot_h
        ticks = [10 ** e for e in range(lo, hi + 1)]
    else:
        step = 10 ** math.floor(math.log10(vmax)) if vmax > 0 else 1
        top_v = math.ceil(vmax / step) * step

        def y(v):
            return top + plot_h - v / top_v * plot_h
        ticks = [i * step for i in range(int(top_v / step) + 1)]
    s = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
         f'<rect width="{width}" height="{height}" fill="white"/>',
         f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14">{html.escape(title)}</text>']
    for t in ticks:
        s.append(f'<line x1="{left}" x2="{width - 20}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="#ddd"/>')
        s.append(f'<text x="{left - 5}" y="{y(t) + 4:.1f}" text-anchor="end">{fmt(t)}</text>')
    s.append(f'<text x="15" y="{top + plot_h / 2}" transform="rotate(-90 15 {top + plot_h / 2})" '
             f'text-anchor="middle">{html.escape(unit)}{" (log)" if log else ""}</text>')
    group_w = (width - left - 20) / max(len(paths), 1)
    bar_w = group_w * 0.8 / max(len(series), 1)
    for i, p in enumerate(paths):
        gx = left + i * group_w + group_w * 0.1
        for j, (k, _) in enumerate(series):
            v = scenarios.get(p, {}).get(k)
            x = gx + j * bar_w
            if not isinstance(v, dict):
                s.append(f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h - 4}" text-anchor="middle" '
                         f'fill="#999" font-size="9">n/a</text>')
                continue
            yv = y(v["median"])
            s.append(f'<rect x="{x:.1f}" y="{yv:.1f}" width="{bar_w - 2:.1f}" height="{top + plot_h - yv:.1f}" '
                     f'fill="{COLORS[j % len(COLORS)]}"><title>{html.escape(p)} {html.escape(k)}: '
                     f'{fmt(v["median"])} ({fmt(v["min"])}–{fmt(v["max"])})</title></rect>')
            cx = x + (bar_w - 2) / 2
            s.append(f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{y(v["min"]):.1f}" y2="{y(v["max"]):.1f}" stroke="black"/>')
        s.append(f'<text x="{gx + group_w * 0.4:.1f}" y="{top + plot_h + 15}" text-anchor="middle">{html.escape(p)}</text>')
    for j, (_, label) in enumerate(series):
        lx = left + j * 150
        s.append(f'<rect x="{lx}" y="{height - 30}" width="10" height="10" fill="{COLORS[j % len(COLORS)]}"/>')
        s.append(f'<text x="{lx + 14}" y="{height - 21}">{html.escape(label)}</text>')
    s.append("</svg>")
    return "\n".join(s) + "\n"


def charts(scenarios):
    paths = list(PATHS)
    tput = bar_chart_svg("Throughput by path (iperf3, median, min–max)", "Gbit/s",
                         [("iperf_1stream_gbps", "1 stream"), ("iperf_4stream_gbps", "4 streams")],
                         [p for p in paths if p not in L7_PATHS], scenarios)
    lat = bar_chart_svg("Latency by path (median, min–max)", "µs",
                        [("rr_p50_us", "64 B RTT p50"), ("rr_p99_us", "64 B RTT p99"),
                         ("http_p50_us", "HTTP 1000/s p50"), ("http_p99_us", "HTTP 1000/s p99")],
                        paths, scenarios, log=True)
    return {"throughput": tput, "latency": lat}
