// What both halves of Http1Session (http1_session.cc: the client side and the decision;
// http1_session_upstream.cc: attempts and responses) share. Not for other users.
#pragma once

#include <string_view>

#include "waypoint/proxy/http1_session.h"

namespace warren::waypoint {

// The session's event adapters: conduit and parser events to its methods, holding the session
// alive through each call.

class Http1Session::DownEvents final : public ConduitOwner {
 public:
  explicit DownEvents(Http1Session& s) : s_(s) {}
  void onInput() override {
    auto keep = s_.shared_from_this();
    s_.pumpDown();
  }
  void onInputEnd() override {
    auto keep = s_.shared_from_this();
    s_.onDownInputEnd();
  }
  void onDrained() override {
    auto keep = s_.shared_from_this();
    s_.onDownDrained();
  }
  void onFailed(const Error& e) override {
    auto keep = s_.shared_from_this();
    s_.onDownFailed(e);
  }

 private:
  Http1Session& s_;
};

class Http1Session::UpEvents final : public ConduitOwner {
 public:
  explicit UpEvents(Http1Session& s) : s_(s) {}
  void onInput() override {
    auto keep = s_.shared_from_this();
    s_.pumpUp();
  }
  void onInputEnd() override {
    auto keep = s_.shared_from_this();
    s_.onUpInputEnd();
  }
  void onDrained() override {
    auto keep = s_.shared_from_this();
    s_.onUpDrained();
  }
  void onFailed(const Error& e) override {
    auto keep = s_.shared_from_this();
    s_.onUpFailed(e);
  }

 private:
  Http1Session& s_;
};

class Http1Session::DownParserEvents final : public http1::ParserEvents {
 public:
  explicit DownParserEvents(Http1Session& s) : s_(s) {}
  http1::Flow onHead(const http1::MessageHead& h) override { return s_.onRequestHead(h); }
  http1::Flow onBody(std::string_view d) override { return s_.onRequestBody(d); }
  http1::Flow onMessageComplete() override { return s_.onRequestComplete(); }

 private:
  Http1Session& s_;
};

class Http1Session::UpParserEvents final : public http1::ParserEvents {
 public:
  explicit UpParserEvents(Http1Session& s) : s_(s) {}
  http1::Flow onHead(const http1::MessageHead& h) override { return s_.onResponseHead(h); }
  http1::Flow onBody(std::string_view d) override { return s_.onResponseBody(d); }
  http1::Flow onMessageComplete() override { return s_.onResponseComplete(); }

 private:
  Http1Session& s_;
};

}  // namespace warren::waypoint

namespace warren::waypoint::session_internal {

// Connection-specific fields (RFC 9110 §7.6.1) and the framing the serializers write
// themselves: never forwarded either way.
inline bool hopByHop(std::string_view lower) {
  return connectionSpecific(lower) || lower == "trailer" || lower == "content-length" ||
         lower == "expect";
}

}  // namespace warren::waypoint::session_internal
