// Http2Session: one client's HTTP/2 connection (h2c, prior knowledge) inside an HBONE CONNECT
// stream to a Service port the waypoint serves as HTTP/2 or gRPC (or found speaking it: an
// `http` port or one of unknown protocol whose first bytes were the HTTP/2 preface). It is the
// server side of the common/http2 engine over the stream (H2Channel), with the limits ztunnel's
// HBONE server has (rapid reset, CONTINUATION, PING and SETTINGS floods, header list size,
// session memory: http2::SessionConfig, common/http2 README "Abuse protections"): a client
// that breaks HTTP/2 gets RST_STREAM or GOAWAY with the code saying why, a request with a bad
// header gets 400 naming it, and nothing crashes the worker.
//
// Each request stream is an Http2Exchange (routing, the upstream stream, the record); many run
// at once on one connection, up to SETTINGS_MAX_CONCURRENT_STREAMS (100).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/http2/session.h"
#include "waypoint/proxy/h2_channel.h"
#include "waypoint/proxy/h2_upstreams.h"
#include "waypoint/proxy/http1_session.h"
#include "waypoint/proxy/http2_exchange.h"

namespace warren::waypoint {

class Http2Session final : public std::enable_shared_from_this<Http2Session>,
                           private http2::SessionCallbacks {
 public:
  using OnClosed = std::function<void(Http2Session*)>;
  Http2Session(SessionEnv& env, H2Upstreams& upstreams, const http2::SessionConfig& config,
               ConnectionFacts facts, std::unique_ptr<StreamConduit> down, OnClosed on_closed);
  ~Http2Session() override;
  // Sends the server preface (SETTINGS) and serves; bytes already in the conduit's input (read
  // while sniffing the protocol) are the first ones served.
  void start();
  // Ends now (worker stopping): every open request is recorded as ended by the client (DC).
  void abort(const std::string& why);
  size_t openStreams() const { return exchanges_.size(); }
  // For the worker's request-header timeout, as Http1Session's: a header block (a request's
  // HEADERS and its CONTINUATIONs) has begun and not ended; how many have begun so far; then
  // GOAWAY ENHANCE_YOUR_CALM (the block holds the whole connection: nothing else may come
  // before its end, so no single stream can be answered instead) and the connection closes.
  bool awaitingHead() const;
  // The code of the GOAWAY the waypoint sent this client (a flood, a broken frame, a header
  // timeout, a drain), once it is out.
  std::optional<uint32_t> goAwaySent() const { return goaway_sent_; }
  uint64_t headsParsed() const;
  void headerTimeout();

 private:
  void onRequest(http2::StreamId id, const http2::HeaderList& headers) override;
  void onResponse(http2::StreamId, int, const http2::HeaderList&) override {}
  void onData(http2::StreamId id, std::span<const uint8_t> data) override;
  void onTrailers(http2::StreamId id, const http2::HeaderList& trailers) override;
  void onEndOfStream(http2::StreamId id) override;
  void onStreamClose(http2::StreamId id, uint32_t error_code) override;
  void onStreamWritable(http2::StreamId id) override;
  void onGoAway(uint32_t, uint32_t) override {}  // the client's: its open requests finish

  std::shared_ptr<Http2Exchange> find(http2::StreamId id);
  void closed(const std::string& why);

  SessionEnv& env_;
  H2Upstreams& upstreams_;
  http2::SessionConfig config_;
  ConnectionFacts facts_;
  std::unique_ptr<StreamConduit> pending_down_;  // until start()
  std::unique_ptr<H2Channel> channel_;
  OnClosed on_closed_;
  std::map<http2::StreamId, std::shared_ptr<Http2Exchange>> exchanges_;
  bool closed_ = false;
  std::optional<uint32_t> goaway_sent_;
};

}  // namespace warren::waypoint
