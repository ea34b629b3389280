#include "ztunnel/data/data_path_sockets.h"

#include "bpf/loader/fast_path_reader.h"
#include "bpf/loader/inbound_registration.h"
#include "common/net/socket_factory.h"
#include "common/net/socket_info.h"
#include "warren_abi.h"

namespace warren::ztunnel {

namespace {

// A socket inside `pod`'s netns with `mark`, bound to `source` when one is given.
Result<mesh::DialedSocket> dialFrom(const EnrolledPod& pod, const net::SocketAddress& to,
                                    uint32_t mark, std::optional<net::IpAddress> source) {
  net::SocketOptions o;
  o.netns_fd = pod.netns ? pod.netns->get() : -1;
  o.mark = mark;
  o.source = std::move(source);
  auto fd = net::SocketFactory::tcpSocket(to.family(), o);
  if (!fd) return fail(fd.error());
  return mesh::DialedSocket{std::move(*fd), to};
}

}  // namespace

Result<mesh::DialedSocket> PodNetnsSockets::dial(const EnrolledPod& pod,
                                                 const net::SocketAddress& to) {
  return dialFrom(pod, to, net::kZtunnelMark, std::nullopt);
}

Result<mesh::DialedSocket> PodNetnsSockets::dialApp(const EnrolledPod& pod,
                                                    const net::SocketAddress& to,
                                                    const net::IpAddress& client) {
  const SourceRouting& routing = pod.source_routing;
  bool routed = client.family() == to.family() && (to.isV4() ? routing.v4 : routing.v6);
  if (!routed || client == to.ip) return dial(pod, to);
  auto sock = dialFrom(pod, to, net::kZtunnelSourceMark, client);
  if (!sock) return fail(sock.error().wrap("the connection to the app from the client's address"));
  return sock;
}

Result<net::SocketAddress> PodNetnsSockets::originalDestination(const EnrolledPod&, int fd) {
  return net::originalDestination(fd);
}

relay::SocketRelayEngine PodNetnsSockets::plainRelayEngine(int a, int b) {
  if (run_dir_.empty()) return relay::SocketRelayEngine::kSplice;
  // Read per connection (a stat, an open and two lookups): the agent may turn the fast path on
  // or off while ztunnel runs.
  auto pin_dir = redirect::readPinDirFile(run_dir_);
  if (!pin_dir) return relay::SocketRelayEngine::kSplice;  // no eBPF capture: no sockmap
  const int fds[] = {a, b};
  return redirect::fastPathMayRedirect(*pin_dir, fds) ? relay::SocketRelayEngine::kCopy
                                                      : relay::SocketRelayEngine::kSplice;
}

}  // namespace warren::ztunnel
