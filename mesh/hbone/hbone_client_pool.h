// HboneClientPool: the HBONE client connections of one event loop (ztunnel: one pool per
// worker), shared by every tunnel with the same key. A tunnel is one HTTP/2 CONNECT stream;
// the pool finds (or dials) a connection for it, opens the stream, and hands the caller the
// established stream once the server answered 200, or the status and why.
//
// Key: source identity (the certificate presented), destination address (IP:15008, or a
// waypoint's), and the expected server identities, sorted and unique (the SAN check made on
// the connection). Two tunnels share a connection only when all three are equal (ztunnel's
// pool key, INTEROP §6).
//
// Invariants (tests/mesh/hbone/hbone_client_pool_test.cc proves each):
//  1. Reuse: a tunnel rides an existing connection of its key that can open one more stream
//     (not closed, no GOAWAY either way, fewer open streams than min(100, the server's
//     SETTINGS_MAX_CONCURRENT_STREAMS)), the one with the fewest open streams, unless
//     invariant 6 spreads it.
//  2. Grow: when every connection of the key is full or going away, a new one is dialled.
//     Streams are opened at once and wait in the session until TLS is up, so the first
//     CONNECT rides the flight of the handshake's Finished.
//  3. Closed connections leave the pool when they close; no tunnel is ever put on one.
//  4. Retry: a stream that ended before any response because it was refused (REFUSED_STREAM,
//     which a GOAWAY below its id also gives, or the connection closing before the CONNECT
//     was processed) is opened again, at most kStreamRetries times, on the connection the
//     rules above pick: after a GOAWAY or a broken connection, a new one. Nothing reached the
//     destination, so this is safe (RFC 9113 §8.7). Any response, 200 or not, is final, and
//     so is any other reset (the server decided).
//  5. Idle: a connection that carried no stream for idle_timeout (default 5 minutes, Istio
//     ztunnel's POOL_UNUSED_RELEASE_TIMEOUT) sends GOAWAY and closes, leaving the pool
//     (invariant 3); a tunnel opened on it before then stops the clock. So a pool keeps no
//     connection, TLS session or keep-alive PING going for a destination nobody talks to.
//  6. Spread: when even the least loaded connection is busy (PoolSpread::busy_streams open
//     streams) and the key has fewer than PoolSpread::connections live ones, the tunnel
//     gets a new connection, so concurrent tunnels to one destination reach different workers
//     of the server (and its TLS records are not serialised behind theirs). The decision is
//     chooseConnection (pool_choice.h).
#pragma once

#include <chrono>
#include <compare>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/error.h"
#include "common/http2/header.h"
#include "common/http2/session_config.h"
#include "common/identity/spiffe_id.h"
#include "common/net/socket_address.h"
#include "common/tls/tls_context.h"
#include "common/unique_fd.h"
#include "common/uring/event_loop.h"
#include "mesh/hbone/hbone_connection.h"
#include "mesh/hbone/hbone_stream.h"
#include "mesh/hbone/pool_choice.h"

namespace warren::mesh {

// An unconnected socket from the caller's socket factory, and where to connect it (the
// factory may map the address: tests reach "pod IPs" on loopback ports).
struct DialedSocket {
  UniqueFd fd;
  net::SocketAddress connect_to;
};

class HboneClientPool {
 public:
  // How many times one tunnel's stream is opened again after a refusal (invariant 4).
  static constexpr int kStreamRetries = 2;
  // Invariant 5: Istio ztunnel's default POOL_UNUSED_RELEASE_TIMEOUT (src/config.rs).
  static constexpr std::chrono::milliseconds kDefaultIdleTimeout{5 * 60 * 1000};

  struct Key {
    identity::SpiffeId source;
    net::SocketAddress destination;
    std::vector<identity::SpiffeId> expected;  // sorted, unique: build with make()

    static Key make(identity::SpiffeId source, net::SocketAddress destination,
                    std::vector<identity::SpiffeId> expected);
    std::string toString() const;
    friend bool operator==(const Key&, const Key&) = default;
    friend auto operator<=>(const Key&, const Key&) = default;
  };

  // What a new connection needs, asked again for every dial (a retry after a certificate
  // rotation uses the new certificate).
  struct Dialer {
    // The client TLS context presenting key.source's certificate.
    std::function<Result<const tls::TlsContext*>()> tls;
    // A socket for reaching key.destination.
    std::function<Result<DialedSocket>(const net::SocketAddress& to)> socket;
  };

  // status 200 with the stream; otherwise the stream is null and status is the server's
  // answer, or 0 when there was none (`error` says why).
  using OnTunnel = std::function<void(int status, std::unique_ptr<HboneStream> stream,
                                      const std::string& error)>;

  // idle_timeout 0: connections are never closed for being idle.
  HboneClientPool(uring::EventLoop& loop, http2::SessionConfig config = {},
                  std::chrono::milliseconds idle_timeout = kDefaultIdleTimeout,
                  PoolSpread spread = {})
      : loop_(loop), config_(std::move(config)), idle_timeout_(idle_timeout), spread_(spread) {}
  ~HboneClientPool();
  HboneClientPool(const HboneClientPool&) = delete;
  HboneClientPool& operator=(const HboneClientPool&) = delete;

  // Opens a CONNECT stream with `headers` for `key`; `done` runs once, later, on the loop.
  void open(const Key& key, http2::HeaderList headers, Dialer dialer, OnTunnel done);

  // Open connections of `key` / of every key (closed ones have left: invariant 3).
  size_t connections(const Key& key) const;
  size_t connectionCount() const;
  // Bytes the pooled connections hold now (unread received DATA, unsent stream and session
  // output, TLS output): bounded by their windows and buffers.
  size_t bufferedBytes() const;
  // Streams the pooled connections' sessions track and stream handlers they hold (0 when no
  // tunnel is open).
  size_t trackedStreams() const;
  // Every connection closes now (their streams see onClose with `why`) and the pool opens no
  // more (a worker stopping); tunnels still in flight fail.
  void closeAll(const std::string& why);

  // Whether one of the pool's connections, connected or with its connect in flight, goes from
  // `from` to `to` (its local and remote addresses): the client end of a connection this
  // process accepted (ztunnel, for two pods of its node: Worker::acceptHbone). A lookup, plus a
  // getsockname per connect to `to` still in flight.
  bool dialled(const net::SocketAddress& from, const net::SocketAddress& to) const;

 private:
  struct Tunnel;
  void attempt(std::shared_ptr<Tunnel> tunnel);
  Result<std::shared_ptr<HboneConnection>> connectionFor(const Key& key, const Dialer& dialer);
  Result<std::shared_ptr<HboneConnection>> dial(const Key& key, const Dialer& dialer);

  uring::EventLoop& loop_;
  http2::SessionConfig config_;
  std::chrono::milliseconds idle_timeout_;
  PoolSpread spread_;
  std::map<Key, std::vector<std::shared_ptr<HboneConnection>>> pool_;
  bool closed_ = false;
  // Where each connection whose connect completed goes, by its local address; the socket and
  // target of each whose connect is in flight (its local address is bound, but read only when
  // asked).
  struct Connecting {
    int fd;
    net::SocketAddress to;
  };
  std::unordered_map<net::SocketAddress, net::SocketAddress> connected_;
  std::unordered_map<const HboneConnection*, Connecting> connecting_;
  // Callbacks the pool leaves on the loop check this before touching the pool.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace warren::mesh
