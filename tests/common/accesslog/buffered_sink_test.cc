#include "common/accesslog/buffered_sink.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>

#include "common/accesslog/logfmt.h"

namespace warren::accesslog {
namespace {

// A pipe whose read end never blocks: what was written so far.
struct Pipe {
  int fds[2] = {-1, -1};
  Pipe() {
    EXPECT_EQ(::pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
    ::fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);  // room for a 64 KiB batch and more
  }
  ~Pipe() {
    ::close(fds[0]);
    ::close(fds[1]);
  }
  std::string drain() {
    std::string out;
    char buf[65536];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    return out;
  }
};

size_t countLines(const std::string& s) {
  return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
}

TEST(BufferedFdSink, HoldsLinesUntilFlushThenWritesThemInOrder) {
  Pipe p;
  auto sink = std::make_shared<BufferedFdSink>(p.fds[1]);
  spdlog::logger logger("access-test", sink);
  logger.info("request complete path=\"/a\"");
  logger.info("request complete path=\"/b\"");
  EXPECT_EQ(p.drain(), "") << "nothing written before a flush";
  EXPECT_EQ(sink->pending(), 2u);
  logger.flush();
  std::string out = p.drain();
  ASSERT_EQ(countLines(out), 2u) << out;
  auto a = out.find("info access-test: request complete path=\"/a\"\n");
  auto b = out.find("info access-test: request complete path=\"/b\"\n");
  EXPECT_NE(a, std::string::npos) << out;
  EXPECT_LT(a, b) << out;
  EXPECT_EQ(out[4], '-') << "the project's pattern, starting with the UTC date: " << out;
  EXPECT_EQ(sink->pending(), 0u);
}

TEST(BufferedFdSink, WritesWithoutAFlushOnce64KiBWait) {
  Pipe p;
  auto sink = std::make_shared<BufferedFdSink>(p.fds[1]);
  spdlog::logger logger("access-test", sink);
  const std::string line(1000, 'x');
  size_t logged = 0;
  while (p.drain().empty() && logged < 200) {
    logger.info(line);
    ++logged;
  }
  // ~1,047 bytes a line (the time, level and logger name before it): the 63rd crosses 64 KiB.
  EXPECT_GE(logged, 60u) << "written before 64 KiB waited";
  EXPECT_LE(logged, 66u) << "a full buffer is written without waiting for the flush";
  EXPECT_EQ(sink->pending(), 0u);
}

TEST(BufferedFdSink, WritesWhatIsLeftWhenDestroyed) {
  Pipe p;
  {
    auto sink = std::make_shared<BufferedFdSink>(p.fds[1]);
    spdlog::logger logger("access-test", sink);
    logger.info("last words");
    EXPECT_EQ(p.drain(), "");
  }
  EXPECT_NE(p.drain().find("last words\n"), std::string::npos);
}

TEST(BufferedAccessLog, TheAccessLoggerIsBatchedAndFlushedOnItsOwnWhileItLives) {
  Pipe p;
  auto logger = accessLogger();
  const auto before = logger->sinks();
  {
    BufferedAccessLog batched(std::chrono::milliseconds(50), p.fds[1]);
    ASSERT_EQ(logger->sinks().size(), 1u);
    EXPECT_EQ(logger->sinks()[0].get(), &batched.sink());
    logger->info("request complete path=\"/flushed\"");
    std::string out;
    for (int i = 0; i < 200 && out.empty(); ++i) {  // the 50 ms flusher, not a flush call
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      out = p.drain();
    }
    EXPECT_NE(out.find("access: request complete path=\"/flushed\"\n"), std::string::npos) << out;
    logger->info("request complete path=\"/at-exit\"");
  }
  EXPECT_NE(p.drain().find("path=\"/at-exit\""), std::string::npos) << "written when it ended";
  EXPECT_EQ(logger->sinks(), before) << "the previous sinks are back";
}

}  // namespace
}  // namespace warren::accesslog
