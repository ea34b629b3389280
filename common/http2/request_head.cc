#include "common/http2/request_head.h"

#include <fmt/format.h>

#include <string_view>

#include "common/http1/syntax.h"

namespace warren::http2 {
namespace {

namespace syntax = http1::syntax;

Error bad(std::string_view field, std::string_view why) {
  return Error::invalid(fmt::format("http2 request: {} {}", field, why));
}

// RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
bool isScheme(std::string_view s) {
  if (s.empty()) return false;
  auto alpha = [](unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  if (!alpha(static_cast<unsigned char>(s[0]))) return false;
  for (unsigned char c : s) {
    if (!alpha(c) && !syntax::isDigit(c) && c != '+' && c != '-' && c != '.') return false;
  }
  return true;
}

// Visible ASCII only: no whitespace, no control byte, nothing above 0x7e.
bool isVisibleAscii(std::string_view s) {
  for (unsigned char c : s) {
    if (!syntax::isVisible(c)) return false;
  }
  return true;
}

Status checkAuthority(std::string_view field, std::string_view value, bool http_scheme) {
  if (value.empty()) return fail(bad(field, "is empty"));
  if (!isVisibleAscii(value)) return fail(bad(field, "holds whitespace or a control byte"));
  // §8.3.1: no userinfo for http and https; "/?#" cannot appear in an authority at all.
  if (http_scheme && value.find('@') != std::string_view::npos) {
    return fail(bad(field, "must not carry userinfo ('@') for http or https"));
  }
  if (value.find_first_of("/?#") != std::string_view::npos) {
    return fail(bad(field, "holds '/', '?' or '#': not an authority"));
  }
  return ok();
}

}  // namespace

Result<RequestHead> parseRequestHead(const HeaderList& headers) {
  RequestHead head;
  bool have_method = false, have_scheme = false, have_authority = false, have_path = false;
  const std::string* host = nullptr;
  bool regular_seen = false;
  for (const auto& h : headers) {
    if (h.name.empty() || h.name[0] != ':') {
      regular_seen = true;
      if (h.name == "host" && host == nullptr) host = &h.value;
      continue;
    }
    if (regular_seen) return fail(bad(h.name, "follows a regular header field"));
    auto take = [&](bool& have, std::string& into) -> Status {
      if (have) return fail(bad(h.name, "appears twice"));
      have = true;
      into = h.value;
      return ok();
    };
    if (h.name == ":method") {
      WARREN_TRY(take(have_method, head.method));
    } else if (h.name == ":scheme") {
      WARREN_TRY(take(have_scheme, head.scheme));
    } else if (h.name == ":authority") {
      WARREN_TRY(take(have_authority, head.authority));
    } else if (h.name == ":path") {
      WARREN_TRY(take(have_path, head.path));
    } else {
      return fail(bad(h.name, "is not a request pseudo-header field"));
    }
  }
  if (!have_method) return fail(bad(":method", "is missing"));
  if (!syntax::isToken(head.method)) return fail(bad(":method", "is not a token"));

  if (head.method == "CONNECT") {
    if (have_scheme) return fail(bad(":scheme", "must not be sent with CONNECT"));
    if (have_path) return fail(bad(":path", "must not be sent with CONNECT"));
    if (!have_authority) return fail(bad(":authority", "is missing (CONNECT)"));
    WARREN_TRY(checkAuthority(":authority", head.authority, true));
    return head;
  }

  if (!have_scheme) return fail(bad(":scheme", "is missing"));
  if (!isScheme(head.scheme)) return fail(bad(":scheme", "is not a URI scheme"));
  if (!have_path) return fail(bad(":path", "is missing"));
  if (head.path.empty()) return fail(bad(":path", "is empty"));
  if (!isVisibleAscii(head.path)) return fail(bad(":path", "holds whitespace or a control byte"));
  if (head.path.find('#') != std::string::npos) return fail(bad(":path", "holds a fragment"));
  if (head.path == "*") {
    if (head.method != "OPTIONS") return fail(bad(":path", "is '*' but the method is not OPTIONS"));
  } else if (head.path[0] != '/') {
    return fail(bad(":path", "must start with '/'"));
  }

  bool http_scheme = head.scheme == "http" || head.scheme == "https";
  if (have_authority) {
    WARREN_TRY(checkAuthority(":authority", head.authority, http_scheme));
    if (host != nullptr && *host != head.authority) {
      return fail(
          bad("host", fmt::format("'{}' differs from :authority '{}'", *host, head.authority)));
    }
  } else if (host != nullptr) {
    WARREN_TRY(checkAuthority("host", *host, http_scheme));
    head.authority = *host;
  } else if (http_scheme) {
    return fail(bad(":authority", "is missing (and no host field)"));
  }
  return head;
}

}  // namespace warren::http2
