// ByteStream: one side of a relay, as the copy engine sees it. A TCP socket implements it
// (SocketStream); an HTTP/2 CONNECT stream will too, with read credit mapped to flow-control
// window (consume()/WINDOW_UPDATE) and write completion mapped to DATA frames accepted by the
// session, so the same StreamRelay copies socket<->socket and socket<->h2 stream.
//
// Contract (what StreamRelay relies on):
//  - Events are delivered asynchronously, never from inside read()/write()/shutdownWrite().
//  - read(max) asks for at most `max` bytes; exactly one of onData (1..max bytes),
//    onReadEof or onError answers it. At most one read is outstanding. Not calling read() is
//    the backpressure: a socket stops receiving (its kernel buffer fills, TCP window closes);
//    an h2 stream stops granting window.
//  - write(buffer) takes the bytes; onWritten(n, spent) reports the whole buffer written
//    (handed to the transport) and gives the buffer back for reuse. Writes complete in order.
//    onWritten may come late (after the loop slept) unless waitsForWrite() says it is awaited.
//  - shutdownWrite() half-closes after queued writes (TCP FIN, h2 END_STREAM).
//  - close() ends everything now; no event follows it. In-flight I/O is cancelled and its
//    memory released when the last operation completes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "common/error.h"
#include "common/uring/event_loop.h"

namespace warren::relay {

class StreamEvents {
 public:
  virtual ~StreamEvents() = default;
  virtual void onData(std::span<const char> data) = 0;
  virtual void onReadEof() = 0;
  virtual void onWritten(size_t bytes, uring::Buffer spent) = 0;
  virtual void onError(const Error& error) = 0;
  // Asked while a write is in flight, before the loop sleeps: does the next step wait for
  // onWritten (more to write, a paused reader, a close after the last write)? When it does not,
  // the loop may deliver onWritten only when it next wakes (uring::SendFollower). True unless
  // a stream's user knows better.
  virtual bool waitsForWrite() { return true; }
  // The destination has room again after writeRoom() answered 0. Never called otherwise.
  virtual void onWritable() {}
};

class ByteStream {
 public:
  virtual ~ByteStream() = default;
  virtual void setEvents(StreamEvents* events) = 0;
  virtual void read(size_t max_bytes) = 0;
  virtual void write(uring::Buffer data) = 0;
  virtual void shutdownWrite() = 0;
  virtual void close() = 0;
  virtual std::string describe() const = 0;
  // Takes what it can of `data` now, copying it, and returns how much; no onWritten follows.
  // For a stream whose write() copies anyway (an HTTP/2 stream into its send buffer): the relay
  // then hands it what it read without copying it into its own buffer first. Only called with
  // no write() outstanding. The default takes nothing: the relay buffers and write()s.
  virtual size_t writeNow(std::span<const char> data) {
    (void)data;
    return 0;
  }
  // How many bytes writeNow() would take now, for a stream whose writeNow() copies into a
  // bounded buffer (an HTTP/2 stream's send buffer): a relay reading for it then asks for no
  // more, so nothing waits in the relay's own buffer to be copied a second time. 0: nothing
  // now (or too little to be worth a read), and onWritable() follows once there is room.
  // SIZE_MAX (the default): not bounded so.
  virtual size_t writeRoom() { return SIZE_MAX; }
  // The most one read delivers (a socket: one provided buffer), 0 when unbounded.
  virtual size_t readChunk() const { return 0; }
  // The size writes are cut into downstream (an HTTP/2 stream: one full DATA frame), 0 when
  // it does not matter. A relay reading for this stream asks for whole units when one read can
  // hold one, so a bulk transfer makes only full frames (each one full TLS record) and no short
  // frame for the few bytes a read brought beyond the last full one.
  virtual size_t writeUnit() const { return 0; }
};

}  // namespace warren::relay
