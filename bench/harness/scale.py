"""bench/scale.sh's engine (`make scale`; tests/e2e/test_scale_smoke.sh runs a small one): a lab of
--nodes nodes with --pods real pause pods in enrolled namespaces, then a synthetic model grown in
--stages (workloads and services written straight into the lab's manifest store, bound to nodes
the lab does not have: every agent serves them, nothing runs them). It measures, per stage, the
time until every ztunnel applied the push (its snapshot gauges, ztunnel_watch.py) and the RSS
of every ztunnel and agent; at full size the time for one added/removed workload to reach every
ztunnel; then, with a client and a warren-echo server in a namespace outside the mesh, the time
from the namespace label to a connection going through the tunnel, and from an
AuthorizationPolicy DENY to a connection denied, each proven by counters. Writes
<out>/<date>-<commit>-scale.{json,md}. Everything runs under a deadline; the lab is torn down in
a finally block (and bench/scale.sh's trap runs `down` again whatever happened)."""
import argparse
import datetime
import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lab import CommandError, Lab, kill_group  # noqa: E402
from main import commit_of, machine  # noqa: E402
from proc_stats import cpu_seconds, status_kib  # noqa: E402
from ztunnel_watch import ZtunnelWatch  # noqa: E402
import capture  # noqa: E402
import scale_model as model  # noqa: E402

START = time.time()
HERE = os.path.dirname(os.path.abspath(__file__))
# Istio's published ztunnel figure (the only one for ztunnel memory): "Performance and
# Scalability", Istio 1.24 (https://istio.io/latest/docs/ops/deployment/performance-and-scalability/):
# a single ztunnel uses about 12 MB of memory (and 0.06 vCPU) at 1000 HTTP requests/s with 1 KB
# payloads, in the load-test mesh of 1000 services and 2000 pods. Not per workload: Istio
# publishes no per-workload or push-time figure for ztunnel.
ISTIO_ZTUNNEL_MB = 12.0
ISTIO_MESH = (2000, 1000)  # pods, services of that mesh
ISTIO_SOURCE = "https://istio.io/latest/docs/ops/deployment/performance-and-scalability/ (Istio 1.24)"


class Deadline(Exception):
    pass


def log(msg):
    print(f"[scale +{time.time() - START:.0f}s] {msg}", flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


class ScaleRun:
    def __init__(self, args, save):
        self.a = args
        self.save = save  # writes the results: before the teardown (which may be cut short) and after
        self.end = START + args.deadline
        self.lab = Lab(args.bin, os.path.join(args.work, "lab"), args.name, log)
        self.result = {"config": {"nodes": args.nodes, "pods": args.pods, "stages": args.stages,
                                  "deadline_s": args.deadline, "push_changes": args.push_changes},
                       "machine": machine(), "load_start": loadavg(), "stages": [], "errors": []}
        self.components = {}
        self.watch = None
        self.loop = None
        self.attempts = []

    def left(self, want):
        """`want` seconds, or what is left before the deadline (Deadline when nothing is)."""
        rest = self.end - time.time()
        if rest < 5:
            raise Deadline(f"deadline of {self.a.deadline} s reached")
        return min(want, rest)

    # --- observation helpers ---

    def rss(self):
        out = {"ztunnel": {}, "agent": {}}
        for node, comps in self.components.items():
            for role in out:
                try:
                    out[role][node] = status_kib(comps[role], "VmRSS")
                except OSError:
                    out[role][node] = None
        return out

    def agent_cpu(self):
        return {n: cpu_seconds(c["agent"]) for n, c in self.components.items()}

    def metrics(self, node):
        return capture.parse_prometheus(self.lab.metrics(node))

    def write_manifest(self, name, objects):
        """Into the lab's manifest store as the store writes (a dot-file renamed into place)."""
        d = os.path.join(self.lab.dir, "manifests")
        tmp = os.path.join(d, "." + name + ".tmp")
        with open(tmp, "w") as f:
            f.write(model.dump(objects))
        os.rename(tmp, os.path.join(d, name))

    def store_write(self, name, objects):
        """The change whose enforcement is timed, written into the store under the lab's own file
        name for the object (replacing it, as the API server does): -> its mtime, the moment of
        the change. Not through `warren-lab label`/`apply`: with 12,000 objects in the store
        the CLI re-reads all of them several times around its write (over 100 s on this
        machine), which is the lab's cost, not the mesh's."""
        self.write_manifest(name, objects)
        return os.stat(os.path.join(self.lab.dir, "manifests", name)).st_mtime

    def remove_manifest(self, name):
        os.unlink(os.path.join(self.lab.dir, "manifests", name))

    # --- steps ---

    def up(self):
        log(f"lab up: {self.a.nodes} nodes")
        self.lab.is_up = True
        self.lab.cmd("up", "--nodes", str(self.a.nodes), timeout=self.left(60 + 20 * self.a.nodes))
        self.components = self.lab.components()
        self.result["components"] = self.components
        self.watch = ZtunnelWatch({n: self.lab.node_netns(n) for n in self.components})
        self.result["rss_empty_kib"] = self.rss()

    def real_pods(self):
        objects, per_ns = model.real_pods(self.a.pods, self.a.nodes)
        objects += model.probe_objects(self.a.nodes)
        path = os.path.join(self.a.work, "real.yaml")
        with open(path, "w") as f:
            f.write(model.dump(objects))
        log(f"apply: {self.a.pods} pause pods in {len(per_ns)} enrolled namespaces + 2 probe pods")
        t = time.time()
        self.lab.cmd("apply", "-f", path, timeout=self.left(60 + 1.5 * self.a.pods))
        self.result["real_pods_apply_s"] = round(time.time() - t, 1)
        pods = json.loads(self.lab.cmd("get", "pods", "-o", "json", timeout=self.left(120)).stdout)
        running = [p for p in pods if p["phase"] == "Running" and p["namespace"] in per_ns]
        # The probe pods' addresses now: `warren-lab get` reads the whole store, slow once the
        # synthetic objects are in.
        self.probe = {p["name"]: (p["podIP"], p["node"]) for p in pods
                      if p["namespace"] == model.PROBE_NS and p["phase"] == "Running"}
        if set(self.probe) != {"client", "server"}:
            raise CommandError(f"probe pods not Running: {self.probe}")
        self.result["real_pods_running"] = len(running)
        if len(running) != self.a.pods:
            raise CommandError(f"{len(running)} of {self.a.pods} real pods Running")
        # Every enrolled pod handed over to its node's ztunnel (ZDS), every pod a workload of
        # every ztunnel: the real part of the model, applied everywhere.
        t0 = time.time()
        per_node = {}
        for p in running:
            per_node[p["node"]] = per_node.get(p["node"], 0) + 1
        self.base_workloads = self.a.pods + 2
        hits = self.watch.until(lambda g, n: g["workloads"] == self.base_workloads and g["pods"] == per_node.get(n, 0),
                                self.left(180), t0)
        snap = dict(self.watch.latest)
        self.result["real_pods_per_node"] = per_node
        self.result["ztunnel_gauges_real"] = snap
        bad = [n for n in self.components if n not in hits]
        if bad:
            raise CommandError(f"real pods not applied on {bad} (want {self.base_workloads} workloads, "
                               f"pods {per_node}): {snap}")
        self.base_services = snap[sorted(snap)[0]]["services"]
        time.sleep(2)
        self.result["rss_real_kib"] = self.rss()

    def stages(self):
        w_prev, s_prev = 0, 0
        for idx, (w, s) in enumerate(model.parse_stages(self.a.stages)):
            name = f"{w}:{s}"
            files = model.synth_files(w_prev, w, s_prev, s, self.a.nodes)
            cpu0 = self.agent_cpu()
            want_w, want_s = self.base_workloads + w, self.base_services + s
            log(f"stage {name}: {len(files)} files -> expect {want_w} workloads, {want_s} services per ztunnel")
            t0 = time.time()
            for fname, objects in files:
                self.write_manifest(fname, objects)
            written = time.time() - t0
            hits = self.watch.until(lambda g, n: g["workloads"] == want_w and g["services"] == want_s,
                                    self.left(self.a.push_timeout), t0)
            stage = {"name": name, "workloads": want_w, "services": want_s, "synthetic_workloads": w,
                     "synthetic_services": s, "files": len(files), "write_s": round(written, 3),
                     "push": model.push_figures(hits, list(self.components)),
                     "gauges": dict(self.watch.latest)}
            time.sleep(3)  # settle: RSS after the push's transient buffers are freed
            stage["rss_kib"] = self.rss()
            stage["agent_cpu_s"] = {n: round(c - cpu0[n], 2) for n, c in self.agent_cpu().items()}
            self.result["stages"].append(stage)
            log(f"stage {name}: all applied in {stage['push']['all_applied_s']} s; "
                f"missing {stage['push']['missing']}")
            if stage["push"]["missing"]:
                raise CommandError(f"stage {name} never applied on {stage['push']['missing']}: {self.watch.latest}")
            w_prev, s_prev = w, s
        self.synth = (w_prev, s_prev)

    def incremental(self):
        """One synthetic workload added, then removed, push_changes times in all."""
        out = []
        w_total = self.synth[0]
        base = self.base_workloads + w_total
        for k in range(self.a.push_changes):
            add = k % 2 == 0
            fname = f"Synthetic_push_{k // 2}.yaml"
            want = base + 1 if add else base
            t0 = time.time()
            if add:
                self.write_manifest(fname, [model.synth_pod(w_total + k // 2, self.a.nodes)])
            else:
                self.remove_manifest(fname)
            hits = self.watch.until(lambda g, n: g["workloads"] == want, self.left(self.a.push_timeout), t0)
            fig = model.push_figures(hits, list(self.components))
            fig["change"] = "add" if add else "remove"
            out.append(fig)
            if not add:
                base = want
        self.result["incremental_push"] = out
        log(f"incremental: {[x['all_applied_s'] for x in out]}")

    def start_loop(self, server_ip, seconds):
        loop = os.path.join(HERE, "conn_loop.py")
        argv = self.lab.exec_argv(f"{model.PROBE_NS}/client",
                                  ["python3", loop, "--to", f"{server_ip}:8080", "--seconds", str(seconds)])
        self.loop = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                     env=self.lab.env, start_new_session=True)

        def read():
            for line in self.loop.stdout:
                try:
                    self.attempts.append(json.loads(line))
                except ValueError:
                    pass
        threading.Thread(target=read, daemon=True).start()

    def wait_attempts(self, pred, n, timeout):
        end = time.time() + timeout
        while time.time() < end:
            if sum(1 for a in self.attempts[-n:] if pred(a)) >= n:
                return True
            time.sleep(0.1)
        return False

    def counters(self, client_node, server_node):
        c = self.metrics(client_node)
        s = self.metrics(server_node)
        ns = model.PROBE_NS
        return {
            "connect_redirected": capture.total(c, "warren_redirect_decisions_total", decision="connect_redirected"),
            "client_outbound_mtls": capture.total(c, "istio_tcp_connections_opened_total", reporter="source",
                                                  destination_workload_namespace=ns,
                                                  connection_security_policy="mutual_tls"),
            # Captured, but sent in plaintext: the client's ztunnel did not know yet that the
            # server's workload had turned HBONE, or had no workload at that address yet (then
            # the destination's labels are all "unknown": counted by the probe client's own
            # namespace, bench/README "Enrolment at scale").
            "client_outbound_plain": capture.total(c, "istio_tcp_connections_opened_total", reporter="source",
                                                   source_workload_namespace=ns,
                                                   connection_security_policy="unknown"),
            "server_inbound_mtls": capture.total(s, "istio_tcp_connections_opened_total", reporter="destination",
                                                 destination_workload_namespace=ns,
                                                 connection_security_policy="mutual_tls"),
            "server_denied": capture.total(s, "istio_tcp_connections_opened_total", reporter="destination",
                                           destination_workload_namespace=ns, response_flags="DENY"),
        }

    def opened_series(self, node, reporter):
        """Every istio_tcp_connections_opened_total series of `node` with this reporter, by its
        labels: what to show when the counters do not prove a transition (which labels the
        missing connection was counted under, if any)."""
        return {tuple(sorted(ls.items())): v for n, ls, v in self.metrics(node)
                if n == "istio_tcp_connections_opened_total" and ls.get("reporter") == reporter}

    def enforcement(self):
        ns = model.PROBE_NS
        client_ip, client_node = self.probe["client"]
        server_ip, server_node = self.probe["server"]
        # Direct: connected to the server itself; tunnelled: captured into ztunnel's 15001 (the
        # counters below prove the mutual TLS on both nodes). The server sees the client's
        # address either way (ztunnel preserves it).
        direct = lambda a: (a["ok"] and a["via"].rsplit(":", 1)[0] == server_ip  # noqa: E731
                            and a["peer"].rsplit(":", 1)[0] == client_ip)
        tunnel = lambda a: a["ok"] and a["via"].rsplit(":", 1)[1] == "15001"  # noqa: E731
        denied = lambda a: not a["ok"]  # noqa: E731
        self.start_loop(server_ip, int(self.left(self.a.enforce_timeout * 2 + 60)))
        if not self.wait_attempts(direct, 5, self.left(30)):
            raise CommandError(f"the probe client never reached the server directly: {self.attempts[-3:]}")

        # Namespace label -> capture on.
        before = self.counters(client_node, server_node)
        series_before = self.opened_series(client_node, "source")
        tb = time.time()
        t0 = self.store_write(f"Namespace__{ns}.yaml", [model.namespace(ns, model.AMBIENT)])
        self.wait_attempts(tunnel, 6, self.left(self.a.enforce_timeout))
        ta = time.time()
        after = self.counters(client_node, server_node)
        res = model.transition(list(self.attempts), t0, direct, tunnel)
        n = sum(1 for a in list(self.attempts) if tb < a["t"] <= ta and tunnel(a))
        delta = {k: after[k] - before[k] for k in before}
        res.update({"tunnelled_attempts": n, "counters": delta,
                    "counters_prove": model.label_counters_prove(delta, n)})
        if not res["counters_prove"]:
            series_after = self.opened_series(client_node, "source")
            res["client_opened_series_delta"] = [
                {"labels": dict(k), "delta": v - series_before.get(k, 0)}
                for k, v in series_after.items() if v != series_before.get(k, 0)]
        if not res["observed"]:
            res["why"] = f"no stable tunnelled attempt within {self.a.enforce_timeout} s: {self.attempts[-3:]}"
        self.result["label_to_enforcement"] = res
        log(f"label -> enforcement: {res.get('seconds')} s, counters {delta}")
        if not res["observed"]:
            return

        # AuthorizationPolicy DENY -> a connection denied.
        before = self.counters(client_node, server_node)
        tb = time.time()
        t0 = self.store_write(f"AuthorizationPolicy_{ns}_deny-8080.yaml", [model.deny_policy()])
        self.wait_attempts(denied, 6, self.left(self.a.enforce_timeout))
        ta = time.time()
        after = self.counters(client_node, server_node)
        res = model.transition(list(self.attempts), t0, tunnel, denied)
        n = sum(1 for a in list(self.attempts) if tb < a["t"] <= ta and denied(a))
        delta = {k: after[k] - before[k] for k in before}
        res.update({"denied_attempts": n, "counters": delta,
                    "counters_prove": n > 0 and delta["server_denied"] >= n})
        if not res["observed"]:
            res["why"] = f"no stable denial within {self.a.enforce_timeout} s: {self.attempts[-3:]}"
        self.result["policy_to_enforcement"] = res
        log(f"policy -> enforcement: {res.get('seconds')} s, counters {delta}")

    def figures(self):
        r = self.result
        last = r["stages"][-1] if r["stages"] else None
        if last and r.get("rss_real_kib"):
            for role, key in (("ztunnel", "ztunnel_kib_per_workload"), ("agent", "agent_kib_per_workload")):
                per = [model.kib_per_workload(r["rss_real_kib"][role][n], last["rss_kib"][role][n],
                                              last["synthetic_workloads"])
                       for n in self.components
                       if r["rss_real_kib"][role].get(n) and last["rss_kib"][role].get(n)]
                sp = model.spread([p for p in per if p is not None])
                if sp:
                    sp.update({"from": f"{self.base_workloads} workloads",
                               "to": f"{last['workloads']} workloads + {last['synthetic_services']} services"})
                r[key] = sp
        # Istio's one ztunnel memory figure, against the stage nearest its mesh size.
        near = min(r["stages"], key=lambda s: abs(s["workloads"] - ISTIO_MESH[0]) + abs(s["services"] - ISTIO_MESH[1]),
                   default=None)
        if near:
            zt = model.spread([v for v in near["rss_kib"]["ztunnel"].values() if v])
            if zt:
                mb = zt["median"] * 1024 / 1e6
                r["comparison"] = [{
                    "what": f"ztunnel memory, MB (Warren idle at {near['workloads']:,} workloads / "
                            f"{near['services']:,} services; Istio at 1000 req/s in a 2,000-pod / 1,000-service mesh)",
                    "warren": round(mb, 1), "istio": ISTIO_ZTUNNEL_MB, "ratio": round(mb / ISTIO_ZTUNNEL_MB, 2),
                    "source": ISTIO_SOURCE}]

    def main(self):
        try:
            self.up()
            self.real_pods()
            self.stages()
            self.incremental()
            self.enforcement()
        except (CommandError, Deadline, KeyboardInterrupt, OSError, ValueError, KeyError) as e:
            self.result["errors"].append(f"{type(e).__name__}: {e}")
            log(f"stopped: {e}")
            traceback.print_exc()
        finally:
            if self.loop is not None and self.loop.poll() is None:
                kill_group(self.loop)
            if self.watch is not None:
                self.watch.close()
            self.result["load_end"] = loadavg()
            try:
                self.figures()
            except (KeyError, TypeError, ValueError) as e:
                self.result["errors"].append(f"figures: {e}")
            self.save(self.result)
            log("lab down")
            t = time.time()
            try:  # 1,000 pods take a while; bench/scale.sh's trap tries again if this fails
                if self.lab.is_up:
                    self.lab.cmd("down", timeout=300, check=False)
                    self.lab.is_up = False
            except CommandError as e:
                self.result["errors"].append(f"down: {e}")
            self.result["down_s"] = round(time.time() - t, 1)
        return self.result


def main():
    ap = argparse.ArgumentParser(description="Warren scale run (use bench/scale.sh)")
    ap.add_argument("--bin", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--nodes", type=int, default=10)
    ap.add_argument("--pods", type=int, default=1000)
    ap.add_argument("--stages", default="1000:1000,10000:2000")
    ap.add_argument("--push-changes", type=int, default=4)
    ap.add_argument("--push-timeout", type=float, default=180)
    ap.add_argument("--enforce-timeout", type=float, default=60)
    ap.add_argument("--deadline", type=float, default=840)
    args = ap.parse_args()
    model.parse_stages(args.stages)

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)

    now = datetime.datetime.now(datetime.timezone.utc)
    commit = commit_of(args.src)
    base = os.path.join(args.out, f"{now.strftime('%Y-%m-%d')}-{commit}-scale")

    def save(result):
        result["date"] = now.strftime("%Y-%m-%d %H:%M UTC")
        result["commit"] = commit
        result["duration_s"] = round(time.time() - START)
        result["missing"] = model.missing_measurements(result)
        os.makedirs(args.out, exist_ok=True)
        with open(base + ".json", "w") as f:
            json.dump(result, f, indent=1)
        with open(base + ".md", "w") as f:
            f.write(model.markdown(result))

    result = ScaleRun(args, save).main()
    save(result)
    log(f"wrote {base}.json, .md; missing: {result['missing'] or 'nothing'}")
    print(base + ".json")
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
