#!/usr/bin/env python3
"""Raw HTTP/1.1 clients for tests/e2e/test_waypoint_policy.sh, run inside a lab pod so every
byte goes through capture, ztunnel and the waypoint exactly as written (curl would normalize
paths and refuse hostile framing).

  raw_http.py table FILE IP:PORT      one request per row of FILE (normalization.tsv); prints
                                      every mismatch and "table: N/M ok"; exit 1 on a mismatch
  raw_http.py table-h2c FILE IP:PORT  the same rows over h2c (prior knowledge, one connection
                                      per row, the target sent verbatim as :path, the host as
                                      :authority; tests/tools/h2_abuse.py's client), against the
                                      row's HTTP/2 outcome when it has one
  raw_http.py abuse IP:PORT           hostile requests (smuggling shapes, limits); prints
                                      "<name> <status> <first body line>" per case; exit 1 when
                                      one did not get its status
  raw_http.py slowloris IP:PORT S     a head trickled one byte a second for at most S seconds;
                                      prints "slowloris <status> <seconds>"
  raw_http.py pipeline IP:PORT        three requests in one write; prints the paths answered
  raw_http.py hold IP:PORT N S        N connections each holding half a head for S seconds
                                      (memory under idle abuse); prints "held N"
Every connection has a timeout; nothing runs unbounded.
"""
import argparse
import json
import os
import socket
import sys
import time


def connect(addr, timeout=10.0):
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=timeout)
    s.settimeout(timeout)
    return s


def read_all(s):
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    return out


def split_response(raw):
    """(status, headers dict lower-case, body) of the first response in raw."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    try:
        status = int(lines[0].split(b" ")[1])
    except (IndexError, ValueError):
        return 0, {}, raw
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        headers[k.strip().lower().decode()] = v.strip().decode(errors="replace")
    if headers.get("transfer-encoding", "") == "chunked":
        decoded, rest = b"", body
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            n = int(size_line.split(b";")[0] or b"0", 16)
            if n == 0:
                break
            decoded, rest = decoded + rest[:n], rest[n + 2:]
        body = decoded
    elif "content-length" in headers:
        body = body[: int(headers["content-length"])]
    return status, headers, body


def exchange(addr, payload, timeout=10.0):
    s = connect(addr, timeout)
    try:
        s.sendall(payload)
        return split_response(read_all(s))
    finally:
        s.close()


def rows_of(path):
    """(method, target, host, status, upstream, why, h2) per row; h2 is the HTTP/2 outcome when
    it differs from the status (the optional 7th column), else ''."""
    for line in open(path, encoding="utf-8"):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.rstrip("\n").split("\t")
        yield tuple(fields[:6]) + ((fields[6] if len(fields) > 6 else ""),)


def h1_request(addr, method, target, host):
    req = f"{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    got, _, body = exchange(addr, req.encode("latin-1"))
    return str(got), got, body


def h2_request(addr, method, target, host):
    # The raw HTTP/2 client of the HBONE abuse test (needs python3-hyperframe/hpack).
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                    "tools"))
    import h2_abuse
    host_ip, port = addr.rsplit(":", 1)
    args = argparse.Namespace(h2c=True, host=host_ip, port=int(port), timeout=10.0,
                              authority=host)
    c = h2_abuse.Conn(args)
    try:
        result, status, body = c.request([(":method", method), (":scheme", "http"),
                                          (":path", target), (":authority", host)])
    finally:
        c.close()
    # "status 403" -> "403"; a reset stays "rst PROTOCOL_ERROR"
    return (str(status) if result.startswith("status") else result), status or 0, body


def table(path, addr, h2=False):
    rows, bad = 0, 0
    for method, target, host, status, upstream, why, h2_outcome in rows_of(path):
        rows += 1
        expected = h2_outcome if h2 and h2_outcome else status
        result, got, body = (h2_request if h2 else h1_request)(addr, method, target, host)
        problem = ""
        if not expected.isdigit():
            if result != expected:
                problem = f"{result}, expected {expected}"
        elif got != int(expected):
            problem = f"{result}, expected {expected}"
        elif got == 403 and body.rstrip(b"\n") != b"RBAC: access denied":
            problem = f"403 body {body[:60]!r}"
        elif got == 200 and upstream != "-":
            try:
                seen = json.loads(body)["path"]
            except (ValueError, KeyError):
                seen = f"<not echo JSON: {body[:60]!r}>"
            if seen != upstream:
                problem = f"backend saw {seen!r}, expected {upstream!r}"
        if problem:
            bad += 1
            print(f"MISMATCH {method} {target!r} Host {host!r} ({why}): {problem}")
    print(f"table: {rows - bad}/{rows} ok")
    return 0 if bad == 0 and rows > 0 else 1


HOST = b"Host: echo.shop\r\n"
ABUSE = [
    # name, payload, expected status
    ("cl_and_te", b"POST /public HTTP/1.1\r\n" + HOST +
     b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("duplicate_content_length", b"POST /public HTTP/1.1\r\n" + HOST +
     b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400),
    ("content_length_list", b"POST /public HTTP/1.1\r\n" + HOST +
     b"Content-Length: 3, 3\r\n\r\nabc", 400),
    ("negative_content_length", b"POST /public HTTP/1.1\r\n" + HOST +
     b"Content-Length: -1\r\n\r\n", 400),
    # Bodies are read after admission: these use GET, which the client may send (a POST is
    # denied 403 by the policy before its body is parsed).
    ("invalid_chunk_size", b"GET /public HTTP/1.1\r\n" + HOST +
     b"Transfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n", 400),
    ("chunk_size_overflow", b"GET /public HTTP/1.1\r\n" + HOST +
     b"Transfer-Encoding: chunked\r\n\r\nfffffffffffffffff1\r\nab\r\n0\r\n\r\n", 400),
    ("te_not_chunked_last", b"POST /public HTTP/1.1\r\n" + HOST +
     b"Transfer-Encoding: chunked, gzip\r\n\r\n", 400),
    ("obs_fold", b"GET /public HTTP/1.1\r\n" + HOST + b"X-A: a\r\n b\r\n\r\n", 400),
    ("bare_lf", b"GET /public HTTP/1.1\n" + HOST.replace(b"\r\n", b"\n") + b"\n", 400),
    ("bare_cr", b"GET /public HTTP/1.1\r\n" + HOST + b"X-A: a\rb\r\n\r\n", 400),
    ("space_before_colon", b"GET /public HTTP/1.1\r\nHost : echo.shop\r\n\r\n", 400),
    ("nul_in_header", b"GET /public HTTP/1.1\r\n" + HOST + b"X-A: a\x00b\r\n\r\n", 400),
    ("two_hosts", b"GET /public HTTP/1.1\r\n" + HOST + b"Host: evil\r\n\r\n", 400),
    ("too_many_headers", b"GET /public HTTP/1.1\r\n" + HOST +
     b"".join(b"X-%d: v\r\n" % i for i in range(120)) + b"\r\n", 431),
    ("header_too_large", b"GET /public HTTP/1.1\r\n" + HOST +
     b"X-Big: " + b"a" * (64 * 1024) + b"\r\n\r\n", 431),
    ("target_too_long", b"GET /" + b"a" * (16 * 1024) + b" HTTP/1.1\r\n" + HOST + b"\r\n", 414),
    ("http_2_0_line", b"GET /public HTTP/2.0\r\n" + HOST + b"\r\n", 505),
]


def abuse(addr):
    bad = 0
    for name, payload, want in ABUSE:
        got, _, body = exchange(addr, payload)
        first = body.split(b"\n")[0].decode(errors="replace")
        print(f"{name} {got} {first}")
        if got != want:
            bad += 1
            print(f"MISMATCH {name}: status {got}, expected {want}")
    return 1 if bad else 0


def slowloris(addr, limit):
    s = connect(addr, timeout=limit + 5)
    start = time.time()
    s.sendall(b"GET /public HTTP/1.1\r\n" + HOST)
    status = 0
    try:
        s.setblocking(False)
        for i in range(int(limit)):
            try:
                s.sendall(b"X")  # one byte of a header name a second
            except (BrokenPipeError, ConnectionResetError, BlockingIOError):
                break
            time.sleep(1)
            try:
                data = s.recv(4096)
            except BlockingIOError:
                continue
            if data or data == b"":
                status = split_response(data)[0] if data else -1
                break
    finally:
        s.close()
    print(f"slowloris {status} {time.time() - start:.1f}")
    return 0


def pipeline(addr):
    reqs = b"".join(b"GET /public/%d HTTP/1.1\r\n" % i + HOST + b"\r\n" for i in (1, 2))
    reqs += b"GET /public/3 HTTP/1.1\r\n" + HOST + b"Connection: close\r\n\r\n"
    s = connect(addr)
    s.sendall(reqs)
    raw = read_all(s)
    s.close()
    paths = []
    while raw:
        status, headers, body = split_response(raw)
        if status == 0:
            break
        paths.append(json.loads(body)["path"] if status == 200 else str(status))
        head_len = raw.find(b"\r\n\r\n") + 4
        raw = raw[head_len + int(headers.get("content-length", len(body))):]
    print("pipeline " + " ".join(paths))
    return 0


def hold(addr, n, seconds):
    socks = []
    for _ in range(n):
        s = connect(addr)
        s.sendall(b"GET /public HTTP/1.1\r\n" + HOST + b"X-Slow: ")
        socks.append(s)
    time.sleep(seconds)
    for s in socks:
        s.close()
    print(f"held {n}")
    return 0


def main(argv):
    if len(argv) >= 3 and argv[0] == "table":
        return table(argv[1], argv[2])
    if len(argv) >= 3 and argv[0] == "table-h2c":
        return table(argv[1], argv[2], h2=True)
    if len(argv) >= 2 and argv[0] == "abuse":
        return abuse(argv[1])
    if len(argv) >= 3 and argv[0] == "slowloris":
        return slowloris(argv[1], float(argv[2]))
    if len(argv) >= 2 and argv[0] == "pipeline":
        return pipeline(argv[1])
    if len(argv) >= 4 and argv[0] == "hold":
        return hold(argv[1], int(argv[2]), float(argv[3]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
