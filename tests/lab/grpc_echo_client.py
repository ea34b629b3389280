#!/usr/bin/python3
"""An independent gRPC client (Debian python3-grpcio: gRPC's C core) against warren-echo's h2c
GrpcEcho service. Usage: grpc_echo_client.py PORT. Prints one JSON object:
  {"Echo": {...}, "EchoTwo": {...}, "EchoThree": {"code": ..., "details": ...},
   "Unknown": {"code": ..., "details": ...}}
where each answered call lists fully_qualified_method, authority, headers (key -> [values]) and
context, decoded from the EchoResponse bytes with the message layout of
proto/gateway_api_conformance/echo_basic/grpcecho.proto (field numbers below).
"""
import json
import sys

import grpc

SERVICE = "/gateway_api_conformance.echo_basic.grpcecho.GrpcEcho/"


def fields(buf):
    """Yields (field number, wire type, value) of a protobuf message (varint and LEN only)."""
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            val, i = varint(buf, i)
        elif wt == 2:
            n, i = varint(buf, i)
            val, i = buf[i:i + n], i + n
        else:
            raise ValueError(f"unexpected wire type {wt}")
        yield num, wt, val


def varint(buf, i):
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def decode_response(raw):
    # EchoResponse: assertions = 1. Assertions: fully_qualified_method = 1, headers = 2
    # (Header: key = 1, value = 2), authority = 3, context = 4 (Context: namespace = 1,
    # ingress = 2, service_name = 3, pod = 4).
    out = {"headers": {}, "context": {}}
    for num, _, val in fields(raw):
        if num != 1:
            continue
        for anum, _, aval in fields(val):
            if anum == 1:
                out["fully_qualified_method"] = aval.decode()
            elif anum == 2:
                h = {n: v.decode() for n, _, v in fields(aval)}
                out["headers"].setdefault(h.get(1, ""), []).append(h.get(2, ""))
            elif anum == 3:
                out["authority"] = aval.decode()
            elif anum == 4:
                names = {1: "namespace", 2: "ingress", 3: "service_name", 4: "pod"}
                out["context"] = {names[n]: v.decode() for n, _, v in fields(aval)}
    return out


def main():
    port = int(sys.argv[1])
    result = {}
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        grpc.channel_ready_future(channel).result(timeout=10)
        for method in ("Echo", "EchoTwo", "EchoThree", "Nope"):
            call = channel.unary_unary(SERVICE + method, request_serializer=lambda b: b,
                                       response_deserializer=lambda b: b)
            key = "Unknown" if method == "Nope" else method
            try:
                raw = call(b"", metadata=[("x-warren-test", method.lower())], timeout=10)
                result[key] = decode_response(raw)
            except grpc.RpcError as e:
                result[key] = {"code": e.code().name, "details": e.details()}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
