#!/usr/bin/python3
"""Raw HTTP/2 abuse client for an HBONE server (ztunnel's 15008, or tests/tools' test server),
or, with --h2c, for any cleartext HTTP/2 server (prior knowledge): the waypoint's downstream,
reached from a mesh pod through capture and HBONE (tests/e2e/test_waypoint_policy.sh).

Speaks mTLS 1.3 + ALPN h2 with the given client certificate (--h2c: plain TCP and the
preface), then writes frames by hand
(hyperframe + hpack; h2's state machine would refuse to misbehave) and reports, per scenario,
one JSON line: {"scenario": ..., "result": "status 400" | "goaway <CODE>" | "rst <CODE>" |
"closed" | ..., "ok": true|false, "detail": ...}. Exit status 0 iff every scenario is ok.

Expected outcomes follow INTEROP §5 (statuses) and the nghttp2 protections configured in
common/http2/session_config.h (see common/http2/README.md "Abuse protections"):
  bad-method          GET instead of CONNECT                       -> status 400
  no-authority        CONNECT without :authority                   -> status 400, or
                      RST_STREAM PROTOCOL_ERROR (nghttp2 refuses a malformed CONNECT itself)
  wrong-authority-ip  CONNECT to an IP that is not --local-ip      -> status 400
  illegal-port        CONNECT --local-ip:15008                     -> status 503 (ztunnel's SelfCall)
  rapid-reset         HEADERS+RST_STREAM pairs (1500; nghttp2's bucket holds 1000)
                                                                   -> GOAWAY with an error code
                      (nghttp2's stream reset limiter sends INTERNAL_ERROR) / closed
  continuation-flood  HEADERS without END_HEADERS + CONTINUATIONs (max_continuations 8),
                      at most 2 MB                                 -> GOAWAY ENHANCE_YOUR_CALM /
                                                                      closed
  ping-flood          10k PINGs, ACKs unread (small receive buffer) -> GOAWAY / closed /
                      "stalled" (the server stopped reading) / "answered" (10k ACKs, 170 KB,
                      fit in the socket buffers, so nothing piles up in the server and nghttp2's
                      max_outbound_ack never trips); a fresh connection must then be served
  settings-flood      10k SETTINGS, ACKs unread, then one SETTINGS with 40 entries
                      (max_settings_entries 32)                     -> GOAWAY ENHANCE_YOUR_CALM
                                                                      / closed
  window-overflow     WINDOW_UPDATE on stream 0 taking the window past 2^31-1
                                                                   -> GOAWAY FLOW_CONTROL_ERROR
                                                                      (or RST FLOW_CONTROL_ERROR)
  data-before-200     CONNECT and DATA in one write, before the 200 -> status 200 (and with
                      --expect-echo the data echoed), or 503/401 when nothing listens there
  empty-data          a request, then 10k DATA frames without payload (Envoy's
                      max_consecutive_inbound_frames_with_empty_payload, CVE-2019-9518)
                                                                   -> GOAWAY ENHANCE_YOUR_CALM /
                                                                      closed
  header-timeout      HEADERS without END_HEADERS, then silence    -> GOAWAY ENHANCE_YOUR_CALM
                      (the server's request-header timeout: set --timeout above it; not in the
                      default set)
Each scenario is bounded in time (--timeout) and bytes. Flood scenarios are followed by a
health check: a fresh connection's request (CONNECT; --h2c: GET /) must still get a response.
With --h2c the requests are `GET /` to --authority and the HBONE-only scenarios (bad-method,
no-authority, wrong-authority-ip, illegal-port, data-before-200) are not run.

  h2_abuse.py --host H --port P --cert C --key K --ca CA --local-ip IP [--scenario NAME ...]
              [--server-id spiffe://...] [--target-port 8080] [--expect-echo] [--timeout S]
  h2_abuse.py --h2c --host H --port P --authority A [--scenario NAME ...] [--timeout S]
"""

import argparse
import ipaddress
import json
import select
import socket
import ssl
import sys
import time

import hpack
from hyperframe.frame import (ContinuationFrame, DataFrame, Frame, GoAwayFrame, HeadersFrame,
                              PingFrame, RstStreamFrame, SettingsFrame, WindowUpdateFrame)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
ERROR_CODES = {
    0x0: "NO_ERROR", 0x1: "PROTOCOL_ERROR", 0x2: "INTERNAL_ERROR", 0x3: "FLOW_CONTROL_ERROR",
    0x4: "SETTINGS_TIMEOUT", 0x5: "STREAM_CLOSED", 0x6: "FRAME_SIZE_ERROR",
    0x7: "REFUSED_STREAM", 0x8: "CANCEL", 0x9: "COMPRESSION_ERROR", 0xa: "CONNECT_ERROR",
    0xb: "ENHANCE_YOUR_CALM", 0xc: "INADEQUATE_SECURITY", 0xd: "HTTP_1_1_REQUIRED",
}
MAX_FLOOD_BYTES = 2 << 20


def code_name(code):
    return ERROR_CODES.get(code, hex(code))


class Closed(Exception):
    pass


class Conn:
    """One TLS connection speaking raw HTTP/2 frames."""

    def __init__(self, args, rcvbuf=None):
        self.args = args
        raw = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET)
        if rcvbuf:
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        raw.settimeout(args.timeout)
        raw.connect((args.host, args.port))
        if args.h2c:
            self.sock = raw
        else:
            self.sock = self.tls(raw)
        self.enc = hpack.Encoder()
        self.dec = hpack.Decoder()
        self.dec.max_allowed_table_size = 65536
        self.buf = b""
        self.next_stream = 1
        self.sent = 0
        self.send(PREFACE + SettingsFrame(0, settings={
            SettingsFrame.ENABLE_PUSH: 0, SettingsFrame.INITIAL_WINDOW_SIZE: 1 << 20}).serialize())

    def tls(self, raw):
        args = self.args
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.load_cert_chain(args.cert, args.key)
        ctx.load_verify_locations(args.ca)
        # Mesh certificates carry a SPIFFE URI SAN and no DNS name: the chain is verified, the
        # identity is checked below (--server-id) instead of a hostname.
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.set_alpn_protocols(["h2"])
        sock = ctx.wrap_socket(raw, server_hostname=None)
        if sock.selected_alpn_protocol() != "h2":
            raise RuntimeError("server did not negotiate ALPN h2")
        if args.server_id:
            sans = [v for k, v in sock.getpeercert().get("subjectAltName", ()) if k == "URI"]
            if args.server_id not in sans:
                raise RuntimeError(f"server identity {sans} is not {args.server_id}")
        return sock

    def pending(self):
        """Bytes TLS already decrypted (select() cannot see them); none in cleartext."""
        return self.sock.pending() if isinstance(self.sock, ssl.SSLSocket) else 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        """Sends everything or raises Closed; socket.timeout when the server stops reading."""
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLEOFError, ssl.SSLZeroReturnError) as e:
            raise Closed(str(e))
        self.sent += len(data)

    def stream(self):
        sid = self.next_stream
        self.next_stream += 2
        return sid

    def headers(self, sid, fields, end_headers=True, end_stream=False):
        f = HeadersFrame(sid, self.enc.encode(fields))
        if end_headers:
            f.flags.add("END_HEADERS")
        if end_stream:
            f.flags.add("END_STREAM")
        return f.serialize()

    def connect_fields(self, authority):
        fields = [(":method", "CONNECT")]
        if authority is not None:
            fields.append((":authority", authority))
        return fields

    def request_fields(self):
        """A well-formed request: HBONE's CONNECT to the target, or (--h2c) GET / to
        --authority."""
        if self.args.h2c:
            return [(":method", "GET"), (":scheme", "http"), (":path", "/"),
                    (":authority", self.args.authority)]
        return self.connect_fields(authority(self.args.local_ip, self.args.target_port))

    def request(self, fields, deadline=None):
        """Sends one request without a body and reads its answer: (result, status, body) with
        result "status N", "rst <CODE>", "goaway <CODE>", "closed" or "timeout"."""
        deadline = deadline or time.monotonic() + self.args.timeout
        sid = self.stream()
        self.send(self.headers(sid, fields, end_stream=True))
        status, body = None, b""
        try:
            while True:
                f = self.read_frame(deadline)
                if f is None:
                    return "timeout", status, body
                terminal = self.handle_control(f)
                if terminal:
                    return terminal, status, body
                if f.stream_id != sid:
                    continue
                if isinstance(f, HeadersFrame):
                    fields_in = dict((k.decode() if isinstance(k, bytes) else k, v)
                                     for k, v in self.dec.decode(f.data))
                    if ":status" in fields_in:
                        st = fields_in[":status"]
                        status = int(st.decode() if isinstance(st, bytes) else st)
                elif isinstance(f, DataFrame):
                    body += f.data
                    if f.data:
                        self.send(WindowUpdateFrame(0, window_increment=len(f.data)).serialize())
                elif isinstance(f, RstStreamFrame):
                    return f"rst {code_name(f.error_code)}", status, body
                if "END_STREAM" in f.flags:
                    return f"status {status}", status, body
        except Closed:
            return "closed", status, body

    def read_frame(self, deadline):
        """Next frame, or None at the deadline; raises Closed on EOF/reset."""
        while True:
            if len(self.buf) >= 9:
                f, length = Frame.parse_frame_header(memoryview(self.buf[:9]))
                if len(self.buf) >= 9 + length:
                    f.parse_body(memoryview(self.buf[9:9 + length]))
                    self.buf = self.buf[9 + length:]
                    return f
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if not self.pending():
                r, _, _ = select.select([self.sock], [], [], left)
                if not r:
                    return None
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, ssl.SSLEOFError, ssl.SSLZeroReturnError) as e:
                raise Closed(str(e))
            except ssl.SSLWantReadError:
                continue
            if not chunk:
                raise Closed("EOF")
            self.buf += chunk

    def handle_control(self, f):
        """Answers what a polite client must (SETTINGS ACK); returns a terminal result or None."""
        if isinstance(f, SettingsFrame) and "ACK" not in f.flags:
            self.send(SettingsFrame(0, flags=["ACK"]).serialize())
        elif isinstance(f, GoAwayFrame):
            return f"goaway {code_name(f.error_code)}"
        return None

    def await_outcome(self, sid, want_data=b"", deadline=None):
        """Reads until stream `sid` is answered (status / rst) or the connection ends.
        Returns (result, echoed bytes)."""
        deadline = deadline or time.monotonic() + self.args.timeout
        status = None
        echoed = b""
        try:
            while True:
                f = self.read_frame(deadline)
                if f is None:
                    return (f"status {status}" if status else "timeout"), echoed
                terminal = self.handle_control(f)
                if terminal:
                    return (f"status {status}" if status else terminal), echoed
                if f.stream_id != sid:
                    continue
                if isinstance(f, HeadersFrame):
                    fields = dict(self.dec.decode(f.data))
                    st = fields.get(":status", fields.get(b":status"))
                    status = st.decode() if isinstance(st, bytes) else st
                    if status != "200" or len(echoed) >= len(want_data):
                        return f"status {status}", echoed
                elif isinstance(f, DataFrame):
                    echoed += f.data
                    if f.data:
                        self.send(WindowUpdateFrame(0, window_increment=len(f.data)).serialize())
                    if status == "200" and len(echoed) >= len(want_data):
                        return f"status {status}", echoed
                elif isinstance(f, RstStreamFrame):
                    if status:
                        return f"status {status}", echoed
                    return f"rst {code_name(f.error_code)}", echoed
        except Closed:
            return (f"status {status}" if status else "closed"), echoed

    def await_end(self, deadline):
        """Reads until GOAWAY / close / deadline, ignoring the rest. Returns the result."""
        try:
            while True:
                f = self.read_frame(deadline)
                if f is None:
                    return "timeout"
                if isinstance(f, GoAwayFrame):
                    return f"goaway {code_name(f.error_code)}"
        except Closed:
            return "closed"


def other_ip(local):
    ip = ipaddress.ip_address(local)
    candidate = ip + 1 if int(ip) < int(ipaddress.ip_address("255.255.255.254" if ip.version == 4
                                                                else "ffff::")) else ip - 1
    return str(candidate)


def authority(ip, port):
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


# --- scenarios: each returns (result, ok, detail) ---------------------------------------------

def single_request(args, fields, accept):
    c = Conn(args)
    try:
        sid = c.stream()
        c.send(c.headers(sid, fields, end_stream=False))
        result, _ = c.await_outcome(sid)
        return result, result in accept, ""
    finally:
        c.close()


def bad_method(args):
    return single_request(args, [(":method", "GET"), (":scheme", "https"), (":path", "/"),
                                 (":authority", authority(args.local_ip, args.target_port))],
                          {"status 400"})


def no_authority(args):
    return single_request(args, [(":method", "CONNECT")], {"status 400", "rst PROTOCOL_ERROR"})


def wrong_authority_ip(args):
    return single_request(args, [(":method", "CONNECT"),
                                 (":authority", authority(other_ip(args.local_ip),
                                                          args.target_port))],
                          {"status 400"})


def illegal_port(args):
    return single_request(args, [(":method", "CONNECT"),
                                 (":authority", authority(args.local_ip, 15008))],
                          {"status 503"})


def data_before_200(args):
    c = Conn(args)
    try:
        sid = c.stream()
        payload = bytes((i * 7 + 3) & 0xff for i in range(4096))
        c.send(c.headers(sid, [(":method", "CONNECT"),
                               (":authority", authority(args.local_ip, args.target_port))]) +
               DataFrame(sid, payload).serialize())
        result, echoed = c.await_outcome(sid, want_data=payload if args.expect_echo else b"")
        if args.expect_echo:
            ok = result == "status 200" and echoed[:len(payload)] == payload
            return result, ok, f"echoed {len(echoed)} of {len(payload)} bytes"
        return result, result in {"status 200", "status 503", "status 401"}, ""
    finally:
        c.close()


def rapid_reset(args):
    c = Conn(args)
    try:
        batch = b""
        fields = c.request_fields()
        result = None
        for i in range(1500):
            sid = c.stream()
            batch += c.headers(sid, fields) + RstStreamFrame(sid, error_code=0x8).serialize()
            if len(batch) > 16384:
                try:
                    c.send(batch)
                except (Closed, socket.timeout):
                    result = "closed"
                    break
                batch = b""
        if result is None:
            try:
                c.send(batch)
            except (Closed, socket.timeout):
                result = "closed"
        if result is None:
            result = c.await_end(time.monotonic() + args.timeout)
        ok = result.startswith("goaway") and result != "goaway NO_ERROR" or result == "closed"
        return result, ok, f"sent {c.sent} bytes"
    finally:
        c.close()


def continuation_flood(args):
    c = Conn(args)
    try:
        sid = c.stream()
        c.send(c.headers(sid, c.request_fields(), end_headers=False))
        result = None
        n = 0
        while c.sent < MAX_FLOOD_BYTES:
            block = c.enc.encode([("x-filler", "a" * 64)])
            try:
                c.send(ContinuationFrame(sid, block).serialize())
            except (Closed, socket.timeout):
                result = "closed"
                break
            n += 1
            # Look for the verdict now and then without blocking.
            if n % 64 == 0:
                r, _, _ = select.select([c.sock], [], [], 0)
                if r or c.pending():
                    result = c.await_end(time.monotonic() + 0.2)
                    if result != "timeout":
                        break
                    result = None
        if result is None:
            result = c.await_end(time.monotonic() + args.timeout)
        ok = result in {"goaway ENHANCE_YOUR_CALM", "closed"}
        return result, ok, f"sent {c.sent} bytes, {n} CONTINUATION frames"
    finally:
        c.close()


def flood(args, frame_bytes, count, tail=b""):
    """Sends `count` copies of a frame without reading; returns (result, sent)."""
    c = Conn(args, rcvbuf=4096)
    try:
        # Read the server's SETTINGS and ACK them first, so the flood is the only abuse.
        c.read_frame(time.monotonic() + args.timeout)
        c.send(SettingsFrame(0, flags=["ACK"]).serialize())
        c.sock.settimeout(min(args.timeout, 2.0))
        chunk = frame_bytes * 256
        sent_frames = 0
        try:
            while sent_frames < count and c.sent < MAX_FLOOD_BYTES:
                n = min(256, count - sent_frames)
                c.send(chunk if n == 256 else frame_bytes * n)
                sent_frames += n
            if tail:
                c.send(tail)
        except socket.timeout:
            return "stalled", f"server stopped reading after {c.sent} bytes ({sent_frames} frames)"
        except Closed:
            return "closed", f"closed after {c.sent} bytes"
        c.sock.settimeout(args.timeout)
        result = c.await_end(time.monotonic() + min(args.timeout, 3.0))
        if result == "timeout":
            result = "answered"  # every frame read and acknowledged, connection still open
        return result, f"sent {c.sent} bytes ({sent_frames} frames)"
    finally:
        c.close()


def healthy(args):
    """A fresh connection still gets an answer to a CONNECT."""
    try:
        c = Conn(args)
    except OSError as e:
        return False, f"health check: cannot connect: {e}"
    try:
        sid = c.stream()
        c.send(c.headers(sid, c.request_fields(), end_stream=args.h2c))
        result, _ = c.await_outcome(sid)
        return result.startswith("status"), f"health check: {result}"
    finally:
        c.close()


def ping_flood(args):
    result, detail = flood(args, PingFrame(0, opaque_data=b"abusive!").serialize(), 10000)
    ok_health, health = healthy(args)
    ok = (result.startswith("goaway") or result in {"closed", "stalled", "answered"}) and ok_health
    return result, ok, f"{detail}; {health}"


def settings_flood(args):
    one = SettingsFrame(0, settings={SettingsFrame.INITIAL_WINDOW_SIZE: 65535}).serialize()
    # 40 entries: more than max_settings_entries (32).
    payload = b"".join((0x3).to_bytes(2, "big") + (100).to_bytes(4, "big") for _ in range(40))
    huge_bytes = len(payload).to_bytes(3, "big") + bytes([0x4, 0, 0, 0, 0, 0]) + payload
    result, detail = flood(args, one, 10000, tail=huge_bytes)
    ok_health, health = healthy(args)
    ok = result in {"goaway ENHANCE_YOUR_CALM", "closed", "stalled"} and ok_health
    return result, ok, f"{detail}; {health}"


def window_overflow(args):
    c = Conn(args)
    try:
        # The connection window starts at 65535: any increment of 2^31-1 overflows it.
        c.send(WindowUpdateFrame(0, window_increment=(1 << 31) - 1).serialize())
        result = c.await_end(time.monotonic() + args.timeout)
        ok = result in {"goaway FLOW_CONTROL_ERROR", "closed"}
        return result, ok, ""
    finally:
        c.close()


def empty_data(args):
    c = Conn(args)
    try:
        sid = c.stream()
        # Without END_STREAM the request stays open for DATA (a CONNECT tunnel's too).
        c.send(c.headers(sid, c.request_fields()))
        frames = DataFrame(sid, b"").serialize() * 10000
        try:
            c.send(frames)
            result = c.await_end(time.monotonic() + args.timeout)
        except (Closed, socket.timeout):
            result = "closed"
        ok_health, health = healthy(args)
        ok = result in {"goaway ENHANCE_YOUR_CALM", "closed"} and ok_health
        return result, ok, f"sent {c.sent} bytes; {health}"
    finally:
        c.close()


def header_timeout(args):
    c = Conn(args)
    try:
        sid = c.stream()
        c.send(c.headers(sid, c.request_fields(), end_headers=False))
        start = time.monotonic()
        result = c.await_end(start + args.timeout)
        return result, result in {"goaway ENHANCE_YOUR_CALM", "closed"}, \
            f"after {time.monotonic() - start:.1f} s"
    finally:
        c.close()


SCENARIOS = {
    "bad-method": bad_method,
    "no-authority": no_authority,
    "wrong-authority-ip": wrong_authority_ip,
    "illegal-port": illegal_port,
    "rapid-reset": rapid_reset,
    "continuation-flood": continuation_flood,
    "ping-flood": ping_flood,
    "settings-flood": settings_flood,
    "window-overflow": window_overflow,
    "data-before-200": data_before_200,
    "empty-data": empty_data,
    "header-timeout": header_timeout,
}
# Run by default (header-timeout waits for the server's timeout: asked for by name).
DEFAULT = [n for n in SCENARIOS if n != "header-timeout"]
HBONE_ONLY = {"bad-method", "no-authority", "wrong-authority-ip", "illegal-port",
              "data-before-200"}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--list", action="store_true",
                   help="print the scenarios run by default (with --h2c: over h2c), one a line")
    p.add_argument("--h2c", action="store_true",
                   help="cleartext HTTP/2 with prior knowledge, ordinary requests (no HBONE)")
    p.add_argument("--authority", default="", help="--h2c: the requests' :authority")
    p.add_argument("--cert", help="client certificate chain (PEM)")
    p.add_argument("--key", help="client private key (PEM)")
    p.add_argument("--ca", help="mesh root(s) (PEM)")
    p.add_argument("--local-ip", help="the server pod's IP (CONNECT target)")
    p.add_argument("--scenario", action="append", choices=sorted(SCENARIOS),
                   help="run only these (repeatable); default: all")
    p.add_argument("--server-id", help="require this SPIFFE URI in the server certificate")
    p.add_argument("--target-port", type=int, default=8080,
                   help="port of well-formed CONNECTs (default 8080)")
    p.add_argument("--expect-echo", action="store_true",
                   help="data-before-200: the target echoes; require the data back")
    p.add_argument("--timeout", type=float, default=5.0, help="per-wait bound in seconds")
    args = p.parse_args()
    if args.list:
        print("\n".join(n for n in DEFAULT if not (args.h2c and n in HBONE_ONLY)))
        return 0
    if not args.host or args.port is None:
        p.error("--host and --port are required")
    if args.h2c:
        if not args.authority:
            p.error("--h2c needs --authority")
        names = args.scenario or [n for n in DEFAULT if n not in HBONE_ONLY]
        bad = [n for n in names if n in HBONE_ONLY]
        if bad:
            p.error(f"HBONE-only scenarios with --h2c: {', '.join(bad)}")
    else:
        missing = [f for f in ("cert", "key", "ca", "local_ip") if not getattr(args, f)]
        if missing:
            p.error("HBONE needs --" + ", --".join(m.replace("_", "-") for m in missing))
        names = args.scenario or DEFAULT

    all_ok = True
    for name in names:
        start = time.monotonic()
        try:
            result, ok, detail = SCENARIOS[name](args)
        except Exception as e:  # a scenario that cannot even run is a failure, with the reason
            result, ok, detail = "error", False, f"{type(e).__name__}: {e}"
        all_ok = all_ok and ok
        print(json.dumps({"scenario": name, "result": result, "ok": ok, "detail": detail,
                          "seconds": round(time.monotonic() - start, 3)}), flush=True)
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
