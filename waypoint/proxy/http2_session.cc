#include "waypoint/proxy/http2_session.h"

#include <spdlog/spdlog.h>

namespace warren::waypoint {

Http2Session::Http2Session(SessionEnv& env, H2Upstreams& upstreams,
                           const http2::SessionConfig& config, ConnectionFacts facts,
                           std::unique_ptr<StreamConduit> down, OnClosed on_closed)
    : env_(env),
      upstreams_(upstreams),
      config_(H2Channel::innerConfig(config)),
      facts_(std::move(facts)),
      pending_down_(std::move(down)),
      on_closed_(std::move(on_closed)) {}

Http2Session::~Http2Session() {
  if (channel_) channel_->close();
}

void Http2Session::start() {
  std::weak_ptr<Http2Session> weak = shared_from_this();
  auto channel = H2Channel::create(upstreams_.loop(), http2::Role::kServer, config_, *this,
                                   std::move(pending_down_), [weak](const std::string& why) {
                                     if (auto self = weak.lock()) self->closed(why);
                                   });
  if (!channel) {
    spdlog::warn("waypoint: HTTP/2 session from {}: {}", facts_.client.toString(),
                 channel.error().message());
    upstreams_.loop().post([weak] {
      if (auto self = weak.lock()) self->closed("could not start");
    });
    return;
  }
  channel_ = std::move(*channel);
  channel_->start();
}

void Http2Session::abort(const std::string& why) { closed(why); }

bool Http2Session::awaitingHead() const {
  return !closed_ && channel_ && !channel_->closed() && channel_->session().receivingHeaderBlock();
}

uint64_t Http2Session::headsParsed() const {
  return channel_ ? channel_->session().headerBlocksStarted() : 0;
}

void Http2Session::headerTimeout() {
  if (!awaitingHead()) return;
  spdlog::info(
      "waypoint: HTTP/2 client {} did not end a header block in time: GOAWAY "
      "ENHANCE_YOUR_CALM",
      facts_.client.toString());
  channel_->session().goAway(http2::kEnhanceYourCalm);
  channel_->flush();
}

std::shared_ptr<Http2Exchange> Http2Session::find(http2::StreamId id) {
  auto it = exchanges_.find(id);
  return it == exchanges_.end() ? nullptr : it->second;
}

void Http2Session::onRequest(http2::StreamId id, const http2::HeaderList& headers) {
  auto ex = std::make_shared<Http2Exchange>(env_, upstreams_, facts_, *channel_, id);
  exchanges_[id] = ex;
  ex->onRequest(headers);
}

void Http2Session::onData(http2::StreamId id, std::span<const uint8_t> data) {
  if (auto ex = find(id)) {
    ex->onData(data);
  } else {
    channel_->session().consume(id, data.size());
  }
}

void Http2Session::onTrailers(http2::StreamId id, const http2::HeaderList& trailers) {
  if (auto ex = find(id)) ex->onTrailers(trailers);
}

void Http2Session::onEndOfStream(http2::StreamId id) {
  if (auto ex = find(id)) ex->onEnd();
}

void Http2Session::onStreamClose(http2::StreamId id, uint32_t error_code) {
  auto ex = find(id);
  if (!ex) return;
  exchanges_.erase(id);
  ex->onClosed(error_code);
}

void Http2Session::onStreamWritable(http2::StreamId id) {
  if (auto ex = find(id)) ex->onWritable();
}

void Http2Session::closed(const std::string& why) {
  if (closed_) return;
  closed_ = true;
  auto keep = shared_from_this();
  if (channel_) goaway_sent_ = channel_->session().goAwaySentCode();
  spdlog::debug("waypoint: HTTP/2 session from {}: {}", facts_.client.toString(), why);
  auto open = std::move(exchanges_);
  exchanges_.clear();
  for (auto& [id, ex] : open) ex->abort("client connection: " + why);
  if (channel_) channel_->close();
  if (on_closed_) on_closed_(this);
}

}  // namespace warren::waypoint
