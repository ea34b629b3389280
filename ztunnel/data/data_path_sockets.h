// DataPathSockets: every socket the data path opens, and the original destination of every
// connection it captures, behind one small interface (STYLE habit 8, and ztunnel's
// tests/direct.rs shape): production opens each outgoing socket inside the pod's netns with
// ztunnel's mark 0x539 (so the eBPF redirect leaves it alone) through net::SocketFactory, and
// trusts only the eBPF record for the original destination; the in-process tests
// (tests/ztunnel/data_path_test.cc) open plain loopback sockets and map pod addresses to
// their loopback listeners, so the whole data path runs without root.
#pragma once

#include "common/error.h"
#include "common/net/socket_address.h"
#include "common/relay/socket_relay.h"
#include "mesh/hbone/hbone_client_pool.h"
#include "ztunnel/control/enrolled_pod.h"

namespace warren::ztunnel {

class DataPathSockets {
 public:
  virtual ~DataPathSockets() = default;
  // An unconnected TCP socket for reaching `to` from inside `pod`, and where to connect it.
  virtual Result<mesh::DialedSocket> dial(const EnrolledPod& pod, const net::SocketAddress& to) = 0;
  // The inbound connection to `pod`'s app at `to` for a client at `client`: from the client's
  // address where the pod's netns has source routing for that family, else as dial().
  virtual Result<mesh::DialedSocket> dialApp(const EnrolledPod& pod, const net::SocketAddress& to,
                                             const net::IpAddress& /*client*/) {
    return dial(pod, to);
  }
  // Where a connection accepted on `pod`'s 15001 listener was going (INTEROP §6 step 2).
  virtual Result<net::SocketAddress> originalDestination(const EnrolledPod& pod, int fd) = 0;
  // How the plaintext relays (15006 inbound, passthrough) may move bytes between the connected
  // sockets `a` and `b`: splice, unless something may put bytes into one that splice does not
  // read.
  virtual relay::SocketRelayEngine plainRelayEngine(int /*a*/, int /*b*/) {
    return relay::SocketRelayEngine::kSplice;
  }
};

// Production: sockets in the pod's netns with mark 0x539; the original destination from the
// cgroup/getsockopt eBPF answer (net::originalDestination).
// Plaintext relays splice, except where the agent's sockmap fast path may move one of the two
// sockets' bytes (redirect::fastPathMayRedirect over the pin dir read from <run-dir>/bpf_pin_dir:
// the socket has a record in warren_socks_state, both its ends being on this node): its sk_msg
// program puts bytes straight into a socket's ingress queue, which splice (tcp_splice_read) does
// not read; the copy relay (recv) does. With the fast path on, a relay to another node still
// splices.
class PodNetnsSockets final : public DataPathSockets {
 public:
  explicit PodNetnsSockets(std::string run_dir = "") : run_dir_(std::move(run_dir)) {}
  Result<mesh::DialedSocket> dial(const EnrolledPod& pod, const net::SocketAddress& to) override;
  // IP_TRANSPARENT, mark 0x53a (net::kZtunnelSourceMark), bound to the client's address.
  Result<mesh::DialedSocket> dialApp(const EnrolledPod& pod, const net::SocketAddress& to,
                                     const net::IpAddress& client) override;
  Result<net::SocketAddress> originalDestination(const EnrolledPod& pod, int fd) override;
  relay::SocketRelayEngine plainRelayEngine(int a, int b) override;

 private:
  std::string run_dir_;
};

}  // namespace warren::ztunnel
