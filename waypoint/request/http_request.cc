#include "waypoint/request/http_request.h"

#include <charconv>

namespace warren::waypoint {
namespace {

// Splits "host:port" / "[v6]:port" / "host"; the port part is what follows the last ':' outside
// brackets.
std::pair<std::string_view, std::string_view> splitAuthority(std::string_view authority) {
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return {authority, {}};
    std::string_view host = authority.substr(1, close - 1);
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty() && rest.front() == ':') return {host, rest.substr(1)};
    return {host, {}};
  }
  size_t colon = authority.rfind(':');
  if (colon == std::string_view::npos) return {authority, {}};
  return {authority.substr(0, colon), authority.substr(colon + 1)};
}

}  // namespace

std::string_view HttpRequest::host() const { return splitAuthority(authority).first; }

std::optional<uint16_t> HttpRequest::authorityPort() const {
  std::string_view port = splitAuthority(authority).second;
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || value > 65535) {
    return std::nullopt;
  }
  return static_cast<uint16_t>(value);
}

std::string HttpRequest::pathAndQuery() const {
  if (query.empty()) return path;
  std::string out;
  out.reserve(path.size() + 1 + query.size());
  out.append(path).push_back('?');
  out.append(query);
  return out;
}

bool HttpRequest::isGrpc() const {
  const std::string* ct = headers.first("content-type");
  if (!ct) return false;
  std::string_view v = *ct;
  constexpr std::string_view kGrpc = "application/grpc";
  if (v.size() < kGrpc.size() || !equalsIgnoreCase(v.substr(0, kGrpc.size()), kGrpc)) return false;
  return v.size() == kGrpc.size() || v[kGrpc.size()] == '+' || v[kGrpc.size()] == ';';
}

}  // namespace warren::waypoint
