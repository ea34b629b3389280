// Fuzzes the HTTP/1 codec (common/http1). Input: one flag byte, then the bytes a peer sends.
//   bit 0: parse responses (else requests); bit 1: the first request was HEAD;
//   bits 2-3: how the input is cut: 0 whole, 1 byte by byte, 2 at a point chosen by the next
//   byte, 3 whole but pausing at every event; bit 4: small limits.
// Properties checked (abort on violation):
//   - streaming is invisible: the chosen cut yields exactly the events (body pieces joined)
//     and the error of the input fed whole;
//   - consumed counts never exceed the input, limits hold for every head and body;
//   - every complete message, written again by the Serializer, is read back by a fresh parser
//     as the same message (the two halves of the codec agree).
// fuzz-link: warren_http1
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/http1/parser.h"
#include "common/http1/serializer.h"
#include "common/http1/syntax.h"
#include "fuzz/seed_file.h"

namespace {

using namespace warren::http1;

struct Message {
  std::string method, target, reason;
  int status = 0;
  Version version;
  BodyKind body_kind = BodyKind::kNone;
  bool interim = false;
  std::vector<std::pair<std::string, std::string>> fields;
  std::string body;
  std::vector<std::pair<std::string, std::string>> trailers;
  bool complete = false;

  bool operator==(const Message&) const = default;
};

struct Recorder : ParserEvents {
  std::vector<Message> messages;
  bool pause_every_event = false;
  const ParserLimits* limits = nullptr;
  size_t events = 0;

  Flow next() {
    ++events;
    return pause_every_event ? Flow::kPause : Flow::kContinue;
  }
  Flow onHead(const MessageHead& h) override {
    if (h.headers.size() > limits->max_headers) std::abort();
    if (h.body == BodyKind::kLength && h.content_length > limits->max_body_bytes) std::abort();
    Message m;
    m.method = h.method;
    m.target = h.target;
    m.status = h.status;
    m.version = h.version;
    m.reason = h.reason;
    m.body_kind = h.body;
    m.interim = h.isInterim();
    for (const auto& f : h.headers) m.fields.emplace_back(f.name, f.value);
    if (m.interim) m.complete = true;
    messages.push_back(std::move(m));
    return next();
  }
  Flow onBody(std::string_view d) override {
    if (d.empty() || messages.empty()) std::abort();
    messages.back().body += d;
    if (messages.back().body.size() > limits->max_body_bytes) std::abort();
    return next();
  }
  Flow onTrailers(std::span<const HeaderField> t) override {
    if (t.empty() || t.size() > limits->max_headers) std::abort();
    for (const auto& f : t) messages.back().trailers.emplace_back(f.name, f.value);
    return next();
  }
  Flow onMessageComplete() override {
    messages.back().complete = true;
    return next();
  }
};

struct Run {
  std::vector<Message> messages;
  std::optional<ParseError> error;
};

Run parse(Role role, bool first_head, std::string_view in, int cut, uint8_t cut_at,
          const ParserLimits& limits, bool pause) {
  Recorder rec;
  rec.limits = &limits;
  rec.pause_every_event = pause;
  Parser p(role, rec, limits);
  if (role == Role::kResponse) {
    p.expectResponse(first_head ? "HEAD" : "GET");
    for (int i = 0; i < 64; ++i) p.expectResponse("GET");
  }
  Run run;
  // Feeds `piece` until the parser took all of it and has nothing left to report (a pause is
  // resumed at once, with no new bytes when the piece is used up). False once the parser
  // stopped for good: failed, or closed (the rest is not its).
  auto feedAll = [&](std::string_view piece) -> bool {
    for (size_t guard = 0;; ++guard) {
      if (guard > 4 * piece.size() + 100000) std::abort();  // no progress
      size_t events_before = rec.events;
      auto r = p.feed(piece);
      if (!r) {
        run.error = r.error().error;
        if (r.error().detail.empty()) std::abort();
        return false;
      }
      if (*r > piece.size()) std::abort();
      piece.remove_prefix(*r);
      if (p.closed()) return false;
      bool progressed = *r > 0 || rec.events != events_before;
      if (piece.empty() && (!pause || !progressed)) return true;
      if (!progressed) std::abort();  // input left, nothing happened
    }
  };
  bool go = true;
  if (cut == 1) {
    for (size_t i = 0; go && i < in.size(); ++i) go = feedAll(in.substr(i, 1));
  } else if (cut == 2) {
    size_t at = in.empty() ? 0 : cut_at % (in.size() + 1);
    go = feedAll(in.substr(0, at)) && feedAll(in.substr(at));
  } else {
    go = feedAll(in);
  }
  if (go && !run.error) {
    auto r = p.finish();
    if (!r) run.error = r.error().error;
  }
  run.messages = std::move(rec.messages);
  return run;
}

// Writes `m` again with the Serializer and checks a fresh parser reads the same message.
void roundTrip(Role role, const Message& m) {
  // The serializer writes HTTP/1.1; a 1.0 message would be read with other defaults.
  if (!m.complete || m.interim || m.status == 204 || m.status == 304) return;
  if (m.version != Version{1, 1}) return;
  if (m.body_kind == BodyKind::kUntilClose ||
      (role == Role::kResponse && m.body_kind == BodyKind::kNone))
    return;  // framing the serializer would write differently (close-delimited, HEAD responses)
  std::vector<HeaderField> fields;
  for (const auto& [n, v] : m.fields) {
    if (syntax::equalsIgnoreCase(n, "content-length") ||
        syntax::equalsIgnoreCase(n, "transfer-encoding") ||
        syntax::equalsIgnoreCase(n, "connection"))
      continue;  // framing and connection handling are the serializer's and parser's own
    fields.push_back({n, v});
  }
  BodyFraming framing = m.body_kind == BodyKind::kChunked ? BodyFraming::chunked()
                        : m.body_kind == BodyKind::kLength
                            ? BodyFraming::contentLength(m.body.size())
                            : BodyFraming::none();
  std::vector<HeaderField> trailers;
  for (const auto& [n, v] : m.trailers) trailers.push_back({n, v});
  Serializer s;
  std::string wire;
  auto head = role == Role::kRequest ? s.requestHead(wire, m.method, m.target, fields, framing)
                                     : s.responseHead(wire, m.status, m.reason, fields, framing);
  if (!head) return;  // e.g. an HTTP/1.0 request without Host: the serializer writes 1.1 only
  if (!s.body(wire, m.body)) std::abort();
  if (!s.end(wire, trailers)) return;  // trailers the serializer refuses (framing fields)
  ParserLimits unlimited;
  unlimited.max_headers = 1000;
  unlimited.max_header_bytes = 1 << 20;
  unlimited.max_start_line_bytes = 1 << 20;
  auto again = parse(role, false, wire, 0, 0, unlimited, false);
  if (again.error || again.messages.size() != 1) std::abort();
  Message want = m;
  Message got = again.messages[0];
  auto strip = [](Message& x) {
    std::erase_if(x.fields, [](const auto& f) {
      return syntax::equalsIgnoreCase(f.first, "content-length") ||
             syntax::equalsIgnoreCase(f.first, "transfer-encoding") ||
             syntax::equalsIgnoreCase(f.first, "connection");
    });
  };
  strip(want);
  strip(got);
  if (!(want == got)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || size > 64 * 1024) return 0;
  uint8_t flags = data[0];
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  Role role = (flags & 1) ? Role::kResponse : Role::kRequest;
  bool first_head = flags & 2;
  int cut = (flags >> 2) & 3;
  ParserLimits limits;
  if (flags & 16) {
    limits.max_start_line_bytes = 64;
    limits.max_header_bytes = 256;
    limits.max_headers = 4;
    limits.max_body_bytes = 64;
    limits.max_chunk_line_bytes = 16;
  }
  uint8_t cut_at = in.empty() ? 0 : static_cast<uint8_t>(in[0]);
  Run whole = parse(role, first_head, in, 0, 0, limits, false);
  Run cutrun = parse(role, first_head, in, cut == 3 ? 0 : cut, cut_at, limits, cut == 3);
  if (whole.error != cutrun.error) std::abort();
  if (whole.messages != cutrun.messages) std::abort();
  for (const auto& m : whole.messages) roundTrip(role, m);
  return 0;
}

// Seeds: valid conversations of each shape and one input per smuggling rule, in each role.
extern "C" int WarrenFuzzMakeSeeds(const char* dir_c) {
  using warren::fuzz::writeSeed;
  std::string dir = dir_c;
  struct Seed {
    const char* name;
    uint8_t flags;
    std::string bytes;
  };
  const std::string host = "Host: h\r\n";
  const Seed seeds[] = {
      {"get", 0, "GET /a?b=c HTTP/1.1\r\n" + host + "Accept: */*\r\n\r\n"},
      {"get_bytewise", 4, "GET /a HTTP/1.1\r\n" + host + "\r\n"},
      {"pipelined_paused", 12,
       "GET /1 HTTP/1.1\r\n" + host + "\r\nPOST /2 HTTP/1.1\r\n" + host +
           "Content-Length: 3\r\n\r\nabcGET /3 HTTP/1.1\r\n" + host + "Connection: close\r\n\r\n"},
      {"chunked_trailers", 8,
       "\x30POST /c HTTP/1.1\r\n" + host +
           "Transfer-Encoding: chunked\r\n\r\n5;a=\"b c\"\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n"},
      {"http10_keepalive", 0,
       "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.0\r\n\r\n"},
      {"expect_continue", 0,
       "PUT /u HTTP/1.1\r\n" + host + "Expect: 100-continue\r\nContent-Length: 2\r\n\r\nok"},
      {"upgrade", 0,
       "GET /ws HTTP/1.1\r\n" + host + "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n"},
      {"small_limits_long_line", 16, "GET /" + std::string(100, 'a') + " HTTP/1.1\r\n\r\n"},
      {"small_limits_body", 20,
       "PUT / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n40\r\n" +
           std::string(64, 'b') + "\r\n1\r\nc\r\n0\r\n\r\n"},
      {"cl_te", 0,
       "POST / HTTP/1.1\r\n" + host +
           "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
      {"duplicate_cl", 0,
       "POST / HTTP/1.1\r\n" + host + "Content-Length: 1\r\nContent-Length: 1\r\n\r\nx"},
      {"te_gzip", 0, "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip\r\n\r\n"},
      {"chunk_overflow", 0,
       "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n"},
      {"obs_fold", 0, "GET / HTTP/1.1\r\n" + host + "X: a\r\n b\r\n\r\n"},
      {"bare_lf", 0, "GET / HTTP/1.1\n" + host + "\n"},
      {"space_before_colon", 0, "GET / HTTP/1.1\r\nHost : h\r\n\r\n"},
      {"nul_in_value", 0, std::string("GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n", 38)},
      {"missing_host", 0, "GET / HTTP/1.1\r\n\r\n"},
      {"response_length", 1,
       "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 204 No Content\r\n\r\n"},
      {"response_head", 3,
       "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: "
       "chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"},
      {"response_interim", 5,
       "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
      {"response_until_close", 9, "\x05HTTP/1.0 200 OK\r\nServer: x\r\n\r\nbody until the end"},
      {"response_101", 1, "HTTP/1.1 101 Switching Protocols\r\n\r\n"},
      // The waypoint's abuse suite (tests/e2e/waypoint_policy/raw_http.py), one each.
      {"invalid_chunk_size", 0,
       "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n"},
      {"content_length_list", 0, "POST / HTTP/1.1\r\n" + host + "Content-Length: 3, 3\r\n\r\nabc"},
      {"negative_content_length", 0, "POST / HTTP/1.1\r\n" + host + "Content-Length: -1\r\n\r\n"},
      {"te_chunked_not_last", 0,
       "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked, gzip\r\n\r\n"},
      {"bare_cr", 0, "GET / HTTP/1.1\r\n" + host + "X: a\rb\r\n\r\n"},
      {"two_hosts", 0, "GET / HTTP/1.1\r\n" + host + "Host: evil\r\n\r\n"},
      {"small_limits_many_headers", 16,
       "GET / HTTP/1.1\r\n" + host + "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\nF: 6\r\n\r\n"},
      {"fragment_target", 0, "GET /admin#x HTTP/1.1\r\n" + host + "\r\n"},
      {"http_2_0_line", 0, "GET / HTTP/2.0\r\n" + host + "\r\n"},
      {"pipelined_three_bytewise", 4,
       "GET /1 HTTP/1.1\r\n" + host + "\r\nGET /2 HTTP/1.1\r\n" + host + "\r\nGET /3 HTTP/1.1\r\n" +
           host + "Connection: close\r\n\r\n"},
  };
  bool ok = true;
  for (const auto& s : seeds) ok = writeSeed(dir, s.name, s.flags, s.bytes) && ok;
  return ok ? 0 : 1;
}
