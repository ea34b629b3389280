#include "common/accesslog/buffered_sink.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>

#include "common/accesslog/line_formatter.h"
#include "common/accesslog/logfmt.h"

namespace warren::accesslog {

BufferedFdSink::BufferedFdSink(int fd) : fd_(fd) {
  set_formatter_(std::make_unique<LineFormatter>());  // kPattern, written by hand
}

BufferedFdSink::~BufferedFdSink() {
  std::lock_guard lock(mutex_);
  writeOut();
}

size_t BufferedFdSink::pending() {
  std::lock_guard lock(mutex_);
  return lines_;
}

void BufferedFdSink::sink_it_(const spdlog::details::log_msg& msg) {
  spdlog::memory_buf_t line;
  formatter_->format(msg, line);
  buffer_.append(line.data(), line.size());
  ++lines_;
  if (buffer_.size() >= kFlushBytes) writeOut();
}

void BufferedFdSink::flush_() { writeOut(); }

void BufferedFdSink::writeOut() {
  size_t off = 0;
  while (off < buffer_.size()) {
    ssize_t n = ::write(fd_, buffer_.data() + off, buffer_.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // a closed or broken log fd: the lines are dropped, never retried forever
    off += static_cast<size_t>(n);
  }
  buffer_.clear();
  lines_ = 0;
}

BufferedAccessLog::BufferedAccessLog(std::chrono::milliseconds every, int fd)
    : logger_(accessLogger()),
      previous_(logger_->sinks()),
      sink_(std::make_shared<BufferedFdSink>(fd)) {
  logger_->sinks().assign({sink_});
  flusher_ =
      std::make_unique<PeriodicThread>("log-flush", every, [sink = sink_] { sink->flush(); });
}

BufferedAccessLog::~BufferedAccessLog() {
  flusher_.reset();
  sink_->flush();
  logger_->sinks() = previous_;
}

}  // namespace warren::accesslog
