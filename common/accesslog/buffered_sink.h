// Batched access log output: the access logger's lines gathered in memory and written with one
// write(2) when 64 KiB are waiting or `every` has passed, as Envoy's file access logs do (a
// 64 KiB buffer, a flush interval). At a thousand requests a second a write per line is a
// syscall per request: 5 % of the waypoint's CPU in perf, ~10 % with the line's formatting
// (bench/README.md, "The L7 row").
// A line is late by at most `every`; the buffer is written at exit; a crash loses at most
// `every` of lines.
#pragma once

#include <spdlog/logger.h>
#include <spdlog/sinks/base_sink.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/periodic_thread.h"

namespace warren::accesslog {

// A spdlog sink writing lines to `fd` in batches (the fd is not owned). Lines are formatted with
// the project's pattern (common/log.h, by LineFormatter) unless the logger sets another.
class BufferedFdSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  static constexpr size_t kFlushBytes = 64 * 1024;

  explicit BufferedFdSink(int fd);
  ~BufferedFdSink() override;

  // Lines waiting for the next write.
  size_t pending();

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override;

 private:
  void writeOut();
  int fd_;
  std::string buffer_;
  size_t lines_ = 0;
};

// While it lives, the access logger (accessLogger(): the default logger's sinks) writes through
// one BufferedFdSink on `fd`, flushed every `every` by a thread named "log-flush"; destroyed,
// it writes what is left and puts the previous sinks back. Construct it before, and destroy it
// after, the threads that log (a logger's sink list is not guarded).
class BufferedAccessLog {
 public:
  explicit BufferedAccessLog(std::chrono::milliseconds every, int fd = 2);
  ~BufferedAccessLog();
  BufferedAccessLog(const BufferedAccessLog&) = delete;
  BufferedAccessLog& operator=(const BufferedAccessLog&) = delete;

  BufferedFdSink& sink() { return *sink_; }

 private:
  std::shared_ptr<spdlog::logger> logger_;
  std::vector<spdlog::sink_ptr> previous_;
  std::shared_ptr<BufferedFdSink> sink_;
  std::unique_ptr<PeriodicThread> flusher_;
};

}  // namespace warren::accesslog
