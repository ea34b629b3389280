// SocketStream: ByteStream over a connected non-blocking TCP socket driven by an EventLoop.
// Its state is shared with the callbacks of in-flight operations, so destroying or closing
// the stream while a recv/send is in flight is safe: the fd is cancelled and closed at once,
// and the state (and any send buffer) is freed when the last operation completes.
#pragma once

#include <deque>
#include <memory>

#include "common/relay/byte_stream.h"
#include "common/unique_fd.h"
#include "common/uring/event_loop.h"

namespace warren::relay {

class SocketStream final : public ByteStream {
 public:
  // Takes the fd; it is closed through the loop (cancelling its operations).
  SocketStream(uring::EventLoop& loop, UniqueFd fd);
  ~SocketStream() override;
  SocketStream(const SocketStream&) = delete;
  SocketStream& operator=(const SocketStream&) = delete;

  int fd() const;
  // Hands the socket back, for another engine (SpliceRelay): only before any read or write.
  UniqueFd release();
  // The kernel's TLS record layer took the socket (kTLS): its sendmsg refuses MSG_WAITALL, so
  // sends from now on are plain ones the loop waits for (no quiet sends).
  void sendThroughKernelTls();
  void setEvents(StreamEvents* events) override;
  void read(size_t max_bytes) override;
  void write(uring::Buffer data) override;
  void shutdownWrite() override;
  void close() override;
  std::string describe() const override;
  size_t readChunk() const override;

  struct State;  // shared with in-flight operation callbacks

 private:
  std::shared_ptr<State> state_;
};

}  // namespace warren::relay
