// RouteConfig: what the waypoint routes by, rebuilt on every warren.l7.v1 push. The agent sends
// one ServiceRoutes per Service bound to this waypoint (proto/warren/l7/v1/routes.proto); this
// turns them back into Gateway API values (route/route_model.h), one HttpRoute (or GrpcRoute) per
// route named by the rules (its parentRefs: every Service port it is attached to), and compiles
// them with RouteTable::build. A rule RouteTable refuses is dropped with a diagnostic and every
// other rule keeps working: a bad route never removes the working ones.
//
// Conversion (pure, table-tested in tests/waypoint/route_config_test.cc):
// - RouteRule.route "HTTPRoute/<ns>/<name>" names the route; RouteRule.index is its rule
//   index; the rule's matches are the port's RouteMatch entries naming it, in their order.
// - Backend.service "<ns>/<hostname>" becomes the BackendObjectRef {ns, first hostname label};
//   `serviceKeys` maps it back to the mesh Service key for endpoint selection.
// - RouteRule.route "GRPCRoute/<ns>/<name>" rules become GrpcRoutes: their matches arrive as
//   path matches (the agent encodes GRPCMethodMatch as /<service>/<method>) and are turned
//   back into GRPCMethodMatch, so gRPC calls get GRPCRoute precedence and never HTTPRoutes'.
// - The agent already sorted `matches` by Gateway API precedence; RouteTable sorts again with
//   the same rules. The one key the proto does not carry is the route's creation time, so two
//   routes with matches of equal rank tie-break on "<ns>/<name>" here (waypoint/README.md).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/net/ip_address.h"
#include "mesh/state/state_snapshot.h"
#include "warren/l7/v1/routes.pb.h"
#include "waypoint/route/route_table.h"

namespace warren::waypoint {

inline constexpr std::string_view kServiceRoutesTypeUrl =
    "type.googleapis.com/warren.l7.v1.ServiceRoutes";

// How the waypoint speaks on one Service port (PortRoutes.protocol).
enum class PortProtocol { kUnspecified, kHttp1, kHttp2, kGrpc, kTcp };
const char* toString(PortProtocol p);

struct ServicePortConfig {
  uint16_t port = 0;
  std::string name;
  PortProtocol protocol = PortProtocol::kUnspecified;
  bool routes_attached = false;
};

struct ServiceConfig {
  std::string key;  // "<namespace>/<hostname>", the mesh Service key
  std::string namespace_;
  std::string name;
  std::string hostname;
  std::string waypoint;  // "<namespace>/<gateway>"
  std::vector<net::IpAddress> vips;
  std::map<uint16_t, ServicePortConfig> ports;
};

class RouteConfig {
 public:
  // `resources`: resource name -> ServiceRoutes, every one held now.
  static std::shared_ptr<const RouteConfig> build(
      const std::map<std::string, l7::v1::ServiceRoutes>& resources, uint64_t version);

  const ServiceConfig* serviceByVip(const net::IpAddress& vip) const;
  const ServiceConfig* service(const std::string& key) const;
  // "<ns>/<name>" -> the mesh Service key; derived "<name>.<ns>.svc.cluster.local" when the
  // Service is not one this waypoint serves.
  std::string serviceKey(const std::string& namespace_, const std::string& name) const;

  const RouteTable& table() const { return *table_; }
  const std::vector<RouteDiagnostic>& diagnostics() const { return diagnostics_; }
  const std::vector<HttpRoute>& httpRoutes() const { return http_routes_; }
  const std::vector<GrpcRoute>& grpcRoutes() const { return grpc_routes_; }
  uint64_t version() const { return version_; }
  // /config_dump "routes" and /routes: services, ports, the routes as compiled, diagnostics.
  nlohmann::json toJson() const;

 private:
  uint64_t version_ = 0;
  std::map<std::string, ServiceConfig> services_;
  std::map<net::IpAddress, std::string> by_vip_;
  std::map<std::string, std::string> service_keys_;  // "<ns>/<name>" -> key
  std::vector<HttpRoute> http_routes_;
  std::vector<GrpcRoute> grpc_routes_;
  std::shared_ptr<const RouteTable> table_;
  std::vector<RouteDiagnostic> diagnostics_;
};

// The mesh Service a "<namespace>/<hostname>" key names (RouteConfig::serviceKey, a Service's
// key in the routes, ConnectionFacts::service_key, the inbound decision's service); null when
// the state has none, or the key has no '/'.
const mesh::Service* serviceByKey(const mesh::StateSnapshot& snapshot, std::string_view key);

}  // namespace warren::waypoint
