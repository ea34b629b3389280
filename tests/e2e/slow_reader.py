#!/usr/bin/python3
"""A reader that does not read, and a sender that measures how far it gets (test_sk_msg.sh).

  slow_reader.py serve PORT DELAY_S
      accepts one connection at a time, waits DELAY_S seconds without reading, then reads to
      EOF and answers "sha256 <hex> <nbytes>\\n" (as warren-probe serve --sink does).
  slow_reader.py send HOST:PORT BYTES WINDOW_S
      connects, writes BYTES (a deterministic pattern) without blocking for WINDOW_S seconds
      (less than the server's delay), then blocking until done, half-closes, reads the answer.
      Prints JSON: accepted_while_unread (bytes the kernel took while nobody read), bytes,
      sha256 (of what was sent), answer (the server's line).

With TCP, what the kernel takes while the reader sleeps is bounded by the socket buffers (a few
MiB). A path without flow control takes everything at once.
"""
import hashlib
import json
import socket
import sys
import time


def pattern(n):
    block = bytes(range(256)) * 256  # 64 KiB
    out = bytearray()
    while len(out) < n:
        out += block
    return bytes(out[:n])


def serve(port, delay):
    lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lst.bind(("0.0.0.0", port))
    lst.listen(16)
    print(f"listening on {port}", flush=True)
    while True:
        conn, _ = lst.accept()
        with conn:
            time.sleep(delay)
            h, n = hashlib.sha256(), 0
            while True:
                chunk = conn.recv(1 << 20)
                if not chunk:
                    break
                h.update(chunk)
                n += len(chunk)
            conn.sendall(f"sha256 {h.hexdigest()} {n}\n".encode())


def send(to, nbytes, window):
    host, port = to.rsplit(":", 1)
    data = pattern(nbytes)
    s = socket.create_connection((host, int(port)), timeout=30)
    s.setblocking(False)
    sent, deadline = 0, time.monotonic() + window
    while sent < nbytes and time.monotonic() < deadline:
        try:
            sent += s.send(data[sent:sent + (1 << 20)])
        except BlockingIOError:
            time.sleep(0.01)
        except OSError as e:
            print(json.dumps({"error": f"send: {e}", "accepted_while_unread": sent}))
            return 1
    accepted = sent
    s.settimeout(60)
    try:
        s.sendall(data[sent:])
        s.shutdown(socket.SHUT_WR)
        answer = b""
        while not answer.endswith(b"\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
    except OSError as e:
        print(json.dumps({"error": f"after the window: {e}", "accepted_while_unread": accepted}))
        return 1
    print(json.dumps({"accepted_while_unread": accepted, "bytes": nbytes,
                      "sha256": hashlib.sha256(data).hexdigest(),
                      "answer": answer.decode().strip()}))
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "serve":
        serve(int(sys.argv[2]), float(sys.argv[3]))
    elif len(sys.argv) == 5 and sys.argv[1] == "send":
        sys.exit(send(sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))
    else:
        sys.exit("usage: slow_reader.py serve PORT DELAY_S | send HOST:PORT BYTES WINDOW_S")
