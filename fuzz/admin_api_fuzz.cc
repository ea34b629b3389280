// fuzz-link: warren_agent_lib
//
// The agent admin API (agent/admin) with requests from whoever reaches admin.sock, through
// its real router and handlers (not the HTTP/1 parser: that has its own target):
//
//   byte 0 = 0: a request. Byte 1 picks the method (GET, PUT, POST, DELETE, HEAD); then the
//               request target up to the first '\n' (path and query, percent-encoded; a target
//               the HTTP layer would refuse is skipped); the rest is the body. The cluster is
//               fuzz/fuzz_cluster.h; ztunnel's admin endpoint is a unix socket nobody serves.
//   byte 0 = 1: ztunnel's answer to a proxied call. Byte 1 picks the status (0 = transport
//               error); the rest is the body. Through certificatesAnswer, connectionsAnswer
//               and forwardedLogAnswer, as the proxied routes use them.
//
// Invariants: no crash, no sanitizer report; a request gets 200, 400, 404, 405 or 503 (a
// handler that throws would be 500: never); 503 only from the routes that ask ztunnel; every
// JSON answer parses, and an error answer is {"error": "..."}; a proxied answer is 200, 502
// or 503 with an object body (the log route passes ztunnel's own status on).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "agent/admin/admin_routes.h"
#include "agent/admin/proxied_documents.h"
#include "common/http/query_string.h"
#include "common/log.h"
#include "fuzz/fuzz_cluster.h"

namespace {

using namespace warren;
using nlohmann::json;

void check(bool ok, const char* what, const std::string& detail = "") {
  fuzz::invariant(ok, "admin_api_fuzz", what, detail.c_str());
}

struct Fixture {
  agent::ClusterModel model;
  std::unique_ptr<agent::admin::AdminRoutes> routes;
  http::Router router;
  Fixture() {
    (void)log::setLevel("off");
    fuzz::loadCluster(model);
    agent::admin::AdminSources s;
    s.options.node = "node-a";
    s.options.ztunnel_admin = "unix:/nonexistent/warren-admin-fuzz/ztunnel.sock";
    s.model = &model;
    routes = std::move(*agent::admin::AdminRoutes::create(std::move(s)));
    router = routes->router();
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

bool asksZtunnel(const http::HttpRequest& req) {
  return req.path == "/api/v1/certificates" || req.path == "/api/v1/connections" ||
         (req.path == "/api/v1/log" && req.queryOr("component") == "ztunnel");
}

void request(std::string_view in) {
  static const char* kMethods[] = {"GET", "PUT", "POST", "DELETE", "HEAD"};
  if (in.empty()) return;
  http::HttpRequest req;
  req.method = kMethods[static_cast<uint8_t>(in[0]) % 5];
  in.remove_prefix(1);
  size_t nl = in.find('\n');
  auto target = http::parseTarget(in.substr(0, nl));
  if (!target) return;
  req.path = std::move(target->path);
  req.query = std::move(target->query);
  if (nl != std::string_view::npos) req.body = std::string(in.substr(nl + 1));

  http::HttpResponse r = fixture().router.dispatch(req);
  (void)log::setLevel("off");  // PUT /api/v1/log may have changed it
  check(r.status == 200 || r.status == 400 || r.status == 404 || r.status == 405 || r.status == 503,
        "unexpected status", std::to_string(r.status) + " for " + req.method + " " + req.path);
  check(r.status != 503 || asksZtunnel(req), "503 from a route that does not ask ztunnel",
        req.path);
  if (r.content_type == "application/json") {
    json body = json::parse(r.body, nullptr, false);
    check(!body.is_discarded(), "a JSON answer that does not parse", req.path);
    if (r.status >= 400)
      check(body.is_object() && body.contains("error") && body["error"].is_string(),
            "an error answer without {\"error\": ...}", r.body);
  }
}

void proxiedAnswer(std::string_view in) {
  static const int kStatuses[] = {0, 200, 404, 400, 500, 503};
  if (in.empty()) return;
  const int status = kStatuses[static_cast<uint8_t>(in[0]) % 6];
  in.remove_prefix(1);
  Result<http::HttpResponse> fetched =
      status == 0
          ? Result<http::HttpResponse>(fail(Error(ErrorCode::kUnavailable, "connect: refused")))
          : Result<http::HttpResponse>(http::HttpResponse::json(status, std::string(in)));
  const std::string z = "127.0.0.1:15000";
  for (const auto& a : {agent::admin::certificatesAnswer("node-a", z, fetched),
                        agent::admin::connectionsAnswer("node-a", z, fetched)}) {
    check(a.status == 200 || a.status == 502 || a.status == 503, "proxied status",
          std::to_string(a.status));
    check(a.body.is_object(), "proxied body is not an object");
    if (a.status == 200) check(a.body.contains("items") && a.body["items"].is_array(), "no items");
    (void)a.body.dump(-1, ' ', false, json::error_handler_t::replace);
  }
  auto log = agent::admin::forwardedLogAnswer(z, fetched);
  check(log.body.is_object(), "forwarded log body is not an object");
  check(log.status == status || log.status == 502 || log.status == 503, "forwarded log status");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1)
    proxiedAnswer(rest);
  else
    request(rest);
  return 0;
}
