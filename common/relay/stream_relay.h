// StreamRelay: the bounded bidirectional copy engine. It moves bytes between two ByteStreams
// with backpressure end to end: each direction buffers at most its high watermark; reading
// stops at the high watermark and resumes at or below the low one (half of it), so a slow
// receiver throttles the sender through TCP (or HTTP/2) flow control instead of growing
// memory. The watermark grows with traffic, 1 KiB -> 16 KiB -> 256 KiB (ztunnel's dynamic
// copy buffers, INTEROP §3), so idle connections stay small. A read EOF becomes a write
// shutdown on the other side; the relay ends when both directions are done, or at the first
// error (both sides closed).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "common/relay/byte_stream.h"
#include "common/relay/relay.h"

namespace warren::relay {

// Tiers of the per-direction high watermark (INTEROP §3 copy buffers). Istio's ztunnel starts
// at 1 KiB because it allocates its buffer up front; ours is allocated as bytes arrive and
// sized to them, so an idle connection holds none and a small exchange holds little, and the
// first tier can be what one read brings (a provided buffer, 16 KiB): a 1-2 KiB message is
// one read, one write and one DATA frame instead of two of each.
inline constexpr std::array<size_t, 2> kCopyBufferTiers = {16 * 1024, 256 * 1024};
// Consecutive "full" reads (at least half the space offered) before moving up a tier: a
// read that (nearly) fills its buffer means more was waiting.
inline constexpr int kFullReadsToGrow = 4;
// Hard bound on bytes buffered by one direction, and so 2x this per relay.
inline constexpr size_t kMaxBufferedPerDirection = kCopyBufferTiers.back();

class StreamRelay final : public Relay, public std::enable_shared_from_this<StreamRelay> {
 public:
  static std::shared_ptr<StreamRelay> create(std::unique_ptr<ByteStream> a,
                                             std::unique_ptr<ByteStream> b, DoneFn done);
  ~StreamRelay() override;
  void start() override;
  void abort(const std::string& why) override;
  RelayStats stats() const override;
  bool finished() const override { return finished_; }

 private:
  struct Direction {
    ByteStream* src = nullptr;
    ByteStream* dst = nullptr;
    uring::Buffer pending;  // read, not yet handed to dst
    uring::Buffer spare;    // a written buffer kept for reuse
    size_t in_write = 0;    // bytes handed to dst, not yet written
    size_t tier = 0;
    int full_reads = 0;
    bool reading = false;
    bool paused = false;
    bool eof = false;
    bool shut = false;  // dst write side shut down: direction done
    size_t last_request = 0;
    DirectionStats stats;
    size_t buffered() const { return pending.size() + in_write; }
    size_t high() const { return kCopyBufferTiers[tier]; }
  };
  class SideEvents;

  StreamRelay(std::unique_ptr<ByteStream> a, std::unique_ptr<ByteStream> b, DoneFn done);
  void pump(Direction& d);
  void flush(Direction& d);
  void onData(Direction& d, std::span<const char> data);
  void onEof(Direction& d);
  void onWritten(Direction& d, size_t bytes, uring::Buffer spent);
  bool waitsForWrite(const Direction& d) const;
  void maybeFinish();
  void finish(std::optional<Error> error);
  static void note(Direction& d);

  std::unique_ptr<ByteStream> a_;
  std::unique_ptr<ByteStream> b_;
  std::unique_ptr<SideEvents> a_events_;
  std::unique_ptr<SideEvents> b_events_;
  Direction a_to_b_;
  Direction b_to_a_;
  DoneFn done_;
  bool finished_ = false;
};

}  // namespace warren::relay
