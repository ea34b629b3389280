"""CPU time and peak RSS of the proxy processes over one load: utime+stime from
/proc/<pid>/stat, peak RSS by resetting VmHWM (clear_refs 5) before the load and reading it
after, with a 10 Hz VmRSS sampler as a fallback where the reset is refused."""
import os
import threading

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    # Fields after "(comm)": state is index 0, utime 11, stime 12 (man 5 proc: 14 and 15).
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


def status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


class Meter:
    """Measures a dict label -> pid over a `with` block: cpu_s, peak_rss_kib, rss_start_kib."""

    def __init__(self, procs):
        self.procs = dict(procs)
        self.result = {}
        self._stop = threading.Event()
        self._peak = {k: 0 for k in self.procs}

    def _sample(self):
        while not self._stop.wait(0.1):
            for k, pid in self.procs.items():
                try:
                    self._peak[k] = max(self._peak[k], status_kib(pid, "VmRSS"))
                except OSError:
                    pass

    def __enter__(self):
        self.start = {}
        for k, pid in self.procs.items():
            try:
                with open(f"/proc/{pid}/clear_refs", "w") as f:
                    f.write("5")
            except OSError:
                pass
            self.start[k] = (cpu_seconds(pid), status_kib(pid, "VmRSS"))
            self._peak[k] = self.start[k][1]
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=2)
        for k, pid in self.procs.items():
            try:
                cpu = cpu_seconds(pid) - self.start[k][0]
                hwm = status_kib(pid, "VmHWM")
                rss_now = status_kib(pid, "VmRSS")
            except OSError:
                self.result[k] = None  # the process died during the load
                continue
            self.result[k] = {"cpu_s": cpu, "peak_rss_kib": max(hwm, self._peak[k]),
                              "rss_start_kib": self.start[k][1], "rss_end_kib": rss_now}
        return False
