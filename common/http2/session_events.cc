// Session, the other half: the callbacks nghttp2 calls while it reads and writes frames
// (session.cc holds the API the application calls). See README.md.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <string_view>

#include "common/http2/session.h"
#include "common/http2/session_internal.h"

namespace warren::http2 {

using detail::kHeaderFieldOverhead;
using detail::putU64;
using detail::self;
using detail::toNv;

// ---------------------------------------------------------------------------------------------
// nghttp2 callbacks.

ssize_t Session::onSend(nghttp2_session*, const uint8_t* data, size_t len, int, void* ud) {
  Session* s = self(ud);
  if (s->sink_ != nullptr) {
    const std::span<const uint8_t> frame[1] = {{data, len}};
    if (!s->sink_->takeFrame(frame)) {
      s->sink_full_ = true;
      return NGHTTP2_ERR_WOULDBLOCK;
    }
    return static_cast<ssize_t>(len);
  }
  size_t pending = s->outputBufferBytes();
  if (pending > 0 && pending + len > s->config_.max_output_buffer) return NGHTTP2_ERR_WOULDBLOCK;
  s->out_.insert(s->out_.end(), data, data + len);
  return static_cast<ssize_t>(len);
}

// DATA frames are written here straight from the stream's send buffer (NGHTTP2_DATA_FLAG_NO_COPY
// in onReadData), saving nghttp2's own copy.
int Session::onSendData(nghttp2_session*, nghttp2_frame* frame, const uint8_t* framehd,
                        size_t length, nghttp2_data_source*, void* ud) {
  Session* s = self(ud);
  Stream* st = s->find(frame->hd.stream_id);
  if (st == nullptr || st->send.size() < length) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  size_t padlen = frame->data.padlen;  // includes the pad-length octet; we never pad
  size_t total = 9 + length + padlen;
  if (s->sink_ != nullptr) {
    static constexpr uint8_t kZeros[256] = {};
    const uint8_t pad_length = static_cast<uint8_t>(padlen > 0 ? padlen - 1 : 0);
    auto payload = st->send.front(length);
    const std::span<const uint8_t> pieces[] = {
        {framehd, 9},                          // the frame header
        {&pad_length, padlen > 0 ? 1u : 0u},   // padding (never ours)
        payload[0],                            // the payload where it lies in the ring
        payload[1],                            // (its wrapped part)
        {kZeros, padlen > 1 ? padlen - 1 : 0}  // padding
    };
    if (!s->sink_->takeFrame(pieces)) {
      s->sink_full_ = true;
      return NGHTTP2_ERR_WOULDBLOCK;
    }
  } else {
    size_t pending = s->outputBufferBytes();
    if (pending > 0 && pending + total > s->config_.max_output_buffer) {
      return NGHTTP2_ERR_WOULDBLOCK;
    }
    s->out_.insert(s->out_.end(), framehd, framehd + 9);
    if (padlen > 0) s->out_.push_back(static_cast<uint8_t>(padlen - 1));
    for (auto part : st->send.front(length)) {
      s->out_.insert(s->out_.end(), part.begin(), part.end());
    }
    if (padlen > 1) s->out_.insert(s->out_.end(), padlen - 1, 0);
  }
  st->send.drop(length);
  if (st->writable_wanted && st->send.size() <= st->send.capacity() / 2) {
    st->writable_wanted = false;
    s->writable_notify_.push_back(frame->hd.stream_id);
  }
  return 0;
}

ssize_t Session::onReadData(nghttp2_session* session, int32_t stream_id, uint8_t*, size_t length,
                            uint32_t* data_flags, nghttp2_data_source*, void* ud) {
  Session* s = self(ud);
  Stream* st = s->find(stream_id);
  if (st == nullptr || st->closed) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  size_t n = std::min(length, st->send.size());
  if (n == st->send.size() && st->end_requested) {
    *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    if (st->trailers) {
      // The trailers' HEADERS frame carries END_STREAM instead; nghttp2 queues it after this
      // last DATA frame (nghttp2_submit_trailer is allowed inside this callback).
      *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      auto nva = toNv(*st->trailers);  // views into st->trailers: submit before reset()
      int rv = nghttp2_submit_trailer(session, stream_id, nva.data(), nva.size());
      st->trailers.reset();
      if (rv != 0) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
  } else if (n == 0) {
    st->deferred = true;  // writeData()/closeWrite() resume it
    return NGHTTP2_ERR_DEFERRED;
  } else if (s->cork_ && n < length) {
    st->deferred = true;  // a short frame: wait for a full one, or for setCork(false)
    if (std::find(s->corked_.begin(), s->corked_.end(), stream_id) == s->corked_.end()) {
      s->corked_.push_back(stream_id);
    }
    return NGHTTP2_ERR_DEFERRED;
  }
  *data_flags |= NGHTTP2_DATA_FLAG_NO_COPY;
  return static_cast<ssize_t>(n);
}

ssize_t Session::onReadLength(nghttp2_session*, uint8_t, int32_t, int32_t, int32_t, uint32_t,
                              void* ud) {
  // nghttp2 clamps this to the windows and the peer's SETTINGS_MAX_FRAME_SIZE.
  return static_cast<ssize_t>(self(ud)->config_.max_send_data_frame);
}

int Session::onBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* ud) {
  Session* s = self(ud);
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  StreamId id = frame->hd.stream_id;
  s->header_block_stream_ = id;
  ++s->header_blocks_started_;
  if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
    if (s->role_ != Role::kServer) return 0;
    s->streams_.try_emplace(id, s->config_.stream_send_buffer);
  }
  if (Stream* st = s->find(id)) {
    st->headers.clear();
    st->header_bytes = 0;
    st->headers_too_large = false;
  }
  return 0;
}

int Session::onHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* ud) {
  Session* s = self(ud);
  Stream* st = s->find(frame->hd.stream_id);
  if (st == nullptr || st->headers_too_large) return 0;
  st->header_bytes += namelen + valuelen + kHeaderFieldOverhead;
  if (st->header_bytes > s->config_.max_header_list_size) {
    // Keep decoding (HPACK state must stay in sync) but stop storing; answered in onFrameRecv.
    st->headers_too_large = true;
    st->headers.clear();
    return 0;
  }
  st->headers.push_back({std::string(reinterpret_cast<const char*>(name), namelen),
                         std::string(reinterpret_cast<const char*>(value), valuelen)});
  return 0;
}

int Session::onFrameRecv(nghttp2_session* session, const nghttp2_frame* frame, void* ud) {
  Session* s = self(ud);
  StreamId id = frame->hd.stream_id;
  bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  if (frame->hd.type == NGHTTP2_DATA && frame->hd.length == 0 && !end_stream) {
    if (++s->consecutive_empty_frames_ > s->config_.max_consecutive_empty_frames && !s->dead_) {
      s->die(Error(ErrorCode::kProtocol,
                   fmt::format("http2: {} consecutive DATA frames without payload (flood)",
                               s->consecutive_empty_frames_)),
             kEnhanceYourCalm);
      return 0;
    }
  } else if (frame->hd.length > 0) {
    s->consecutive_empty_frames_ = 0;
  }
  switch (frame->hd.type) {
    case NGHTTP2_HEADERS: {
      if (s->header_block_stream_ == id) s->header_block_stream_ = 0;
      Stream* st = s->find(id);
      if (st == nullptr) return 0;
      if (st->headers_too_large) {
        st->headers_too_large = false;
        if (s->role_ == Role::kServer && !st->announced) {
          // RFC 9113 10.5.1 / RFC 6585: 431 Request Header Fields Too Large.
          s->answerSilently(id, *st, 431, {});
        } else {
          nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, id, NGHTTP2_PROTOCOL_ERROR);
        }
        return 0;
      }
      HeaderList headers;
      headers.swap(st->headers);
      if (frame->headers.cat == NGHTTP2_HCAT_REQUEST && s->role_ == Role::kServer) {
        if (s->goaway_submitted_ && id > s->goaway_last_stream_) {
          // Opened after our GOAWAY was queued but before the peer saw it: the GOAWAY tells the
          // peer this stream was not processed, so it must not be.
          nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, id, NGHTTP2_REFUSED_STREAM);
          return 0;
        }
        const std::string* method = findHeader(headers, ":method");
        st->connect = method != nullptr && *method == "CONNECT";
        // CONNECT is checked by its user (HBONE: hbone::parseConnect answers 400 with its own
        // reason); an ordinary request must pass RFC 9113 8.3 before anyone acts on it.
        if (!st->connect) {
          if (auto head = parseRequestHead(headers); !head) {
            s->answerSilently(id, *st, 400, head.error().message() + "\n");
            return 0;
          }
        }
        st->announced = true;
        s->callbacks_.onRequest(id, headers);
      } else if (frame->headers.cat == NGHTTP2_HCAT_RESPONSE ||
                 (frame->headers.cat == NGHTTP2_HCAT_HEADERS && st->awaiting_final)) {
        // nghttp2 checks only that :status has three digits. 1xx is interim (RFC 9110 15.2):
        // the final response follows in another HEADERS. Outside 100..599 it is no status:
        // a malformed response (RFC 9113 8.1.1), so the stream is reset, not answered with
        // onResponse(6) (found by h2_session_fuzz).
        int status = 0;
        if (const std::string* v = findHeader(headers, ":status")) status = std::atoi(v->c_str());
        st->awaiting_final = status >= 100 && status < 200;
        if (st->awaiting_final) return 0;
        if (status < 200 || status > 599) {
          nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, id, NGHTTP2_PROTOCOL_ERROR);
          return 0;
        }
        st->final_response = true;
        s->callbacks_.onResponse(id, status, headers);
      } else if (frame->headers.cat == NGHTTP2_HCAT_HEADERS && st->announced && !st->silent) {
        // Trailers: nghttp2 has checked they end the stream and hold no pseudo-header field.
        s->callbacks_.onTrailers(id, headers);
      }
      if (end_stream) {
        if (Stream* again = s->find(id); again != nullptr && again->announced && !again->silent) {
          s->callbacks_.onEndOfStream(id);
        }
      }
      return 0;
    }
    case NGHTTP2_DATA: {
      Stream* st = s->find(id);
      if (end_stream && st != nullptr && st->announced && !st->silent) {
        s->callbacks_.onEndOfStream(id);
      }
      return 0;
    }
    case NGHTTP2_PING: {
      if ((frame->hd.flags & NGHTTP2_FLAG_ACK) != 0 && s->ping_deadline_) {
        uint8_t expected[8];
        putU64(expected, s->ping_seq_);
        if (std::memcmp(expected, frame->ping.opaque_data, 8) == 0) s->ping_deadline_.reset();
      }
      return 0;
    }
    case NGHTTP2_GOAWAY: {
      s->goaway_received_ = true;
      s->callbacks_.onGoAway(static_cast<uint32_t>(frame->goaway.last_stream_id),
                             frame->goaway.error_code);
      return 0;
    }
    default:
      return 0;
  }
}

int Session::onFrameSend(nghttp2_session*, const nghttp2_frame* frame, void* ud) {
  Session* s = self(ud);
  if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
      (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0) {
    Stream* st = s->find(frame->hd.stream_id);
    if (st != nullptr && st->reset_after_end && !st->closed &&
        nghttp2_session_get_stream_remote_close(s->session_.get(), frame->hd.stream_id) == 0) {
      st->reset_after_end = false;
      nghttp2_submit_rst_stream(s->session_.get(), NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                                NGHTTP2_NO_ERROR);
    }
  }
  if (frame->hd.type == NGHTTP2_GOAWAY) {
    s->goaway_submitted_ = true;
    s->goaway_sent_code_ = frame->goaway.error_code;
    if (frame->goaway.error_code != NGHTTP2_NO_ERROR && !s->local_error_) {
      s->local_error_ = Error(ErrorCode::kProtocol,
                              fmt::format("http2: sent GOAWAY {} ({})",
                                          nghttp2_http2_strerror(frame->goaway.error_code),
                                          s->last_error_.empty() ? "no detail" : s->last_error_));
    }
  }
  return 0;
}

int Session::onFrameNotSend(nghttp2_session*, const nghttp2_frame* frame, int, void* ud) {
  // A request that never left (GOAWAY arrived, or the session is ending) is a refused stream;
  // nghttp2 does not always report its close.
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
    self(ud)->markClosed(frame->hd.stream_id, NGHTTP2_REFUSED_STREAM);
  }
  return 0;
}

int Session::onDataChunk(nghttp2_session* session, uint8_t, int32_t stream_id, const uint8_t* data,
                         size_t len, void* ud) {
  Session* s = self(ud);
  Stream* st = s->find(stream_id);
  if (st == nullptr || !st->announced || st->silent || st->closed) {
    // Nobody will consume these: credit the windows now so they do not leak.
    nghttp2_session_consume(session, stream_id, len);
    return 0;
  }
  if (st->unconsumed + len > s->config_.stream_window ||
      s->total_unconsumed_ + len > s->config_.connection_window) {
    // The peer overran a window: nghttp2 resets the stream (FLOW_CONTROL_ERROR) but still
    // hands over this chunk. Dropping it keeps the contract: delivered-but-unconsumed bytes
    // never exceed the windows.
    nghttp2_session_consume(session, stream_id, len);
    return 0;
  }
  st->unconsumed += len;
  s->total_unconsumed_ += len;
  s->callbacks_.onData(stream_id, {data, len});
  return 0;
}

int Session::onStreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* ud) {
  self(ud)->markClosed(stream_id, error_code);
  return 0;
}

int Session::onError(nghttp2_session*, int, const char* msg, size_t len, void* ud) {
  self(ud)->last_error_.assign(msg, len);
  return 0;
}

}  // namespace warren::http2
