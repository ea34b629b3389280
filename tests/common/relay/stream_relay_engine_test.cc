// StreamRelay's decisions (watermarks, tier growth, half-close, errors) driven step by step
// through in-memory ByteStreams: the same interface an HTTP/2 stream will implement, so this
// also shows the engine does not depend on sockets.
#include <gtest/gtest.h>

#include <deque>
#include <optional>

#include "common/relay/stream_relay.h"

namespace warren::relay {
namespace {

// A ByteStream whose events the test fires by hand (never from inside a call, as the
// contract requires).
class ScriptedStream final : public ByteStream {
 public:
  struct Log {
    std::optional<size_t> read_request;  // outstanding read(max)
    std::vector<size_t> requests;        // every read(max) seen
    std::deque<uring::Buffer> writes;    // handed to write(), not yet completed
    std::string written;
    bool shut = false;
    bool closed = false;
    StreamEvents* events = nullptr;
    size_t read_chunk = 0;  // readChunk()
    size_t write_unit = 0;  // writeUnit()
    size_t now_room = 0;    // what writeNow() takes
    std::optional<size_t> room;  // what writeRoom() says (unset: SIZE_MAX, unbounded)
    std::string written_now;
  };
  explicit ScriptedStream(Log& log) : log_(log) {}
  void setEvents(StreamEvents* e) override { log_.events = e; }
  void read(size_t max) override {
    EXPECT_FALSE(log_.read_request) << "two reads outstanding";
    log_.read_request = max;
    log_.requests.push_back(max);
  }
  void write(uring::Buffer data) override {
    log_.written.append(data.begin(), data.end());
    log_.writes.push_back(std::move(data));
  }
  void shutdownWrite() override { log_.shut = true; }
  void close() override {
    log_.closed = true;
    log_.events = nullptr;
  }
  std::string describe() const override { return "scripted"; }
  size_t writeNow(std::span<const char> data) override {
    EXPECT_TRUE(log_.writes.empty()) << "writeNow with a write() outstanding";
    size_t n = std::min(data.size(), log_.now_room);
    log_.now_room -= n;
    log_.written_now.append(data.data(), n);
    return n;
  }
  size_t writeRoom() override { return log_.room.value_or(SIZE_MAX); }
  size_t readChunk() const override { return log_.read_chunk; }
  size_t writeUnit() const override { return log_.write_unit; }

 private:
  Log& log_;
};

class StreamRelayEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    relay_ = StreamRelay::create(std::make_unique<ScriptedStream>(a_),
                                 std::make_unique<ScriptedStream>(b_),
                                 [this](const RelayStats& s, const std::optional<Error>& e) {
                                   done_ = true;
                                   final_ = s;
                                   error_ = e;
                                 });
    relay_->start();
  }
  // The source answers its outstanding read with n bytes.
  void deliver(ScriptedStream::Log& src, size_t n, char c = 'x') {
    ASSERT_TRUE(src.read_request);
    ASSERT_LE(n, *src.read_request);
    src.read_request.reset();
    std::string data(n, c);
    src.events->onData({data.data(), data.size()});
  }
  // The destination finishes its oldest write.
  void completeWrite(ScriptedStream::Log& dst) {
    ASSERT_FALSE(dst.writes.empty());
    auto buf = std::move(dst.writes.front());
    dst.writes.pop_front();
    size_t n = buf.size();
    dst.events->onWritten(n, std::move(buf));
  }

  ScriptedStream::Log a_, b_;
  std::shared_ptr<StreamRelay> relay_;
  bool done_ = false;
  RelayStats final_;
  std::optional<Error> error_;
};

TEST_F(StreamRelayEngineTest, StartsAtOneReadsWorthAndAsksOnlyForFreeSpace) {
  EXPECT_EQ(a_.requests, std::vector<size_t>{16384});
  EXPECT_EQ(b_.requests, std::vector<size_t>{16384});
  deliver(a_, 9600);  // 9600 now being written to b
  ASSERT_TRUE(a_.read_request);
  EXPECT_EQ(*a_.read_request, 16384u - 9600u) << "a read may never exceed the free space";
  deliver(a_, 6784);  // buffered == high watermark: reading stops
  EXPECT_FALSE(a_.read_request);
  EXPECT_EQ(relay_->stats().a_to_b.buffered, 16384u);
  EXPECT_EQ(relay_->stats().a_to_b.pauses, 1u);
  completeWrite(b_);  // 9600 written: 6784 buffered, at or below the low watermark (8192)
  ASSERT_TRUE(a_.read_request) << "reading must resume at the low watermark";
  EXPECT_EQ(*a_.read_request, 9600u);
  EXPECT_EQ(b_.written, std::string(16384, 'x'));
  EXPECT_LE(relay_->stats().a_to_b.peak_buffered, 16384u);
}

// Issue 12: a 1.5 KiB message used to be two reads (the first tier was 1 KiB), two writes and
// two DATA frames. Now it is one of each, in a buffer the size of the message.
TEST_F(StreamRelayEngineTest, AMessageOfAFewKiBIsOneReadAndOneWriteInABufferItsSize) {
  deliver(a_, 1536);
  EXPECT_EQ(b_.writes.size(), 1u);
  EXPECT_EQ(b_.written.size(), 1536u);
  EXPECT_LT(relay_->stats().memory_bytes, 4096u) << "the buffer fits the message, not the tier";
  ASSERT_TRUE(a_.read_request);
  EXPECT_EQ(*a_.read_request, 16384u - 1536u) << "the next read asks for the rest of the tier";
  completeWrite(b_);
}

TEST_F(StreamRelayEngineTest, ResumesOnlyBelowTheLowWatermark) {
  deliver(a_, 1600);   // write of 1600 in flight
  deliver(a_, 14784);  // pending 14784: full, paused
  EXPECT_FALSE(a_.read_request);
  completeWrite(b_);  // 1600 done; 14784 now in flight: still above 8192, stay paused
  EXPECT_FALSE(a_.read_request) << "resumed above the low watermark";
  completeWrite(b_);
  EXPECT_TRUE(a_.read_request);
}

TEST_F(StreamRelayEngineTest, GrowsThroughTheTiersWithTraffic) {
  // Each read fills what was offered and the write completes at once. Reads are sized by the
  // free space at the time (a write may be in flight), so check the tier, not exact sizes.
  std::vector<size_t> tiers;
  for (int i = 0; i < 40 && relay_->stats().a_to_b.high_watermark < 262144; ++i) {
    size_t req = *a_.read_request;
    auto before = relay_->stats().a_to_b;
    EXPECT_LE(req, before.high_watermark - before.buffered) << "read past the free space";
    deliver(a_, req);
    completeWrite(b_);
    if (tiers.empty() || tiers.back() != relay_->stats().a_to_b.high_watermark)
      tiers.push_back(relay_->stats().a_to_b.high_watermark);
  }
  EXPECT_EQ(tiers, (std::vector<size_t>{16384, 262144}));
  EXPECT_EQ(std::vector<size_t>(a_.requests.begin(), a_.requests.begin() + 4),
            std::vector<size_t>(4, 16384))
      << "the first tier lasts kFullReadsToGrow reads";
  // The quiet direction stayed small, and short reads do not grow it.
  EXPECT_EQ(relay_->stats().b_to_a.high_watermark, 16384u);
  for (int i = 0; i < 10; ++i) {
    deliver(b_, 10);
    completeWrite(a_);
  }
  EXPECT_EQ(relay_->stats().b_to_a.high_watermark, 16384u);
  EXPECT_EQ(relay_->stats().b_to_a.bytes, 100u);
}

// Issue 12: reading 16 KiB for an HTTP/2 stream whose full frame holds 16,375 bytes made a full
// frame and a 9-byte one (each its own TLS record) per read. The relay asks for whole units when
// one read can hold one; a stream without a unit, or a source whose reads are smaller than it,
// is asked as before.
// A destination whose write() copies anyway (an HTTP/2 stream) takes the bytes straight from
// the read (writeNow): the relay buffers only what it did not take, and write()s that; it does
// not call writeNow while a write() is outstanding, so the order holds.
TEST_F(StreamRelayEngineTest, ADestinationThatTakesBytesNowSkipsTheRelaysBuffer) {
  b_.now_room = 10;
  deliver(a_, 25, 'n');
  EXPECT_EQ(b_.written_now, std::string(10, 'n'));
  ASSERT_EQ(b_.writes.size(), 1u) << "the 15 it did not take";
  EXPECT_EQ(b_.written, std::string(15, 'n'));
  b_.now_room = 100;
  deliver(a_, 5, 'm');  // a write() is outstanding: these queue behind it
  EXPECT_EQ(b_.written_now, std::string(10, 'n'));
  completeWrite(b_);  // the 5 follow as a write()
  ASSERT_EQ(b_.writes.size(), 1u);
  EXPECT_EQ(b_.written, std::string(15, 'n') + "mmmmm");
  completeWrite(b_);
  deliver(a_, 7, 'o');  // nothing outstanding again: taken now, nothing buffered
  EXPECT_EQ(b_.written_now, std::string(10, 'n') + "ooooooo");
  EXPECT_TRUE(b_.writes.empty());
  EXPECT_EQ(relay_->stats().a_to_b.bytes, 37u);
}

// A destination that says how much writeNow() takes now (writeRoom: an HTTP/2 stream's send
// buffer) is asked for no more, so nothing is copied into the relay's buffer first; with no room
// the relay does not read until the destination's onWritable().
TEST(StreamRelayEngineRoom, ReadsNoMoreThanTheDestinationTakesAndWaitsForRoom) {
  ScriptedStream::Log a, b;
  b.room = b.now_room = 5000;
  auto relay = StreamRelay::create(std::make_unique<ScriptedStream>(a),
                                   std::make_unique<ScriptedStream>(b), [](auto&&, auto&&) {});
  relay->start();
  ASSERT_TRUE(a.read_request);
  EXPECT_EQ(*a.read_request, 5000u) << "no more than the destination takes now";
  b.room = 0;  // the 5000 fill it
  a.read_request.reset();
  std::string data(5000, 'r');
  a.events->onData({data.data(), data.size()});
  EXPECT_EQ(b.written_now, data);
  EXPECT_TRUE(b.writes.empty());
  EXPECT_FALSE(a.read_request) << "no room: no read";
  b.room = b.now_room = 3000;
  b.events->onWritable();
  ASSERT_TRUE(a.read_request) << "room again: read";
  EXPECT_EQ(*a.read_request, 3000u);
  EXPECT_EQ(relay->stats().a_to_b.peak_buffered, 0u) << "nothing waited in the relay's buffer";
  relay->abort("test over");
}

TEST(StreamRelayEngineUnits, ReadsWholeWriteUnitsWhenOneReadHoldsOne) {
  ScriptedStream::Log a, b;
  a.read_chunk = b.read_chunk = 16384;
  b.write_unit = 16375;
  auto relay = StreamRelay::create(std::make_unique<ScriptedStream>(a),
                                   std::make_unique<ScriptedStream>(b), [](auto&&, auto&&) {});
  relay->start();
  ASSERT_TRUE(a.read_request);
  EXPECT_EQ(*a.read_request, 16375u) << "a -> b: one full frame per read";
  ASSERT_TRUE(b.read_request);
  EXPECT_EQ(*b.read_request, kCopyBufferTiers[0]) << "b -> a: a has no write unit";

  ScriptedStream::Log c, d;
  c.read_chunk = 4096;
  d.write_unit = 16375;
  auto small = StreamRelay::create(std::make_unique<ScriptedStream>(c),
                                   std::make_unique<ScriptedStream>(d), [](auto&&, auto&&) {});
  small->start();
  ASSERT_TRUE(c.read_request);
  EXPECT_EQ(*c.read_request, kCopyBufferTiers[0]) << "reads smaller than a unit: unchanged";
  relay->abort("test over");
  small->abort("test over");
}

TEST_F(StreamRelayEngineTest, HalfCloseThenFullClose) {
  deliver(a_, 5, 'q');
  a_.read_request.reset();
  a_.events->onReadEof();
  EXPECT_FALSE(b_.shut) << "shut down before the buffered bytes were written";
  completeWrite(b_);
  EXPECT_TRUE(b_.shut);
  EXPECT_FALSE(done_) << "the other direction is still open";
  // b -> a keeps flowing after a's EOF.
  deliver(b_, 7, 'r');
  completeWrite(a_);
  EXPECT_EQ(a_.written, "rrrrrrr");
  b_.read_request.reset();
  b_.events->onReadEof();
  EXPECT_TRUE(a_.shut);
  ASSERT_TRUE(done_);
  EXPECT_FALSE(error_);
  EXPECT_EQ(final_.a_to_b.bytes, 5u);
  EXPECT_EQ(final_.b_to_a.bytes, 7u);
  EXPECT_TRUE(a_.closed && b_.closed);
  EXPECT_TRUE(relay_->finished());
}

TEST_F(StreamRelayEngineTest, AnErrorOnEitherSideClosesBoth) {
  deliver(a_, 10);
  b_.events->onError(Error::system(ECONNRESET, "send"));
  ASSERT_TRUE(done_);
  ASSERT_TRUE(error_);
  EXPECT_EQ(error_->sysErrno(), ECONNRESET);
  EXPECT_TRUE(a_.closed && b_.closed);
  EXPECT_EQ(final_.a_to_b.bytes, 10u);
  EXPECT_EQ(relay_->stats().memory_bytes, 0u) << "buffers released at the end";
}

TEST_F(StreamRelayEngineTest, AbortReportsAndReleases) {
  deliver(a_, 1000);
  relay_->abort("drain deadline");
  ASSERT_TRUE(done_);
  ASSERT_TRUE(error_);
  EXPECT_NE(error_->message().find("drain deadline"), std::string::npos);
  EXPECT_TRUE(a_.closed && b_.closed);
}

}  // namespace
}  // namespace warren::relay
