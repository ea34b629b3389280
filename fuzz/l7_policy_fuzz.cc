// Fuzzes the waypoint's request-path decisions: path normalization of an arbitrary request
// target, then L7 AuthorizationPolicies compiled from arbitrary lines and evaluated on the
// normalized request.
//
// Input: byte 0 = options (bits 0-1 normalization mode, bits 2-4 escaped-slash action % 5,
// bit 5 gRPC); then the request target up to '\n'; then one policy per line:
//   <action> <field> <value...>   action: A D U C (ALLOW DENY AUDIT CUSTOM), lower case = dry-run
//   field: path notpath method host port principal notprincipal ns ip remoteip reqprincipal
//          or any `when` key ("request.headers[x]", "request.auth.claims[a][b]", ...)
// Properties: no crash; a rejection is 400 or 307 with a reason (307: a Location that starts
// with '/'); an accepted path starts with '/', has no dot segment, no '\' (unless NONE), no '//'
// when slashes merge, no escaped slash when they are decoded, and normalizes to itself; the
// indexed evaluation decides exactly as the plain scan; every diagnostic names its policy.
// fuzz-link: warren_waypoint_core
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/seed_file.h"
#include "waypoint/authz/l7_policy_set.h"
#include "waypoint/path/path_normalizer.h"

using namespace warren::waypoint;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

void addField(AuthzPolicy& p, const std::string& field, const std::string& value) {
  AuthzRule r;
  AuthzOperation op;
  AuthzSource src;
  if (field == "path")
    op.paths = {value};
  else if (field == "notpath")
    op.not_paths = {value};
  else if (field == "method")
    op.methods = {value};
  else if (field == "host")
    op.hosts = {value};
  else if (field == "port")
    op.ports = {value};
  else if (field == "principal")
    src.principals = {value};
  else if (field == "notprincipal")
    src.not_principals = {value};
  else if (field == "ns")
    src.namespaces = {value};
  else if (field == "ip")
    src.ip_blocks = {value};
  else if (field == "remoteip")
    src.remote_ip_blocks = {value};
  else if (field == "reqprincipal")
    src.request_principals = {value};
  else
    r.when.push_back({field, {value}, {}});
  r.to.push_back(op);
  r.from.push_back(src);
  p.rules.push_back(std::move(r));
}

std::vector<AuthzPolicy> parsePolicies(std::string_view text) {
  std::vector<AuthzPolicy> out;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line) && out.size() < 64) {
    std::istringstream words(line);
    std::string action, field, value;
    if (!(words >> action >> field)) continue;
    std::getline(words, value);
    if (!value.empty() && value.front() == ' ') value.erase(0, 1);
    AuthzPolicy p;
    p.namespace_ = "fuzz";
    p.name = "p" + std::to_string(out.size());
    switch (action[0]) {
      case 'A':
      case 'a':
        p.action = AuthzAction::kAllow;
        break;
      case 'D':
      case 'd':
        p.action = AuthzAction::kDeny;
        break;
      case 'U':
      case 'u':
        p.action = AuthzAction::kAudit;
        break;
      default:
        p.action = AuthzAction::kCustom;
        break;
    }
    p.dry_run = action[0] >= 'a' && action[0] <= 'z';
    addField(p, field, value);
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  uint8_t flags = data[0];
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  size_t nl = rest.find('\n');
  std::string_view target = rest.substr(0, nl);
  std::string_view policies_text = nl == std::string_view::npos ? "" : rest.substr(nl + 1);

  PathNormalizationOptions options;
  options.mode = static_cast<PathNormalization>(flags & 3);
  options.escaped_slashes = static_cast<EscapedSlashesAction>(((flags >> 2) & 7) % 5);
  bool grpc = flags & 0x20;

  auto normalized = normalizeRequestTarget(target, options, grpc);
  if (!normalized) {
    const auto& r = normalized.error();
    check(r.status == 400 || r.status == 307);
    check(!r.reason.empty());
    if (r.status == 307) check(!grpc && !r.location.empty() && r.location.front() == '/');
    return 0;
  }
  const std::string& path = normalized->path;
  check(!path.empty() && path.front() == '/');
  if (options.mode != PathNormalization::kNone) {
    check(path.find("/./") == std::string::npos && path.find("/../") == std::string::npos);
    check(!path.ends_with("/.") && !path.ends_with("/.."));
    check(path.find('\\') == std::string::npos);
    if (options.mode != PathNormalization::kBase) check(path.find("//") == std::string::npos);
    if (options.mode == PathNormalization::kDecodeAndMergeSlashes &&
        options.escaped_slashes == EscapedSlashesAction::kModeDefault) {
      check(path.find("%2F") == std::string::npos && path.find("%5C") == std::string::npos);
    }
    auto again = normalizeRequestTarget(path, options, grpc);
    check(again.has_value() && again->path == path);
  }

  auto compiled = L7PolicySet::compile(parsePolicies(policies_text));
  for (const auto& d : compiled.diagnostics)
    check(d.policy.starts_with("AuthorizationPolicy fuzz/"));

  HttpRequest req;
  req.method = grpc ? "POST" : "GET";
  req.authority = "web.fuzz:8080";
  req.path = path;
  req.query = normalized->query;
  req.headers.add("x", "1");
  req.headers.add("x-h", std::string(target.substr(0, 16)));
  ConnectionInfo mtls;
  mtls.source_identity = *warren::identity::SpiffeId::make("cluster.local", "fuzz", "client");
  mtls.source_ip = *warren::net::IpAddress::parse("10.1.2.3");
  mtls.remote_ip = *warren::net::IpAddress::parse("fd00::7");
  mtls.destination_port = 8080;
  ConnectionInfo plain = mtls;
  plain.source_identity.reset();
  const JwtClaims token = [] {
    JwtClaims t;
    t.issuer = "https://issuer";
    t.subject = "sub";
    t.principal = "https://issuer/sub";
    t.payload = {{"iss", "https://issuer"}, {"sub", "sub"}, {"a", {{"b", "v"}}}};
    return t;
  }();
  ServiceKey svc{"fuzz", "web"};
  for (const ConnectionInfo* conn : {&mtls, &plain}) {
    for (const JwtClaims* jwt : {static_cast<const JwtClaims*>(nullptr), &token}) {
      AuthzContext ctx(*conn, &req, jwt);
      auto a = compiled.set->evaluate(&svc, ctx, true);
      auto b = compiled.set->evaluate(&svc, ctx, false);
      check(a.toJson() == b.toJson());
      check(a.allowed == (a.reason == AuthzDecision::Reason::kAllowMatched ||
                          a.reason == AuthzDecision::Reason::kNoAllowPolicies));
    }
    AuthzContext tcp(*conn, nullptr, nullptr);
    (void)compiled.set->evaluate(nullptr, tcp);
  }
  return 0;
}

// Seeds: bypass shapes against a DENY + allow-list set, and one line per policy field.
extern "C" int WarrenFuzzMakeSeeds(const char* dir) {
  const std::string policies =
      "D path /admin\nD path /admin/*\nA path /public/*\nA path /{*}/items/{**}\n"
      "A principal cluster.local/ns/fuzz/sa/client\nd notpath /public/*\nU method GET\n"
      "C host web.fuzz:*\nA request.headers[x] 1\nD request.auth.claims[a][b] v\n"
      "A reqprincipal https://issuer/*\nD ip 10.0.0.0/8\nA remoteip fd00::/64\nA ns fu*\n"
      "D notprincipal *\nA port 8080\na source.ip 10.1.2.3\nD destination.port 9999\n";
  struct Seed {
    const char* name;
    uint8_t flags;
    const char* target;
  };
  const Seed seeds[] = {
      {"plain", 1, "/public/index.html"},
      {"dot_segments", 1, "/public/../admin"},
      {"encoded_dots", 1, "/public/%2e%2E/admin"},
      {"escaped_slash_base", 1, "/public/..%2Fadmin"},
      {"escaped_slash_decode", 3, "/public/..%2fadmin%5c..%5Cx"},
      {"escaped_slash_reject", 1 | (2 << 2), "/a%2Fb"},
      {"escaped_slash_redirect", 1 | (3 << 2), "/a%2Fb?x=%2F"},
      {"escaped_slash_redirect_grpc", 1 | (3 << 2) | 0x20, "/a%2Fb"},
      {"double_slash_merge", 2, "//admin//x"},
      {"backslash", 1, "/public\\..\\admin"},
      {"fragment_query", 1, "/admin#/public?x=/../"},
      {"semicolon", 1, "/public/..;/admin"},
      {"overlong_utf8", 1, "/admin%C0%AF/x"},
      {"nul", 1, "/admin%00"},
      {"bad_escape", 1, "/admin%zz"},
      {"non_ascii", 1, "/caf\xC3\xA9/items/x"},
      {"template", 1, "/shop/items/a/b/c"},
      {"none_mode", 0, "/public/../admin"},
      {"double_encoding", 1, "/%252e%252e/admin"},
      // The lab's normalization table (tests/e2e/waypoint_policy/normalization.tsv) shapes.
      {"case_differs", 1, "/ADMIN/x"},
      {"escaped_unreserved", 1, "/%61dmin/x"},
      {"mixed_escaped_dots", 1, "/public/.%2e/admin"},
      {"trailing_backslash", 1, "/admin\\"},
      {"escaped_backslash_dots", 1, "/public/%5C../admin"},
      {"merge_then_dots", 2, "/public/..//admin"},
      {"truncated_escape", 1, "/admin%2"},
      {"escaped_trailing_dot", 1, "/admin/%2e"},
      {"semicolon_segment", 1, "/admin;x"},
  };
  bool ok = true;
  for (const auto& s : seeds) {
    ok = warren::fuzz::writeSeed(dir, s.name, s.flags, std::string(s.target) + "\n" + policies) &&
         ok;
  }
  return ok ? 0 : 1;
}
