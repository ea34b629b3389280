// ProtocolDetector and ReplayStream on a real event loop and a socketpair: each protocol's first
// bytes give its answer, and whoever takes the stream next reads it again from its first byte
// (through a StreamConduit, as the sessions do), in several pieces and with the rest that
// follows; silence gives the fallback after the timeout; a client that closes first is reported.
#include "waypoint/proxy/protocol_detector.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <thread>

#include "common/relay/socket_stream.h"
#include "waypoint/proxy/stream_conduit.h"

namespace warren::waypoint {
namespace {

struct Outcome {
  sniff::SniffedProtocol protocol = sniff::SniffedProtocol::kNeedMoreBytes;
  bool stream = false;
  std::string why;
  std::string replayed;  // what a conduit then read from the stream, up to `want` bytes
};

// Reads `want` bytes through a StreamConduit over the handed-on stream.
class Reader final : public ConduitOwner {
 public:
  Reader(std::unique_ptr<relay::ByteStream> s, size_t want, std::promise<Outcome>& done, Outcome o)
      : conduit_(std::move(s), this), want_(want), done_(done), o_(std::move(o)) {
    conduit_.wantInput(true);
  }
  void onInput() override {
    o_.replayed += conduit_.input();
    conduit_.input().clear();
    if (o_.replayed.size() >= want_ && !finished_) {
      finished_ = true;
      done_.set_value(o_);
    }
  }
  void onInputEnd() override {}
  void onDrained() override {}
  void onFailed(const Error&) override {}

 private:
  StreamConduit conduit_;
  size_t want_;
  std::promise<Outcome>& done_;
  Outcome o_;
  bool finished_ = false;
};

class ProtocolDetectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    uring::LoopOptions lo;
    lo.backend = uring::Backend::kEpoll;
    loop_ = std::move(*uring::EventLoop::create(lo));
    thread_ = std::thread([this] { loop_->run(); });
  }
  void TearDown() override {
    loop_->post([this] {
      detector_.reset();
      reader_.reset();
    });
    loop_->stop();
    thread_.join();
  }

  // Starts a detector on a new socketpair; returns the client's end. `want`: bytes the reader
  // expects after the decision.
  int start(sniff::SniffedProtocol fallback, size_t want) {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    int server = sv[1];
    ::fcntl(server, F_SETFL, ::fcntl(server, F_GETFL) | O_NONBLOCK);
    loop_->post([this, server, fallback, want] {
      detector_ = std::make_unique<ProtocolDetector>(
          *loop_, std::make_unique<relay::SocketStream>(*loop_, UniqueFd(server)), fallback,
          [this, want](sniff::SniffedProtocol p, std::unique_ptr<relay::ByteStream> s,
                       const std::string& why) {
            Outcome o{p, s != nullptr, why, ""};
            if (!s || want == 0) {
              done_.set_value(o);
              return;
            }
            reader_ = std::make_unique<Reader>(std::move(s), want, done_, o);
          });
      detector_->start();
    });
    client_ = UniqueFd(sv[0]);
    return sv[0];
  }
  Outcome wait() {
    auto f = done_.get_future();
    EXPECT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    return f.get();
  }
  static void send(int fd, std::string_view b) {
    ASSERT_EQ(::send(fd, b.data(), b.size(), MSG_NOSIGNAL), static_cast<ssize_t>(b.size()));
  }

  std::unique_ptr<uring::EventLoop> loop_;
  std::thread thread_;
  std::unique_ptr<ProtocolDetector> detector_;
  std::unique_ptr<Reader> reader_;
  std::promise<Outcome> done_;
  UniqueFd client_;
};

TEST_F(ProtocolDetectorTest, Http2PrefaceInPiecesIsReplayedWhole) {
  std::string preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  std::string more("\x00\x00\x00\x04\x00\x00\x00\x00\x00", 9);  // an empty SETTINGS frame
  std::string all = preface + more;
  int fd = start(sniff::SniffedProtocol::kOpaque, all.size());
  send(fd, preface.substr(0, 5));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  send(fd, preface.substr(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  send(fd, more);
  Outcome o = wait();
  EXPECT_EQ(o.protocol, sniff::SniffedProtocol::kHttp2);
  EXPECT_EQ(o.replayed, all);
}

TEST_F(ProtocolDetectorTest, Http1RequestLineIsHttp1) {
  std::string req = "GET /x HTTP/1.1\r\nHost: a\r\n\r\n";
  int fd = start(sniff::SniffedProtocol::kOpaque, req.size());
  send(fd, req);
  Outcome o = wait();
  EXPECT_EQ(o.protocol, sniff::SniffedProtocol::kHttp1);
  EXPECT_EQ(o.replayed, req);
}

TEST_F(ProtocolDetectorTest, TlsAndOtherBytesAreOpaque) {
  // A TLS record header and the start of a ClientHello (RFC 8446 §5.1, §4.1.2).
  std::string hello("\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00", 10);
  int fd = start(sniff::SniffedProtocol::kHttp1, 10);
  send(fd, hello);
  Outcome o = wait();
  EXPECT_EQ(o.protocol, sniff::SniffedProtocol::kOpaque);
  EXPECT_EQ(o.replayed, hello);
}

TEST_F(ProtocolDetectorTest, SilenceGivesThePortsFallback) {
  // No byte and no end: only the timer can decide, and it gives the fallback with the stream.
  start(sniff::SniffedProtocol::kHttp1, 0);
  Outcome o = wait();
  EXPECT_EQ(o.protocol, sniff::SniffedProtocol::kHttp1);
  EXPECT_TRUE(o.stream);
}

TEST_F(ProtocolDetectorTest, AClientThatClosesFirstIsReported) {
  int fd = start(sniff::SniffedProtocol::kOpaque, 0);
  ::shutdown(fd, SHUT_WR);
  Outcome o = wait();
  EXPECT_FALSE(o.stream);
  EXPECT_NE(o.why.find("closed"), std::string::npos) << o.why;
}

}  // namespace
}  // namespace warren::waypoint
