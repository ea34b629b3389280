// The echo's HTTP/1.1 front end as a sans-I/O session: received bytes in, bytes to send out,
// over the common/http1 codec (framing, keep-alive, chunked bodies, pipelining, the RFC 9112
// rules). Each complete request becomes an EchoRequest for respond() (echo_handler.h); its
// answer comes back as a PendingReply, which the caller writes once the reply's delay has
// passed, then calls feed({}) to go on with pipelined bytes already received.
//
// Bodies are counted, never stored (a chunked upload of any size costs no memory). A request
// the codec refuses is answered with the codec's status and "rule: detail" and the connection
// closes: 400 for malformed input, 413/414/431 over the limits, 501 for CONNECT or an unknown
// transfer coding, 505 for another HTTP version.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "common/http1/parser.h"
#include "lab/echo/echo_handler.h"

namespace warren::echo {

struct PendingReply {
  std::chrono::milliseconds delay{0};
  std::string bytes;  // the whole response
  int status = 0;
  EchoRequest request;  // what was answered (for the log)
};

struct SessionOutput {
  std::string bytes;                  // send now (100 Continue, or a refusal)
  std::optional<PendingReply> reply;  // a complete request's answer: send after its delay
  bool close = false;                 // close once everything above is sent
};

class Http1EchoSession : private http1::ParserEvents {
 public:
  Http1EchoSession(const EchoContext& context, std::string peer, http1::ParserLimits limits = {});
  Http1EchoSession(const Http1EchoSession&) = delete;
  Http1EchoSession& operator=(const Http1EchoSession&) = delete;

  // Bytes received (empty: go on with what is buffered). Stops after one complete request.
  SessionOutput feed(std::string_view data);
  // The peer closed its side: a request cut short is answered 400.
  SessionOutput finish();
  // Received bytes not parsed yet (pipelined requests waiting for the current answer).
  bool hasBuffered() const { return !pending_.empty(); }

 private:
  http1::Flow onHead(const http1::MessageHead& head) override;
  http1::Flow onBody(std::string_view data) override;
  http1::Flow onMessageComplete() override;

  SessionOutput refuse(const http1::ParseFailure& failure);
  PendingReply answer();

  const EchoContext& context_;
  std::string peer_;
  http1::Parser parser_;
  std::string pending_;  // received, not consumed by the parser yet
  EchoRequest request_;
  bool head_request_ = false;
  bool keep_alive_ = true;
  bool http10_ = false;
  bool expect_continue_ = false;
  bool complete_ = false;
  bool closed_ = false;
};

}  // namespace warren::echo
