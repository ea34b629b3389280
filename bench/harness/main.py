"""bench/run.sh's engine: one run measures every path under every load, repeats each, and
writes bench/results/<date>-<commit>.{json,md} and the SVG charts. Benchmarks report; they
never fail on a figure. Everything started here is stopped by PID, the lab torn down, in a
finally block (and bench/run.sh's trap runs `down` once more whatever happened)."""
import argparse
import datetime
import json
import os
import platform
import signal
import subprocess
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lab import Background, CommandError, Lab, run  # noqa: E402
from loads import Durations, LoadRunner  # noqa: E402
from proc_stats import cpu_seconds, status_kib  # noqa: E402
import capture  # noqa: E402
import peers  # noqa: E402
import perf_profile  # noqa: E402
import report  # noqa: E402

START = time.time()


def log(msg):
    print(f"[bench +{time.time() - START:.0f}s] {msg}", flush=True)


def machine():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) / 2**20
    return {"cpu": cpu, "cpus": os.cpu_count(), "mem_gib": round(mem, 1),
            "kernel": " ".join(platform.uname()[i] for i in (0, 2, 4)), "uname": " ".join(platform.uname())}


NGINX_CONF = """daemon off;
master_process off;
worker_processes 1;
user root;
pid {dir}/nginx-{pod}.pid;
error_log {dir}/nginx-{pod}.err warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 300s;
  client_body_temp_path {dir}/tmp-{pod};
  proxy_temp_path {dir}/tmp-{pod};
  fastcgi_temp_path {dir}/tmp-{pod};
  uwsgi_temp_path {dir}/tmp-{pod};
  scgi_temp_path {dir}/tmp-{pod};
  server {{
    listen 8080;
    root {dir};
    location / {{ }}
  }}
}}
"""


def pod_yaml(ns, pod, node, servers, www_dir):
    if servers:
        conf = os.path.join(www_dir, f"nginx-{ns}-{pod}.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(dir=www_dir, pod=f"{ns}-{pod}"))
        os.makedirs(os.path.join(www_dir, f"tmp-{ns}-{pod}"), exist_ok=True)
        containers = f"""  - name: echo
    command: [warren-bench-echo, --port, "7000"]
  - name: iperf
    command: [iperf3, -s, -p, "5201"]
  - name: http
    command: [nginx, -c, {conf}]
"""
    else:
        containers = "  - name: main\n    command: [sleep, infinity]\n"
    return f"""---
apiVersion: v1
kind: Pod
metadata:
  name: {pod}
  namespace: {ns}
  labels: {{app: {pod}}}
spec:
  nodeName: {node}
  containers:
{containers}"""


def namespace_yaml(ns, enrolled):
    labels = "\n  labels:\n    warren.dev/dataplane-mode: ambient" if enrolled else ""
    return f"---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}{labels}\n"


def tune_netns(netns):
    """Room for connection-rate and 10,000-connection runs inside the lab's own netns."""
    for k, v in (("net.ipv4.ip_local_port_range", "1024 65000"), ("net.ipv4.tcp_tw_reuse", "1"),
                 ("net.core.somaxconn", "8192"), ("net.ipv4.tcp_max_syn_backlog", "8192")):
        run(["ip", "netns", "exec", netns, "sysctl", "-qw", f"{k}={v}"], 10, check=False)


class Witness:
    """Reads the counters that prove where a path's connections went (see capture.py) and
    the CPU time of its proxy processes, before and after a window of traffic."""

    def __init__(self, lab, kind, proxies, **where):
        self.lab = lab
        self.kind = kind  # "warren", "peer", "waypoint", "l7peer" or "none" (plain: nothing to prove)
        self.proxies = dict(proxies)
        self.where = where

    def describe(self):
        w = self.where
        if self.kind == "warren":
            return (f"ztunnel metrics of {w['client_node']} (outbound, eBPF) and {w['server_node']} (inbound) "
                    f"for destination {w['dest_namespace']}/{w['dest_workload']}"
                    + ("; sk_msg fast path must carry data" if w.get("fast_path") else ""))
        if self.kind == "peer":
            return "TCP opens in node-1's and node-2's netns (only the peer proxies open TCP there) and proxy CPU"
        if self.kind == "waypoint":
            return (f"ztunnel metrics of {w['client_node']} (eBPF, mTLS to {w['waypoint_identity']}) and "
                    f"{w['server_node']} (mTLS from the waypoint to {w['dest_namespace']}/{w['dest_workload']}, new "
                    f"or open, no plaintext), the waypoint's istio_requests_total{{reporter=\"waypoint\",destination_service="
                    f"\"{w['service_host']}\"}} against the requests answered and sent, and proxy CPU")
        if self.kind == "l7peer":
            return ("TCP accepted in node-1's netns and opened from it, or open from it to the server at the window's "
                    "end (only the peer proxies open TCP there), and proxy CPU")
        return "none (plain path)"

    def snapshot(self):
        snap = {}
        for side, pid in self.proxies.items():
            snap[f"{side}_proxy_cpu_s"] = cpu_seconds(pid)
        w = self.where
        if self.kind == "warren":
            cm = self.lab.metrics(w["client_node"])
            sm = cm if w["server_node"] == w["client_node"] else self.lab.metrics(w["server_node"])
            snap.update(capture.warren_counters(cm, sm, w["dest_namespace"], w["dest_workload"]))
        elif self.kind == "waypoint":
            cm = self.lab.metrics(w["client_node"])
            sm = self.lab.metrics(w["server_node"])
            snap.update(capture.waypoint_counters(cm, sm, self.lab.metrics(w["waypoint_pod"]), w["dest_namespace"],
                                                  w["dest_workload"], w["waypoint_identity"], w["service_host"]))
            snap.update(capture.waypoint_open(self.lab.connections(w["server_node"]), w["dest_namespace"],
                                              w["dest_workload"], w["waypoint_identity"]))
        elif self.kind == "l7peer":
            with open(f"/proc/{self.proxies['proxy']}/net/snmp") as f:
                tcp = capture.parse_snmp(f.read())["Tcp"]
            snap.update(client_node_accepted=tcp["PassiveOpens"], client_node_opened=tcp["ActiveOpens"])
            with open(f"/proc/{self.proxies['proxy']}/net/tcp") as f:
                snap[capture.UPSTREAM_OPEN] = capture.established_to(f.read(), w["server"],
                                                                     capture.socket_inodes(self.proxies["proxy"]))
        elif self.kind == "peer":
            texts = []
            for side in ("client", "server"):
                with open(f"/proc/{self.proxies[side]}/net/snmp") as f:
                    texts.append(f.read())
            snap.update(capture.peer_counters(*texts))
        return snap

    def verdict(self, d, connections, loads, requests=(0, 0)):
        """None when the window proves the path; else why not. `loads`: the window carried the
        measured loads (then every proxy of the path must have used CPU), not just the pre-check.
        `requests`: the HTTP requests answered and sent in the window (an L7 path counts them)."""
        why = []
        if self.kind == "warren":
            why.append(capture.warren_verdict(d, connections, self.where.get("fast_path", False)))
        elif self.kind == "waypoint":
            why.append(capture.waypoint_verdict(d, connections, *requests))
        elif self.kind == "l7peer":
            why.append(capture.l7_peer_verdict(d, connections))
        elif self.kind == "peer":
            why.append(capture.peer_verdict(d, connections))
        if loads:
            why += [f"{side} proxy (pid {pid}) used no CPU" for side, pid in self.proxies.items()
                    if d.get(f"{side}_proxy_cpu_s", 0) <= 0]
        return "; ".join(x for x in why if x) or None


GATEWAY1 = "10.244.1.1"  # node-1's CNI gateway: the client pod reaches node-1's netns there
WAYPOINT_IDENTITY = "spiffe://cluster.local/ns/mesh/sa/waypoint"
WAYPOINT_SERVICE_HOST = "web.mesh.svc.cluster.local"
# The waypoint row: Service mesh/web over srv-x's nginx, using the waypoint, and an HTTPRoute on
# it (what an Istio user writes: a Gateway of the waypoint class, use-waypoint, a GAMMA route).
WAYPOINT_YAML = """---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: mesh
  labels: {warren.dev/use-waypoint: waypoint}
spec:
  selector: {app: srv-x}
  ports: [{name: http, port: 8080, targetPort: 8080}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: waypoint
  namespace: mesh
  labels: {warren.dev/waypoint-for: service}
spec:
  gatewayClassName: warren-waypoint
  listeners:
  - {name: mesh, port: 15008, protocol: HBONE}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: web
  namespace: mesh
spec:
  parentRefs: [{group: "", kind: Service, name: web, port: 8080}]
  rules:
  - name: all
    matches: [{path: {type: PathPrefix, value: /}}]
    backendRefs: [{name: web, port: 8080}]
"""


def _unproven(path):
    """How a path that is not proven is named: Warren paths 'not captured', proxies 'not
    through its proxies'."""
    return "not captured" if path["witness"].kind in ("warren", "waypoint") else "not through its proxies"


class Bench:
    def __init__(self, args):
        self.args = args
        self.quick = os.environ.get("BENCH_QUICK", "0") == "1"
        self.repeat = max(1, int(os.environ.get("BENCH_REPEAT", "3")))
        self.d = Durations(self.quick)
        self.work = args.work
        self.background = []
        self.runs = {}
        self.status = {}
        self.evidence = {}
        self.components = {}
        self.profile = None
        self.profile_only = os.environ.get("BENCH_PROFILE_ONLY", "0") == "1"
        self.want_profile = self.profile_only or os.environ.get("BENCH_PROFILE", "1") == "1"
        # BENCH_PATHS=a,b: measure (and profile) only these paths, e.g. the L7 row while working
        # on the waypoint; a partial run never replaces the README's figures.
        self.only = [p for p in os.environ.get("BENCH_PATHS", "").split(",") if p]
        unknown = [p for p in self.only if p not in report.PATHS]
        if unknown:
            raise SystemExit(f"BENCH_PATHS: unknown path {', '.join(unknown)} (known: {', '.join(report.PATHS)})")
        self.rss_baseline = {}
        self.components_error = "warren-lab ps lists none"
        self.lab = None

    # ---- lab and servers ----
    def bring_up(self, name_suffix, extra, namespaces):
        self.lab = Lab(self.args.bin, os.path.join(self.work, f"lab{name_suffix}"),
                       f"{self.args.name}{name_suffix}", log)
        os.makedirs(self.lab.dir, exist_ok=True)
        log(f"lab up {self.lab.name} {' '.join(extra)}")
        self.lab.up(2, extra)
        for i in (1, 2):
            tune_netns(self.lab.node_netns(f"node-{i}"))
        www = os.path.join(self.work, "www")
        os.makedirs(www, exist_ok=True)
        with open(os.path.join(www, "1k"), "wb") as f:
            f.write(bytes((i * 7 + 3) % 256 for i in range(1024)))
        manifest = ""
        for ns, enrolled in namespaces:
            manifest += namespace_yaml(ns, enrolled)
            manifest += pod_yaml(ns, "client", "node-1", False, www)
            manifest += pod_yaml(ns, "srv-x", "node-2", True, www)
            manifest += pod_yaml(ns, "srv-s", "node-1", True, www)
        path = os.path.join(self.work, f"pods{name_suffix}.yaml")
        with open(path, "w") as f:
            f.write(manifest)
        self.lab.apply(path)
        info = {}
        for ns, _ in namespaces:
            for pod in ("client", "srv-x", "srv-s"):
                netns = os.path.basename(self.lab.pod(f"{ns}/{pod}", "netns"))
                info[f"{ns}/{pod}"] = {"ip": self.lab.pod(f"{ns}/{pod}", "podIP"), "netns": netns}
                tune_netns(netns)
                if pod != "client":
                    self.lab.wait_listening(netns, [7000, 5201, 8080])
        return info

    def tear_down(self):
        for b in reversed(self.background):
            try:
                b.stop()
            except Exception as e:  # keep stopping the others
                log(f"stopping {b.label} (pid {b.pid}): {e}")
        self.background = []
        if self.lab:
            log(f"lab down {self.lab.name}")
            self.lab.down()

    def path(self, client_pod, server, proxies, witness, via=None):
        """A path's targets, its client pod (every client runs there, `warren-lab exec`), its
        proxy processes by side, their RSS before any load, and its Witness."""
        targets = {}
        for svc, port in (("echo", 7000), ("iperf", 5201), ("http", 8080)):
            targets[svc] = f"{server['ip']}:{port}" if via is None else f"{via[0]}:{via[1][svc]}"
        baseline = {side: self.rss_baseline.get(pid, status_kib(pid, "VmRSS")) for side, pid in proxies.items()}
        return dict(targets, client_pod=client_pod, proxies=proxies, rss_baseline_kib=baseline,
                    witness=witness)

    def find_components(self):
        """The verified PIDs of every node's agent and ztunnel (Lab.components), recorded in
        the results; their RSS now is the baseline of RSS growth."""
        comps = self.lab.components()
        self.components[self.lab.name] = comps
        for node, c in sorted(comps.items()):
            log(f"{node}: " + ", ".join(f"{k} pid {v}" for k, v in sorted(c.items())) + " (verified)")
            for pid in c.values():
                self.rss_baseline[pid] = status_kib(pid, "VmRSS")
        return {node: c.get("ztunnel") for node, c in comps.items() if c.get("ztunnel")}

    # ---- measuring ----
    def window(self, name, path, label, connections, before, loads, requests=(0, 0)):
        """Closes an evidence window: records the counter deltas and the verdict; returns the
        reason the path is not proven over it, or None."""
        w = path["witness"]
        d = capture.delta(before, w.snapshot())
        bad = w.verdict(d, connections, loads, requests)
        ev = self.evidence.setdefault(name, {"kind": w.kind, "proof": w.describe(), "windows": []})
        ev["windows"].append({"window": label, "connections": connections, "requests": list(requests),
                              "delta": {k: round(v, 3) for k, v in d.items()}, "verdict": bad or "ok"})
        if bad:
            log(f"{name} {label}: NOT PROVEN: {bad}")
        return bad

    def prove(self, name, path, runner):
        """The pre-check (one 1 KiB echo through the path) inside an evidence window: None when
        it went through and took the path, else 'unavailable: ...'."""
        what = _unproven(path)
        try:
            before = path["witness"].snapshot()
        except (CommandError, OSError, KeyError, ValueError) as e:
            return f"unavailable: cannot read the evidence counters: {e}"
        why = runner.precheck_http(path) if "http_file" in path else runner.precheck(path)
        if why:
            return why
        try:
            bad = self.window(name, path, "pre-check", 1, before, loads=False,
                              requests=(1, 1) if "http_file" in path else (0, 0))
        except (CommandError, OSError, KeyError, ValueError) as e:
            return f"unavailable: cannot read the evidence counters: {e}"
        return f"unavailable: {what}: {bad}" if bad else None

    # Every load a repeat may run, in this order, and whether it is timed. The idle load is not:
    # it runs once per path, in a pass of its own (measure_idle).
    LOADS = (
        ("iperf 1", True, lambda runner, path: runner.iperf(path, 1)),
        ("iperf 4", True, lambda runner, path: runner.iperf(path, 4)),
        ("rr", True, lambda runner, path: runner.rr(path)),
        ("http", True, lambda runner, path: runner.http(path)),
        ("wrk", True, lambda runner, path: runner.wrk(path)),
        ("connrate", True, lambda runner, path: runner.connrate(path)),
        ("idle", False, lambda runner, path: runner.idle(path)),
    )
    TIMED_LOADS = tuple(load for load, timed, _ in LOADS if timed)

    def measure(self, name, path, repeat, loads=TIMED_LOADS):
        """`repeat` runs of `loads` through the path, each in an evidence window. The idle load
        (10,000 connections held) runs once per path, in its own pass after every path's
        repeats (measure_idle): a proxy keeps much of that memory afterwards, which would inflate
        the peak RSS of every later load, and the ztunnels serve several paths (the third
        repeat's warren-same and warren-waypoint once read +65 and +136 MB of RSS growth
        after warren-cross's idle load on the same node-1 ztunnel)."""
        runner = LoadRunner(self.lab, self.args.bin, self.d)
        what = _unproven(path)
        why = self.prove(name, path, runner)
        if why:
            log(f"{name}: {why}")
            if self.status.get(name) == "ok":  # worked in an earlier repeat: keep those figures
                self.runs.setdefault(name, []).append({"_errors": [why]})
            else:
                self.status[name] = why
            return
        self.status[name] = "ok"
        for r in range(repeat):
            figures, errors, conns, answered, sent = {}, [], 0, 0, 0
            try:
                before = path["witness"].snapshot()
            except (CommandError, OSError, KeyError, ValueError) as e:
                self.runs.setdefault(name, []).append({"_errors": [f"cannot read the evidence counters: {e}"]})
                continue
            for load, _, run in self.LOADS:
                if load not in loads:
                    continue
                if load not in path.get("loads", (load,)):  # an L7 path: the fixed-rate HTTP load only
                    continue
                try:
                    f = run(runner, path)
                    conns += f.pop("_conns")
                    answered += f.pop("_answered", 0)
                    sent += f.pop("_sent", 0)
                    figures.update(f)
                except (CommandError, KeyError, ValueError, OSError) as e:
                    errors.append(f"{load}: {e}")
                    log(f"{name} #{r + 1} {load} failed: {e}")
            try:
                timed = any(t for load, t, _ in self.LOADS if load in loads)
                label = f"repeat {len(self.runs.get(name, [])) + 1}" if timed else "idle"
                bad = self.window(name, path, label, conns, before,
                                  loads=True, requests=(answered, sent))
            except (CommandError, OSError, KeyError, ValueError) as e:
                bad = f"cannot read the evidence counters: {e}"
            if bad:  # figures of traffic that did not take the path are not the path's figures
                figures = {}
                errors.append(f"{what}: {bad}")
                if not any(len(x) > 1 for x in self.runs.get(name, [])):
                    self.status[name] = f"unavailable: {what}: {bad}"
            figures["_errors"] = errors
            self.runs.setdefault(name, []).append(figures)
            log(f"{name} #{r + 1}: " + ", ".join(f"{k}={v:.4g}" for k, v in figures.items()
                                                  if isinstance(v, (int, float)) and "." not in k))

    def measure_idle(self, paths):
        """The idle load of each proven path that has one, after all their timed loads
        (measure). Idle memory is not a timing: once per path (opening 10,000 TLS connections
        through a peer takes a minute on a busy 2-core machine)."""
        for name, p in paths:
            if self.status.get(name) == "ok" and "idle" in p.get("loads", ("idle",)):
                self.measure(name, p, 1, loads=("idle",))

    def warren_path(self, info, dest_pod, zt, client_node, server_node, fast_path=False):
        """A Warren path from mesh/client, or None when its ztunnels are not there."""
        if client_node not in zt or server_node not in zt:
            return None
        proxies = {"client": zt[client_node]}
        if server_node != client_node:
            proxies["server"] = zt[server_node]
        witness = Witness(self.lab, "warren", proxies, client_node=client_node, server_node=server_node,
                          dest_namespace="mesh", dest_workload=dest_pod, fast_path=fast_path)
        return self.path("mesh/client", info[f"mesh/{dest_pod}"], proxies, witness)

    def deploy_waypoint(self):
        """A waypoint for Service mesh/web (srv-x's nginx, port 8080 `http`) as Istio users
        deploy one: a Gateway of class warren-waypoint (the agents' controller makes the
        Deployment, the lab runs it), the Service labelled warren.dev/use-waypoint, an HTTPRoute
        on it. Waits (bounded) until the waypoint is ready and serves the route. Returns
        {vip, pod, node, pid}; raises CommandError with the reason."""
        manifest = os.path.join(self.work, "waypoint.yaml")
        with open(manifest, "w") as f:
            f.write(WAYPOINT_YAML)
        self.lab.apply(manifest)
        end = time.time() + 90
        pod = None
        while time.time() < end and pod is None:
            self.lab.cmd("reconcile", check=False)
            pods = json.loads(self.lab.cmd("get", "pods", "-n", "mesh", "-o", "json").stdout or "[]")
            pod = next((p["name"] for p in pods
                        if p.get("labels", {}).get("gateway.networking.k8s.io/gateway-name") == "waypoint"), None)
            if pod is None:
                time.sleep(0.5)
        if pod is None:
            raise CommandError("the Gateway mesh/waypoint got no pod in 90 s (is the agents' controller on?)")
        admin = ["curl", "-sf", "--max-time", "3"]
        while True:
            ready = self.lab.run_in(f"mesh/{pod}", admin + ["http://127.0.0.1:15021/healthz/ready"], 10, check=False)
            routes = self.lab.run_in(f"mesh/{pod}", admin + ["http://127.0.0.1:15000/routes"], 10, check=False)
            try:
                served = ready.returncode == 0 and json.loads(routes.stdout).get("accepted_rules", 0) >= 1
            except ValueError:
                served = False
            if served:
                break
            if time.time() > end:
                raise CommandError(f"the waypoint mesh/{pod} is not ready or serves no route after 90 s: "
                                   f"{ready.stdout.strip()[:200]} {routes.stdout.strip()[:200]}")
            time.sleep(0.5)
        node, pid = self.lab.pod_process(f"mesh/{pod}", "warren-waypoint")
        vip = self.lab.cmd("get", "services", "mesh/web", "--field", "clusterIP").stdout.strip()
        if not vip:
            raise CommandError("Service mesh/web has no ClusterIP")
        log(f"waypoint mesh/{pod} on {node}, warren-waypoint pid {pid} (verified), Service mesh/web at {vip}")
        return {"vip": vip, "pod": pod, "node": node, "pid": pid}

    def l7_paths(self, info, zt, waypoint, procs):
        """The L7 proxy paths at the fixed 1000 req/s: the waypoint (client pod -> node-1 ztunnel ->
        waypoint -> ztunnel -> srv-x) and nginx / haproxy as HTTP reverse proxies in node-1's
        netns (client pod -> proxy -> srv-x), all to srv-x's nginx, the fixed-rate load only."""
        www = os.path.join(self.work, "www", "1k")
        out = []
        for name in peers.HTTP_PROXY_PORTS:
            proxies = {"proxy": procs[name].pid}
            witness = Witness(self.lab, "l7peer", proxies, server=f"{info['bench/srv-x']['ip']}:8080")
            p = self.path("bench/client", info["bench/srv-x"], proxies, witness)
            p.update(http=f"{GATEWAY1}:{peers.HTTP_PROXY_PORTS[name]}", http_file=www, loads=("http",))
            out.append((name, p))
        if isinstance(waypoint, str):
            self.status["warren-waypoint"] = waypoint
        elif "node-1" not in zt or "node-2" not in zt:
            self.status["warren-waypoint"] = f"unavailable: warren-ztunnel not found ({self.components_error})"
        else:
            self.components.setdefault(self.lab.name, {}).setdefault(waypoint["node"], {})["waypoint"] = waypoint["pid"]
            proxies = {"client": zt["node-1"], "server": zt["node-2"], "proxy": waypoint["pid"]}
            witness = Witness(self.lab, "waypoint", proxies, client_node="node-1", server_node="node-2",
                              waypoint_pod=f"mesh/{waypoint['pod']}", waypoint_identity=WAYPOINT_IDENTITY,
                              service_host=WAYPOINT_SERVICE_HOST, dest_namespace="mesh", dest_workload="srv-x")
            p = self.path("mesh/client", info["mesh/srv-x"], proxies, witness)
            p.update(http=f"{waypoint['vip']}:8080", http_file=www, loads=("http",), waypoint_node=waypoint["node"])
            out.append(("warren-waypoint", p))
        return out

    def ztunnels(self):
        """node -> verified ztunnel PID; {} (with the reason logged) when they do not check out."""
        try:
            return self.find_components()
        except CommandError as e:
            log(f"node components: {e}")
            self.components_error = str(e)
            return {}

    def phase_main(self):
        # The agents' waypoint controller deploys the waypoint of the L7 row (when built).
        has_waypoint = not self.profile_only and os.access(os.path.join(self.args.bin, "warren-waypoint"), os.X_OK)
        info = self.bring_up("", ["--agent-flag=--controller"] if has_waypoint else [],
                             [("bench", False), ("mesh", True)])
        peers.issue_certs(os.path.join(self.lab.dir, "ca"), os.path.join(self.work, "certs"))
        node2_ip = "192.168.100.12"
        gateway1 = GATEWAY1
        for kind in peers.PORT_BASE:
            pair = peers.start_pair(kind, self.lab, self.work, "node-1", "node-2", node2_ip,
                                    info["bench/srv-x"]["ip"])
            self.background += pair.values()
        http_proxies = peers.start_http_proxies(self.lab, self.work, "node-1", f"{info['bench/srv-x']['ip']}:8080")
        self.background += http_proxies.values()
        waypoint = ("unavailable: not run (bench-profile)" if self.profile_only
                    else "unavailable: warren-waypoint is not built")
        if has_waypoint:
            try:
                waypoint = self.deploy_waypoint()
            except CommandError as e:
                log(f"waypoint: {e}")
                waypoint = f"unavailable: {str(e)[:300]}"
        time.sleep(0.5)
        for kind in peers.PORT_BASE:
            try:
                self.lab.wait_listening(self.lab.node_netns("node-1"), list(peers.client_ports(kind).values()), 10)
                self.lab.wait_listening(self.lab.node_netns("node-2"), peers.server_ports(kind), 10)
            except CommandError as e:
                log(f"{kind}: {e}")
        try:
            self.lab.wait_listening(self.lab.node_netns("node-1"), list(peers.HTTP_PROXY_PORTS.values()), 10)
        except CommandError as e:
            log(f"HTTP proxies: {e}")
        procs = {b.label: b for b in self.background}
        for b in self.background:
            self.rss_baseline[b.pid] = status_kib(b.pid, "VmRSS")
        zt = self.ztunnels()

        def peer(kind):
            proxies = {s: procs[f"{kind}-{s}"].pid for s in ("client", "server")}
            return self.path("bench/client", None, proxies, Witness(self.lab, "peer", proxies),
                             via=(gateway1, peers.client_ports(kind)))

        none = Witness(self.lab, "none", {})
        paths = [
            ("plain", self.path("bench/client", info["bench/srv-x"], {}, none)),
            ("plain-same", self.path("bench/client", info["bench/srv-s"], {}, none)),
            ("stunnel", peer("stunnel")),
            ("haproxy", peer("haproxy")),
            ("haproxy-notls", peer("haproxy-notls")),
        ]
        paths[0][1]["retry_precheck"] = paths[1][1]["retry_precheck"] = True
        for name, dest, server_node in (("warren-cross", "srv-x", "node-2"), ("warren-same", "srv-s", "node-1")):
            p = self.warren_path(info, dest, zt, "node-1", server_node)
            if p:
                paths.append((name, p))
            else:
                self.status[name] = (f"unavailable: warren-ztunnel not found on node-1 and {server_node} "
                                     f"({self.components_error})")
        paths += self.l7_paths(info, zt, waypoint, procs)
        if self.only:
            paths = [(n, p) for n, p in paths if n in self.only]
        if self.profile_only:  # bench-profile: prove the path, then only the profile
            paths = [(n, p) for n, p in paths if n == "warren-cross"]
            for name, p in paths:
                self.status[name] = self.prove(name, p, LoadRunner(self.lab, self.args.bin, self.d)) or "ok"
        # Repeats interleave the paths (plain, peers, mesh, plain, ...) so a slow minute of the
        # shared machine hits every path rather than one.
        for r in range(0 if self.profile_only else self.repeat):
            for name, p in paths:
                if r > 0 and self.status.get(name) != "ok":
                    continue
                self.measure(name, p, 1)
        if not self.profile_only:
            self.measure_idle(paths)
        if self.want_profile:
            self.run_profile(dict(paths).get("warren-cross"), dict(paths).get("warren-waypoint"))
        self.tear_down()

    def run_profile(self, path, waypoint_path=None):
        """perf record -g of both ztunnels during a cross-node 1-stream iperf3 and a 64 B
        request/response run, and of the waypoint and both ztunnels during the waypoint path's
        fixed-rate HTTP load; the grouped self-time summary goes into the results."""
        cross = path is not None and self.status.get("warren-cross") == "ok"
        l7 = waypoint_path is not None and self.status.get("warren-waypoint") == "ok"
        if not cross and not (self.only and l7):
            self.profile = f"unavailable: warren-cross is {self.status.get('warren-cross', 'not run')}"
            return
        event = perf_profile.usable_event()
        if isinstance(event, str) and event.startswith("unavailable"):
            self.profile = event
            return
        seconds = 1 if self.quick else 5
        runner = LoadRunner(self.lab, self.args.bin, Durations(self.quick))
        runner.d.iperf = runner.d.rr = runner.d.http = seconds
        out = {"event": event, "seconds": seconds, "loads": {}}
        loads = [("iperf3 1 stream", path, lambda: runner.iperf(path, 1)),
                 ("64 B request/response", path, lambda: runner.rr(path))] if cross else []
        if l7:
            loads.append(("waypoint, HTTP/1.1 1000 req/s", waypoint_path, lambda: runner.http(waypoint_path)))
        for label, path, load in loads:
            log(f"profile: {label}")
            files = {side: os.path.join(self.work, f"perf-{label.split()[0].strip(',')}-{side}.data")
                     for side in path["proxies"]}
            recs = [Background(f"perf-{side}", perf_profile.record_argv(event, pid, files[side], seconds + 1),
                               files[side] + ".log") for side, pid in path["proxies"].items()]
            self.background += recs
            try:
                time.sleep(0.3)  # perf attached before the load starts
                load()
                for r in recs:
                    r.proc.wait(timeout=seconds + 30)
                out["loads"][label] = {
                    side: perf_profile.summarize(perf_profile.parse_script(run(perf_profile.script_argv(f), 120).stdout))
                    for side, f in files.items()}
            except (CommandError, OSError, ValueError, KeyError, subprocess.TimeoutExpired) as e:
                out["loads"][label] = f"unavailable: {e}"
                log(f"profile {label}: {e}")
            for r in recs:
                r.stop()
                self.background.remove(r)
        self.profile = out

    def phase_skmsg(self):
        name = "warren-same-skmsg"
        try:
            info = self.bring_up("f", ["--agent-flag=--sockmap-fast-path"], [("mesh", True)])
        except CommandError as e:
            log(f"lab up --agent-flag=--sockmap-fast-path: {e}")
            self.status[name] = f"unavailable: lab up with --agent-flag=--sockmap-fast-path failed: {str(e)[:200]}"
            self.tear_down()
            return
        zt = self.ztunnels()
        p = self.warren_path(info, "srv-s", zt, "node-1", "node-1", fast_path=True)
        if p is None:
            self.status[name] = f"unavailable: warren-ztunnel not found on node-1 ({self.components_error})"
        else:
            p["precheck_attempts"] = 3  # measured right after this lab came up
            for r in range(self.repeat):
                if self.status.get(name, "ok") != "ok":
                    break
                self.measure(name, p, 1)
            self.measure_idle([(name, p)])
        self.tear_down()

    def micro(self):
        out = {}
        bench_dir = os.path.join(os.path.dirname(self.args.bin), "bench")
        if not os.path.isdir(bench_dir):
            return {"(none)": f"unavailable: {bench_dir} does not exist"}
        min_time = "0.01" if self.quick else "0.1"
        for b in sorted(os.listdir(bench_dir)):
            exe = os.path.join(bench_dir, b)
            if not (b.endswith("_bench") and os.access(exe, os.X_OK)):
                continue
            log(f"micro {b}")
            try:
                p = run([exe, "--benchmark_format=json", f"--benchmark_min_time={min_time}"],
                        60 if self.quick else 180)
                j = json.loads(p.stdout)
                out[b] = [{k: x.get(k) for k in ("name", "real_time", "cpu_time", "time_unit", "iterations",
                                                 "bytes_per_second", "items_per_second") if k in x}
                          for x in j.get("benchmarks", [])]
            except (CommandError, ValueError) as e:
                out[b] = f"unavailable: {e}"
        return out

    def machine_floor(self):
        """What the machine charges for a system call, a wake-up and a 64 B TCP round trip, on one CPU
        and across two (bench/tools/floor_main.cc): the per-request figures are read against it."""
        try:
            p = run([os.path.join(self.args.bin, "warren-bench-floor"), "--duration", "1"], 60)
            return json.loads(p.stdout)
        except (CommandError, OSError, ValueError) as e:
            return f"unavailable: {e}"

    def main(self):
        result = {"schema": 1, "machine": machine(),
                  "config": {"repeat": self.repeat, "quick": self.quick, "profile_only": self.profile_only,
                             "paths": self.only,
                             "durations_s": self.d.as_dict(),
                             "placement": "peer proxies in the node netns of the client and the server node, "
                                          "like ztunnel; servers in pods; every client runs in its pod "
                                          "(warren-lab exec: the pod's netns and cgroup)"}}
        result["machine"]["loadavg_start"] = open("/proc/loadavg").read().split()[:3]
        if not self.profile_only:
            result["machine"]["floor_start"] = self.machine_floor()
        try:
            self.phase_main()
            if not self.profile_only and (not self.only or "warren-same-skmsg" in self.only):
                self.phase_skmsg()
        except Exception as e:  # a broken harness still reports what it has
            traceback.print_exc()
            result["harness_error"] = f"{type(e).__name__}: {e}"
            for p in report.PATHS:
                self.status.setdefault(p, f"unavailable: harness error: {e}")
        finally:
            self.tear_down()
        result["machine"]["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
        if not self.profile_only:
            result["machine"]["floor_end"] = self.machine_floor()
        result["micro"] = {} if self.profile_only or self.only else self.micro()
        result["paths"] = {p: self.status.get(p, "unavailable: not run") for p in report.PATHS}
        result["capture"] = self.evidence
        result["components"] = self.components
        result["profile"] = self.profile if self.want_profile else "not run (BENCH_PROFILE=0)"
        result["scenarios"] = report.aggregate(self.runs, result["paths"])
        result["goals"] = report.goals(result["scenarios"], report.machine_floor_of(result["machine"]))
        result["raw_runs"] = self.runs
        return result


def commit_of(src):
    try:
        c = run(["git", "-C", src, "rev-parse", "--short=10", "HEAD"], 10).stdout.strip()
        dirty = run(["git", "-C", src, "status", "--porcelain", "--untracked-files=no"], 10).stdout.strip()
        return c + ("-dirty" if dirty else "")
    except CommandError:
        return "unknown"


def update_readme(readme, result, stem):
    """Replaces the text between the results markers of bench/README.md with this run's table."""
    begin, end = "<!-- results:begin -->", "<!-- results:end -->"
    try:
        text = open(readme).read()
    except OSError:
        return
    if begin not in text or end not in text:
        return
    body = report.markdown(result).split("\n", 1)[1]  # drop the file's own title
    block = (f"{begin}\n\nLatest full run: `results/{stem}.json` ({result['duration_s']} s), charts "
             f"`results/{stem}-throughput.svg` and `results/{stem}-latency.svg`.\n\n"
             f"![throughput](results/{stem}-throughput.svg)\n![latency](results/{stem}-latency.svg)\n"
             f"{body}\n{end}")
    head, rest = text.split(begin, 1)
    with open(readme, "w") as f:
        f.write(head + block + rest.split(end, 1)[1])


def main():
    ap = argparse.ArgumentParser(description="Warren benchmark harness (use bench/run.sh)")
    ap.add_argument("--bin", required=True, help="build/bin")
    ap.add_argument("--src", required=True, help="source tree (for the commit)")
    ap.add_argument("--out", required=True, help="results directory")
    ap.add_argument("--work", required=True, help="scratch directory (certs, configs, lab dirs)")
    ap.add_argument("--name", required=True, help="lab name prefix")
    args = ap.parse_args()

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)

    bench = Bench(args)
    # The binaries were built from the tree as the run starts: a commit (or an edit) made while it
    # runs must not name the results, nor mark them dirty.
    commit = commit_of(args.src)
    result = bench.main()
    now = datetime.datetime.now(datetime.timezone.utc)
    result["date"] = now.strftime("%Y-%m-%d %H:%M UTC")
    result["commit"] = commit
    if (at_end := commit_of(args.src)) != commit:
        result["commit_at_end"] = at_end
        log(f"the source changed during the run ({commit} -> {at_end}): named after {commit}")
    result["duration_s"] = round(time.time() - START)
    stem = f"{now.strftime('%Y-%m-%d')}-{result['commit']}" + ("-profile" if result["config"]["profile_only"] else "")
    os.makedirs(args.out, exist_ok=True)
    base = os.path.join(args.out, stem)
    with open(base + ".json", "w") as f:
        json.dump(result, f, indent=1, sort_keys=False)
    with open(base + ".md", "w") as f:
        f.write(report.markdown(result))
    if not result["config"]["profile_only"]:
        for name, svg in report.charts(result["scenarios"]).items():
            with open(f"{base}-{name}.svg", "w") as f:
                f.write(svg)
    log(f"wrote {base}.json, .md" + ("" if result["config"]["profile_only"] else ", -throughput.svg, -latency.svg"))
    readme = os.path.join(args.src, "bench", "README.md")
    full = not result["config"]["quick"] and not result["config"]["profile_only"] and not result["config"]["paths"]
    if full and os.path.realpath(args.out) == os.path.realpath(os.path.join(args.src, "bench", "results")):
        update_readme(readme, result, stem)
    print(base + ".json")


if __name__ == "__main__":
    main()
