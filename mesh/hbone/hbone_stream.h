// HboneStream: one HBONE CONNECT stream as a relay::ByteStream, so the same StreamRelay that
// copies socket<->socket copies socket<->tunnel. Flow control maps onto the ByteStream
// contract:
//  - read credit = HTTP/2 receive window: bytes the peer sent are buffered here (at most one
//    stream window, 4 MiB) and consume()d, crediting the peer, only when the relay takes them;
//    a relay that stops reading therefore stops the peer.
//  - write completion = DATA accepted by the session: write() hands bytes to the stream's
//    bounded send buffer and onWritten fires once all of them were taken; while the buffer is
//    full the relay waits, and so does the socket it reads from.
// Events are posted to the loop, never delivered from inside a call (ByteStream contract).
#pragma once

#include <memory>

#include "common/relay/byte_stream.h"
#include "mesh/hbone/hbone_connection.h"

namespace warren::mesh {

class HboneStream final : public relay::ByteStream {
 public:
  struct State;

  // A stream not yet opened (client: pass handler() to openStream) or already open (server:
  // attach handler() to the request's stream id, then call bind).
  explicit HboneStream(std::shared_ptr<HboneConnection> connection);
  ~HboneStream() override;

  std::shared_ptr<StreamHandler> handler();
  void bind(StreamId id);
  // Client: the response status, once it arrived (called before the relay starts). Status 0:
  // the stream ended before any response; `refused` then says nothing can have reached the
  // destination (REFUSED_STREAM, including a GOAWAY below its id, or the connection closing
  // first), so the request may be sent again (RFC 9113 §8.7).
  using OnResponse = std::function<void(int status, const std::string& error, bool refused)>;
  void onResponse(OnResponse fn);
  // Server: the request was answered with a non-2xx status, which ends the stream in the
  // session itself: stop handling it, without a reset of our own.
  void releaseAnswered();

  void setEvents(relay::StreamEvents* events) override;
  void read(size_t max_bytes) override;
  void write(uring::Buffer data) override;
  size_t writeNow(std::span<const char> data) override;
  size_t writeRoom() override;
  void shutdownWrite() override;
  void close() override;
  std::string describe() const override;
  size_t writeUnit() const override;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace warren::mesh
