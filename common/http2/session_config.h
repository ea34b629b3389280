// Tuning of one HTTP/2 session. Every default says where its value comes from.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace warren::http2 {

struct SessionConfig {
  // Receive windows we advertise. ztunnel's defaults (INTEROP §3, ZT:src/config.rs
  // HTTP2_STREAM_WINDOW_SIZE / HTTP2_CONNECTION_WINDOW_SIZE): the connection window is 4x the
  // stream window so one stalled stream cannot starve the others.
  uint32_t stream_window = 4u << 20;
  uint32_t connection_window = 16u << 20;

  // SETTINGS_MAX_FRAME_SIZE we advertise, and the largest DATA payload we send (clamped by the
  // peer's own setting, 16 KiB until it says otherwise). 1 MiB like ztunnel (HTTP2_FRAME_SIZE):
  // bulk tunnels move fewer, larger frames, which also keeps us clear of peers that count
  // small DATA frames as abuse (istio/ztunnel#2100). nghttp2 still hands DATA to us in chunks
  // as it arrives, so a large frame does not mean a large receive buffer.
  uint32_t max_frame_size = 1u << 20;

  // Largest DATA payload we send (also capped by the peer's SETTINGS_MAX_FRAME_SIZE).
  // nghttp2 keeps a frame buffer as large as the largest DATA frame ever sent, per session,
  // even though we copy payloads ourselves (NO_COPY), so 1 MiB frames would pin 1 MiB per
  // connection. 16 KiB minus the 9-byte frame header makes a full DATA frame exactly one full
  // TLS record (2^14 bytes of plaintext, RFC 8446 §5.1): a 16 KiB payload made 16,393 bytes,
  // i.e. a full record plus a 9-byte one whenever a flush ended on it (issue 12). It keeps
  // nghttp2 at ~25 KiB per session and is far from the tiny-frame pattern some peers treat as
  // abuse (istio/ztunnel#2100).
  static constexpr uint32_t kFrameHeaderBytes = 9;
  static constexpr uint32_t kTlsRecordPlaintext = 16u << 10;
  uint32_t max_send_data_frame = kTlsRecordPlaintext - kFrameHeaderBytes;

  // SETTINGS_MAX_CONCURRENT_STREAMS we advertise (server), and the cap on streams we open
  // (client, combined with the peer's setting by min()). 100: ztunnel's
  // POOL_MAX_STREAMS_PER_CONNECTION, and what Istio waypoints accept (istio/istio#43443).
  uint32_t max_concurrent_streams = 100;

  // SETTINGS_MAX_HEADER_LIST_SIZE we advertise and enforce (RFC 9113 6.5.2 accounting:
  // name + value + 32 per field). 64 KiB: a little above Envoy's 60 KiB default; an HBONE
  // CONNECT is well under 1 KiB. A stream over the limit is reset.
  uint32_t max_header_list_size = 64u << 10;

  // Bytes the application may queue per stream for sending before writeData() takes less
  // than offered (the send-side high watermark). 256 KiB: ztunnel's h2 send buffer
  // (INTEROP §3, ZT:benches/README.md). onStreamWritable fires when it drains to half.
  size_t stream_send_buffer = 256u << 10;

  // Serialised frames held for the transport before the engine stops producing more. A frame
  // is appended only when it fits, or when the buffer is empty (so one frame larger than the
  // bound still goes out): the buffer never exceeds max(bound, one frame). 1 MiB: one
  // max-size DATA frame, enough to keep a TLS writer busy. Not used by a session with a frame
  // sink (Session::setFrameSink, as HBONE connections have): the sink's room bounds the output.
  size_t max_output_buffer = 1u << 20;

  // HPACK dynamic tables (RFC 7541 §2.3.2), ours and the peer's. Off, the session advertises
  // SETTINGS_HEADER_TABLE_SIZE 0 and its own encoder never indexes: header blocks grow by the
  // names and values the tables would have replaced, and the session's state holds no HPACK
  // context, so it can be exported (exportState(), session_state.h). HBONE connections run
  // so (HboneConnection::create): a CONNECT is a few short fields, once per tunnelled
  // connection.
  bool hpack_dynamic_table = true;

  // Keep-alive: PING every interval, the connection fails when an ACK takes longer than the
  // timeout. 10 s / 20 s on both sides, like ztunnel (INTEROP §3, ZT:src/proxy/h2.rs).
  // Zero interval disables keep-alive.
  std::chrono::milliseconds ping_interval{10'000};
  std::chrono::milliseconds ping_timeout{20'000};

  // Abuse limits handed to nghttp2 (see README "Abuse protections").
  // Incoming RST_STREAM token bucket (server only): nghttp2's defaults, 1000 burst, 33/s
  // refill (the CVE-2023-44487 "rapid reset" fix, nghttp2 1.57, backported by Debian).
  uint64_t reset_burst = 1000;
  uint64_t reset_rate_per_second = 33;
  // CONTINUATION frames after one HEADERS (nghttp2 default 8; CVE-2024-27316 class).
  size_t max_continuations = 8;
  // Entries in one SETTINGS frame (nghttp2 default 32).
  size_t max_settings_entries = 32;
  // Queued SETTINGS/PING ACKs before the peer counts as flooding (nghttp2 default 1000).
  size_t max_outbound_ack = 1000;
  // Frames with an empty payload in a row (DATA without END_STREAM carries nothing and costs
  // no window, so nothing else bounds them) before the session ends with GOAWAY
  // ENHANCE_YOUR_CALM. 1: Envoy's max_consecutive_inbound_frames_with_empty_payload default
  // (its CVE-2019-9518 fix); any frame with a payload starts the count again.
  uint32_t max_consecutive_empty_frames = 1;
  // Memory nghttp2 itself may allocate for this session (HPACK tables, frame buffers, stream
  // objects). Allocation beyond it fails and the session dies: a safety net far above normal
  // use (a busy session uses well under 2 MiB), not a tuning knob.
  size_t max_session_memory = 16u << 20;
};

}  // namespace warren::http2
