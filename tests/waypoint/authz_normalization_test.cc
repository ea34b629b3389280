// Path normalization bypasses against an allow/deny policy set: each request target goes
// through what the waypoint does (normalize, then authorize the normalized path, then forward
// that same path), and the row states the outcome the client sees and the path the application
// gets. The shapes are the ones Envoy and Istio advisories were about: %2F/%2f, //, /./, /../,
// encoded dots, backslashes, hex case, fragments, ';' path parameters, overlong UTF-8, %00,
// double encoding.
//
// Policy set (Istio's recommended shape: a DENY for the sensitive area plus an allow list):
//   deny-admin  DENY   paths /admin, /admin/*
//   allow-list  ALLOW  paths /, /public/*, /api/*
#include <gtest/gtest.h>

#include "authz_builders.h"
#include "waypoint/path/path_normalizer.h"

namespace warren::waypoint {
namespace {

using namespace testing;
using Mode = PathNormalization;
using Slashes = EscapedSlashesAction;

struct Row {
  std::string target;
  std::string want;  // "200 <forwarded>", "403 deny", "403 no-allow", "400", "307 <location>"
  Mode mode = Mode::kBase;
  Slashes slashes = Slashes::kModeDefault;
  bool grpc = false;
};

std::string outcome(const L7PolicySet& set, const Row& row) {
  auto normalized = normalizeRequestTarget(row.target, {row.mode, row.slashes}, row.grpc);
  if (!normalized) {
    if (normalized.error().status == 307) return "307 " + normalized.error().location;
    return std::to_string(normalized.error().status);
  }
  HttpRequest req = request("GET", normalized->path);
  req.query = normalized->query;
  ConnectionInfo conn = mtls("default", "client");
  AuthzContext ctx(conn, &req, nullptr);
  auto d = set.evaluate(nullptr, ctx);
  if (!d.allowed) {
    return d.reason == AuthzDecision::Reason::kDenyMatched ? "403 deny" : "403 no-allow";
  }
  return "200 " + req.pathAndQuery();
}

TEST(L7AuthzNormalization, BypassTable) {
  auto set =
      L7PolicySet::compile(
          {policy("deny-admin", AuthzAction::kDeny, {to(paths({"/admin", "/admin/*"}))}),
           policy("allow-list", AuthzAction::kAllow, {to(paths({"/", "/public/*", "/api/*"}))})})
          .set;
  const Row rows[] = {
      // Plain requests: the policies as written.
      {"/admin", "403 deny"},
      {"/admin/", "403 deny"},
      {"/admin/users", "403 deny"},
      {"/public/index.html", "200 /public/index.html"},
      {"/api/v1/items", "200 /api/v1/items"},
      {"/api", "403 no-allow"},  // "/api/*" needs the slash
      {"/", "200 /"},
      // Paths are case-sensitive (Istio): a case change lands outside the allow list.
      {"/ADMIN", "403 no-allow"},
      {"/Admin/users", "403 no-allow"},
      {"/PUBLIC/x", "403 no-allow"},
      // Encoded unreserved characters are decoded before matching.
      {"/%61dmin", "403 deny"},
      {"/%61%64%6D%69%6E/users", "403 deny"},
      {"/%61%64%6d%69%6e/users", "403 deny"},
      {"/public/%41", "200 /public/A"},
      // Dot segments, plain and encoded.
      {"/public/../admin", "403 deny"},
      {"/public/./../admin", "403 deny"},
      {"/./admin", "403 deny"},
      {"/../admin", "403 deny"},
      {"/../../../admin/x", "403 deny"},
      {"/api/v1/../../admin", "403 deny"},
      {"/public/x/../../admin", "403 deny"},
      {"/public/%2e%2e/admin", "403 deny"},
      {"/public/%2E%2E/admin", "403 deny"},
      {"/api/%2e./admin", "403 deny"},
      {"/api/.%2E/admin", "403 deny"},
      {"/admin/.", "403 deny"},
      {"/admin/%2e", "403 deny"},
      {"/admin/..", "200 /"},
      // Backslashes are separators.
      {"/public\\..\\admin", "403 deny"},
      {"/public/..\\admin", "403 deny"},
      {"/admin\\users", "403 deny"},
      {"/admin\\", "403 deny"},
      // Double slashes: kept by BASE (and then outside every rule), merged on request.
      {"//admin", "403 no-allow"},
      {"//admin", "403 deny", Mode::kMergeSlashes},
      {"/\\admin", "403 no-allow"},
      {"/\\admin", "403 deny", Mode::kMergeSlashes},
      {"/admin//", "403 deny"},
      {"/public//../admin", "200 /public/admin"},  // ".." removes the empty segment
      // Escaped slashes: kept by BASE (Istio's default; the request is forwarded as it is and
      // an application that decodes %2F itself must use DECODE_AND_MERGE_SLASHES or REJECT).
      {"/admin%2Fusers", "403 no-allow"},
      {"/admin%2f", "403 no-allow"},
      {"/public/..%2Fadmin", "200 /public/..%2Fadmin"},
      {"/public/%2e%2e%2fadmin", "200 /public/..%2Fadmin"},
      {"/public/..%5cadmin", "200 /public/..%5Cadmin"},
      {"/public/..%2Fadmin", "403 deny", Mode::kDecodeAndMergeSlashes},
      {"/public/..%2fadmin", "403 deny", Mode::kDecodeAndMergeSlashes},
      {"/public/..%5Cadmin", "403 deny", Mode::kDecodeAndMergeSlashes},
      {"/%2fadmin", "403 deny", Mode::kDecodeAndMergeSlashes},
      {"/admin%2Fusers", "403 deny", Mode::kDecodeAndMergeSlashes},
      {"/admin%2Fusers", "400", Mode::kBase, Slashes::kRejectRequest},
      {"/public%2F..%2Fadmin", "400", Mode::kMergeSlashes, Slashes::kRejectRequest},
      {"/public%2F..%2Fadmin", "307 /admin", Mode::kBase, Slashes::kUnescapeAndRedirect},
      {"/public%2F..%2Fadmin", "400", Mode::kBase, Slashes::kUnescapeAndRedirect, true},
      {"/public/..%2Fadmin", "403 deny", Mode::kBase, Slashes::kUnescapeAndForward},
      // No double decoding.
      {"/%2561dmin", "403 no-allow"},
      {"/%252e%252e/admin", "403 no-allow"},
      {"/public/%252e%252e/admin", "200 /public/%252e%252e/admin"},
      // Fragments never reach matching; the query is never matched as path.
      {"/admin#/public/x", "403 deny"},
      {"/public/x#/../../admin", "200 /public/x"},
      {"/admin?/public/x", "403 deny"},
      {"/public/x?next=/../admin", "200 /public/x?next=/../admin"},
      // ';' is data (Envoy/Istio); "..;" is not a dot segment here, so the path stays under
      // /public. (A Tomcat backend strips ";..." itself: deny such paths explicitly there.)
      {"/admin;/x", "403 no-allow"},
      {"/admin;jsessionid=1", "403 no-allow"},
      {"/public/..;/admin", "200 /public/..;/admin"},
      // Overlong UTF-8 and other non-ASCII bytes are never decoded into '/' or '.'.
      {"/admin%C0%AF", "403 no-allow"},
      {"/public/%C0%AE%C0%AE/admin", "200 /public/%C0%AE%C0%AE/admin"},
      {"/public/%c0%ae%c0%ae/admin", "200 /public/%C0%AE%C0%AE/admin"},
      {"/public/caf\xC3\xA9", "200 /public/caf%C3%A9"},
      // Refused before any policy.
      {"/admin%00", "400"},
      {"/admin%00/x", "400"},
      {"/%00admin", "400"},
      {"/public/x%00", "400"},
      {"/admin%zz", "400"},
      {"/admin%2", "400"},
      {"admin", "400"},
      {"/admin\x0d\x0a", "400"},
      // NONE: no normalization, so the dot-segment bypass works. This is why Istio's default is
      // BASE, and why NONE is only for applications that normalize nothing themselves.
      {"/public/../admin", "200 /public/../admin", Mode::kNone},
      {"/admin", "403 deny", Mode::kNone},
  };
  for (const auto& row : rows) {
    EXPECT_EQ(outcome(*set, row), row.want)
        << "'" << row.target << "' " << toString(row.mode) << " " << toString(row.slashes)
        << (row.grpc ? " grpc" : "");
  }
  EXPECT_GE(std::size(rows), 60u);
}

}  // namespace
}  // namespace warren::waypoint
