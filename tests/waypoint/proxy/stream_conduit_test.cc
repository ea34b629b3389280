// StreamConduit's write side over a recording ByteStream: one write in flight, the rest queued;
// cork() holds what is sent until uncork(), which sends it as one write.
#include "waypoint/proxy/stream_conduit.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace warren::waypoint {
namespace {

struct RecordingStream : relay::ByteStream {
  std::vector<std::string>* writes;
  relay::StreamEvents* events = nullptr;
  explicit RecordingStream(std::vector<std::string>* w) : writes(w) {}
  void setEvents(relay::StreamEvents* e) override { events = e; }
  void read(size_t) override {}
  void write(uring::Buffer data) override { writes->emplace_back(data.begin(), data.end()); }
  void shutdownWrite() override {}
  void close() override {}
  std::string describe() const override { return "recording"; }
};

struct NoOwner : ConduitOwner {
  void onInput() override {}
  void onInputEnd() override {}
  void onDrained() override {}
  void onFailed(const Error&) override {}
};

TEST(StreamConduit, OneWriteInFlightTheRestQueuedThenSentTogether) {
  std::vector<std::string> writes;
  auto stream = std::make_unique<RecordingStream>(&writes);
  auto* raw = stream.get();
  NoOwner owner;
  StreamConduit c(std::move(stream), &owner);
  c.send("head");
  c.send("body");
  c.send("end");
  ASSERT_EQ(writes, std::vector<std::string>{"head"});
  raw->events->onWritten(4, uring::Buffer{});
  EXPECT_EQ(writes, (std::vector<std::string>{"head", "bodyend"}));
}

TEST(StreamConduit, CorkedSendsLeaveAsOneWriteAtUncork) {
  std::vector<std::string> writes;
  auto stream = std::make_unique<RecordingStream>(&writes);
  NoOwner owner;
  StreamConduit c(std::move(stream), &owner);
  c.cork();
  c.send("HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n");
  c.send("pong");
  EXPECT_TRUE(writes.empty()) << "held while corked";
  EXPECT_EQ(c.sendBuffered(), 42u);
  c.uncork();
  EXPECT_EQ(writes, std::vector<std::string>{"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\npong"});
  c.uncork();  // not corked: nothing more
  EXPECT_EQ(writes.size(), 1u);
}

}  // namespace
}  // namespace warren::waypoint
