#include "common/http/http_url.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>

namespace warren::http {

std::string HttpUrl::origin() const { return fmt::format("http://{}:{}", host, port); }

Result<HttpUrl> parseHttpUrl(std::string_view url, uint16_t default_port) {
  auto bad = [](std::string why) { return fail(Error::invalid(std::move(why))); };
  constexpr std::string_view kScheme = "http://";
  if (url.starts_with("https://")) return bad("https is not supported (plain HTTP only)");
  if (!url.starts_with(kScheme)) return bad("must start with http://");
  std::string_view rest = url.substr(kScheme.size());
  size_t slash = rest.find_first_of("/?#");
  std::string_view hostport = rest.substr(0, slash);
  std::string_view target = slash == std::string_view::npos ? "" : rest.substr(slash);
  if (hostport.find('@') != std::string_view::npos) return bad("userinfo is not supported");
  if (target.find('#') != std::string_view::npos) return bad("a fragment is not supported");
  std::string_view host = hostport, port_text;
  bool has_port = false;
  if (hostport.starts_with("[")) {
    size_t close = hostport.find(']');
    if (close == std::string_view::npos) return bad("unterminated [IPv6] host");
    host = hostport.substr(0, close + 1);
    std::string_view after = hostport.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return bad("unexpected text after the [IPv6] host");
      port_text = after.substr(1);
      has_port = true;
    }
  } else if (size_t colon = hostport.rfind(':'); colon != std::string_view::npos) {
    host = hostport.substr(0, colon);
    port_text = hostport.substr(colon + 1);
    has_port = true;
  }
  if (host.empty() || host == "[]") return bad("no host");
  bool bracketed = host.starts_with("[");
  for (char c : bracketed ? host.substr(1, host.size() - 2) : host)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' ||
          (bracketed && c == ':')))
      return bad(fmt::format("invalid character '{}' in the host (IPv6 needs [brackets])", c));
  HttpUrl out;
  out.host = std::string(host);
  out.port = default_port;
  out.target = std::string(target);
  if (has_port) {
    unsigned port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
        port > 65535)
      return bad(fmt::format("port '{}' is not 1..65535", port_text));
    out.port = static_cast<uint16_t>(port);
  }
  return out;
}

}  // namespace warren::http
