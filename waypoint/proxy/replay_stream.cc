#include "waypoint/proxy/replay_stream.h"

#include <algorithm>

namespace warren::waypoint {

ReplayStream::ReplayStream(uring::EventLoop& loop, std::unique_ptr<relay::ByteStream> inner,
                           std::string replay, bool inner_reading)
    : loop_(loop),
      inner_(std::move(inner)),
      buffered_(std::move(replay)),
      inner_reading_(inner_reading) {
  inner_->setEvents(this);
}

ReplayStream::~ReplayStream() {
  *alive_ = false;
  close();
}

void ReplayStream::read(size_t max_bytes) {
  if (closed_) return;
  wanted_ = max_bytes;
  if (!buffered_.empty() || ((eof_ || error_) && !inner_reading_)) {
    deliverLater();  // never from inside read() (the ByteStream contract)
    return;
  }
  if (!inner_reading_) {
    inner_reading_ = true;
    inner_->read(max_bytes);
  }
}

void ReplayStream::deliverLater() {
  loop_.post([alive = std::weak_ptr<bool>(alive_), this] {
    if (auto a = alive.lock(); a && *a) deliver();
  });
}

void ReplayStream::deliver() {
  if (closed_ || wanted_ == 0 || !events_) return;
  if (!buffered_.empty()) {
    size_t n = std::min(wanted_, buffered_.size());
    std::string out = buffered_.substr(0, n);
    buffered_.erase(0, n);
    wanted_ = 0;
    events_->onData({out.data(), out.size()});
    return;
  }
  if (error_) {
    wanted_ = 0;
    events_->onError(*error_);
  } else if (eof_) {
    wanted_ = 0;
    events_->onReadEof();
  }
}

void ReplayStream::onData(std::span<const char> data) {
  inner_reading_ = false;
  if (wanted_ >= data.size() && buffered_.empty() && events_) {
    wanted_ = 0;
    events_->onData(data);  // the steady state: straight through
    return;
  }
  buffered_.append(data.data(), data.size());
  if (wanted_ > 0) deliver();
}

void ReplayStream::onReadEof() {
  inner_reading_ = false;
  eof_ = true;
  if (wanted_ > 0 && buffered_.empty()) deliver();
}

void ReplayStream::onWritten(size_t bytes, uring::Buffer spent) {
  if (events_) events_->onWritten(bytes, std::move(spent));
}

void ReplayStream::onError(const Error& error) {
  inner_reading_ = false;
  error_ = error;
  wanted_ = 0;
  if (events_) events_->onError(error);  // the stream is broken: what is buffered no longer matters
}

void ReplayStream::close() {
  if (closed_) return;
  closed_ = true;
  inner_->close();
}

}  // namespace warren::waypoint
