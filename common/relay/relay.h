// Relay: a running bidirectional relay between two connections, as its owner sees it (ztunnel's
// ConnectionRegistry, TcpRelayServer): start it, abort it, sample its stats; `done` runs once
// when it ends. Two engines implement it:
//   - StreamRelay (stream_relay.h): copies through user-space buffers between any two
//     ByteStreams (sockets, HTTP/2 CONNECT streams);
//   - SpliceRelay (splice_relay.h): two plain TCP sockets, the bytes moved inside the kernel
//     through a pipe per direction, never copied to user space.
// makeSocketRelay (socket_relay.h) picks between them for two sockets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "common/error.h"

namespace warren::relay {

struct DirectionStats {
  uint64_t bytes = 0;         // read from the source (all written when the relay ends cleanly)
  size_t buffered = 0;        // held now (pending + being written; SpliceRelay: in the pipe)
  size_t peak_buffered = 0;   // highest `buffered` seen
  size_t high_watermark = 0;  // current tier (SpliceRelay: the pipe's capacity)
  uint64_t pauses = 0;        // times reading stopped at the high watermark
  bool eof = false;
};

struct RelayStats {
  DirectionStats a_to_b;
  DirectionStats b_to_a;
  size_t memory_bytes = 0;  // user-space buffer capacity held now by both directions
};

class Relay {
 public:
  // Runs once, with the final stats and the first error (nullopt on a clean end). It may drop
  // the last reference to the relay.
  using DoneFn = std::function<void(const RelayStats&, const std::optional<Error>&)>;

  virtual ~Relay() = default;
  virtual void start() = 0;
  // Closes both sides now; `done` runs with a kUnavailable "aborted" error.
  virtual void abort(const std::string& why) = 0;
  virtual RelayStats stats() const = 0;
  virtual bool finished() const = 0;
};

}  // namespace warren::relay
