"""The lab as the benchmark sees it: warren-lab commands, pod facts, commands run in a pod
(`warren-lab exec`: its netns and cgroup, so the node's eBPF capture sees them as it sees the
pod's own processes), the node components' verified PIDs, processes started in a node netns
(kept by PID and stopped by PID), all with time limits."""
import os
import resource
import signal
import subprocess
import time


class CommandError(Exception):
    pass


def run(argv, timeout, check=True, env=None):
    """Runs argv with a time limit; returns CompletedProcess (text). Raises CommandError on a
    non-zero exit (when check) or on the time limit, with the command's own words. The command
    gets its own process group, killed whole on the time limit (`warren-lab exec` waits for the
    command it started, which would outlive a kill of warren-lab alone)."""
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                         text=True, env=env, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as e:
        kill_group(p)
        raise CommandError(f"timed out after {timeout}s: {' '.join(argv)}") from e
    except BaseException:
        kill_group(p)
        raise
    if check and p.returncode != 0:
        msg = (err.strip() or out.strip()).splitlines()
        raise CommandError(f"exit {p.returncode}: {' '.join(argv[:8])}: {' / '.join(msg[-3:])}")
    return subprocess.CompletedProcess(argv, p.returncode, out, err)


def kill_group(p):
    """SIGKILL to the process group of a Popen started with start_new_session (its id is the
    child's PID), then reap the child."""
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        p.communicate(timeout=5)
    except (subprocess.TimeoutExpired, ValueError):
        pass


def cgroup2_mount():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            parts = line.split()
            if " - cgroup2 " in line:
                return parts[4]
    raise RuntimeError("no cgroup2 mount")


class Background:
    """A long-running process (server or proxy) we started: stopped by its PID, SIGTERM then
    SIGKILL, bounded."""

    def __init__(self, label, argv, log_path, nofile=None):
        self.label = label
        self.argv = argv
        self.log = open(log_path, "w")

        # Up to the hard limit (raising that needs CAP_SYS_RESOURCE, which a container may lack).
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        soft = nofile if not nofile or hard == resource.RLIM_INFINITY else min(nofile, hard)

        def raise_limit():
            if nofile:
                resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
            os.setsid()

        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, preexec_fn=raise_limit)
        self.pid = self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
            except ProcessLookupError:
                pass
        self.log.close()


# The node components the bench measures; the DaemonSets' other containers (install-cni) are
# not verified nor recorded.
MEASURED_COMPONENTS = ("agent", "ztunnel")


def parse_ps(text):
    """`warren-lab ps` -> [(node, component, state, pid)] for the node components (pod rows,
    whose second column is NS/POD, are skipped)."""
    out = []
    for line in text.splitlines()[1:]:
        f = line.split()
        if len(f) == 4 and "/" not in f[1] and f[0].startswith("node-"):
            out.append((f[0], f[1], f[2], int(f[3])))
    return out


def parse_ps_pods(text):
    """`warren-lab ps` -> {NS/POD: (node, [pids])} for the pod rows (the PIDs of the pod's
    cgroup, comma-separated; none when it exited)."""
    out = {}
    for line in text.splitlines()[1:]:
        f = line.split()
        if len(f) >= 3 and "/" in f[1]:
            pids = [int(x) for x in f[3].split(",")] if len(f) == 4 and f[2] == "running" else []
            out[f[1]] = (f[0], pids)
    return out


class Lab:
    def __init__(self, bin_dir, lab_dir, name, log):
        self.bin = bin_dir
        self.dir = lab_dir
        self.name = name
        self.log = log
        self.env = dict(os.environ, WARREN_LAB_DIR=lab_dir, WARREN_LAB_NAME=name)
        self.is_up = False

    def cmd(self, *args, timeout=60, check=True):
        return run([os.path.join(self.bin, "warren-lab"), *args], timeout, check, self.env)

    def up(self, nodes=2, extra=()):
        self.is_up = True  # even a failed up may have built something: down cleans it
        self.cmd("up", "--nodes", str(nodes), *extra, timeout=120)

    def down(self):
        if self.is_up:
            self.cmd("down", timeout=120, check=False)
            self.is_up = False

    def apply(self, path):
        self.cmd("apply", "-f", path, timeout=120)

    def pod(self, ns_pod, field):
        return self.cmd("get", "pods", ns_pod, "--field", field).stdout.strip()

    def node_netns(self, node):
        return f"{self.name}-{node}"

    def in_netns(self, netns, argv):
        """A node's netns only (the peer proxies, which sit where ztunnel sits)."""
        return ["ip", "netns", "exec", netns, *argv]

    def exec_argv(self, target, argv):
        """argv run by `warren-lab exec` in a pod (NS/POD: its netns AND cgroup, as the pod's
        own processes) or a node (node-N: its netns); run it with env=self.env."""
        return [os.path.join(self.bin, "warren-lab"), "exec", target, "--", *argv]

    def run_in(self, target, argv, timeout, check=True):
        return run(self.exec_argv(target, argv), timeout, check, self.env)

    def components(self):
        """node -> component -> PID of the running node components the bench measures
        (MEASURED_COMPONENTS), from `warren-lab ps`, each verified (see verify_component).
        Raises CommandError when one does not check out."""
        found = {}
        for node, comp, state, pid in parse_ps(self.cmd("ps").stdout):
            if comp not in MEASURED_COMPONENTS:
                continue
            if state != "running":
                raise CommandError(f"{node} {comp} is {state} (pid {pid})")
            why = self.verify_component(node, comp, pid)
            if why:
                raise CommandError(f"{node} {comp} pid {pid}: {why}")
            found.setdefault(node, {})[comp] = pid
        return found

    def verify_component(self, node, comp, pid):
        """None when pid is warren-<comp> for `node`: that binary, `--node <node>` on its command
        line (`--node N` or `--node=N`), in the component's cgroup and in the node's netns; else what differs."""
        try:
            with open(f"/proc/{pid}/comm") as f:
                comm = f.read().strip()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                args = f.read().decode(errors="replace").split("\0")
            netns = os.stat(f"/proc/{pid}/ns/net").st_ino
        except OSError as e:
            return f"cannot read /proc/{pid}: {e}"
        if comm != f"warren-{comp}":
            return f"is {comm!r}, not warren-{comp}"
        given = [b for a, b in zip(args, args[1:]) if a == "--node"]
        given += [a.removeprefix("--node=") for a in args if a.startswith("--node=")]
        if node not in given:
            return f"command line has no --node {node}: {' '.join(args)[:200]}"
        procs = os.path.join(cgroup2_mount(), self.name, node, f"system-{comp}", "cgroup.procs")
        try:
            with open(procs) as f:
                if str(pid) not in f.read().split():
                    return f"not in {procs}"
        except OSError as e:
            return f"cannot read {procs}: {e}"
        if netns != os.stat(f"/run/netns/{self.node_netns(node)}").st_ino:
            return f"not in netns {self.node_netns(node)}"
        return None

    def metrics(self, target):
        """The Prometheus text on :15020 of a node's netns (node-N: its ztunnel) or a pod
        (NS/POD: e.g. a waypoint's)."""
        return self.run_in(target, ["curl", "-sf", "--max-time", "5", "http://127.0.0.1:15020/metrics"], 15).stdout

    def connections(self, node):
        """A node ztunnel's open connections (:15000/connections, JSON text)."""
        return self.run_in(node, ["curl", "-sf", "--max-time", "5", "http://127.0.0.1:15000/connections"], 15).stdout

    def pod_process(self, ns_pod, comm):
        """(node, PID) of the process named `comm` in pod NS/POD, from `warren-lab ps`, checked:
        that binary, in the pod's network namespace. Raises CommandError naming what differs."""
        node, pids = parse_ps_pods(self.cmd("ps").stdout).get(ns_pod, (None, []))
        netns = self.pod(ns_pod, "netns")
        netns = netns if netns.startswith("/") else f"/run/netns/{netns}"
        for pid in pids:
            try:
                with open(f"/proc/{pid}/comm") as f:
                    if f.read().strip() != comm:
                        continue
                if os.stat(f"/proc/{pid}/ns/net").st_ino != os.stat(netns).st_ino:
                    raise CommandError(f"{ns_pod} {comm} pid {pid} is not in the pod's netns {netns}")
            except OSError:
                continue
            return node, pid
        raise CommandError(f"no running {comm} in pod {ns_pod} (warren-lab ps: {node} {pids})")

    def wait_listening(self, netns, ports, limit=20):
        end = time.time() + limit
        missing = ports
        while time.time() < end:
            out = run(self.in_netns(netns, ["ss", "-Hltn"]), 10, check=False).stdout
            missing = [p for p in ports if f":{p} " not in out]
            if not missing:
                return
            time.sleep(0.2)
        raise CommandError(f"ports {missing} never listened in {netns}")
