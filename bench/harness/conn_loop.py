"""Runs in a pod (`warren-lab exec NS/POD -- python3 conn_loop.py ...`): a new TCP connection to a
warren-echo server every --interval seconds for --seconds, one HTTP/1.1 GET each, printing one
JSON line per attempt: {"t": epoch seconds at the answer (or failure), "ok": true with "via" (the
address the client's socket is connected to: the destination when the connection went direct,
ztunnel's 15001 in the pod when eBPF captured it, as there is no getpeername hook to hide it)
and "peer" (the client address the server saw: the client's pod IP either way, since ztunnel
connects to the app from the client's address), or false with "err"}. Bounded: stops by itself
after --seconds; every attempt times out after --timeout."""
import argparse
import json
import socket
import sys
import time


def attempt(host, port, timeout):
    with socket.create_connection((host, port), timeout=timeout) as s:
        via = "%s:%d" % s.getpeername()[:2]
        s.settimeout(timeout)
        s.sendall(f"GET /scale HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise OSError(f"answer: {head[:40]!r}" if head else "closed without an answer")
    return via, json.loads(body)["peer"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--to", required=True, help="IP:PORT")
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--interval", type=float, default=0.05)
    ap.add_argument("--timeout", type=float, default=2.0)
    a = ap.parse_args()
    host, port = a.to.rsplit(":", 1)
    end = time.time() + a.seconds
    while time.time() < end:
        start = time.time()
        try:
            via, peer = attempt(host, int(port), a.timeout)
            rec = {"ok": True, "via": via, "peer": peer}
        except (OSError, ValueError, KeyError) as e:
            rec = {"ok": False, "err": str(e) or type(e).__name__}
        rec["t"] = time.time()
        print(json.dumps(rec), flush=True)
        time.sleep(max(0.0, a.interval - (time.time() - start)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
