#include "common/relay/socket_relay.h"

#include "common/log.h"
#include "common/relay/socket_stream.h"
#include "common/relay/splice_relay.h"
#include "common/relay/stream_relay.h"

namespace warren::relay {

SocketRelayCounters& socketRelayCounters() {
  static SocketRelayCounters counters;
  return counters;
}

std::shared_ptr<Relay> makeSocketRelay(uring::EventLoop& loop, UniqueFd a, UniqueFd b,
                                       SocketRelayEngine engine, Relay::DoneFn done) {
  auto& counters = socketRelayCounters();
  if (engine == SocketRelayEngine::kSplice) {
    SpliceRelay::Sockets sockets{std::move(a), std::move(b)};
    auto splice = SpliceRelay::create(loop, sockets, done);
    if (splice) {
      counters.splice.fetch_add(1, std::memory_order_relaxed);
      return *splice;
    }
    counters.splice_refused.fetch_add(1, std::memory_order_relaxed);
    spdlog::debug("{}: copying instead", splice.error().message());
    a = std::move(sockets.a);
    b = std::move(sockets.b);
  }
  counters.copy.fetch_add(1, std::memory_order_relaxed);
  return StreamRelay::create(std::make_unique<SocketStream>(loop, std::move(a)),
                             std::make_unique<SocketStream>(loop, std::move(b)), std::move(done));
}

}  // namespace warren::relay
