#!/usr/bin/python3
"""Independent HBONE-style client (python3-h2, prior-knowledge h2c) for interop tests.

usage: h2_connect_client.py PORT AUTHORITY NBYTES [STREAMS]
Opens one CONNECT stream, waits for 200, sends NBYTES of a deterministic payload while
honouring flow control, half-closes, expects the same bytes echoed and the server's
END_STREAM; then the same on the next stream, STREAMS times (default 1), all on one connection
(a later stream's HEADERS follow the server's SETTINGS, so h2's HPACK encoder applies them).
Exit 0 and "ok <n>" (bytes echoed in all) on success; anything else is a failure.
"""
import socket
import sys

import h2.config
import h2.connection
import h2.events


def payload(n):
    return bytes((i * 7 + (i >> 10)) & 0xFF for i in range(n))


def tunnel(sock, conn, authority, data):
    """One CONNECT stream: 200, NBYTES out with flow control, the same bytes back, END_STREAM."""
    total = len(data)
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, [(":method", "CONNECT"), (":authority", authority),
                            ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")])
    sock.sendall(conn.data_to_send())
    status = None
    sent = 0
    echoed = bytearray()
    ended = False
    while not ended:
        if status == "200" and sent < total:
            window = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size)
            if window > 0:
                chunk = data[sent:sent + window]
                conn.send_data(sid, chunk, end_stream=(sent + len(chunk) == total))
                sent += len(chunk)
        out = conn.data_to_send()
        if out:
            sock.sendall(out)
        raw = sock.recv(65536)
        if not raw:
            break
        for ev in conn.receive_data(raw):
            if isinstance(ev, h2.events.ResponseReceived):
                status = dict((k.decode() if isinstance(k, bytes) else k,
                               v.decode() if isinstance(v, bytes) else v)
                              for k, v in ev.headers)[":status"]
                if status != "200":
                    print("status", status, "on stream", sid)
                    return None
            elif isinstance(ev, h2.events.DataReceived):
                if ev.stream_id == sid:  # another stream's bytes are no echo of this one's
                    echoed += ev.data
                conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id == sid:
                ended = True
            elif isinstance(ev, (h2.events.StreamReset, h2.events.ConnectionTerminated)):
                print("reset/terminated", ev)
                return None
        out = conn.data_to_send()
        if out:
            sock.sendall(out)
    if bytes(echoed) != data:
        print("echo mismatch on stream", sid, len(echoed), total)
        return None
    return len(echoed)


def main():
    port, authority, total = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    streams = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    data = payload(total)
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    # h2 4.1 wrongly demands :path on a plain CONNECT (RFC 9113 8.5 forbids it), so its
    # outbound header check is off; the headers sent are a correct HBONE CONNECT.
    conn = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=True, validate_outbound_headers=False))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    echoed = 0
    for _ in range(streams):
        n = tunnel(sock, conn, authority, data)
        if n is None:
            return 1
        echoed += n
    conn.close_connection()
    sock.sendall(conn.data_to_send())
    sock.close()
    print("ok", echoed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
