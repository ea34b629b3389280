// HboneServer: the server end of HBONE on one event loop, shared by ztunnel's 15008 (one
// identity per destination pod) and the waypoint's 15008 (its own identity). An accepted socket
// gets TLS 1.3 with the local identity's certificate (mutual: the client's chain is checked by
// the context), HTTP/2, and each CONNECT goes to the caller's handler with the accepted
// socket's local address; the decision on it (mesh::decideInbound) and what follows are the
// caller's.
//
// A socket accepted before the identity's first certificate (a proxy fresh from a restart)
// waits through the caller's `await` (the certificate manager's whenReady, with a deadline);
// if there is still none, the socket closes and the client fails its handshake: never
// plaintext.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/http2/header.h"
#include "common/http2/session_config.h"
#include "common/identity/spiffe_id.h"
#include "common/net/socket_address.h"
#include "common/unique_fd.h"
#include "common/uring/event_loop.h"
#include "mesh/hbone/hbone_connection.h"
#include "mesh/hbone/tls_context_cache.h"

namespace warren::mesh {

class HboneServer {
 public:
  // A CONNECT on a served connection; `local` is the accepted socket's local address.
  using OnRequest = std::function<void(const std::shared_ptr<HboneConnection>&, StreamId,
                                       const http2::HeaderList&, const net::SocketAddress& local)>;
  // Calls `retry` once the certificate may be there (or the wait gave up).
  using AwaitCertificate = std::function<void(std::function<void()> retry)>;

  HboneServer(uring::EventLoop& loop, TlsContextCache& server_tls, http2::SessionConfig config)
      : loop_(loop), server_tls_(server_tls), config_(std::move(config)) {}
  HboneServer(const HboneServer&) = delete;
  HboneServer& operator=(const HboneServer&) = delete;

  // An accepted socket and its two addresses, read once (the caller may decide by them).
  struct Socket {
    UniqueFd fd;
    net::SocketAddress peer;
    net::SocketAddress local;
  };
  // Reads `fd`'s addresses; an error (the peer already gone) names the one that failed, and
  // the socket closes.
  static Result<Socket> addressesOf(UniqueFd fd);

  // Serves `socket` presenting `identity`'s certificate; `what` names it in log lines.
  void accept(Socket socket, const identity::SpiffeId& identity, const std::string& what,
              OnRequest on_request, AwaitCertificate await);

  // GOAWAY on every connection (drain): open streams finish, new ones are refused; connections
  // accepted from now on get theirs at once.
  void drain();
  void closeAll(const std::string& why);
  size_t connections() const { return servers_.size(); }
  size_t bufferedBytes() const;
  // Streams the server connections' sessions track and stream handlers they hold.
  size_t trackedStreams() const;
  uint64_t accepted() const { return accepted_; }

 private:
  void serve(Socket socket, const identity::SpiffeId& identity, const std::string& what,
             OnRequest on_request, AwaitCertificate await, bool waited);

  uring::EventLoop& loop_;
  TlsContextCache& server_tls_;
  http2::SessionConfig config_;
  std::map<HboneConnection*, std::weak_ptr<HboneConnection>> servers_;
  bool draining_ = false;
  uint64_t accepted_ = 0;
};

}  // namespace warren::mesh
