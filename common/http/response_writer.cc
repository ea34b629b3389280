#include "common/http/response_writer.h"

#include <vector>

#include "common/http1/serializer.h"
#include "common/http1/status_reason.h"
#include "common/log.h"

namespace warren::http {
namespace {

Result<std::string> serialize(const HttpResponse& response, bool keep_alive) {
  std::vector<http1::HeaderField> fields;
  fields.push_back({"Content-Type", response.content_type});
  for (const auto& [name, value] : response.headers) fields.push_back({name, value});
  if (!keep_alive) fields.push_back({"Connection", "close"});
  bool bodiless = response.status < 200 || response.status == 204 || response.status == 304;
  if (bodiless && !response.body.empty())
    return fail(Error::invalid("status " + std::to_string(response.status) + " with a body"));
  http1::Serializer s;
  std::string out;
  out.reserve(128 + response.body.size());
  auto framing = bodiless ? http1::BodyFraming::none()
                          : http1::BodyFraming::contentLength(response.body.size());
  WARREN_TRY(s.responseHead(out, response.status, statusReason(response.status), fields, framing));
  WARREN_TRY(s.body(out, response.body));
  WARREN_TRY(s.end(out));
  return out;
}

}  // namespace

const char* statusReason(int status) {
  std::string_view reason = http1::reasonPhrase(status);
  return reason.empty() ? "Unknown" : reason.data();  // a literal: NUL-terminated
}

std::string serializeResponse(const HttpResponse& response, bool keep_alive) {
  auto bytes = serialize(response, keep_alive);
  if (bytes) return std::move(*bytes);
  spdlog::error("http: handler produced an invalid {} response: {}", response.status,
                bytes.error().message());
  auto fallback = serialize(
      HttpResponse::text(500, "invalid response from handler: " + bytes.error().message() + "\n"),
      keep_alive);
  return fallback ? std::move(*fallback) : std::string();
}

}  // namespace warren::http
