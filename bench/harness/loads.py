"""One run of each load from a client pod to a path's targets. Each returns the raw figures
of that run (numbers) and, where proxies are measured, their CPU/RSS; a failure raises
CommandError with the reason, which the caller records as 'unavailable: <why>'."""
import json
import os
import re
import subprocess
import time

from lab import CommandError, kill_group
from proc_stats import Meter


class Durations:
    def __init__(self, quick):
        if quick:
            self.iperf, self.rr, self.http, self.wrk, self.connrate = 1, 1, 2, 1, 1
            self.idle_count, self.idle_hold = 300, 1
        else:
            self.iperf, self.rr, self.http, self.wrk, self.connrate = 3, 3, 6, 3, 3
            self.idle_count, self.idle_hold = int(os.environ.get("BENCH_IDLE_CONNS", "10000")), 2
        self.http_rate, self.http_conns = 1000, 4

    def as_dict(self):
        return dict(self.__dict__)


def _last_json(text, what):
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise CommandError(f"{what} printed no JSON: {text.strip()[-200:]}")


def _proxy_figures(prefix, meter_result):
    """Per proxy side: CPU seconds and peak RSS MB over the load."""
    out = {}
    for side, r in meter_result.items():
        if r is None:
            raise CommandError(f"proxy {side} died during the load")
        out[f"{prefix}_cpu_s.{side}"] = r["cpu_s"]
        out[f"{prefix}_peak_rss_mb.{side}"] = r["peak_rss_kib"] / 1024
    return out


class LoadRunner:
    """Every client command runs in the path's client pod through `warren-lab exec` (the pod's
    netns and cgroup). Each load returns its figures plus '_conns', a lower bound of the TCP
    connections it opened from the pod, which the capture check compares with the counters."""

    def __init__(self, lab, bin_dir, durations):
        self.lab = lab
        self.bin = bin_dir
        self.d = durations

    def _client(self, path, argv, timeout):
        return self.lab.run_in(path["client_pod"], argv, timeout)

    def _tool(self, name):
        return os.path.join(self.bin, name)

    def precheck(self, path):
        """Bounded connectivity check through the path: 1 KiB echo verified byte for byte."""
        retry = ["--retry", "5"] if path.get("retry_precheck") else []
        # A freshly enrolled pod may take a moment to be captured: a few tries, bounded.
        attempts = path.pop("precheck_attempts", 1)
        why = None
        for attempt in range(attempts):
            try:
                self._client(path, [self._tool("warren-probe"), "send", "--to", path["echo"],
                                    "--bytes", "1024", "--timeout", "5", *retry], 20)
                return None
            except CommandError as e:
                # Keep the probe's own words ("timed out after sending 1024 and receiving 0 ..."),
                # not the command line around them.
                why = str(e).rsplit("warren-probe: ", 1)[-1]
                if attempt + 1 < attempts:
                    time.sleep(2)
        return f"unavailable: pre-check failed: warren-probe send 1 KiB to {path['echo']} (5 s): {why}"

    def precheck_http(self, path):
        """Bounded check of an L7 path: one GET of the 1 KiB file through it, the body verified
        byte for byte against the file the server serves (path['http_file'])."""
        got = path["http_file"] + ".precheck"
        try:
            if os.path.exists(got):
                os.remove(got)
            self._client(path, ["curl", "-sf", "--max-time", "5", "-o", got, f"http://{path['http']}/1k"], 20)
            with open(got, "rb") as a, open(path["http_file"], "rb") as b:
                if a.read() != b.read():
                    return f"unavailable: pre-check failed: GET http://{path['http']}/1k returned other bytes"
        except (CommandError, OSError) as e:
            return f"unavailable: pre-check failed: GET http://{path['http']}/1k (5 s): {str(e)[-200:]}"
        return None

    def iperf(self, path, streams):
        host, port = path["iperf"].rsplit(":", 1)
        key = f"iperf_{streams}stream"
        with Meter(path["proxies"]) as m:
            p = self._client(path, ["iperf3", "-c", host, "-p", port, "-t", str(self.d.iperf),
                                    "-P", str(streams), "-J", "--connect-timeout", "5000"],
                             self.d.iperf + 30)
        j = json.loads(p.stdout)
        if "error" in j:
            raise CommandError(f"iperf3: {j['error']}")
        bps = j["end"]["sum_received"]["bits_per_second"]
        out = {f"{key}_gbps": bps / 1e9, "_conns": 1 + len(j["start"]["connected"])}  # + control
        out.update(_proxy_figures(key, m.result))
        time.sleep(0.3)  # iperf3 -s needs a moment before it takes the next test
        return out

    def rr(self, path):
        with Meter(path["proxies"]) as m:
            p = self._client(path, [self._tool("warren-bench-rr"), "--to", path["echo"], "--size", "64",
                                    "--duration", str(self.d.rr), "--timeout", "5"], self.d.rr + 20)
        j = _last_json(p.stdout, "warren-bench-rr")
        out = {"rr_p50_us": j["p50_us"], "rr_p99_us": j["p99_us"], "rr_tps": j["tps"], "_conns": 1}
        out.update(_proxy_figures("rr", m.result))
        return out

    def http(self, path):
        """Fixed rate; per proxy also vCPU per 1000 req/s and RSS growth: the peak during the
        load over the process's RSS before the run's first load (path['rss_baseline_kib'])."""
        with Meter(path["proxies"]) as m:
            p = self._client(path, [self._tool("warren-bench-http"), "--to", path["http"],
                                    "--rate", str(self.d.http_rate),
                                    "--connections", str(self.d.http_conns),
                                    "--duration", str(self.d.http), "--timeout", "5"],
                             self.d.http + 30)
        j = _last_json(p.stdout, "warren-bench-http")
        if j["completed"] == 0:
            raise CommandError(f"no HTTP request completed: {j.get('first_error', '?')}")
        if j["non_2xx"] == j["completed"]:
            raise CommandError("every HTTP response was an error status")
        lat = j["latency"]
        clean = j["errors"] == 0 and j.get("reconnects", 0) == 0
        # _answered / _sent: the 2xx answers the client got and the requests it may have sent
        # (an error ends at most one request in flight per connection): an L7 proxy's request
        # counter must fall between them.
        out = {"http_p50_us": lat["p50_us"], "http_p90_us": lat["p90_us"], "http_p99_us": lat["p99_us"],
               "http_achieved_rps": j["achieved_rate"], "http_errors": j["errors"] + j["non_2xx"],
               "_conns": self.d.http_conns if clean else 1,
               "_answered": j["completed"] - j["non_2xx"], "_sent": j["completed"] + j["errors"]}
        out.update(_proxy_figures("http", m.result))
        per_1k = j["achieved_rate"] / 1000
        for side, r in m.result.items():
            out[f"http_vcpu_per_1k_rps.{side}"] = r["cpu_s"] / self.d.http / per_1k
            base = path.get("rss_baseline_kib", {}).get(side)
            if base is not None:
                out[f"http_rss_growth_mb.{side}"] = (r["peak_rss_kib"] - base) / 1024
        return out

    def wrk(self, path):
        with Meter(path["proxies"]) as m:
            p = self._client(path, ["wrk", "-t1", "-c4", f"-d{self.d.wrk}s", "--timeout", "5s",
                                    f"http://{path['http']}/1k"], self.d.wrk + 30)
        rps = re.search(r"Requests/sec:\s+([\d.]+)", p.stdout)
        total = re.search(r"(\d+) requests in", p.stdout)
        if not rps or not total or int(total.group(1)) == 0:
            raise CommandError(f"wrk: no requests: {p.stdout.strip()[-200:]}")
        out = {"wrk_rps": float(rps.group(1)), "_conns": 1 if "Socket errors" in p.stdout else 4}
        requests = int(total.group(1))
        for side, r in m.result.items():
            if r is None:
                raise CommandError(f"proxy {side} died during wrk")
            out[f"wrk_cpu_s.{side}"] = r["cpu_s"]
            out[f"wrk_cpu_us_per_req.{side}"] = r["cpu_s"] / requests * 1e6
        return out

    def connrate(self, path):
        with Meter(path["proxies"]) as m:
            p = self._client(path, [self._tool("warren-bench-connrate"), "--to", path["echo"],
                                    "--threads", "2", "--duration", str(self.d.connrate), "--timeout", "5"],
                             self.d.connrate + 30)
        j = _last_json(p.stdout, "warren-bench-connrate")
        out = {"connrate_cps": j["conns_per_s"], "connrate_setup_p50_us": j["setup_p50_us"],
               "_conns": j["connections"]}
        out.update(_proxy_figures("connrate", m.result))
        return out

    def idle(self, path):
        """Opens the idle connections, measures the proxies' RSS while they are all held."""
        procs = path["proxies"]
        before = {}
        for side, pid in procs.items():
            before[side] = _rss_kib(pid)
        argv = self.lab.exec_argv(path["client_pod"], [
            self._tool("warren-bench-idle"), "--to", path["echo"], "--count", str(self.d.idle_count),
            "--hold", str(self.d.idle_hold + 1), "--timeout", "5", "--open-budget", "60"])
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=self.lab.env, start_new_session=True)
        try:
            line = _readline_bounded(proc, 120)
            if not line:
                err = proc.stderr.read() if proc.poll() is not None else "no output in 120 s"
                raise CommandError(f"warren-bench-idle: {err.strip()[-200:]}")
            j = json.loads(line)
            time.sleep(self.d.idle_hold)  # let the proxies settle with everything open
            during = {side: _rss_kib(pid) for side, pid in procs.items()}
            rest = proc.communicate(timeout=self.d.idle_hold + 30)[0]
        finally:
            if proc.poll() is None:
                kill_group(proc)
        opened = j["opened"]
        if opened == 0:
            raise CommandError(f"no idle connection opened: {j.get('first_error', '?')}")
        out = {"idle_opened": opened, "_conns": opened}
        done = [json.loads(x) for x in rest.splitlines() if x.startswith("{")]
        if done:
            out["idle_alive_after_hold"] = done[-1].get("alive_after_hold", 0)
        for side in procs:
            out[f"idle_kib_per_conn.{side}"] = (during[side] - before[side]) / opened
            out[f"idle_rss_mb.{side}"] = during[side] / 1024
        return out


def _rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _readline_bounded(proc, limit):
    import select
    end = time.time() + limit
    buf = ""
    while time.time() < end:
        r, _, _ = select.select([proc.stdout], [], [], 0.5)
        if r:
            line = proc.stdout.readline()
            if not line:
                return None
            return line
        if proc.poll() is not None:
            return proc.stdout.readline() or None
    return buf or None
