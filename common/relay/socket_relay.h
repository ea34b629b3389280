// makeSocketRelay: the relay for two connected plain TCP sockets (ztunnel's 15006 inbound
// plaintext and outbound passthrough connections, warren-tcp-relay): SpliceRelay when splice
// is allowed and its pipes can be had, else StreamRelay over two SocketStreams (the copy
// relay). Process-wide counters say which engine each relay got.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "common/relay/relay.h"
#include "common/unique_fd.h"
#include "common/uring/event_loop.h"

namespace warren::relay {

enum class SocketRelayEngine {
  kSplice,  // SpliceRelay where it can be had, else the copy relay (counted)
  kCopy,    // always StreamRelay
};

struct SocketRelayCounters {
  std::atomic<uint64_t> splice{0};  // relays that ran on SpliceRelay
  std::atomic<uint64_t> copy{0};    // relays that ran on StreamRelay (asked for, or fallback)
  // Of `copy`: splice was asked for but refused (no pipe: EMFILE/ENFILE).
  std::atomic<uint64_t> splice_refused{0};
};

// The counters of every makeSocketRelay in this process (ztunnel's /metrics
// warren_ztunnel_plain_relays_total{engine}; tests).
SocketRelayCounters& socketRelayCounters();

// Not started: the caller registers it, then calls start().
std::shared_ptr<Relay> makeSocketRelay(uring::EventLoop& loop, UniqueFd a, UniqueFd b,
                                       SocketRelayEngine engine, Relay::DoneFn done);

}  // namespace warren::relay
