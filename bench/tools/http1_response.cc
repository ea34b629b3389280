#include "bench/tools/http1_response.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>
#include <string>

namespace warren::bench {
namespace {

// Headers past this without a blank line are not a response we asked for.
constexpr size_t kMaxHeaderBytes = 16 * 1024;

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

Result<std::optional<Http1Response>> parseHttp1Response(std::string_view buf) {
  size_t end = buf.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (buf.size() > kMaxHeaderBytes) return fail(Error::invalid("response headers exceed 16 KiB"));
    if (buf.size() >= 5 && !buf.starts_with("HTTP/")) {
      return fail(Error::invalid("not an HTTP response: starts with '" +
                                 std::string(buf.substr(0, 12)) + "'"));
    }
    return std::optional<Http1Response>{};
  }
  Http1Response r;
  r.header_bytes = end + 4;
  std::string_view head = buf.substr(0, end);
  size_t line_end = head.find("\r\n");
  std::string_view status_line = head.substr(0, line_end);
  if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12 || status_line[8] != ' ') {
    return fail(Error::invalid("bad status line '" + std::string(status_line) + "'"));
  }
  auto [p, ec] = std::from_chars(status_line.data() + 9, status_line.data() + 12, r.status);
  if (ec != std::errc() || p != status_line.data() + 12) {
    return fail(Error::invalid("bad status code in '" + std::string(status_line) + "'"));
  }
  std::optional<size_t> length;
  std::string_view rest =
      line_end == std::string_view::npos ? std::string_view{} : head.substr(line_end + 2);
  while (!rest.empty()) {
    size_t nl = rest.find("\r\n");
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 2);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return fail(Error::invalid("header line without ':'"));
    std::string_view name = line.substr(0, colon);
    std::string_view value = trim(line.substr(colon + 1));
    if (equalsIgnoreCase(name, "transfer-encoding")) {
      return fail(Error::invalid("chunked/transfer-encoded responses are not supported"));
    }
    if (equalsIgnoreCase(name, "content-length")) {
      size_t n = 0;
      auto [q, e2] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (e2 != std::errc() || q != value.data() + value.size()) {
        return fail(Error::invalid("bad Content-Length '" + std::string(value) + "'"));
      }
      length = n;
    }
  }
  if (!length) return fail(Error::invalid("response has no Content-Length"));
  r.body_bytes = *length;
  if (buf.size() < r.total()) return std::optional<Http1Response>{};
  return std::optional<Http1Response>{r};
}

}  // namespace warren::bench
