#include "lab/echo/echo_handler.h"

#include <cmath>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>

#include "common/http/query_string.h"
#include "common/http1/syntax.h"

namespace warren::echo {
namespace {

using http1::syntax::equalsIgnoreCase;
using http1::syntax::isTokenChar;
using http1::syntax::trimWhitespace;

std::string envOr(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

EchoReply text(int status, std::string body) {
  return EchoReply{status, {{"Content-Type", "text/plain; charset=utf-8"}}, std::move(body), {}};
}

// echo-basic's processError: {"message": "..."} as JSON.
EchoReply jsonError(int status, const std::string& message) {
  nlohmann::ordered_json j;
  j["message"] = message;
  return EchoReply{status,
                   {{"Content-Type", "application/json"}, {"X-Content-Type-Options", "nosniff"}},
                   j.dump(),
                   {}};
}

// The first value of query parameter `name`, percent-decoded ('+' is a space).
std::optional<std::string> queryValue(std::string_view target, std::string_view name) {
  size_t q = target.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  for (const auto& [k, v] : http::splitQuery(target.substr(q + 1))) {
    auto key = http::percentDecode(k, true);
    if (key && *key == name) return http::percentDecode(v, true).value_or(std::string(v));
  }
  return std::nullopt;
}

// The path the handlers are chosen by: the target without its query, "//" merged as echo-basic
// does before its mux sees it.
std::string routingPath(std::string_view target) {
  std::string path(target.substr(0, target.find('?')));
  for (size_t at; (at = path.find("//")) != std::string::npos;) path.erase(at, 1);
  return path;
}

// /status/NNN: exactly three digits, nothing after (the query counts, as in echo-basic).
EchoReply statusReply(std::string_view target) {
  std::string_view rest = target.substr(std::string_view("/status/").size());
  bool three_digits = rest.size() == 3 && std::isdigit(static_cast<unsigned char>(rest[0])) &&
                      std::isdigit(static_cast<unsigned char>(rest[1])) &&
                      std::isdigit(static_cast<unsigned char>(rest[2]));
  if (!three_digits) {
    return text(400, "status: '" + std::string(target) +
                         "' is not /status/ followed by a three-digit code\n");
  }
  int code = std::atoi(std::string(rest).c_str());
  // A final status; 1xx would need an interim response the echo does not model.
  if (code < 200 || code > 599) {
    return text(400, "status: " + std::string(rest) + " is not a final status (200..599)\n");
  }
  return EchoReply{code, {}, "", {}};
}

// X-Echo-Set-Header: "Name: value, Name2: value2" (each value of the field) becomes response
// fields; a name given twice gets its values joined with ",", as echo-basic does.
Result<Fields> echoSetHeaders(const Fields& request_headers) {
  Fields out;
  Status status;
  for (const auto& [name, value] : request_headers) {
    if (!equalsIgnoreCase(name, "X-Echo-Set-Header")) continue;
    http1::syntax::forEachListElement(value, [&](std::string_view item) {
      if (!status) return;
      size_t colon = item.find(':');
      std::string_view n = item.substr(0, colon);
      std::string_view v =
          colon == std::string_view::npos ? "" : trimWhitespace(item.substr(colon + 1));
      if (!http1::syntax::isToken(n)) {
        status =
            fail(Error::invalid("X-Echo-Set-Header: '" + std::string(n) + "' is not a field name"));
        return;
      }
      for (auto& [have, have_value] : out) {
        if (have == n) {
          have_value += "," + std::string(v);
          return;
        }
      }
      out.emplace_back(std::string(n), std::string(v));
    });
    if (!status) return fail(status.error());
  }
  return out;
}

// A non-negative decimal query value within [lo, hi].
std::optional<uint64_t> boundedNumber(const std::string& v, uint64_t lo, uint64_t hi) {
  if (v.empty() || v.size() > 9) return std::nullopt;
  uint64_t n = 0;
  for (char c : v) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  if (n < lo || n > hi) return std::nullopt;
  return n;
}

}  // namespace

uint64_t FailureCounts::next(const std::string& key) {
  std::lock_guard lock(mu_);
  return seen_[key]++;
}

EchoContext EchoContext::fromEnvironment() {
  EchoContext c;
  c.namespace_ = envOr("NAMESPACE");
  c.ingress = envOr("INGRESS_NAME");
  c.service = envOr("SERVICE_NAME");
  c.pod = envOr("POD_NAME");
  return c;
}

std::string canonicalHeaderName(std::string_view name) {
  std::string out(name);
  for (unsigned char c : name) {
    if (!isTokenChar(c)) return out;
  }
  bool upper = true;
  for (char& c : out) {
    c = upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
              : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    upper = c == '-';
  }
  return out;
}

Result<std::chrono::milliseconds> parseDelay(std::string_view text) {
  const std::string what = "delay '" + std::string(text) + "'";
  if (text == "0") return std::chrono::milliseconds(0);
  if (text.empty()) return fail(Error::invalid(what + ": empty duration"));
  if (text.front() == '-') return fail(Error::invalid(what + ": negative duration"));
  if (text.front() == '+') text.remove_prefix(1);
  if (text.empty()) return fail(Error::invalid(what + ": no number"));
  double total_ns = 0;
  while (!text.empty()) {
    size_t i = 0;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'))
      ++i;
    std::string number(text.substr(0, i));
    if (number.empty() || number == "." || number.find('.') != number.rfind('.'))
      return fail(Error::invalid(what + ": expected a number at '" + std::string(text) + "'"));
    text.remove_prefix(i);
    size_t u = 0;
    while (u < text.size() && !std::isdigit(static_cast<unsigned char>(text[u])) && text[u] != '.')
      ++u;
    std::string_view unit = text.substr(0, u);
    text.remove_prefix(u);
    double scale = 0;
    if (unit == "ns")
      scale = 1;
    else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs")
      scale = 1e3;
    else if (unit == "ms")
      scale = 1e6;
    else if (unit == "s")
      scale = 1e9;
    else if (unit == "m")
      scale = 60e9;
    else if (unit == "h")
      scale = 3600e9;
    else if (unit.empty())
      return fail(Error::invalid(what + ": missing unit after " + number));
    else
      return fail(Error::invalid(what + ": unknown unit '" + std::string(unit) +
                                 "' (ns, us, ms, s, m, h)"));
    total_ns += std::strtod(number.c_str(), nullptr) * scale;
  }
  auto ms = std::chrono::milliseconds(static_cast<int64_t>(std::ceil(total_ns / 1e6)));
  if (ms > kMaxDelay) {
    return fail(Error::invalid(what + ": longer than the echo's limit of " +
                               std::to_string(kMaxDelay.count() / 1000) + " s"));
  }
  return ms;
}

EchoReply respond(const EchoRequest& request, const EchoContext& context) {
  const std::string path = routingPath(request.target);
  if (path == "/health") return text(200, "OK");
  if (path.starts_with("/status/")) return statusReply(request.target);

  std::chrono::milliseconds delay{0};
  if (auto d = queryValue(request.target, "delay"); d && !d->empty()) {
    auto parsed = parseDelay(*d);
    if (!parsed) return jsonError(500, parsed.error().message());
    delay = *parsed;
  }
  auto extra = echoSetHeaders(request.headers);
  if (!extra) return jsonError(400, extra.error().message());

  if (auto pod = queryValue(request.target, "failPod"); pod && *pod == context.pod) {
    std::string status_text = queryValue(request.target, "failStatus").value_or("503");
    auto status = boundedNumber(status_text, 400, 599);
    if (!status) return jsonError(400, "failStatus: '" + status_text + "' is not 400..599");
    return text(static_cast<int>(*status), "echo: pod " + context.pod + " fails on request\n");
  }

  std::optional<uint64_t> fail_key_seen;
  if (auto first = queryValue(request.target, "failFirst")) {
    auto n = boundedNumber(*first, 0, 1'000'000);
    if (!n) return jsonError(400, "failFirst: '" + *first + "' is not a count 0..1000000");
    std::string status_text = queryValue(request.target, "failStatus").value_or("503");
    auto status = boundedNumber(status_text, 400, 599);
    if (!status) return jsonError(400, "failStatus: '" + status_text + "' is not 400..599");
    std::string key = queryValue(request.target, "failKey").value_or("");
    uint64_t before = context.failures ? context.failures->next(key) : *n;
    if (before < *n) {
      return text(static_cast<int>(*status), "echo: failing request " + std::to_string(before + 1) +
                                                 " of " + std::to_string(*n) + " for key '" + key +
                                                 "'\n");
    }
    fail_key_seen = before + 1;
  }

  // Go's http.Header: canonical names, every field line its own value, sorted when encoded.
  // Host is not a header there, nor is Transfer-Encoding (Go moves it to TransferEncoding).
  std::map<std::string, std::vector<std::string>> headers;
  for (const auto& [name, value] : request.headers) {
    if (equalsIgnoreCase(name, "Host") || equalsIgnoreCase(name, "Transfer-Encoding")) continue;
    headers[canonicalHeaderName(name)].push_back(value);
  }
  nlohmann::ordered_json j;
  j["path"] = request.target;
  j["host"] = request.host;
  j["method"] = request.method;
  j["proto"] = request.proto;
  j["headers"] = nlohmann::ordered_json::object();
  for (const auto& [name, values] : headers) j["headers"][name] = values;
  j["namespace"] = context.namespace_;
  j["ingress"] = context.ingress;
  j["service"] = context.service;
  j["pod"] = context.pod;
  j["sni"] = "";
  j["bodyBytes"] = request.body_bytes;
  j["peer"] = request.peer;
  if (fail_key_seen) j["failKeySeen"] = *fail_key_seen;

  EchoReply reply;
  reply.status = 200;
  reply.headers = std::move(*extra);
  reply.headers.emplace_back("Content-Type", "application/json");
  reply.headers.emplace_back("X-Content-Type-Options", "nosniff");
  // Header values may carry obs-text that is not UTF-8: replaced, never thrown.
  reply.body = j.dump(1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  reply.delay = delay;
  return reply;
}

}  // namespace warren::echo
