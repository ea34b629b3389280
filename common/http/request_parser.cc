#include "common/http/request_parser.h"

#include <llhttp.h>

#include <algorithm>
#include <cctype>

#include "common/http/query_string.h"

namespace warren::http {

struct RequestParser::Impl {
  llhttp_t parser{};
  llhttp_settings_t settings{};
  RequestLimits limits;
  std::vector<HttpRequest>* out = nullptr;

  // The request being assembled.
  HttpRequest current;
  std::string url;
  std::string field;
  std::string value;
  size_t header_bytes = 0;
  size_t header_count = 0;
  bool in_message = false;

  bool failed = false;
  ParseFailure failure;

  int fail(int status, std::string reason) {
    failed = true;
    failure = ParseFailure{status, std::move(reason)};
    return -1;  // stops llhttp with HPE_USER-class error
  }

  int countHeaderBytes(size_t n) {
    header_bytes += n;
    if (header_bytes > limits.max_header_bytes)
      return fail(431, "request line and headers exceed " +
                           std::to_string(limits.max_header_bytes) + " bytes");
    return 0;
  }

  void reset() {
    current = HttpRequest{};
    url.clear();
    field.clear();
    value.clear();
    header_bytes = 0;
    header_count = 0;
  }

  static Impl* self(llhttp_t* p) { return static_cast<Impl*>(p->data); }

  static int onMessageBegin(llhttp_t* p) {
    self(p)->reset();
    self(p)->in_message = true;
    return 0;
  }
  static int onUrl(llhttp_t* p, const char* at, size_t n) {
    auto* s = self(p);
    s->url.append(at, n);
    return s->countHeaderBytes(n);
  }
  static int onHeaderField(llhttp_t* p, const char* at, size_t n) {
    auto* s = self(p);
    s->field.append(at, n);
    return s->countHeaderBytes(n);
  }
  static int onHeaderValue(llhttp_t* p, const char* at, size_t n) {
    auto* s = self(p);
    s->value.append(at, n);
    return s->countHeaderBytes(n);
  }
  static int onHeaderValueComplete(llhttp_t* p) {
    auto* s = self(p);
    if (++s->header_count > s->limits.max_headers)
      return s->fail(431, "more than " + std::to_string(s->limits.max_headers) + " headers");
    std::string name = s->field;
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    auto [it, inserted] = s->current.headers.try_emplace(name, s->value);
    if (!inserted) it->second += ", " + s->value;
    s->field.clear();
    s->value.clear();
    return 0;
  }
  static int onHeadersComplete(llhttp_t* p) {
    auto* s = self(p);
    if (llhttp_get_method(p) == HTTP_CONNECT || p->upgrade)
      return s->fail(400, "CONNECT and Upgrade are not supported by this server");
    // llhttp accepts an HTTP/0.9 simple request ("GET /"); we answer only HTTP/1.x.
    if (llhttp_get_http_major(p) != 1)
      return s->fail(400, "unsupported HTTP version " + std::to_string(llhttp_get_http_major(p)) +
                              "." + std::to_string(llhttp_get_http_minor(p)));
    // Refuse a declared oversize body up front instead of reading it.
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > s->limits.max_body_bytes)
      return s->fail(413, "body of " + std::to_string(p->content_length) +
                              " bytes exceeds the limit of " +
                              std::to_string(s->limits.max_body_bytes));
    auto target = parseTarget(s->url);
    if (!target) return s->fail(400, "malformed request target '" + s->url.substr(0, 200) + "'");
    s->current.path = std::move(target->path);
    s->current.query = std::move(target->query);
    s->current.method = llhttp_method_name(static_cast<llhttp_method_t>(llhttp_get_method(p)));
    return 0;
  }
  static int onBody(llhttp_t* p, const char* at, size_t n) {
    auto* s = self(p);
    if (s->current.body.size() + n > s->limits.max_body_bytes)
      return s->fail(
          413, "body exceeds the limit of " + std::to_string(s->limits.max_body_bytes) + " bytes");
    s->current.body.append(at, n);
    return 0;
  }
  static int onMessageComplete(llhttp_t* p) {
    auto* s = self(p);
    s->current.keep_alive = llhttp_should_keep_alive(p) != 0;
    s->out->push_back(std::move(s->current));
    s->reset();
    s->in_message = false;
    return 0;
  }
};

RequestParser::RequestParser(RequestLimits limits) : impl_(std::make_unique<Impl>()) {
  impl_->limits = limits;
  llhttp_settings_init(&impl_->settings);
  impl_->settings.on_message_begin = &Impl::onMessageBegin;
  impl_->settings.on_url = &Impl::onUrl;
  impl_->settings.on_header_field = &Impl::onHeaderField;
  impl_->settings.on_header_value = &Impl::onHeaderValue;
  impl_->settings.on_header_value_complete = &Impl::onHeaderValueComplete;
  impl_->settings.on_headers_complete = &Impl::onHeadersComplete;
  impl_->settings.on_body = &Impl::onBody;
  impl_->settings.on_message_complete = &Impl::onMessageComplete;
  llhttp_init(&impl_->parser, HTTP_REQUEST, &impl_->settings);
  impl_->parser.data = impl_.get();
}

RequestParser::~RequestParser() = default;

bool RequestParser::feed(std::string_view data, std::vector<HttpRequest>& out) {
  if (impl_->failed) return false;
  impl_->out = &out;
  llhttp_errno_t err = llhttp_execute(&impl_->parser, data.data(), data.size());
  impl_->out = nullptr;
  if (err == HPE_OK) return true;
  if (!impl_->failed) {
    // CONNECT and Upgrade pause the parser; this server speaks neither.
    if (err == HPE_PAUSED_UPGRADE) {
      impl_->failed = true;
      impl_->failure = ParseFailure{400, "CONNECT and Upgrade are not supported"};
    } else {
      impl_->failed = true;
      impl_->failure =
          ParseFailure{400, std::string("malformed HTTP/1.1 request: ") + llhttp_errno_name(err) +
                                ": " + (impl_->parser.reason ? impl_->parser.reason : "")};
    }
  }
  return false;
}

bool RequestParser::failed() const { return impl_->failed; }
const ParseFailure& RequestParser::failure() const { return impl_->failure; }
bool RequestParser::midRequest() const { return impl_->in_message; }

}  // namespace warren::http
