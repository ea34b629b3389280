#!/usr/bin/python3
"""Independent HTTP/2 peer for ordinary requests (python3-h2, h2c prior knowledge).

  h2_request_peer.py server
      Prints its port, serves one connection. Each request is answered once it has ended:
      200, headers x-method / x-path / x-body-bytes, the request body echoed back, then the
      trailers x-got-trailer (the request's x-sum trailer) and x-done: 1.
  h2_request_peer.py client PORT BYTES
      Connects, sends POST /upload with BYTES of a pattern body and the trailer x-sum: BYTES,
      then expects: 201, header x-echo: yes, the body back byte for byte, trailers
      x-got-trailer: BYTES. A second request, GET /missing (END_STREAM on HEADERS), must get
      404 with the body "no such path /missing". Exits 0 only if all of that held.
Window credit is given only once bytes are used, like the engine's contract.
"""
import socket
import sys

import h2.config
import h2.connection
import h2.events


def pattern(n):
    return bytes((i * 7 + (i >> 8)) & 0xFF for i in range(n))


def headers_dict(hs):
    return {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in hs}


def send_body(conn, sid, body):
    """Sends as much of body as the windows allow; returns what is left."""
    while body:
        window = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size)
        if window <= 0:
            break
        conn.send_data(sid, body[:window])
        body = body[window:]
    return body


def server():
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    lsock.settimeout(20)
    print(lsock.getsockname()[1], flush=True)
    sock, _ = lsock.accept()
    sock.settimeout(20)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    reqs = {}      # stream -> {"headers", "body", "trailers"}
    outgoing = {}  # stream -> bytes left to send, then trailers
    while True:
        for sid in list(outgoing):
            left, trailers = outgoing[sid]
            left = send_body(conn, sid, left)
            if left:
                outgoing[sid] = (left, trailers)
            else:
                conn.send_headers(sid, trailers, end_stream=True)
                del outgoing[sid]
        out = conn.data_to_send()
        if out:
            sock.sendall(out)
        raw = sock.recv(65536)
        if not raw:
            return 0
        for ev in conn.receive_data(raw):
            if isinstance(ev, h2.events.RequestReceived):
                reqs[ev.stream_id] = {"headers": headers_dict(ev.headers), "body": bytearray(),
                                      "trailers": {}}
            elif isinstance(ev, h2.events.DataReceived):
                reqs[ev.stream_id]["body"].extend(ev.data)
                conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.TrailersReceived):
                reqs[ev.stream_id]["trailers"] = headers_dict(ev.headers)
            elif isinstance(ev, h2.events.StreamEnded):
                r = reqs[ev.stream_id]
                h = r["headers"]
                conn.send_headers(ev.stream_id, [
                    (":status", "200"), ("x-method", h[":method"]), ("x-path", h[":path"]),
                    ("x-body-bytes", str(len(r["body"])))])
                outgoing[ev.stream_id] = (bytes(r["body"]), [
                    ("x-got-trailer", r["trailers"].get("x-sum", "none")), ("x-done", "1")])
            elif isinstance(ev, h2.events.ConnectionTerminated):
                sock.close()
                return 0


def client(port, nbytes):
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    body = pattern(nbytes)
    post = conn.get_next_available_stream_id()
    conn.send_headers(post, [(":method", "POST"), (":scheme", "http"),
                             (":authority", "echo.test"), (":path", "/upload"),
                             ("te", "trailers")])
    get = None
    left = body
    trailers_sent = False
    got = {}  # stream -> {"status", "headers", "body", "trailers", "ended"}
    while True:
        if left:
            left = send_body(conn, post, left)
        if not left and not trailers_sent:
            conn.send_headers(post, [("x-sum", str(nbytes))], end_stream=True)
            trailers_sent = True
            get = conn.get_next_available_stream_id()
            conn.send_headers(get, [(":method", "GET"), (":scheme", "http"),
                                    (":authority", "echo.test"), (":path", "/missing")],
                              end_stream=True)
        out = conn.data_to_send()
        if out:
            sock.sendall(out)
        if get is not None and all(got.get(s, {}).get("ended") for s in (post, get)):
            break
        raw = sock.recv(65536)
        if not raw:
            print("server closed early", file=sys.stderr)
            return 1
        for ev in conn.receive_data(raw):
            if isinstance(ev, h2.events.ResponseReceived):
                h = headers_dict(ev.headers)
                got[ev.stream_id] = {"headers": h, "body": bytearray(), "trailers": {},
                                     "ended": False}
            elif isinstance(ev, h2.events.DataReceived):
                got[ev.stream_id]["body"].extend(ev.data)
                conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.TrailersReceived):
                got[ev.stream_id]["trailers"] = headers_dict(ev.headers)
            elif isinstance(ev, h2.events.StreamEnded):
                got[ev.stream_id]["ended"] = True
            elif isinstance(ev, h2.events.StreamReset):
                if ev.error_code != 0:
                    print(f"stream {ev.stream_id} reset {ev.error_code}", file=sys.stderr)
                    return 1
    conn.close_connection()
    sock.sendall(conn.data_to_send())
    sock.close()
    p, g = got[post], got[get]
    checks = [
        (p["headers"].get(":status") == "201", f"POST status {p['headers']}"),
        (p["headers"].get("x-echo") == "yes", "POST x-echo header"),
        (bytes(p["body"]) == body, f"POST body ({len(p['body'])} of {nbytes} bytes)"),
        (p["trailers"].get("x-got-trailer") == str(nbytes), f"POST trailers {p['trailers']}"),
        (g["headers"].get(":status") == "404", f"GET status {g['headers']}"),
        (bytes(g["body"]) == b"no such path /missing", f"GET body {bytes(g['body'])!r}"),
    ]
    failed = [what for ok, what in checks if not ok]
    for what in failed:
        print("FAILED:", what, file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    if sys.argv[1] == "server":
        sys.exit(server())
    sys.exit(client(int(sys.argv[2]), int(sys.argv[3])))
