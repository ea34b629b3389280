// RequestMirrors: a worker's fire-and-forget copies of requests (HTTPRoute RequestMirror). An
// HTTP/1.1 copy is one request, head and whole body, already serialized by the session, sent on
// a new connection to an endpoint of the mirror's Service (HBONE with the waypoint's identity, as
// every upstream); the connection closes when the mirror backend closes it (the copy says
// `connection: close`) or after `limit`. An HTTP/2 copy is a stream on the worker's h2c
// connection to the mirror endpoint (H2Upstreams), reset after `limit`. Either way the response
// is read and thrown away. Nothing here ever
// reaches the client's exchange: the session hands the bytes over and forgets them, so a slow,
// failing or absent mirror neither delays nor changes the response. Bounded: at most
// kMaxInFlight copies per worker (more are dropped and counted), each at most
// BodyReplay::kDefaultLimit of body plus its head.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/http2/header.h"
#include "common/net/socket_address.h"
#include "common/uring/event_loop.h"
#include "waypoint/proxy/h2_upstreams.h"
#include "waypoint/proxy/upstreams.h"

namespace warren::waypoint {

class RequestMirrors {
 public:
  static constexpr size_t kMaxInFlight = 256;
  // A mirror without a route request timeout is cut after this (bounds a stuck mirror).
  static constexpr std::chrono::milliseconds kDefaultLimit{15'000};

  RequestMirrors(uring::EventLoop& loop, Upstreams& upstreams);
  ~RequestMirrors();

  // Sends `bytes` to `choice`; false (and counted) when too many copies are in flight.
  bool send(const UpstreamChoice& choice, const net::SocketAddress& client, std::string bytes,
            std::chrono::milliseconds limit);
  // The same for an HTTP/2 request: these request headers (pseudo-headers first), the whole
  // body and the trailers, on a stream of `h2`'s connection to `choice`.
  bool sendH2(H2Upstreams& h2, const UpstreamChoice& choice, const net::SocketAddress& client,
              const http2::HeaderList& headers, std::string body,
              std::optional<http2::HeaderList> trailers, std::chrono::milliseconds limit);
  // A copy the session could not make (body over the bound, no endpoint...).
  void skipped() { ++skipped_; }
  void closeAll();
  size_t inFlight() const { return live_.size(); }
  nlohmann::json toJson() const;

 private:
  class Copy;
  class Http1Copy;
  class H2Copy;
  // Room for one more copy (else counted as dropped); the copy is live until done().
  bool admit();
  void done(Copy* copy, bool answered);

  uring::EventLoop& loop_;
  Upstreams& upstreams_;
  std::map<Copy*, std::shared_ptr<Copy>> live_;
  uint64_t sent_ = 0, answered_ = 0, failed_ = 0, dropped_ = 0, skipped_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace warren::waypoint
