#!/usr/bin/env python3
"""A small OTLP/HTTP trace receiver for the lab, and the decoder of what it received.

    otlp_receiver.py serve PORT DIR     answers POST /v1/traces (application/x-protobuf) with 200
                                        and an empty ExportTraceServiceResponse, keeping each
                                        body as DIR/<n>.pb; anything else gets 404 / 415
    otlp_receiver.py spans DIR PROTO    decodes every DIR/*.pb as an ExportTraceServiceRequest
                                        with `protoc --decode` and the project's OTLP .proto files
                                        (PROTO = the tree's proto/ folder) and prints one JSON line per
                                        span: trace_id, span_id, parent_span_id (hex), name, kind,
                                        attributes, and the resource's attributes

protoc prints bytes fields as C-escaped strings; they are unescaped and turned to hex here, so
a test compares ids as the W3C header writes them."""
import codecs
import glob
import http.server
import json
import os
import subprocess
import sys

MESSAGE = "opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest"
SERVICE_PROTO = "opentelemetry/proto/collector/trace/v1/trace_service.proto"


def serve(port, out_dir):
    os.makedirs(out_dir, exist_ok=True)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path != "/v1/traces":
                self.send_response(404)
            elif self.headers.get("Content-Type") != "application/x-protobuf":
                self.send_response(415)
            else:
                n = len(os.listdir(out_dir))
                with open(os.path.join(out_dir, f"{n:04d}.pb.tmp"), "wb") as f:
                    f.write(body)
                os.rename(os.path.join(out_dir, f"{n:04d}.pb.tmp"), os.path.join(out_dir, f"{n:04d}.pb"))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, fmt, *args):
            sys.stderr.write("otlp_receiver: " + (fmt % args) + "\n")

    print(f"otlp_receiver listening on {port}", flush=True)
    http.server.HTTPServer(("0.0.0.0", port), Handler).serve_forever()


def parse_text_format(text):
    """protoc's text format -> nested dicts; a repeated field is a list."""
    root, stack = {}, []
    cur = root
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line == "}":
            cur = stack.pop()
            continue
        if line.endswith("{"):
            child = {}
            cur.setdefault(line[:-1].strip(), []).append(child)
            stack.append(cur)
            cur = child
            continue
        key, value = line.split(":", 1)
        value = value.strip()
        if value.startswith('"'):
            value = codecs.escape_decode(value[1:-1].encode("latin-1"))[0]
        cur.setdefault(key.strip(), []).append(value)
    return root


def attributes(items):
    out = {}
    for a in items or []:
        v = a["value"][0]
        for kind, x in v.items():
            x = x[0]
            out[a["key"][0].decode()] = x.decode() if isinstance(x, bytes) else (
                int(x) if kind == "int_value" else x)
    return out


def spans(in_dir, proto_root):
    for path in sorted(glob.glob(os.path.join(in_dir, "*.pb"))):
        with open(path, "rb") as f:
            p = subprocess.run(["protoc", f"--decode={MESSAGE}", "-I", proto_root, SERVICE_PROTO], stdin=f,
                               capture_output=True, check=True, timeout=30)
        msg = parse_text_format(p.stdout.decode("latin-1"))
        for rs in msg.get("resource_spans", []):
            resource = attributes(rs.get("resource", [{}])[0].get("attributes"))
            for ss in rs.get("scope_spans", []):
                for s in ss.get("spans", []):
                    print(json.dumps({"file": os.path.basename(path),
                                      "trace_id": s["trace_id"][0].hex(), "span_id": s["span_id"][0].hex(),
                                      "parent_span_id": s.get("parent_span_id", [b""])[0].hex(),
                                      "name": s["name"][0].decode(), "kind": s.get("kind", ["?"])[0],
                                      "attributes": attributes(s.get("attributes")), "resource": resource}))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "serve":
        serve(int(sys.argv[2]), sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "spans":
        spans(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
