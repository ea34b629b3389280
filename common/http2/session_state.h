// An HTTP/2 session's state at a quiet moment, as plain data: what another HTTP/2 engine needs
// to carry the connection on (issue 12 item 5: a new ztunnel taking over an HBONE connection on
// upgrade, with the record layer's tls::RecordState beside it). Session::exportState() makes
// it; it is refused, naming why, while the session holds state this does not describe (frames
// serialised but not sent, half a frame or header block received, unacknowledged SETTINGS or
// PING, entries in an HPACK dynamic table, a stream before its response, a closed stream's
// unconsumed bytes). nghttp2 keeps its HPACK tables to itself, so a session that is to be
// exportable runs without them (SessionConfig::hpack_dynamic_table = false): both tables are
// then empty at every header-block boundary and nothing of HPACK needs carrying.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/http2/header.h"  // StreamId

namespace warren::http2 {

// Windows as the sender sees them: how many more DATA bytes it may send before the receiver
// credits more (RFC 9113 §6.9). Both ends of one connection, exported at the same quiet moment
// with nothing in flight, agree: one side's `send_window` is the other's `receive_window`.
// (nghttp2 reports no window below 0: after a peer lowered SETTINGS_INITIAL_WINDOW_SIZE under
// what a stream had spent, its send window reads 0, not the negative value RFC 9113 §6.9.2 has.)
struct StreamState {
  StreamId id = 0;
  bool local = false;          // opened by this side
  bool sent_end = false;       // our END_STREAM is out (half-closed local)
  bool received_end = false;   // the peer's END_STREAM arrived (half-closed remote)
  bool end_requested = false;  // closeWrite() called: END_STREAM follows the queued bytes
  int32_t send_window = 0;     // what we may still send on this stream
  int32_t receive_window = 0;  // what the peer may still send on it
  // Received, delivered to the application, not yet consume()d: credit owed to the peer once
  // the application (which holds these bytes) passes them on.
  size_t unconsumed = 0;
  std::vector<uint8_t> queued;  // accepted by writeData(), not yet framed: ours to send
};

struct SessionState {
  bool client = false;
  StreamId next_local_stream = 0;  // the id our next openStream() would take
  StreamId last_peer_stream = 0;   // nghttp2's last processed peer stream (0: none)
  int32_t send_window = 0;         // connection level, as per stream
  int32_t receive_window = 0;
  // The peer's SETTINGS in effect (what we send must fit them).
  uint32_t peer_initial_window = 0;
  uint32_t peer_max_frame_size = 0;
  uint32_t peer_max_concurrent_streams = 0;
  std::vector<StreamState> streams;  // open streams, by id
};

}  // namespace warren::http2
