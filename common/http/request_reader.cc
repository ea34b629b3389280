#include "common/http/request_reader.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include "common/http/query_string.h"
#include "common/http1/parser.h"

namespace warren::http {

struct RequestReader::Impl final : http1::ParserEvents {
  http1::Parser parser;
  HttpRequest current;
  std::optional<HttpRequest>* done = nullptr;
  bool send_continue = false;
  bool failed = false;
  ParseFailure failure;

  explicit Impl(const RequestLimits& limits)
      : parser(http1::Role::kRequest, *this, codecLimits(limits)) {}

  static http1::ParserLimits codecLimits(const RequestLimits& l) {
    http1::ParserLimits c;
    c.max_start_line_bytes = l.max_request_line_bytes;
    c.max_header_bytes = l.max_header_bytes;
    c.max_headers = l.max_headers;
    c.max_body_bytes = l.max_body_bytes;
    return c;
  }

  http1::Flow stop(int status, std::string reason) {
    failed = true;
    failure = ParseFailure{status, std::move(reason)};
    return http1::Flow::kPause;
  }

  http1::Flow onHead(const http1::MessageHead& head) override {
    if (head.upgrade) return stop(400, "Upgrade is not supported by this server");
    auto target = parseTarget(head.target);
    if (!target)
      return stop(400,
                  "malformed request target '" + std::string(head.target.substr(0, 200)) + "'");
    current = HttpRequest{};
    current.method = head.method;
    current.path = std::move(target->path);
    current.query = std::move(target->query);
    current.keep_alive = head.keep_alive;
    for (const auto& f : head.headers) {
      std::string name(f.name);
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      auto [it, inserted] = current.headers.try_emplace(name, f.value);
      if (!inserted) it->second += ", " + std::string(f.value);
    }
    send_continue = head.expect_continue && head.body != http1::BodyKind::kNone;
    return http1::Flow::kContinue;
  }
  http1::Flow onBody(std::string_view data) override {
    current.body.append(data);
    return http1::Flow::kContinue;
  }
  http1::Flow onMessageComplete() override {
    send_continue = false;  // the body came without waiting for it
    *done = std::move(current);
    current = HttpRequest{};
    return http1::Flow::kPause;  // one request at a time
  }
};

RequestReader::RequestReader(RequestLimits limits) : impl_(std::make_unique<Impl>(limits)) {}

RequestReader::~RequestReader() = default;

size_t RequestReader::read(std::string_view data, std::optional<HttpRequest>& request) {
  request.reset();
  if (impl_->failed) return 0;
  impl_->done = &request;
  auto used = impl_->parser.feed(data);
  impl_->done = nullptr;
  if (!used) {
    const http1::ParseFailure& f = used.error();
    impl_->failed = true;
    impl_->failure = ParseFailure{f.status(), f.message()};
    return data.size();
  }
  return *used;
}

bool RequestReader::takeContinue() { return std::exchange(impl_->send_continue, false); }
bool RequestReader::failed() const { return impl_->failed; }
const ParseFailure& RequestReader::failure() const { return impl_->failure; }
bool RequestReader::midRequest() const { return impl_->parser.midMessage(); }
bool RequestReader::closed() const { return impl_->parser.closed(); }

}  // namespace warren::http
