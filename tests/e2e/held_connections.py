#!/usr/bin/python3
"""Long-lived connections against a file-descriptor limit (test_fault_matrix.sh).

  held_connections.py HOST:PORT COUNT CONTROL_FILE

Opens COUNT connections to an echo server (warren-probe serve) one after another, sending one
line on each, then gives them all 2 s together to echo it back:
  served   the line came back: the connection is held open;
  refused  the connect failed, or the connection was closed or reset (by a proxy that could
           not serve it);
  waiting  nothing came back and the connection is still open (queued somewhere).
Then, while all are open, every served connection echoes a second line ("old ones keep
working"), and it prints {"phase": "held", "served": N, "refused": N, "waiting": N,
"old_ok": N}. Then it waits until CONTROL_FILE exists, closes the served connections (which
frees the proxy's descriptors), and gives the waiting ones 10 s together to echo their line
(a queue drained once descriptors are free); prints {"phase": "released", "late_served": N,
"late_failed": N}. Bounded: COUNT connections, every wait has a limit, the control file is
waited for at most 60 s.
"""
import json
import os
import selectors
import socket
import sys
import time


def collect(conns, limit):
    """conns: {socket: expected bytes}. Reads until each echoed its bytes, closed, or `limit`
    seconds passed. Returns (echoed, closed, silent) lists of sockets."""
    sel = selectors.DefaultSelector()
    got = {}
    for s in conns:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        got[s] = b""
    echoed, closed = [], []
    end = time.monotonic() + limit
    while got and time.monotonic() < end:
        for key, _ in sel.select(max(0.0, end - time.monotonic())):
            s = key.fileobj
            try:
                chunk = s.recv(4096)
            except OSError:
                chunk = b""
            if chunk:
                got[s] += chunk
                if len(got[s]) < len(conns[s]):
                    continue
            sel.unregister(s)
            (echoed if chunk and got[s] == conns[s] else closed).append(s)
            del got[s]
    sel.close()
    for s in conns:
        s.setblocking(True)
    return echoed, closed, list(got)


def echo_line(sock, line, limit):
    data = line.encode()
    try:
        sock.settimeout(limit)
        sock.sendall(data)
        got = b""
        while len(got) < len(data):
            chunk = sock.recv(len(data) - len(got))
            if not chunk:
                return False
            got += chunk
        return got == data
    except OSError:
        return False


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    count, control = int(sys.argv[2]), sys.argv[3]
    conns, refused = {}, 0
    for i in range(count):
        s = socket.socket()
        line = ("held-%d\n" % i).encode()
        try:
            s.settimeout(3)
            s.connect((host, int(port)))
            s.sendall(line)
            conns[s] = line
        except OSError:
            refused += 1
            s.close()
    served, closed, waiting = collect(conns, 2)
    refused += len(closed)
    for s in closed:
        s.close()
    old_ok = sum(1 for i, s in enumerate(served) if echo_line(s, "again-%d\n" % i, 3))
    print(json.dumps({"phase": "held", "served": len(served), "refused": refused,
                      "waiting": len(waiting), "old_ok": old_ok}), flush=True)
    end = time.monotonic() + 60
    while not os.path.exists(control) and time.monotonic() < end:
        time.sleep(0.1)
    for s in served:
        s.close()
    late, failed, silent = collect({s: conns[s] for s in waiting}, 10)
    for s in waiting:
        s.close()
    print(json.dumps({"phase": "released", "late_served": len(late),
                      "late_failed": len(failed) + len(silent)}), flush=True)


if __name__ == "__main__":
    main()
