#include "waypoint/proxy/stream_conduit.h"

namespace warren::waypoint {

StreamConduit::StreamConduit(std::unique_ptr<relay::ByteStream> stream, ConduitOwner* owner)
    : stream_(std::move(stream)), owner_(owner) {
  stream_->setEvents(this);
}

StreamConduit::~StreamConduit() {
  *alive_ = false;
  close();
}

void StreamConduit::wantInput(bool want) {
  want_input_ = want;
  pumpRead();
}

void StreamConduit::pumpRead() {
  if (closed_ || reading_ || eof_ || !want_input_ || input_.size() >= kMaxInput) return;
  reading_ = true;
  stream_->read(kMaxInput - input_.size());
}

void StreamConduit::send(std::string_view bytes) {
  if (closed_ || bytes.empty()) return;
  pending_.append(bytes);
  pumpWrite();
}

void StreamConduit::pumpWrite() {
  if (closed_ || in_flight_ > 0 || corked_) return;
  if (pending_.empty()) {
    if (finish_ && !shut_) {
      shut_ = true;
      stream_->shutdownWrite();
    }
    return;
  }
  uring::Buffer buf = std::move(spare_);
  buf.assign(pending_.begin(), pending_.end());
  pending_.clear();
  in_flight_ = buf.size();
  stream_->write(std::move(buf));
}

void StreamConduit::finishSending() {
  finish_ = true;
  pumpWrite();
}

void StreamConduit::close() {
  if (closed_) return;
  closed_ = true;
  if (stream_) stream_->close();
}

void StreamConduit::onData(std::span<const char> data) {
  reading_ = false;
  bytes_in_ += data.size();
  input_.append(data.data(), data.size());
  auto alive = alive_;
  if (owner_) owner_->onInput();  // may destroy this conduit
  if (*alive) pumpRead();
}

void StreamConduit::onReadEof() {
  reading_ = false;
  eof_ = true;
  if (owner_) owner_->onInputEnd();
}

void StreamConduit::onWritten(size_t bytes, uring::Buffer spent) {
  bytes_out_ += bytes;
  in_flight_ = 0;
  spent.clear();
  spare_ = std::move(spent);
  pumpWrite();
  if (sendBuffered() <= kSendLowWater && owner_) owner_->onDrained();
}

void StreamConduit::onError(const Error& error) {
  reading_ = false;
  close();
  if (owner_) owner_->onFailed(error);
}

}  // namespace warren::waypoint
