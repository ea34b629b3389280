"""The MESH conformance scenarios as a table: for each Gateway API mesh test (kubernetes-sigs/
gateway-api conformance/tests/mesh/*.go), the routes it applies (routes/<name>.yaml), the
requests it sends from the client pod and what must come back. Our own table, written from the
upstream tests' requests and expectations; rows marked "not upstream" check what upstream does
not in mesh mode (the path the backend saw after a rewrite, the exact redirect Location, headers
the backend saw, query strings kept).

Expect fields (every one given is asserted; see runner.py):
  status            the status the client got
  backend           the answering pod's name starts with this (echo's `pod`)
  path              the request target the backend saw (echo's `path`, query included)
  headers           fields the backend saw, values joined with "," (names case-insensitive)
  absent            fields the backend must not have seen
  response_headers  / absent_response_headers: on the response the client got
  location          the redirect's Location, exactly
  body_bytes        request body bytes the backend received

gRPC cases (GrpcCase, GrpcDistribution: the two GRPCRoute scenarios) are unary calls of the
conformance GrpcEcho service made with python3-grpcio; the echo's EchoResponse is read as the
same fields: backend = its context pod, path = the fully qualified method, headers = the
metadata it received. A call must end OK (status 200 stands for that); any other gRPC status is
reported as the error it is.
"""
from dataclasses import dataclass, field
from typing import Optional


@dataclass
class Expect:
    status: int = 200
    backend: Optional[str] = None
    path: Optional[str] = None
    headers: dict = field(default_factory=dict)
    absent: list = field(default_factory=list)
    response_headers: dict = field(default_factory=dict)
    absent_response_headers: list = field(default_factory=list)
    location: Optional[str] = None
    body_bytes: Optional[int] = None


@dataclass
class Case:
    # Host header, and where to connect: a Service name ("echo", "echo-v1:8080": its ClusterIP
    # and port, 80 by default) or "{pod:echo-v2}:8080" (that Deployment's first pod IP).
    host: str
    path: str = "/"
    expect: Expect = field(default_factory=Expect)
    method: str = "GET"
    headers: dict = field(default_factory=dict)
    chunked_body: int = 0  # send a chunked request body of this many bytes
    name: str = ""


@dataclass
class Distribution:
    """Weighted backends: `requests` requests over `connections` keep-alive connections (so the
    split is per request, not per connection); each backend's share within `tolerance` of its
    weight. Statistical: up to `attempts` tries, as upstream retries."""
    host: str
    weights: dict
    requests: int = 500
    connections: int = 10
    tolerance: float = 0.05
    attempts: int = 3
    name: str = "distribution"


@dataclass
class GrpcCase:
    """A unary call of GrpcEcho/<method> to `host` (a Service with its gRPC port), with metadata."""
    host: str
    method: str = "Echo"
    expect: Expect = field(default_factory=Expect)
    metadata: dict = field(default_factory=dict)
    name: str = ""


@dataclass
class GrpcDistribution(Distribution):
    """As Distribution, with `requests` unary Echo calls over `connections` gRPC channels."""


@dataclass
class Scenario:
    name: str
    cases: list
    needs_waypoint: bool = True  # False: no route, runs in the baseline (ztunnel only) mode
    routes: Optional[str] = None  # routes/<routes>.yaml; default routes/<name>.yaml if it exists
    protocols: tuple = ("http/1.1", "h2c")  # how each case is sent: or ("grpc",)


GRPC_SERVICE = "gateway_api_conformance.echo_basic.grpcecho.GrpcEcho"


def grpc_method(method):
    return "/%s/%s" % (GRPC_SERVICE, method)


def redirect(host_path, status, location):
    return Case("echo", host_path, Expect(status=status, location=location))


HEADER_MODIFIER_CASES = [
    Case("echo", "/set", Expect(backend="echo-v1", headers={
        "Some-Other-Header": "val", "X-Header-Set": "set-overwrites-values"}),
        headers={"Some-Other-Header": "val"}),
    Case("echo", "/set", Expect(backend="echo-v1", headers={
        "Some-Other-Header": "val", "X-Header-Set": "set-overwrites-values"}),
        headers={"Some-Other-Header": "val", "X-Header-Set": "some-other-value"}),
    Case("echo", "/add", Expect(backend="echo-v1", headers={
        "Some-Other-Header": "val", "X-Header-Add": "add-appends-values"}),
        headers={"Some-Other-Header": "val"}),
    Case("echo", "/add", Expect(backend="echo-v1", headers={
        "Some-Other-Header": "val", "X-Header-Add": "some-other-value,add-appends-values"}),
        headers={"Some-Other-Header": "val", "X-Header-Add": "some-other-value"}),
    Case("echo", "/remove", Expect(backend="echo-v1", absent=["X-Header-Remove"]),
         headers={"X-Header-Remove": "val"}),
    Case("echo", "/multiple", Expect(backend="echo-v1", headers={
        "X-Header-Set-1": "header-set-1", "X-Header-Set-2": "header-set-2",
        "X-Header-Add-1": "header-add-1", "X-Header-Add-2": "add-val-2,header-add-2",
        "X-Header-Add-3": "header-add-3", "Another-Header": "another-header-val"},
        absent=["X-Header-Remove-1", "X-Header-Remove-2"]),
        headers={"X-Header-Set-2": "set-val-2", "X-Header-Add-2": "add-val-2",
                 "X-Header-Remove-2": "remove-val-2", "Another-Header": "another-header-val"}),
    Case("echo", "/case-insensitivity", Expect(backend="echo-v1", headers={
        "X-Header-Set": "header-set", "X-Header-Add": "original-val-add,header-add",
        "Another-Header": "another-header-val"}, absent=["X-Header-Remove"]),
        headers={"x-header-set": "original-val-set", "x-header-add": "original-val-add",
                 "x-header-remove": "original-val-remove", "Another-Header": "another-header-val"}),
]

REWRITE_HEADERS_IN = {"X-Header-Remove": "remove-val", "X-Header-Add-Append": "append-val-1",
                      "X-Header-Set": "set-val"}
REWRITE_HEADERS_OUT = {"X-Header-Add": "header-val-1",
                       "X-Header-Add-Append": "append-val-1,header-val-2",
                       "X-Header-Set": "set-overwrites-values"}

SCENARIOS = [
    Scenario("MeshBasic", needs_waypoint=False, cases=[
        Case("echo", "/", Expect(backend="echo", path="/")),
        # Not upstream: each Service and port reaches its own version, headers and bodies
        # arrive as sent, a pod IP is reached directly.
        Case("echo-v1", "/a?b=c", Expect(backend="echo-v1", path="/a?b=c")),
        Case("echo-v2:8080", "/", Expect(backend="echo-v2")),
        Case("echo:8080", "/x", Expect(backend="echo", headers={"X-Custom": "a"}),
             headers={"X-Custom": "a"}),
        Case("echo-v1", "/upload", Expect(backend="echo-v1", body_bytes=100000),
             method="POST", chunked_body=100000),
        Case("{pod:echo-v2}:8080", "/direct", Expect(backend="echo-v2", path="/direct")),
    ]),
    Scenario("MeshTrafficSplit", cases=[
        Case("echo", "/v1", Expect(backend="echo-v1")),
        Case("echo", "/v2", Expect(backend="echo-v2")),
        # Not upstream: Exact is exact, nothing else matches.
        Case("echo", "/v3", Expect(status=404)),
    ]),
    Scenario("MeshFrontend", cases=[
        Case("echo-v2", "/", Expect(backend="echo-v2", response_headers={"X-Header-Set": "set"}),
             name="Send to service"),
        Case("{pod:echo-v2}:8080", "/", Expect(backend="echo-v2",
                                               absent_response_headers=["X-Header-Set"]),
             name="Send to pod IP"),
    ]),
    Scenario("MeshPorts", cases=[
        Case("echo-v1", "/", Expect(backend="echo-v1", response_headers={"X-Header-Set": "v1"}),
             name="Explicit port set, send to that port"),
        Case("echo-v1:8080", "/", Expect(backend="echo-v1",
                                         absent_response_headers=["X-Header-Set"]),
             name="Explicit port, send to an excluded port"),
        Case("echo-v2", "/", Expect(backend="echo-v2", response_headers={"X-Header-Set": "v2"}),
             name="No port set"),
        Case("echo-v2:8080", "/", Expect(backend="echo-v2", response_headers={"X-Header-Set": "v2"}),
             name="No port set, other port"),
    ]),
    Scenario("MeshHTTPRouteMatching", cases=[
        Case("echo", "/", Expect(backend="echo-v1")),
        Case("echo", "/example", Expect(backend="echo-v1")),
        Case("echo", "/", Expect(backend="echo-v1"), headers={"Version": "one"}),
        Case("echo", "/v2", Expect(backend="echo-v2")),
        Case("echo", "/v2/example", Expect(backend="echo-v2")),
        Case("echo", "/", Expect(backend="echo-v2"), headers={"Version": "two"}),
        Case("echo", "/v2/", Expect(backend="echo-v2")),
        Case("echo", "/v2example", Expect(backend="echo-v1")),
        Case("echo", "/foo/v2/example", Expect(backend="echo-v1")),
    ]),
    Scenario("MeshHTTPRouteQueryParamMatching", cases=[
        Case("echo", "/?animal=whale", Expect(backend="echo-v1")),
        Case("echo", "/?animal=dolphin", Expect(backend="echo-v2")),
        Case("echo", "/?animal=whale&otherparam=irrelevant", Expect(backend="echo-v1")),
        Case("echo", "/?animal=dolphin&color=yellow", Expect(backend="echo-v2")),
        Case("echo", "/?color=blue", Expect(status=404)),
        Case("echo", "/?animal=dog", Expect(status=404)),
        Case("echo", "/?animal=whaledolphin", Expect(status=404)),
        Case("echo", "/", Expect(status=404)),
        Case("echo", "/path1?animal=whale", Expect(backend="echo-v1")),
        Case("echo", "/?animal=whale", Expect(backend="echo-v2"), headers={"version": "one"}),
        Case("echo", "/path3?animal=shark", Expect(backend="echo-v1")),
        Case("echo", "/path4?animal=kraken", Expect(backend="echo-v1"),
             headers={"version": "three"}),
        Case("echo", "/?animal=shark", Expect(status=404)),
        Case("echo", "/path4?animal=kraken", Expect(status=404)),
        Case("echo", "/path5?animal=hydra", Expect(backend="echo-v1")),
        # Not upstream: the backend gets the query as sent.
        Case("echo", "/path1?animal=whale&x=%41", Expect(backend="echo-v1",
                                                         path="/path1?animal=whale&x=%41")),
    ]),
    Scenario("MeshHTTPRouteWeight", cases=[
        Case("echo", "/", Expect(backend="echo")),
        Distribution("echo", {"echo-v1": 0.7, "echo-v2": 0.3}),
    ]),
    Scenario("MeshHTTPRouteRequestHeaderModifier", cases=HEADER_MODIFIER_CASES),
    Scenario("MeshHTTPRouteBackendRequestHeaderModifier", cases=HEADER_MODIFIER_CASES),
    Scenario("MeshHTTPRouteRewritePath", cases=[
        Case("echo", "/prefix/one/two", Expect(backend="echo-v1", path="/one/two")),
        Case("echo", "/strip-prefix/three", Expect(backend="echo-v1", path="/three")),
        Case("echo", "/strip-prefix", Expect(backend="echo-v1", path="/")),
        Case("echo", "/full/one/two", Expect(backend="echo-v1", path="/one")),
        Case("echo", "/full/rewrite-path-and-modify-headers/test",
             Expect(backend="echo-v1", path="/test", headers=REWRITE_HEADERS_OUT,
                    absent=["X-Header-Remove"]), headers=REWRITE_HEADERS_IN),
        Case("echo", "/prefix/rewrite-path-and-modify-headers/one",
             Expect(backend="echo-v1", path="/prefix/one", headers=REWRITE_HEADERS_OUT,
                    absent=["X-Header-Remove"]), headers=REWRITE_HEADERS_IN),
        # Not upstream: the query survives a rewrite.
        Case("echo", "/prefix/one/two?x=1", Expect(backend="echo-v1", path="/one/two?x=1")),
    ]),
    Scenario("MeshHTTPRouteRedirectHostAndStatus", cases=[
        redirect("/hostname-redirect", 302, "http://example.org/hostname-redirect"),
        redirect("/host-and-status", 301, "http://example.org/host-and-status"),
        redirect("/host-and-temporary", 307, "http://example.org/host-and-temporary"),
        redirect("/host-and-permanent", 308, "http://example.org/host-and-permanent"),
    ]),
    Scenario("MeshHTTPRouteRedirectPath", cases=[
        redirect("/original-prefix/lemon", 302, "http://echo/replacement-prefix/lemon"),
        redirect("/full/path/original", 302, "http://echo/full-path-replacement"),
        redirect("/path-and-host", 302, "http://example.org/replacement-prefix"),
        redirect("/path-and-status", 301, "http://echo/replacement-prefix"),
        redirect("/full-path-and-host", 302, "http://example.org/replacement-full"),
        redirect("/full-path-and-status", 301, "http://echo/replacement-full"),
        # Not upstream: the query is kept.
        redirect("/original-prefix/lemon?x=1&y=2", 302,
                 "http://echo/replacement-prefix/lemon?x=1&y=2"),
    ]),
    Scenario("MeshHTTPRouteRedirectPort", cases=[
        redirect("/port", 302, "http://echo:8083/port"),
        redirect("/port-and-host", 302, "http://example.org:8083/port-and-host"),
        redirect("/port-and-status", 301, "http://echo:8083/port-and-status"),
        redirect("/port-and-host-and-status", 302,
                 "http://example.org:8083/port-and-host-and-status"),
    ]),
    Scenario("MeshHTTPRouteRedirectScheme", cases=[
        redirect("/scheme", 302, "https://echo/scheme"),
        redirect("/scheme-and-host", 302, "https://example.org/scheme-and-host"),
        redirect("/scheme-and-status", 301, "https://echo/scheme-and-status"),
        redirect("/scheme-and-host-and-status", 302,
                 "https://example.org/scheme-and-host-and-status"),
    ]),
    Scenario("MeshHTTPRouteNamedRule", cases=[
        Case("echo", "/named", Expect(backend="echo-v1", path="/named")),
        Case("echo", "/unnamed", Expect(backend="echo-v2", path="/unnamed")),
    ]),
    Scenario("MeshGRPCRouteWeight", protocols=("grpc",), cases=[
        GrpcCase("echo:7070", "Echo", Expect(backend="echo", path=grpc_method("Echo"))),
        GrpcDistribution("echo:7070", {"echo-v1": 0.7, "echo-v2": 0.3}),
    ]),
    Scenario("MeshGRPCRouteRequestHeaderModifier", protocols=("grpc",), cases=[
        GrpcCase("echo:7070", "Echo", Expect(backend="echo-v1", headers={
            "x-test-case": "set", "some-other-header": "this-header-should-be-set",
            "x-header-set": "set-overwrites-values"}),
            metadata={"x-test-case": "set", "some-other-header": "this-header-should-be-set",
                      "x-header-set": "this-value-should-be-overwritten"}),
        GrpcCase("echo:7070", "Echo", Expect(backend="echo-v1", headers={
            "x-test-case": "add",
            "x-header-add": "this-value-should-be-appended,add-appends-values"}),
            metadata={"x-test-case": "add", "x-header-add": "this-value-should-be-appended"}),
        GrpcCase("echo:7070", "Echo", Expect(backend="echo-v1", headers={"x-test-case": "remove"},
                                             absent=["x-header-remove"]),
                 metadata={"x-test-case": "remove", "x-header-remove": "this-should-be-removed"}),
        GrpcCase("echo:7070", "EchoTwo", Expect(backend="echo-v2", path=grpc_method("EchoTwo"),
                                                headers={
            "x-test-case": "multi", "x-header-set-1": "header-set-1",
            "x-header-set-2": "header-set-2", "x-header-add-1": "header-add-1",
            "x-header-add-2": "add-header-2,header-add-2"},
            absent=["x-header-remove-1", "x-header-remove-2"]),
            metadata={"x-test-case": "multi", "x-header-set-2": "set-header-2",
                      "x-header-add-2": "add-header-2", "x-header-remove-2": "should-be-removed-2"}),
    ]),
]
