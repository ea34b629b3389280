#include "common/hbone/connect_request.h"

#include <fmt/format.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>

#include "common/hex.h"
#include "common/percent_encoding.h"

namespace warren::hbone {
namespace {

// W3C baggage-octet: %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E. '%' itself is encoded too
// so decoding is unambiguous.
bool baggageSafe(unsigned char c) {
  return c >= 0x21 && c <= 0x7e && c != '"' && c != ',' && c != ';' && c != '\\' && c != '%';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

template <size_t N>
bool allZero(const std::array<uint8_t, N>& a) {
  return std::all_of(a.begin(), a.end(), [](uint8_t b) { return b == 0; });
}

}  // namespace

std::string formatBaggage(const Baggage& b) {
  std::string out;
  auto add = [&](std::string_view key, const std::string& value) {
    if (value.empty()) return;
    if (!out.empty()) out.push_back(',');
    out += key;
    out.push_back('=');
    out += percentEncode(value, baggageSafe);
  };
  add("k8s.cluster.name", b.cluster_name);
  add("k8s.namespace.name", b.namespace_name);
  if (!b.workload_type.empty()) add(fmt::format("k8s.{}.name", b.workload_type), b.workload_name);
  add("service.name", b.service_name);
  add("service.version", b.service_version);
  add("cloud.region", b.region);
  add("cloud.availability_zone", b.zone);
  return out;
}

Baggage parseBaggage(std::string_view header) {
  Baggage b;
  while (!header.empty()) {
    size_t comma = header.find(',');
    std::string_view member = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    member = member.substr(0, member.find(';'));  // drop properties
    size_t eq = member.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = trim(member.substr(0, eq));
    std::string value = percentDecodeLenient(trim(member.substr(eq + 1)));
    // An empty value is an absent field (formatBaggage never sends one): it must not name a
    // workload type without a workload, nor clear what an earlier member said.
    if (value.empty()) continue;
    if (key == "k8s.cluster.name") {
      b.cluster_name = value;
    } else if (key == "k8s.namespace.name") {
      b.namespace_name = value;
    } else if (key == "service.name") {
      b.service_name = value;
    } else if (key == "service.version") {
      b.service_version = value;
    } else if (key == "cloud.region") {
      b.region = value;
    } else if (key == "cloud.availability_zone") {
      b.zone = value;
    } else if (key.starts_with("k8s.") && key.ends_with(".name") && key.size() > 9) {
      b.workload_type = std::string(key.substr(4, key.size() - 9));
      b.workload_name = value;
    }
  }
  return b;
}

TraceParent TraceParent::random() {
  TraceParent t;
  // One CSPRNG call for both ids (it dominates the cost of building a request).
  std::array<uint8_t, 24> bytes;
  do {
    RAND_bytes(bytes.data(), static_cast<int>(bytes.size()));
    std::copy_n(bytes.begin(), 16, t.trace_id.begin());
    std::copy_n(bytes.begin() + 16, 8, t.parent_id.begin());
  } while (allZero(t.trace_id) || allZero(t.parent_id));
  return t;
}

Result<TraceParent> TraceParent::parse(std::string_view text) {
  // 2 + 1 + 32 + 1 + 16 + 1 + 2
  if (text.size() != 55 || text[2] != '-' || text[35] != '-' || text[52] != '-') {
    return fail(
        Error::invalid(fmt::format("traceparent '{}': not 00-<32 hex>-<16 hex>-<2 hex>", text)));
  }
  if (text.substr(0, 2) != "00") {
    return fail(Error::invalid(fmt::format("traceparent '{}': unsupported version", text)));
  }
  TraceParent t;
  std::array<uint8_t, 1> flags;
  // W3C: lower-case hex only.
  constexpr HexDigits kLower = HexDigits::kLowerCase;
  if (!decodeHex(text.substr(3, 32), t.trace_id, kLower) ||
      !decodeHex(text.substr(36, 16), t.parent_id, kLower) ||
      !decodeHex(text.substr(53, 2), flags, kLower)) {
    return fail(Error::invalid(fmt::format("traceparent '{}': bad hex", text)));
  }
  if (allZero(t.trace_id) || allZero(t.parent_id)) {
    return fail(Error::invalid(fmt::format("traceparent '{}': all-zero id", text)));
  }
  return t;
}

std::string TraceParent::toString() const {
  return fmt::format("00-{}-{}-00", encodeHex(trace_id), encodeHex(parent_id));
}

http2::HeaderList buildConnectHeaders(const ConnectRequest& r) {
  http2::HeaderList h;
  h.reserve(6);
  h.push_back({":method", "CONNECT"});
  h.push_back({":authority", authorityToString(r.target)});
  std::string forwarded = fmt::format("for=\"{}\"", r.source.toString());
  if (r.service_host && !r.service_host->empty()) forwarded += ";host=" + *r.service_host;
  h.push_back({"forwarded", std::move(forwarded)});
  if (std::string baggage = formatBaggage(r.baggage); !baggage.empty()) {
    h.push_back({"baggage", std::move(baggage)});
  }
  h.push_back({"traceparent", r.traceparent.toString()});
  if (r.forwarded_network && !r.forwarded_network->empty()) {
    h.push_back({"x-forwarded-network", *r.forwarded_network});
  }
  return h;
}

Forwarded parseForwarded(std::string_view header) {
  Forwarded f;
  header = header.substr(0, header.find(','));  // first forwarded-element only
  while (!header.empty()) {
    size_t semi = header.find(';');
    std::string_view pair = trim(header.substr(0, semi));
    header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = trim(pair.substr(0, eq));
    std::string_view value = trim(pair.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    if (equalsIgnoreCase(key, "for")) {
      if (auto sa = net::SocketAddress::parse(value)) {
        f.for_addr = *sa;
      } else if (auto ip = net::IpAddress::parse(value)) {
        f.for_addr = net::SocketAddress{*ip, 0};  // RFC 7239 allows a bare address
      }
    } else if (equalsIgnoreCase(key, "host") && !value.empty()) {
      f.host = std::string(value);
    }
  }
  return f;
}

std::expected<ParsedConnect, ConnectError> parseConnect(const http2::HeaderList& headers) {
  const std::string* method = http2::findHeader(headers, ":method");
  if (method == nullptr || *method != "CONNECT") {
    return std::unexpected(
        ConnectError{ConnectError::Kind::kNotConnect,
                     fmt::format("method '{}' is not CONNECT", method ? *method : "")});
  }
  const std::string* authority = http2::findHeader(headers, ":authority");
  if (authority == nullptr) {
    return std::unexpected(ConnectError{ConnectError::Kind::kBadAuthority, "no :authority"});
  }
  auto parsed = parseAuthority(*authority);
  if (!parsed) {
    return std::unexpected(
        ConnectError{ConnectError::Kind::kBadAuthority, parsed.error().message()});
  }
  ParsedConnect req;
  req.authority = std::move(*parsed);
  if (const std::string* f = http2::findHeader(headers, "forwarded")) {
    Forwarded fwd = parseForwarded(*f);
    req.forwarded_for = fwd.for_addr;
    req.forwarded_host = std::move(fwd.host);
  }
  if (const std::string* b = http2::findHeader(headers, "baggage")) req.baggage = parseBaggage(*b);
  if (const std::string* t = http2::findHeader(headers, "traceparent")) {
    if (auto tp = TraceParent::parse(*t)) req.traceparent = *tp;
  }
  if (const std::string* n = http2::findHeader(headers, "x-forwarded-network")) {
    req.forwarded_network = *n;
  }
  return req;
}

}  // namespace warren::hbone
