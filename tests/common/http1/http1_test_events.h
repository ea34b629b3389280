// Records what a Parser reports as one line per event, so tests compare whole conversations:
//   "head GET /a host=x cl=5 keep", "body hello", "trailers k=v", "complete".
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/http1/parser.h"

namespace warren::http1 {

struct RecordedEvents : ParserEvents {
  std::vector<std::string> log;
  std::string body;  // all body bytes, concatenated
  // Pause after the n-th event of a kind (0: never).
  bool pause_on_complete = false;
  bool pause_on_body = false;
  bool pause_on_head = false;
  // Views of the last head/body event (valid only during the event: tests check addresses).
  const char* last_target = nullptr;
  const char* last_body = nullptr;

  Flow onHead(const MessageHead& h) override {
    std::string s = "head ";
    if (h.status) {
      s += std::to_string(h.status) + " " + std::string(h.reason);
    } else {
      s += std::string(h.method) + " " + std::string(h.target);
      if (!h.host.empty()) s += " host=" + std::string(h.host);
    }
    s += " HTTP/" + std::to_string(h.version.major) + "." + std::to_string(h.version.minor);
    switch (h.body) {
      case BodyKind::kNone:
        s += " nobody";
        break;
      case BodyKind::kLength:
        s += " cl=" + std::to_string(h.content_length);
        break;
      case BodyKind::kChunked:
        s += " chunked";
        break;
      case BodyKind::kUntilClose:
        s += " until-close";
        break;
    }
    s += h.keep_alive ? " keep" : " close";
    if (h.expect_continue) s += " expect-100";
    if (h.upgrade) s += " upgrade";
    for (const auto& f : h.headers)
      s += " [" + std::string(f.name) + "=" + std::string(f.value) + "]";
    log.push_back(s);
    last_target = h.target.data();
    return pause_on_head ? Flow::kPause : Flow::kContinue;
  }
  Flow onBody(std::string_view d) override {
    if (!log.empty() && log.back().rfind("body ", 0) == 0)
      log.back() += std::string(d);  // pieces of one body read as one line
    else
      log.push_back("body " + std::string(d));
    body += d;
    last_body = d.data();
    return pause_on_body ? Flow::kPause : Flow::kContinue;
  }
  Flow onTrailers(std::span<const HeaderField> t) override {
    std::string s = "trailers";
    for (const auto& f : t) s += " " + std::string(f.name) + "=" + std::string(f.value);
    log.push_back(s);
    return Flow::kContinue;
  }
  Flow onMessageComplete() override {
    log.push_back("complete");
    return pause_on_complete ? Flow::kPause : Flow::kContinue;
  }
};

}  // namespace warren::http1
