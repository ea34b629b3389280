// fuzz-link: warren_hbone
//
// HBONE CONNECT request parsing alone (`hbone::parseConnect`, the first step of every inbound
// decision: common/hbone/connect_request.h), on header lists decoded from the input: one
// header per line, `name: value` (the name ends at the first ':' after its first character,
// so pseudo-headers such as `:authority` work; one space after the colon is dropped). Where
// `hbone_request_fuzz` reaches the parser through HTTP/2 frames and the mesh decision, this
// target spends every execution on the parser and checks what it promises:
//  1. a refusal is kNotConnect exactly when the first `:method` is missing or not `CONNECT`,
//     else kBadAuthority (no `:authority`, or one parseAuthority refuses); its detail is set;
//  2. an accepted authority's canonical text parses back to itself (port 0 passes here: the
//     inbound decision refuses it, mesh/routing/inbound_decision.cc);
//  3. a traceparent that was kept prints back to text that parses to the same ids;
//  4. the baggage kept is a fixed point of formatBaggage -> parseBaggage;
//  5. the request a client would build from what was parsed (buildConnectHeaders) parses
//     back to the same authority, forwarded address, baggage, trace ids and network.
#include <cstdint>
#include <string>
#include <string_view>

#include "common/hbone/address.h"
#include "common/hbone/connect_request.h"
#include "fuzz/invariant.h"

namespace {

using namespace warren;
constexpr const char* kTarget = "hbone_connect_fuzz";

http2::HeaderList decode(std::string_view text) {
  http2::HeaderList headers;
  while (!text.empty() && headers.size() < 64) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    size_t colon = line.find(':', 1);
    if (colon == std::string_view::npos) {
      headers.push_back({std::string(line), ""});
      continue;
    }
    std::string_view value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    headers.push_back({std::string(line.substr(0, colon)), std::string(value)});
  }
  return headers;
}

bool simpleHost(const std::string& host) {
  if (host.empty()) return false;
  for (char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

void checkRefusal(const http2::HeaderList& headers, const hbone::ConnectError& e) {
  fuzz::invariant(!e.detail.empty(), kTarget, "a refusal without a detail");
  const std::string* method = http2::findHeader(headers, ":method");
  bool connect = method != nullptr && *method == "CONNECT";
  if (!connect) {
    fuzz::invariant(e.kind == hbone::ConnectError::Kind::kNotConnect, kTarget,
                    "a non-CONNECT refused for another reason", e.detail.c_str());
    return;
  }
  fuzz::invariant(e.kind == hbone::ConnectError::Kind::kBadAuthority, kTarget,
                  "a CONNECT refused but not for its authority", e.detail.c_str());
  const std::string* authority = http2::findHeader(headers, ":authority");
  fuzz::invariant(authority == nullptr || !hbone::parseAuthority(*authority), kTarget,
                  "an authority parseAuthority accepts was refused", e.detail.c_str());
}

void checkAccepted(const hbone::ParsedConnect& p) {
  // 2. the authority
  const std::string text = hbone::authorityToString(p.authority);
  auto again = hbone::parseAuthority(text);
  fuzz::invariant(again.has_value() && *again == p.authority, kTarget,
                  "the authority's text does not parse back to it", text.c_str());
  // 3. the trace context
  if (p.traceparent) {
    auto tp = hbone::TraceParent::parse(p.traceparent->toString());
    fuzz::invariant(tp.has_value() && *tp == *p.traceparent, kTarget,
                    "the traceparent does not print back to itself");
  }
  // 4. the baggage
  const std::string baggage = hbone::formatBaggage(p.baggage);
  fuzz::invariant(hbone::parseBaggage(baggage) == p.baggage, kTarget,
                  "the baggage is not a fixed point of format -> parse", baggage.c_str());
  // 5. what a client builds from it parses back the same
  hbone::ConnectRequest request;
  request.target = p.authority;
  request.source = p.forwarded_for.value_or(*net::SocketAddress::parse("10.0.0.1:40000"));
  if (p.forwarded_host && simpleHost(*p.forwarded_host)) request.service_host = p.forwarded_host;
  request.baggage = p.baggage;
  request.traceparent = p.traceparent.value_or(
      *hbone::TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"));
  if (p.forwarded_network && !p.forwarded_network->empty())
    request.forwarded_network = p.forwarded_network;
  auto rebuilt = hbone::parseConnect(hbone::buildConnectHeaders(request));
  fuzz::invariant(rebuilt.has_value(), kTarget, "a built request is refused",
                  rebuilt ? "" : rebuilt.error().detail.c_str());
  fuzz::invariant(rebuilt->authority == p.authority, kTarget, "built authority differs");
  if (p.forwarded_for && p.forwarded_for->port != 0) {
    fuzz::invariant(rebuilt->forwarded_for == p.forwarded_for, kTarget,
                    "built forwarded for= differs");
  }
  if (request.service_host) {
    fuzz::invariant(rebuilt->forwarded_host == request.service_host, kTarget,
                    "built forwarded host= differs", request.service_host->c_str());
  }
  fuzz::invariant(rebuilt->baggage == p.baggage, kTarget, "built baggage differs");
  fuzz::invariant(rebuilt->traceparent == request.traceparent, kTarget,
                  "built traceparent differs");
  fuzz::invariant(rebuilt->forwarded_network == request.forwarded_network, kTarget,
                  "built x-forwarded-network differs");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 8192) return 0;  // a header block, not a bulk transfer
  auto headers = decode(std::string_view(reinterpret_cast<const char*>(data), size));
  auto parsed = hbone::parseConnect(headers);
  if (parsed) {
    checkAccepted(*parsed);
  } else {
    checkRefusal(headers, parsed.error());
  }
  return 0;
}
