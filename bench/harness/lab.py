"""The lab as the benchmark sees it: warren-lab commands, pod facts, processes started in a
node or pod netns (kept by PID and stopped by PID), all with time limits."""
import os
import resource
import signal
import subprocess
import time


class CommandError(Exception):
    pass


def run(argv, timeout, check=True, env=None):
    """Runs argv with a time limit; returns CompletedProcess (text). Raises CommandError on a
    non-zero exit (when check) or on the time limit, with the command's own words."""
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as e:
        raise CommandError(f"timed out after {timeout}s: {' '.join(argv)}") from e
    if check and p.returncode != 0:
        msg = (p.stderr.strip() or p.stdout.strip()).splitlines()
        raise CommandError(f"exit {p.returncode}: {' '.join(argv[:6])}: {' / '.join(msg[-3:])}")
    return p


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
        soft = min(nofile, hard) if hard != resource.RLIM_INFINITY else nofile

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
        return ["ip", "netns", "exec", netns, *argv]

    def component_pids(self, node, component):
        path = os.path.join(cgroup2_mount(), self.name, node, f"system-{component}", "cgroup.procs")
        try:
            with open(path) as f:
                return [int(x) for x in f.read().split()]
        except OSError:
            return []

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
