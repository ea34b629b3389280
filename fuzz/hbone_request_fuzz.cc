// fuzz-link: warren_mesh_core warren_hbone warren_http2
//
// Bytes from the network into ztunnel's HBONE server path: the input is fed as HTTP/2 frames
// (after a fixed client preface) to a server Session whose requests go through the one
// inbound decision production runs (decideInbound: parseConnect, the authority against a
// small mesh with a waypoint, RBAC) and get its answer, with data echoed and consumed under
// the backpressure contract; then keep-alive and GOAWAY run. The same bytes also go through
// the header parsers. Invariants checked: no crash, no sanitizer report, output within its
// bound, every answer one of the decision's statuses.
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>

#include "common/hbone/address.h"
#include "common/hbone/connect_request.h"
#include "common/http2/session.h"
#include "mesh/routing/inbound_decision.h"

namespace {

using namespace warren;

void check(bool ok) {
  if (!ok) std::abort();
}

// The local pod 10.0.0.2 is a waypoint instance of the service 10.96.0.1 (so a CONNECT to the
// VIP is accepted through the waypoint exception) and denies port 7000.
struct Mesh {
  std::shared_ptr<const mesh::StateSnapshot> snapshot;
  const mesh::Workload* local = nullptr;
  mesh::InboundConnection connection;

  Mesh() {
    using namespace mesh;
    mesh::StateUpdate u;
    mesh::Workload wp;
    wp.uid = "Kubernetes//Pod/default/waypoint-0";
    wp.name = "waypoint-0";
    wp.namespace_ = "default";
    wp.addresses = {*net::IpAddress::parse("10.0.0.2")};
    wp.tunnel_protocol = mesh::TunnelProtocol::kHbone;
    wp.services["default/waypoint.default.svc.cluster.local"] = {{15008, 15008}};
    wp.authorization_policies = {"default/deny-7000"};
    mesh::Service svc;
    svc.name = "reviews";
    svc.namespace_ = "default";
    svc.hostname = "reviews.default.svc.cluster.local";
    svc.addresses = {mesh::NetworkAddress{"", *net::IpAddress::parse("10.96.0.1")}};
    svc.ports = {{9080, 9080, mesh::AppProtocol::kUnknown}};
    svc.waypoint = mesh::GatewayAddress{
        mesh::NamespacedHostname{"default", "waypoint.default.svc.cluster.local"},
        mesh::kHboneMtlsPort};
    mesh::Service wps;
    wps.name = "waypoint";
    wps.namespace_ = "default";
    wps.hostname = "waypoint.default.svc.cluster.local";
    wps.ports = {{15008, 15008, mesh::AppProtocol::kUnknown}};
    mesh::Authorization deny;
    deny.namespace_ = "default";
    deny.name = "deny-7000";
    deny.action = mesh::AuthorizationAction::kDeny;
    mesh::AuthorizationMatch port;
    port.destination_ports = {7000};
    deny.groups = {mesh::AuthorizationGroup{{mesh::AuthorizationRule{{port}}}}};
    u.workloads = {wp};
    u.services = {svc, wps};
    u.policies = {deny};
    auto r = mesh::StateSnapshot::empty()->apply(u);
    check(r.rejected.empty());
    snapshot = r.snapshot;
    local = snapshot->workloadByUid(wp.uid);
    check(local != nullptr);
    connection = {*net::SocketAddress::parse("10.0.0.2:15008"),
                  *net::SocketAddress::parse("10.0.0.1:40000"),
                  identity::SpiffeId::parse("spiffe://cluster.local/ns/default/sa/client").value()};
  }
};

class FuzzServer : public http2::SessionCallbacks {
 public:
  http2::Session* session = nullptr;
  const Mesh* mesh = nullptr;

  void onRequest(http2::StreamId id, const http2::HeaderList& headers) override {
    auto d = mesh::decideInbound(*mesh->snapshot, mesh->local, mesh->connection, headers);
    int status = d ? 200 : d.error().status();
    check(status == 200 || status == 400 || status == 401 || status == 503);
    (void)session->respond(id, status);
  }
  void onResponse(http2::StreamId, int, const http2::HeaderList&) override {}
  void onData(http2::StreamId id, std::span<const uint8_t> data) override {
    (void)session->writeData(id, data);  // echo what fits
    session->consume(id, data.size());
  }
  void onEndOfStream(http2::StreamId id) override { (void)session->closeWrite(id); }
  void onStreamClose(http2::StreamId, uint32_t) override {}
  void onStreamWritable(http2::StreamId) override {}
  void onGoAway(uint32_t, uint32_t) override {}
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)hbone::parseAuthority(text);
  (void)hbone::parseBaggage(text);
  (void)hbone::parseForwarded(text);
  (void)hbone::TraceParent::parse(text);
  static const Mesh mesh;

  http2::SessionConfig config;
  config.max_output_buffer = 64 << 10;
  FuzzServer events;
  events.mesh = &mesh;
  http2::TimePoint t0{};
  auto s = http2::Session::create(http2::Role::kServer, config, events, t0);
  check(s.has_value());
  http2::Session& session = **s;
  events.session = &session;

  static constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  std::span<const uint8_t> preface(reinterpret_cast<const uint8_t*>(kPreface.data()),
                                   kPreface.size());
  check(session.dispatch(preface).has_value());
  // Feed in pieces whose sizes come from the input itself, draining output in between.
  std::span<const uint8_t> rest(data, size);
  size_t step = size > 0 ? 1 + data[0] * 7 : 1;
  while (!rest.empty()) {
    auto piece = rest.first(std::min(step, rest.size()));
    rest = rest.subspan(piece.size());
    auto st = session.dispatch(piece);
    auto out = session.pendingOutput();
    check(out.size() <= config.max_output_buffer + config.max_frame_size + 9);
    session.drainOutput(out.size());
    if (!st) break;
  }
  (void)session.onTimer(t0 + std::chrono::seconds(10));
  session.goAway();
  for (int i = 0; i < 64 && session.wantsWrite(); ++i) {
    auto out = session.pendingOutput();
    session.drainOutput(out.size());
  }
  return 0;
}
