#include "common/relay/stream_relay.h"

#include <algorithm>

namespace warren::relay {

// Routes one stream's events: its reads feed the direction it is the source of, its write
// completions belong to the direction it is the destination of.
class StreamRelay::SideEvents final : public StreamEvents {
 public:
  SideEvents(StreamRelay& relay, Direction& as_src, Direction& as_dst)
      : relay_(relay), as_src_(as_src), as_dst_(as_dst) {}
  void onData(std::span<const char> data) override {
    auto keep = relay_.shared_from_this();
    relay_.onData(as_src_, data);
  }
  void onReadEof() override {
    auto keep = relay_.shared_from_this();
    relay_.onEof(as_src_);
  }
  void onWritten(size_t bytes, uring::Buffer spent) override {
    auto keep = relay_.shared_from_this();
    relay_.onWritten(as_dst_, bytes, std::move(spent));
  }
  void onError(const Error& error) override {
    auto keep = relay_.shared_from_this();
    relay_.finish(error);
  }
  bool waitsForWrite() override { return relay_.waitsForWrite(as_dst_); }
  void onWritable() override {
    auto keep = relay_.shared_from_this();
    relay_.pump(as_dst_);
  }

 private:
  StreamRelay& relay_;
  Direction& as_src_;
  Direction& as_dst_;
};

std::shared_ptr<StreamRelay> StreamRelay::create(std::unique_ptr<ByteStream> a,
                                                 std::unique_ptr<ByteStream> b, DoneFn done) {
  return std::shared_ptr<StreamRelay>(new StreamRelay(std::move(a), std::move(b), std::move(done)));
}

StreamRelay::StreamRelay(std::unique_ptr<ByteStream> a, std::unique_ptr<ByteStream> b, DoneFn done)
    : a_(std::move(a)), b_(std::move(b)), done_(std::move(done)) {
  a_to_b_.src = a_.get();
  a_to_b_.dst = b_.get();
  b_to_a_.src = b_.get();
  b_to_a_.dst = a_.get();
  a_events_ = std::make_unique<SideEvents>(*this, a_to_b_, b_to_a_);
  b_events_ = std::make_unique<SideEvents>(*this, b_to_a_, a_to_b_);
  a_->setEvents(a_events_.get());
  b_->setEvents(b_events_.get());
}

StreamRelay::~StreamRelay() {
  a_->close();
  b_->close();
}

void StreamRelay::start() {
  pump(a_to_b_);
  pump(b_to_a_);
}

void StreamRelay::note(Direction& d) {
  d.stats.buffered = d.buffered();
  d.stats.peak_buffered = std::max(d.stats.peak_buffered, d.stats.buffered);
  d.stats.high_watermark = d.high();
  d.stats.eof = d.eof;
}

// Reads while below the high watermark; after a pause, only once at or below the low one.
void StreamRelay::pump(Direction& d) {
  if (finished_ || d.eof || d.reading) return;
  size_t buffered = d.buffered();
  if (buffered >= d.high()) {
    if (!d.paused) ++d.stats.pauses;
    d.paused = true;
    return;
  }
  if (d.paused && buffered > d.high() / 2) return;
  d.paused = false;
  // Asking for no more than the free space is what makes the bound strict.
  d.last_request = d.high() - buffered;
  // Nothing buffered: what is read goes to a copying destination's writeNow(); asking for no
  // more than it takes now keeps the rest in the socket rather than copying it twice (into
  // `pending`, then into the destination). No room: its onWritable() pumps again.
  if (buffered == 0) {
    size_t room = d.dst->writeRoom();
    if (room == 0) return;
    d.last_request = std::min(d.last_request, room);
  }
  d.reading = true;
  const size_t unit = d.dst->writeUnit(), chunk = d.src->readChunk();
  if (unit > 0 && chunk >= unit) {
    if (size_t whole = std::min(d.last_request, chunk) / unit * unit; whole > 0) {
      d.last_request = whole;
    }
  }
  d.src->read(d.last_request);
}

void StreamRelay::flush(Direction& d) {
  if (finished_ || d.in_write > 0 || d.pending.empty()) return;
  d.in_write = d.pending.size();
  uring::Buffer next = std::move(d.spare);
  next.clear();
  d.spare = {};
  d.dst->write(std::exchange(d.pending, std::move(next)));
}

void StreamRelay::onData(Direction& d, std::span<const char> data) {
  if (finished_) return;
  d.reading = false;
  d.stats.bytes += data.size();
  // At least half of what was offered counts as a full read: a completion-based reader
  // (io_uring) often wakes on the first segment and returns a bit less than the socket will
  // hold a moment later, which must not keep a bulk transfer on a small buffer.
  if (2 * data.size() >= d.last_request) {
    if (++d.full_reads >= kFullReadsToGrow && d.tier + 1 < kCopyBufferTiers.size()) {
      ++d.tier;
      d.full_reads = 0;
    }
  } else {
    d.full_reads = 0;
  }
  // A destination that copies anyway takes the bytes straight from the read (writeNow).
  if (d.pending.empty() && d.in_write == 0) data = data.subspan(d.dst->writeNow(data));
  // Room for what is left (a bulk transfer doubles up to the tier once, then reuses the
  // spare), never the whole tier up front: small messages keep small buffers.
  size_t need = d.pending.size() + data.size();
  if (d.pending.capacity() < need) {
    d.pending.reserve(std::max(need, std::min(d.high(), 2 * d.pending.capacity())));
  }
  d.pending.insert(d.pending.end(), data.begin(), data.end());
  note(d);
  flush(d);
  pump(d);
}

void StreamRelay::onEof(Direction& d) {
  if (finished_) return;
  d.reading = false;
  d.eof = true;
  note(d);
  maybeFinish();
}

void StreamRelay::onWritten(Direction& d, size_t bytes, uring::Buffer spent) {
  if (finished_) return;
  d.in_write -= std::min(bytes, d.in_write);
  // Keep one spent buffer for the next write when it is not oversized for the current tier.
  if (spent.capacity() <= d.high() && d.spare.capacity() == 0) d.spare = std::move(spent);
  note(d);
  flush(d);
  pump(d);
  maybeFinish();
}

// onWritten(d) does something at once when more was read than handed on, or when the reader
// is not reading: paused for room, at EOF (the direction ends after this write), or not yet
// started (a paused or ended reader never has a read outstanding).
bool StreamRelay::waitsForWrite(const Direction& d) const {
  return !finished_ && (!d.pending.empty() || !d.reading);
}

void StreamRelay::maybeFinish() {
  for (Direction* d : {&a_to_b_, &b_to_a_}) {
    if (d->eof && !d->shut && d->pending.empty() && d->in_write == 0) {
      d->shut = true;
      d->dst->shutdownWrite();
    }
  }
  if (a_to_b_.shut && b_to_a_.shut) finish(std::nullopt);
}

void StreamRelay::finish(std::optional<Error> error) {
  if (finished_) return;
  finished_ = true;
  auto final_stats = stats();
  a_->close();
  b_->close();
  a_to_b_.pending = {};
  b_to_a_.pending = {};
  a_to_b_.spare = {};
  b_to_a_.spare = {};
  // Bytes in flight belonged to the closed streams, which dropped them.
  a_to_b_.in_write = 0;
  b_to_a_.in_write = 0;
  note(a_to_b_);
  note(b_to_a_);
  if (auto done = std::move(done_)) done(final_stats, error);
}

void StreamRelay::abort(const std::string& why) {
  auto keep = shared_from_this();
  finish(Error(ErrorCode::kUnavailable, "relay aborted: " + why));
}

RelayStats StreamRelay::stats() const {
  RelayStats s;
  s.a_to_b = a_to_b_.stats;
  s.b_to_a = b_to_a_.stats;
  for (auto [d, out] : {std::pair{&a_to_b_, &s.a_to_b}, std::pair{&b_to_a_, &s.b_to_a}}) {
    out->buffered = d->buffered();
    out->high_watermark = d->high();
    out->eof = d->eof;
  }
  s.memory_bytes = a_to_b_.pending.capacity() + a_to_b_.spare.capacity() + a_to_b_.in_write +
                   b_to_a_.pending.capacity() + b_to_a_.spare.capacity() + b_to_a_.in_write;
  return s;
}

}  // namespace warren::relay
