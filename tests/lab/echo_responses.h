// Reads an echo server's responses back with the codec's response parser, so the echo tests
// check the bytes they get as any HTTP/1.1 client would read them.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "common/http1/parser.h"

namespace warren::echo {

struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names, last value
  std::string body;
  bool keep_alive = true;
  std::string header(const std::string& lower) const {
    auto it = headers.find(lower);
    return it == headers.end() ? "<absent>" : it->second;
  }
};

struct ResponseReader : http1::ParserEvents {
  http1::Parser parser{http1::Role::kResponse, *this};
  std::vector<Response> responses;
  std::vector<int> interim;  // 1xx statuses seen
  Response current;

  // One per request sent, in order.
  void expect(std::string_view method) { parser.expectResponse(method); }
  // Feeds bytes; false (with the failure in the test output) when they are not HTTP.
  bool feed(std::string_view bytes) {
    auto used = parser.feed(bytes);
    if (!used) ADD_FAILURE() << "response parse: " << used.error().message();
    return used.has_value();
  }
  http1::Flow onHead(const http1::MessageHead& h) override {
    if (h.isInterim()) {
      interim.push_back(h.status);
      return http1::Flow::kContinue;
    }
    current = Response{};
    current.status = h.status;
    current.keep_alive = h.keep_alive;
    for (const auto& f : h.headers) {
      std::string name(f.name);
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      current.headers[name] = std::string(f.value);
    }
    return http1::Flow::kContinue;
  }
  http1::Flow onBody(std::string_view d) override {
    current.body += d;
    return http1::Flow::kContinue;
  }
  http1::Flow onMessageComplete() override {
    responses.push_back(std::move(current));
    return http1::Flow::kContinue;
  }
};

}  // namespace warren::echo
