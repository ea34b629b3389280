"""The scale run's pure half (bench/scale.sh): the manifests it generates (the real pods' Deployments,
the synthetic workloads and services written straight into the lab's manifest store), and the
figures it derives from what it observed (push times, memory per workload, enforcement times),
with the markdown table. Standard library only; JSON is written as YAML flow documents (JSON is
YAML), one object per `---` document."""
import json
import statistics

AMBIENT = {"warren.dev/dataplane-mode": "ambient"}
# Synthetic pods are bound to nodes the lab does not have (lab/scheduler.h `runByLab`): nothing
# runs them, every agent sees them as workloads of another node.
VIRTUAL_NODE = "virtual-{}"
SYNTH_NS = "synth-{}"
# 10.200.0.0/16: outside the lab's pod CIDRs (10.244.<i>.0/24) and service CIDR (10.96.0.0/16).
SYNTH_POD_NET = (10, 200)
# Synthetic ClusterIPs from the upper half of the lab's service CIDR; the lab allocates from the
# bottom (lab/scheduler.h `allocateClusterIp`), so the two never meet in a run.
SYNTH_SVC_BASE = 0x8000
PODS_PER_NS = 500
SERVICES_PER_NS = 100
OBJECTS_PER_FILE = 1000
PROBE_NS = "scaleprobe"


def dump(objects):
    """Objects -> a multi-document YAML text (each document JSON)."""
    return "".join("---\n" + json.dumps(o, separators=(",", ":")) + "\n" for o in objects)


def namespace(name, labels=None):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels or {}}}


def real_pods(count, nodes):
    """The real pods: Deployments of pause pods (a container without a command: the lab runs
    nothing, the pod is its netns, veth, IP and cgroup), 100 per enrolled namespace `scale-<k>`,
    spread over the nodes by the lab's scheduler. -> (objects, {namespace: replicas})."""
    objects, per_ns = [], {}
    k = 0
    left = count
    while left > 0:
        n = min(100, left)
        ns = f"scale-{k}"
        per_ns[ns] = n
        objects.append(namespace(ns, AMBIENT))
        objects.append({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "pause", "namespace": ns},
            "spec": {"replicas": n, "selector": {"matchLabels": {"app": "pause"}},
                     "template": {"metadata": {"labels": {"app": "pause"}},
                                  "spec": {"containers": [{"name": "pause"}]}}}})
        objects.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "pause", "namespace": ns},
                        "spec": {"selector": {"app": "pause"}, "ports": [{"port": 80, "targetPort": 8080}]}})
        left -= n
        k += 1
    return objects, per_ns


def probe_objects(nodes):
    """The two pods the enforcement timings use, in a namespace that starts outside the mesh: a
    warren-echo server on the last node and a client on node-1 whose processes the harness starts
    with `warren-lab exec` (conn_loop.py: what its socket is connected to says direct or
    captured)."""
    server_node = f"node-{nodes}"
    return [
        namespace(PROBE_NS),
        {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": "server", "namespace": PROBE_NS, "labels": {"app": "scale-server"}},
         "spec": {"nodeName": server_node, "containers": [
             {"name": "echo", "command": ["warren-echo", "--port", "8080"],
              "ports": [{"containerPort": 8080}]}]}},
        {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": "client", "namespace": PROBE_NS, "labels": {"app": "scale-client"}},
         "spec": {"nodeName": "node-1", "containers": [{"name": "main"}]}},
        # STRICT: once enrolled, the server accepts mutual TLS only, so an answer it gives from
        # behind ztunnel proves the connection came through the tunnel (without it, a client
        # enrolled a moment before the server's workload turned HBONE goes out in plaintext,
        # is captured on the server's 15006 and answered from behind ztunnel all the same).
        # Ignored while the namespace is outside the mesh.
        {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
         "metadata": {"name": "strict", "namespace": PROBE_NS}, "spec": {"mtls": {"mode": "STRICT"}}},
    ]


def deny_policy():
    """The AuthorizationPolicy whose enforcement is timed: DENY to the server's port 8080."""
    return {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
            "metadata": {"name": "deny-8080", "namespace": PROBE_NS},
            "spec": {"selector": {"matchLabels": {"app": "scale-server"}}, "action": "DENY",
                     "rules": [{"to": [{"operation": {"ports": ["8080"]}}]}]}}


def synth_pod_ip(i):
    return f"{SYNTH_POD_NET[0]}.{SYNTH_POD_NET[1]}.{i // 250}.{i % 250 + 1}"


def synth_service_ip(j):
    h = SYNTH_SVC_BASE + j + 1
    return f"10.96.{h >> 8}.{h & 255}"


def synth_ns_of_pod(i):
    return i // PODS_PER_NS


def synth_ns_of_service(j):
    return j // SERVICES_PER_NS


def synth_pod(i, virtual_nodes):
    """Synthetic workload i: bound to a virtual node, Running with an IP, in namespace
    i // PODS_PER_NS and selected by one of that namespace's SERVICES_PER_NS services (each a
    Service of PODS_PER_NS / SERVICES_PER_NS workloads once the namespace is full)."""
    k = synth_ns_of_pod(i)
    ip = synth_pod_ip(i)
    node = VIRTUAL_NODE.format(i % virtual_nodes + 1)
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"w-{i}", "namespace": SYNTH_NS.format(k), "uid": f"synthetic-{i}",
                         "labels": {"app": f"s-{k}-{i % PODS_PER_NS % SERVICES_PER_NS}"}},
            "spec": {"nodeName": node, "serviceAccountName": f"sa-{i % 10}",
                     "containers": [{"name": "app", "ports": [{"containerPort": 8080}]}]},
            "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "hostIP": "192.168.200.1"}}


def synth_service(j):
    """Synthetic service j: `s-<k>-<m>` in namespace k = j // SERVICES_PER_NS."""
    k, m = synth_ns_of_service(j), j % SERVICES_PER_NS
    ip = synth_service_ip(j)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"s-{k}-{m}", "namespace": SYNTH_NS.format(k)},
            "spec": {"selector": {"app": f"s-{k}-{m}"}, "clusterIP": ip, "clusterIPs": [ip],
                     "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}


def synth_files(w_from, w_to, s_from, s_to, virtual_nodes):
    """The files that take the synthetic model from (w_from workloads, s_from services) to
    (w_to, s_to): [(file name, objects)], at most OBJECTS_PER_FILE objects each, the new
    namespaces (enrolled) first. File names start with `Synthetic_`: no lab object is named so."""
    def namespaces(w, s):
        return {synth_ns_of_pod(i) for i in range(0, w, PODS_PER_NS)} | \
               {synth_ns_of_service(j) for j in range(0, s, SERVICES_PER_NS)}
    files = []
    new_ns = sorted(namespaces(w_to, s_to) - namespaces(w_from, s_from))
    if new_ns:
        files.append((f"Synthetic_namespaces_{new_ns[0]}-{new_ns[-1]}.yaml",
                      [namespace(SYNTH_NS.format(k), AMBIENT) for k in new_ns]))
    for start in range(w_from, w_to, OBJECTS_PER_FILE):
        end = min(w_to, start + OBJECTS_PER_FILE)
        files.append((f"Synthetic_pods_{start}-{end - 1}.yaml", [synth_pod(i, virtual_nodes) for i in range(start, end)]))
    for start in range(s_from, s_to, OBJECTS_PER_FILE):
        end = min(s_to, start + OBJECTS_PER_FILE)
        files.append((f"Synthetic_services_{start}-{end - 1}.yaml", [synth_service(j) for j in range(start, end)]))
    return files


def parse_stages(text):
    """"1000:1000,10000:2000" -> [(1000, 1000), (10000, 2000)]: cumulative synthetic workloads and
    services per stage, each no smaller than the one before."""
    stages = []
    for part in text.split(","):
        w, s = part.split(":")
        stages.append((int(w), int(s)))
    for (w0, s0), (w1, s1) in zip(stages, stages[1:]):
        if w1 < w0 or s1 < s0:
            raise ValueError(f"stages must grow: {text}")
    if any(w < 0 or s < 0 for w, s in stages) or not stages:
        raise ValueError(f"bad stages: {text}")
    return stages


# --- figures ---

def spread(values):
    """{median, min, max, n} of a list of numbers, or None when empty."""
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def push_figures(per_node_seconds, expected_nodes):
    """Per-ztunnel times for one change -> {per_node, all_applied_s (the slowest: every ztunnel
    had it), median_s, missing: nodes that never applied it}."""
    missing = sorted(set(expected_nodes) - set(per_node_seconds))
    times = sorted(per_node_seconds.values())
    return {"per_node": dict(sorted(per_node_seconds.items())),
            "all_applied_s": max(times) if times and not missing else None,
            "median_s": statistics.median(times) if times else None, "missing": missing}


def kib_per_workload(rss_before_kib, rss_after_kib, workloads_added):
    if workloads_added <= 0:
        return None
    return (rss_after_kib - rss_before_kib) / workloads_added


def first_stable(attempts, predicate, t0, stable=5):
    """The first attempt at or after t0 for which `predicate` holds and keeps holding for the next
    `stable` attempts (or to the end, when at least one more came): (seconds since t0, attempt),
    or (None, None). attempts: [{"t": epoch seconds, ...}] in time order."""
    after = [a for a in attempts if a["t"] >= t0]
    for i, a in enumerate(after):
        if not predicate(a):
            continue
        window = after[i:i + stable + 1]
        if len(window) >= min(stable + 1, len(after) - i) and len(window) > 1 and all(predicate(x) for x in window):
            return a["t"] - t0, a
    return None, None


def transition(attempts, t0, before, after):
    """What the attempts between t0 and the first stable `after` attempt did: counts of `before`,
    `after` and other (failed) attempts; and whether anything after that point broke the state."""
    secs, first = first_stable(attempts, after, t0)
    if first is None:
        return {"seconds": None, "observed": False}
    mid = [a for a in attempts if t0 <= a["t"] < first["t"]]
    tail = [a for a in attempts if a["t"] >= first["t"]]
    return {"seconds": secs, "observed": True,
            "attempts_between": len(mid),
            "still_before_between": sum(1 for a in mid if before(a)),
            "failed_between": sum(1 for a in mid if not before(a) and not after(a)),
            "attempts_after": len(tail), "not_after_later": sum(1 for a in tail if not after(a))}


def label_counters_prove(delta, tunnelled):
    """Whether the counters account for `tunnelled` attempts that went through 15001 after the
    namespace label: each redirected by eBPF and opened by the client's ztunnel, with mutual TLS
    or, while its xDS still had the server's workload as plain TCP, in plaintext (the label
    reaches capture and the xDS rebuild separately); and mutual TLS seen on both nodes."""
    return (tunnelled > 0 and delta["connect_redirected"] >= tunnelled
            and delta["client_outbound_mtls"] + delta.get("client_outbound_plain", 0) >= tunnelled
            and delta["client_outbound_mtls"] >= 1 and delta["server_inbound_mtls"] >= 1)


def missing_measurements(result):
    """The measurements a run must have observed (never a threshold on a time): [what is
    missing or zero]. The e2e smoke test fails on any."""
    out = []
    for s in result.get("stages", []):
        p = s.get("push") or {}
        if p.get("all_applied_s") is None:
            out.append(f"stage {s.get('name')}: push not applied on {p.get('missing') or 'every node'}")
        for role in ("ztunnel", "agent"):
            rss = s.get("rss_kib", {}).get(role) or {}
            if not rss or any(not v for v in rss.values()):
                out.append(f"stage {s.get('name')}: {role} RSS missing")
    inc = result.get("incremental_push") or []
    if not inc or any(x.get("all_applied_s") is None for x in inc):
        out.append("incremental push: not applied on every ztunnel")
    mem = result.get("ztunnel_kib_per_workload")
    if not mem or mem.get("median") is None:
        out.append("ztunnel KiB per workload: missing")
    for key in ("label_to_enforcement", "policy_to_enforcement"):
        e = result.get(key) or {}
        if not e.get("observed"):
            out.append(f"{key}: not observed ({e.get('why', 'no stable transition')})")
        elif not e.get("counters_prove"):
            out.append(f"{key}: counters do not prove it: {e.get('counters')}")
    return out


def fmt(v, unit="", digits=3):
    if v is None:
        return "—"
    if isinstance(v, float):
        v = f"{v:.{digits}g}" if abs(v) < 1000 else f"{v:,.0f}"
    return f"{v}{unit}"


def markdown(result):
    """The results table (bench/README.md "Scale" quotes it)."""
    r = result
    cfg = r["config"]
    lines = [f"# Scale run {r['date']} ({r['commit']})", "",
             f"Lab: {cfg['nodes']} nodes, {r.get('real_pods_running', 0)} real pods (pause pods, enrolled) "
             f"+ 2 probe pods; synthetic model: {cfg['stages']} (cumulative workloads:services). "
             f"Duration {r['duration_s']:.0f} s. Machine: {r['machine']['cpu']} x{r['machine']['cpus']}, "
             f"load average at start / end {r['load_start']} / {r['load_end']}.", "",
             "| stage | workloads (ztunnel) | services | full push: all ztunnels applied | median ztunnel | "
             "ztunnel RSS median (min–max) | agent RSS median (min–max) |", "|---|---|---|---|---|---|---|"]
    for s in r.get("stages", []):
        zt = spread(list(s["rss_kib"]["ztunnel"].values())) or {}
        ag = spread(list(s["rss_kib"]["agent"].values())) or {}
        p = s.get("push") or {}
        mib = lambda d, k: fmt(d.get(k, 0) / 1024 if d else None, "", 3)  # noqa: E731
        lines.append(f"| {s['name']} | {s['workloads']:,} | {s['services']:,} | {fmt(p.get('all_applied_s'), ' s')} | "
                     f"{fmt(p.get('median_s'), ' s')} | {mib(zt, 'median')} MiB ({mib(zt, 'min')}–{mib(zt, 'max')}) | "
                     f"{mib(ag, 'median')} MiB ({mib(ag, 'min')}–{mib(ag, 'max')}) |")
    inc = r.get("incremental_push") or []
    alls = spread([x["all_applied_s"] for x in inc if x.get("all_applied_s") is not None])
    lines += ["", "| figure | value |", "|---|---|"]
    if alls:
        lines.append(f"| one workload added/removed at full scale, until every ztunnel applied it ({alls['n']} changes) | "
                     f"median {fmt(alls['median'], ' s')}, min {fmt(alls['min'], ' s')}, max {fmt(alls['max'], ' s')} |")
    m = r.get("ztunnel_kib_per_workload")
    if m:
        lines.append(f"| ztunnel memory per workload (RSS growth {m['from']} → {m['to']}, per ztunnel, median) | "
                     f"{fmt(m['median'], ' KiB')} (min {fmt(m['min'], ' KiB')}, max {fmt(m['max'], ' KiB')}) |")
    a = r.get("agent_kib_per_workload")
    if a:
        lines.append(f"| agent memory per workload (same) | {fmt(a['median'], ' KiB')} |")
    for key, what in (("label_to_enforcement", "namespace label → capture on (a connection goes through the tunnel)"),
                      ("policy_to_enforcement", "AuthorizationPolicy DENY → a connection denied")):
        e = r.get(key) or {}
        if e.get("observed"):
            lines.append(f"| {what} | {fmt(e['seconds'], ' s')} from the manifest write "
                         f"({e['attempts_between']} attempts in between, {e['failed_between']} of them failed) |")
        else:
            lines.append(f"| {what} | not observed: {e.get('why', '?')} |")
    for c in r.get("comparison", []):
        lines.append(f"| {c['what']} | Warren {fmt(c['warren'])} vs Istio {fmt(c['istio'])} = {fmt(c['ratio'])}× ({c['source']}) |")
    return "\n".join(lines) + "\n"
