// Golden wire encodings: each message is built field by field and its serialisation compared
// with bytes computed by hand from the published field numbers (tag = field << 3 | wire
// type). A renumbered field or a wrong type fails here, not in an interop run.
#include <google/protobuf/descriptor.h>
#include <gtest/gtest.h>

#include <string>

#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "envoy/service/discovery/v3/discovery.pb.h"
#include "istio/ca/ca.grpc.pb.h"
#include "istio/security/authorization.pb.h"
#include "istio/workload/workload.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "warren/l7/v1/routes.pb.h"

namespace {

std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    if (!out.empty()) out += ' ';
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::string serialize(const google::protobuf::Message& m) {
  std::string s;
  EXPECT_TRUE(m.SerializeToString(&s));
  return s;
}

TEST(WireGolden, Workload) {
  istio::workload::Workload w;
  w.set_uid("c//Pod/a/b");
  w.set_name("b");
  w.add_addresses(std::string("\x0a\x00\x00\x01", 4));
  w.set_tunnel_protocol(istio::workload::HBONE);
  auto& ports = (*w.mutable_services())["a/s"];
  auto* p = ports.add_ports();
  p->set_service_port(80);
  p->set_target_port(8080);
  w.add_authorization_policies("a/p");
  w.mutable_capacity()->set_value(1);
  EXPECT_EQ(hex(serialize(w)),
            "0a 01 62 "                                // name=1 "b"
            "1a 04 0a 00 00 01 "                       // addresses=3 10.0.0.1
            "28 01 "                                   // tunnel_protocol=5 HBONE
            "82 01 03 61 2f 70 "                       // authorization_policies=16 "a/p"
            "a2 01 0a 63 2f 2f 50 6f 64 2f 61 2f 62 "  // uid=20 "c//Pod/a/b"
            "b2 01 0e 0a 03 61 2f 73 12 07 0a 05 08 50 10 90 3f "  // services=22 {"a/s": 80->8080}
            "da 01 02 08 01");                                     // capacity=27 {value: 1}
}

TEST(WireGolden, ServiceInAddress) {
  istio::workload::Address a;
  auto* s = a.mutable_service();
  s->set_name("s");
  s->add_addresses()->set_address(std::string("\x0a\x60\x00\x01", 4));
  auto* port = s->add_ports();
  port->set_service_port(80);
  port->set_target_port(8080);
  port->set_app_protocol(istio::workload::HTTP11);
  auto* wp = s->mutable_waypoint();
  wp->mutable_address()->set_address(std::string("\x0a\x00\x00\x05", 4));
  wp->set_hbone_mtls_port(15008);
  // Service: name=1, addresses=4 {address=2}, ports=5 {1,2,3}, waypoint=7 {address=2, port=3}
  const std::string service =
      "0a 01 73 "
      "22 06 12 04 0a 60 00 01 "
      "2a 07 08 50 10 90 3f 18 01 "
      "3a 0b 12 06 12 04 0a 00 00 05 18 a0 75";
  EXPECT_EQ(hex(serialize(a)), "12 21 " + service);  // Address.service=2, 33 bytes
  EXPECT_EQ(istio::workload::Address::descriptor()->full_name(), "istio.workload.Address");
}

TEST(WireGolden, AuthorizationStrictWithPortException) {
  istio::security::Authorization az;
  az.set_name("p");
  az.set_namespace_("a");
  az.set_scope(istio::security::WORKLOAD_SELECTOR);
  az.set_action(istio::security::DENY);
  auto* m = az.add_groups()->add_rules()->add_matches();
  m->add_not_principals()->mutable_presence();
  m->add_not_destination_ports(15021);
  EXPECT_EQ(hex(serialize(az)),
            "0a 01 70 12 01 61 18 02 20 01 "  // name, namespace, scope=2, action=1
            "2a 0c 0a 0a 12 08 "              // groups=5 > rules=1 > matches=2
            "22 02 22 00 "                    // not_principals=4 {presence=4 {}}
            "52 02 ad 75");                   // not_destination_ports=10 packed [15021]
  EXPECT_EQ(istio::security::Authorization::descriptor()->full_name(),
            "istio.security.Authorization");
}

TEST(WireGolden, AuthorizationMatchFields) {
  istio::security::Match m;
  m.add_namespaces()->set_exact("n");
  m.add_principals()->set_prefix("p");
  auto* ip = m.add_source_ips();
  ip->set_address(std::string("\x0a\x00\x00\x00", 4));
  ip->set_length(8);
  m.add_destination_ports(80);
  auto* sa = m.add_service_accounts();
  sa->set_namespace_("a");
  sa->set_serviceaccount("b");
  EXPECT_EQ(hex(serialize(m)),
            "0a 03 0a 01 6e "                 // namespaces=1 {exact=1}
            "1a 03 12 01 70 "                 // principals=3 {prefix=2}
            "2a 08 0a 04 0a 00 00 00 10 08 "  // source_ips=5 {address=1, length=2}
            "4a 01 50 "                       // destination_ports=9 packed [80]
            "5a 06 0a 01 61 12 01 62");       // service_accounts=11 {namespace=1, sa=2}
}

TEST(WireGolden, DeltaDiscoveryRequest) {
  envoy::service::discovery::v3::DeltaDiscoveryRequest r;
  r.mutable_node()->set_id("n");
  r.set_type_url("t");
  r.add_resource_names_subscribe("*");
  r.set_response_nonce("1");
  r.mutable_error_detail()->set_code(3);
  r.mutable_error_detail()->set_message("x");
  EXPECT_EQ(hex(serialize(r)),
            "0a 03 0a 01 6e "         // node=1 {id=1}
            "12 01 74 "               // type_url=2
            "1a 01 2a "               // resource_names_subscribe=3 "*"
            "32 01 31 "               // response_nonce=6
            "3a 05 08 03 12 01 78");  // error_detail=7 {code=1, message=2}
  envoy::service::discovery::v3::DeltaDiscoveryRequest v;
  (*v.mutable_initial_resource_versions())["k"] = "v";
  EXPECT_EQ(hex(serialize(v)), "2a 06 0a 01 6b 12 01 76");  // map field 5
}

TEST(WireGolden, DeltaDiscoveryResponse) {
  envoy::service::discovery::v3::DeltaDiscoveryResponse r;
  r.set_system_version_info("v");
  auto* res = r.add_resources();
  res->set_version("1");
  res->mutable_resource()->set_type_url("t");
  res->set_name("r");
  r.set_type_url("t");
  r.set_nonce("n");
  r.add_removed_resources("x");
  EXPECT_EQ(
      hex(serialize(r)),
      "0a 01 76 "                                // system_version_info=1
      "12 0b 0a 01 31 12 03 0a 01 74 1a 01 72 "  // resources=2 {version=1, resource=2, name=3}
      "22 01 74 "                                // type_url=4
      "2a 01 6e "                                // nonce=5
      "32 01 78");                               // removed_resources=6
}

TEST(WireGolden, CertificateRequestAndResponse) {
  istio::v1::auth::IstioCertificateRequest req;
  req.set_csr("C");
  req.set_validity_duration(3600);
  (*req.mutable_metadata()->mutable_fields())["ImpersonatedIdentity"].set_string_value("i");
  std::string key_hex = hex("ImpersonatedIdentity");
  EXPECT_EQ(hex(serialize(req)),
            "0a 01 43 "  // csr=1
            "18 90 1c "  // validity_duration=3 (3600)
            "22 1d 0a 1b 0a 14 " +
                key_hex +            // metadata=4 {fields=1 {key=1 ...
                " 12 03 1a 01 69");  // value=2 {string_value=3 "i"}}}
  istio::v1::auth::IstioCertificateResponse resp;
  resp.add_cert_chain("a");
  resp.add_cert_chain("b");
  EXPECT_EQ(hex(serialize(resp)), "0a 01 61 0a 01 62");
}

TEST(WireGolden, RpcPaths) {
  // gRPC path = "/" + service full name + "/" + method name.
  EXPECT_STREQ(envoy::service::discovery::v3::AggregatedDiscoveryService::service_full_name(),
               "envoy.service.discovery.v3.AggregatedDiscoveryService");
  EXPECT_STREQ(istio::v1::auth::IstioCertificateService::service_full_name(),
               "istio.v1.auth.IstioCertificateService");
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  const auto* ca =
      pool->FindMethodByName("istio.v1.auth.IstioCertificateService.CreateCertificate");
  ASSERT_NE(ca, nullptr);
  EXPECT_FALSE(ca->client_streaming());
}

// Workload.waypoint = 8 and native_tunnel = 14 (a waypoint's own Workload), as Istio numbers them.
TEST(WireGolden, WorkloadWaypointAndNativeTunnel) {
  istio::workload::Workload w;
  auto* h = w.mutable_waypoint()->mutable_hostname();
  h->set_namespace_("n");
  h->set_hostname("h");
  w.mutable_waypoint()->set_hbone_mtls_port(15008);
  w.set_native_tunnel(true);
  EXPECT_EQ(hex(serialize(w)),
            "42 0b 0a 06 0a 01 6e 12 01 68 18 a0 75 "  // waypoint=8 {hostname=1 {n, h}, port=3}
            "70 01");                                  // native_tunnel=14
}

// warren.l7.v1.ServiceRoutes: Warren's own schema, pinned so the waypoint and the agent can
// never drift apart silently.
TEST(WireGolden, ServiceRoutes) {
  warren::l7::v1::ServiceRoutes sr;
  sr.set_name("s");
  sr.add_addresses(std::string("\x0a\x60\x00\x01", 4));
  sr.set_waypoint("n/w");
  auto* p = sr.add_ports();
  p->set_port(80);
  p->set_protocol(warren::l7::v1::HTTP1);
  p->set_routes_attached(true);
  auto* rule = p->add_rules();
  rule->set_route("r");
  rule->set_index(1);
  rule->add_filters()->mutable_request_redirect()->set_status_code(301);
  auto* b = rule->add_backends();
  b->set_service("b");
  b->set_port(80);
  b->set_weight(2);
  b->set_invalid("X");
  rule->mutable_request_timeout()->set_seconds(1);
  auto* m = p->add_matches();
  m->set_rule(0);
  m->mutable_path()->set_type(warren::l7::v1::PathMatch::EXACT);
  m->mutable_path()->set_value("/");
  m->set_method("GET");
  EXPECT_EQ(
      hex(serialize(sr)),
      "0a 01 73 "              // name=1
      "22 04 0a 60 00 01 "     // addresses=4
      "2a 03 6e 2f 77 "        // waypoint=5
      "32 32 "                 // ports=6
      "08 50 18 01 20 01 "     //   port=1 80, protocol=3 HTTP1, routes_attached=4
      "2a 1c 0a 01 72 18 01 "  //   rules=5 {route=1, index=3
      "22 05 1a 03 28 ad 02 "  //     filters=4 {request_redirect=3 {status_code=5 301}}
      "2a 0a 0a 01 62 10 50 18 02 2a 01 58 "         // backends=5 {service, port, weight, invalid}
      "32 02 08 01 "                                 //     request_timeout=6 {seconds=1}}
      "32 0c 12 05 08 01 12 01 2f 2a 03 47 45 54");  // matches=6 {path=2 {EXACT, "/"}, method=5}
}

// OTLP: the request an OTLP/HTTP collector decodes (ids as bytes, times fixed64, flags
// fixed32 at 16, kind SERVER = 2, status ERROR = 2 at field 3 of Status).
TEST(WireGolden, OtlpExportTraceServiceRequest) {
  opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest req;
  auto* span = req.add_resource_spans()->add_scope_spans()->add_spans();
  span->set_trace_id(std::string(16, '\x11'));
  span->set_span_id(std::string(8, '\x22'));
  span->set_parent_span_id(std::string(8, '\x33'));
  span->set_name("n");
  span->set_kind(opentelemetry::proto::trace::v1::Span::SPAN_KIND_SERVER);
  span->set_start_time_unix_nano(1);
  span->set_end_time_unix_nano(2);
  auto* kv = span->add_attributes();
  kv->set_key("k");
  kv->mutable_value()->set_int_value(5);
  span->mutable_status()->set_code(opentelemetry::proto::trace::v1::Status::STATUS_CODE_ERROR);
  span->set_flags(0x301);
  EXPECT_EQ(hex(serialize(req)),
            "0a 54 "  // resource_spans=1
            "12 52 "  // scope_spans=2
            "12 50 "  // spans=2
            "0a 10 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 "  // trace_id=1
            "12 08 22 22 22 22 22 22 22 22 "                          // span_id=2
            "22 08 33 33 33 33 33 33 33 33 "                          // parent_span_id=4
            "2a 01 6e "                                               // name=5 "n"
            "30 02 "                                                  // kind=6 SERVER
            "39 01 00 00 00 00 00 00 00 "                             // start_time_unix_nano=7
            "41 02 00 00 00 00 00 00 00 "                             // end_time_unix_nano=8
            "4a 07 0a 01 6b 12 02 18 05 "  // attributes=9 {key=1 "k", value=2 {int_value=3 5}}
            "7a 02 18 02 "                 // status=15 {code=3 ERROR}
            "85 01 01 03 00 00");          // flags=16 (fixed32) 0x301
}

}  // namespace
