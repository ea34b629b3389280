#!/usr/bin/python3
"""Independent HTTP/2 CONNECT echo server (python3-h2, h2c prior knowledge) for interop tests.

Prints its port on the first line, serves one connection: answers CONNECT with 200 (400 for
anything else), echoes DATA back within the flow-control windows, credits the client's window
only once the bytes are echoed, and ends its side after the client's END_STREAM.
"""
import socket
import sys

import h2.config
import h2.connection
import h2.events


def main():
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    lsock.settimeout(20)
    print(lsock.getsockname()[1], flush=True)
    sock, _ = lsock.accept()
    sock.settimeout(20)
    # h2 4.1 wrongly demands :path/:scheme on a plain CONNECT (RFC 9113 8.5 forbids them),
    # so inbound header validation is off; we check :method and :authority ourselves.
    conn = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=False, validate_inbound_headers=False))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    pending = {}   # stream -> bytearray waiting to be echoed
    client_done = set()
    finished = set()
    while True:
        # Echo what the windows allow, then credit the client for what left.
        for sid, buf in list(pending.items()):
            while buf:
                window = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size)
                if window <= 0:
                    break
                chunk = bytes(buf[:window])
                del buf[:len(chunk)]
                conn.send_data(sid, chunk)
                conn.acknowledge_received_data(len(chunk), sid)
            if not buf and sid in client_done and sid not in finished:
                conn.end_stream(sid)
                finished.add(sid)
        out = conn.data_to_send()
        if out:
            sock.sendall(out)
        raw = sock.recv(65536)
        if not raw:
            break
        for ev in conn.receive_data(raw):
            if isinstance(ev, h2.events.RequestReceived):
                headers = {(k.decode() if isinstance(k, bytes) else k):
                           (v.decode() if isinstance(v, bytes) else v) for k, v in ev.headers}
                if headers.get(":method") == "CONNECT" and ":authority" in headers:
                    conn.send_headers(ev.stream_id, [(":status", "200")])
                    pending[ev.stream_id] = bytearray()
                else:
                    conn.send_headers(ev.stream_id, [(":status", "400")], end_stream=True)
            elif isinstance(ev, h2.events.DataReceived):
                pending.setdefault(ev.stream_id, bytearray()).extend(ev.data)
                if ev.flow_controlled_length > len(ev.data):  # padding
                    conn.acknowledge_received_data(ev.flow_controlled_length - len(ev.data),
                                                   ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                client_done.add(ev.stream_id)
            elif isinstance(ev, h2.events.ConnectionTerminated):
                sock.close()
                return 0
        out = conn.data_to_send()
        if out:
            sock.sendall(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
