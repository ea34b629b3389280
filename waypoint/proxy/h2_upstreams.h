// H2Upstreams: a worker's HTTP/2 (h2c) connections to endpoints, for requests the HTTP/2 front
// end forwards. One multiplexed connection per endpoint (address:port) of a Service per worker, reused by
// every request to it: its byte stream is a CONNECT tunnel through the worker's HBONE pool (or
// plain TCP to an endpoint outside the mesh), opened by Upstreams::open. Requests wait while the
// connection is being set up, or while it carries the peer's SETTINGS_MAX_CONCURRENT_STREAMS
// (at most 100, http2::SessionConfig); a connection that received GOAWAY or failed is replaced
// by a new one for later requests, and one that carried no stream for kIdleTimeout is closed.
//
// A stream's events go to its UpstreamStreamEvents (held weakly: a request that ended simply
// stops receiving them, and its stream is reset).
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>

#include "common/http2/session.h"
#include "common/uring/event_loop.h"
#include "waypoint/proxy/h2_channel.h"
#include "waypoint/proxy/upstreams.h"

namespace warren::waypoint {

class UpstreamStreamEvents {
 public:
  virtual ~UpstreamStreamEvents() = default;
  // Asked when the stream is opened: Body::kNone when the request is already whole and bodiless
  // (END_STREAM on the HEADERS frame: a GET), else kFollows (write, then end).
  virtual http2::Body requestBody() = 0;
  // The final response head (1xx are not reported).
  virtual void onUpstreamResponse(int status, const http2::HeaderList& headers) = 0;
  // Response DATA: consume() it through the stream once it has left the request's hands.
  virtual void onUpstreamData(std::span<const uint8_t> data) = 0;
  virtual void onUpstreamTrailers(const http2::HeaderList& trailers) = 0;
  virtual void onUpstreamEnd() = 0;       // END_STREAM from the endpoint
  virtual void onUpstreamWritable() = 0;  // the request's send buffer drained to half
  // The stream is over: code 0 after both ends, else the RST_STREAM code (or kConnectError
  // when the connection failed, with why). `refused`: nothing reached the endpoint
  // (REFUSED_STREAM, a GOAWAY below the stream, a connection that never came up).
  virtual void onUpstreamClosed(uint32_t code, const std::string& why, bool refused) = 0;
};

class H2UpstreamConnection;

// One open request stream on an upstream connection: what the request writes through.
class H2UpstreamStream {
 public:
  H2UpstreamStream(std::shared_ptr<H2UpstreamConnection> conn, http2::StreamId id)
      : conn_(std::move(conn)), id_(id) {}
  ~H2UpstreamStream();
  H2UpstreamStream(const H2UpstreamStream&) = delete;
  H2UpstreamStream& operator=(const H2UpstreamStream&) = delete;

  size_t writableBytes() const;
  // Takes what fits (see http2::Session::writeData); onUpstreamWritable follows a short write.
  size_t write(std::span<const uint8_t> data);
  void end();                                        // END_STREAM after what is queued
  void endWithTrailers(const http2::HeaderList& t);  // request trailers, then END_STREAM
  void consume(size_t n);                            // response bytes handled: credit the window
  // Stops the stream (RST_STREAM CANCEL, or `code`) and its events; also what the destructor
  // does to a stream still open.
  void reset(uint32_t code = http2::kCancel);
  http2::StreamId id() const { return id_; }

 private:
  std::shared_ptr<H2UpstreamConnection> conn_;
  http2::StreamId id_;
  bool done_ = false;
};

class H2Upstreams {
 public:
  // A connection that carried no stream this long is closed (GOAWAY): the endpoint may have
  // gone, and an idle connection costs both sides memory. Envoy's upstream idle_timeout
  // default is 1 h; 30 s keeps a worker's pool small while a steady client reuses it, and
  // closes before servers' common 60 s idle limits (Go's, the lab echo's) close it under us.
  static constexpr std::chrono::seconds kIdleTimeout{30};

  using Opened = std::function<void(Result<std::unique_ptr<H2UpstreamStream>>)>;

  H2Upstreams(uring::EventLoop& loop, Upstreams& upstreams, const http2::SessionConfig& config);
  ~H2Upstreams();

  // Opens a request stream to `choice` with these request headers (pseudo-headers first).
  // `opened` runs later, on the loop, with the stream, or the error when no connection could be
  // had (the stream then never existed).
  void open(const UpstreamChoice& choice, const net::SocketAddress& client,
            http2::HeaderList headers, std::weak_ptr<UpstreamStreamEvents> events, Opened opened);

  void closeAll();
  uring::EventLoop& loop() { return loop_; }
  uint64_t connectionsOpened() const { return opened_; }
  uint64_t streamsOpened() const { return streams_; }
  // /clusters and /stats: connections per endpoint with their open streams.
  nlohmann::json toJson() const;

 private:
  friend class H2UpstreamConnection;
  void connectionGone(H2UpstreamConnection* c);

  uring::EventLoop& loop_;
  Upstreams& upstreams_;
  http2::SessionConfig config_;
  // Connections by endpoint key; older ones going away (GOAWAY) are only in `draining_`.
  std::map<std::string, std::shared_ptr<H2UpstreamConnection>> by_endpoint_;
  std::map<H2UpstreamConnection*, std::shared_ptr<H2UpstreamConnection>> draining_;
  uint64_t opened_ = 0;
  uint64_t streams_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace warren::waypoint
