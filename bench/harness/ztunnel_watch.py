"""Watches every node's ztunnel `:15020/metrics` at once, to time when each one has applied a
change: one thread per node, each moved into its node's network namespace with setns(2) (a
network namespace is per thread), polling `127.0.0.1:15020/metrics` every POLL_S. The gauges
`warren_ztunnel_workloads`, `_services`, `_policies` and `_pods` are the size of the snapshot
the data path uses (ztunnel/README.md), so a gauge reaching the expected value is the proof
that the ztunnel applied the push, not only received it. A time is when the poll that first saw
it was answered: each figure is late by at most one poll (POLL_S plus a request)."""
import ctypes
import http.client
import os
import threading
import time

import capture

CLONE_NEWNET = 0x40000000
POLL_S = 0.02
GAUGES = ("warren_ztunnel_workloads", "warren_ztunnel_services", "warren_ztunnel_policies", "warren_ztunnel_pods")
_libc = ctypes.CDLL(None, use_errno=True)


def enter_netns(path):
    """Moves the calling thread (only) into the network namespace at `path`."""
    fd = os.open(path, os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise OSError(e, f"setns {path}: {os.strerror(e)}")
    finally:
        os.close(fd)


def read_gauges(text):
    samples = capture.parse_prometheus(text)
    return {g.removeprefix("warren_ztunnel_"): int(capture.total(samples, g)) for g in GAUGES}


class ZtunnelWatch:
    """Polls while a watch is armed; `until(predicate, timeout, t0)` -> {node: seconds from t0 to
    the first poll of that node whose gauges satisfied predicate(gauges, node)}."""

    def __init__(self, netns_by_node):
        self.nodes = sorted(netns_by_node)
        self.latest = {}
        self.errors = {}
        self._lock = threading.Lock()
        self._cv = threading.Condition(self._lock)
        self._pred = None
        self._hits = {}
        self._t0 = 0.0
        self._stop = False
        self._armed = threading.Event()
        self._threads = [threading.Thread(target=self._poll, args=(n, netns_by_node[n]), daemon=True)
                         for n in self.nodes]
        for t in self._threads:
            t.start()

    def _poll(self, node, netns):
        try:
            enter_netns(f"/run/netns/{netns}")
        except OSError as e:
            with self._cv:
                self.errors[node] = str(e)
                self._cv.notify_all()
            return
        conn = None
        while not self._stop:
            if not self._armed.wait(0.5):
                continue
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", 15020, timeout=5)
                conn.request("GET", "/metrics")
                resp = conn.getresponse()
                body = resp.read().decode(errors="replace")
                now = time.time()
                gauges = read_gauges(body)
            except (OSError, http.client.HTTPException, ValueError) as e:
                if conn is not None:
                    conn.close()
                conn = None
                with self._cv:
                    self.errors[node] = str(e)
                time.sleep(POLL_S)
                continue
            with self._cv:
                self.latest[node] = gauges
                if self._pred is not None and node not in self._hits and self._pred(gauges, node):
                    self._hits[node] = now - self._t0
                    self._cv.notify_all()
            time.sleep(POLL_S)

    def snapshot(self, timeout=10):
        """{node: gauges} from one fresh poll of each node."""
        self.until(lambda g, n: True, timeout, time.time())
        with self._lock:
            return dict(self.latest)

    def until(self, predicate, timeout, t0):
        """Arms the watch with `predicate` and waits until every node satisfied it or `timeout`
        seconds passed; times are from t0 (epoch seconds). Returns {node: seconds} (missing
        nodes never satisfied it)."""
        with self._cv:
            self._pred, self._hits, self._t0 = predicate, {}, t0
        self._armed.set()
        end = time.time() + timeout
        with self._cv:
            while len(self._hits) < len(self.nodes) and time.time() < end:
                self._cv.wait(min(0.2, max(0.01, end - time.time())))
            hits, self._pred = dict(self._hits), None
        self._armed.clear()
        return hits

    def close(self):
        self._stop = True
        self._armed.set()
        for t in self._threads:
            t.join(timeout=6)
