#include "common/http1/serializer.h"

#include "common/http1/syntax.h"

namespace warren::http1 {

namespace {

using namespace syntax;

bool validFieldValue(std::string_view v) {
  for (unsigned char c : v)
    if (!isFieldValueChar(c)) return false;
  return true;
}

std::string hex(uint64_t n) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  do {
    s.insert(s.begin(), digits[n & 15]);
    n >>= 4;
  } while (n);
  return s;
}

}  // namespace

Status Serializer::startMessage(const BodyFraming& framing) {
  if (in_message_)
    return fail(Error::invalid("HTTP/1 serializer: the previous message was not ended"));
  in_message_ = true;
  framing_ = framing;
  written_ = 0;
  return ok();
}

Status Serializer::appendFields(std::string& out, std::span<const HeaderField> fields,
                                bool trailers) {
  for (const auto& f : fields) {
    if (!isToken(f.name))
      return fail(Error::invalid("HTTP/1 field name '" + std::string(f.name) + "' is not a token"));
    if (!validFieldValue(f.value))
      return fail(Error::invalid("HTTP/1 field '" + std::string(f.name) +
                                 "' has a control byte (CR, LF, NUL...) in its value"));
    if (equalsIgnoreCase(f.name, "content-length") || equalsIgnoreCase(f.name, "transfer-encoding"))
      return fail(Error::invalid("HTTP/1 field '" + std::string(f.name) + "' given by the caller" +
                                 (trailers ? " in trailers" : ": the serializer writes framing")));
    out.append(f.name);
    out.append(": ");
    out.append(trimWhitespace(f.value));
    out.append("\r\n");
  }
  return ok();
}

void Serializer::appendFraming(std::string& out) {
  switch (framing_.kind) {
    case BodyKind::kNone:
      break;
    case BodyKind::kLength:
      out += "Content-Length: " + std::to_string(framing_.length) + "\r\n";
      break;
    case BodyKind::kChunked:
      out += "Transfer-Encoding: chunked\r\n";
      break;
    case BodyKind::kUntilClose:
      out += "Connection: close\r\n";
      break;
  }
  out += "\r\n";
  if (!framing_.body_follows || framing_.kind == BodyKind::kNone) {
    framing_.kind = BodyKind::kNone;  // nothing more may be written
    framing_.length = 0;
  }
}

Status Serializer::requestHead(std::string& out, std::string_view method, std::string_view target,
                               std::span<const HeaderField> headers, BodyFraming framing) {
  if (!isToken(method))
    return fail(Error::invalid("HTTP/1 method '" + std::string(method) + "' is not a token"));
  if (target.empty()) return fail(Error::invalid("HTTP/1 request target is empty"));
  for (unsigned char c : target)
    if (!isVisible(c))
      return fail(Error::invalid("HTTP/1 request target has a byte outside VCHAR"));
  if (framing.kind == BodyKind::kUntilClose)
    return fail(Error::invalid("a request body cannot be delimited by closing the connection"));
  if (!framing.body_follows)
    return fail(Error::invalid("a request with a framing field sends its body"));
  int hosts = 0;
  for (const auto& f : headers)
    if (equalsIgnoreCase(f.name, "host")) ++hosts;
  if (hosts != 1)
    return fail(Error::invalid("an HTTP/1.1 request needs exactly one Host field (got " +
                               std::to_string(hosts) + ")"));
  size_t mark = out.size();
  if (auto s = startMessage(framing); !s) return s;
  out.append(method);
  out.push_back(' ');
  out.append(target);
  out.append(" HTTP/1.1\r\n");
  if (auto s = appendFields(out, headers, false); !s) {
    out.resize(mark);
    in_message_ = false;
    return s;
  }
  appendFraming(out);
  return ok();
}

Status Serializer::responseHead(std::string& out, int status, std::string_view reason,
                                std::span<const HeaderField> headers, BodyFraming framing) {
  if (status < 100 || status > 599)
    return fail(Error::invalid("HTTP status " + std::to_string(status) + " out of range"));
  if (status == 101)
    return fail(Error::invalid("101 Switching Protocols: upgrades are not supported"));
  if (!validFieldValue(reason))
    return fail(Error::invalid("HTTP/1 reason phrase has a control byte"));
  bool interim = status < 200;
  if ((interim || status == 204) && framing.kind != BodyKind::kNone)
    return fail(Error::invalid("status " + std::to_string(status) + " has no body or framing"));
  if (status == 304 && framing.body_follows && framing.kind != BodyKind::kNone)
    return fail(Error::invalid("a 304 response carries no body"));
  size_t mark = out.size();
  if (!interim) {
    if (auto s = startMessage(framing); !s) return s;
  }
  out += "HTTP/1.1 " + std::to_string(status) + " ";
  out.append(reason);
  out += "\r\n";
  if (auto s = appendFields(out, headers, false); !s) {
    out.resize(mark);
    if (!interim) in_message_ = false;
    return s;
  }
  if (interim) {
    out += "\r\n";
    return ok();
  }
  appendFraming(out);
  return ok();
}

Status Serializer::body(std::string& out, std::string_view data) {
  if (!in_message_) return fail(Error::invalid("HTTP/1 body written outside a message"));
  if (data.empty()) return ok();
  switch (framing_.kind) {
    case BodyKind::kNone:
      return fail(Error::invalid("HTTP/1 message has no body, got " + std::to_string(data.size()) +
                                 " bytes"));
    case BodyKind::kLength:
      if (written_ + data.size() > framing_.length)
        return fail(Error::invalid("HTTP/1 body longer than its Content-Length " +
                                   std::to_string(framing_.length)));
      out.append(data);
      break;
    case BodyKind::kChunked:
      out += hex(data.size());
      out += "\r\n";
      out.append(data);
      out += "\r\n";
      break;
    case BodyKind::kUntilClose:
      out.append(data);
      break;
  }
  written_ += data.size();
  return ok();
}

Status Serializer::end(std::string& out, std::span<const HeaderField> trailers) {
  if (!in_message_) return fail(Error::invalid("HTTP/1 message ended twice"));
  if (!trailers.empty() && framing_.kind != BodyKind::kChunked)
    return fail(Error::invalid("HTTP/1 trailers need a chunked body"));
  if (framing_.kind == BodyKind::kLength && written_ != framing_.length)
    return fail(Error::invalid("HTTP/1 body of " + std::to_string(written_) +
                               " bytes is shorter than its Content-Length " +
                               std::to_string(framing_.length)));
  if (framing_.kind == BodyKind::kChunked) {
    size_t mark = out.size();
    out += "0\r\n";
    if (auto s = appendFields(out, trailers, true); !s) {
      out.resize(mark);
      return s;
    }
    out += "\r\n";
  }
  in_message_ = false;
  return ok();
}

}  // namespace warren::http1
