#include "ztunnel/data/data_path_sockets.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <filesystem>

#include "bpf/loader/inbound_registration.h"
#include "common/net/socket_factory.h"
#include "common/net/socket_info.h"
#include "warren_abi.h"

namespace warren::ztunnel {

Result<mesh::DialedSocket> PodNetnsSockets::dial(const EnrolledPod& pod,
                                                 const net::SocketAddress& to) {
  net::SocketOptions o;
  o.netns_fd = pod.netns ? pod.netns->get() : -1;
  o.mark = net::kZtunnelMark;
  auto fd = net::SocketFactory::tcpSocket(to.family(), o);
  if (!fd) return fail(fd.error());
  return mesh::DialedSocket{std::move(*fd), to};
}

Result<mesh::DialedSocket> PodNetnsSockets::dialApp(const EnrolledPod& pod,
                                                    const net::SocketAddress& to,
                                                    const net::IpAddress& client) {
  const SourceRouting& routing = pod.source_routing;
  bool routed = client.family() == to.family() && (to.isV4() ? routing.v4 : routing.v6);
  if (!routed || client == to.ip) return dial(pod, to);
  net::SocketOptions o;
  o.netns_fd = pod.netns ? pod.netns->get() : -1;
  o.mark = net::kZtunnelSourceMark;
  auto fd = net::SocketFactory::tcpSocket(to.family(), o);
  if (!fd) return fail(fd.error());
  int one = 1;
  bool v6 = to.isV6();
  if (::setsockopt(fd->get(), v6 ? SOL_IPV6 : SOL_IP, v6 ? IPV6_TRANSPARENT : IP_TRANSPARENT, &one,
                   sizeof(one)) != 0)
    return fail(WARREN_SYS_ERROR("IP_TRANSPARENT for the connection to the app"));
  auto from = net::SocketAddress{client, 0}.toSockaddr();
  if (::bind(fd->get(), from.get(), from.length) != 0)
    return fail(WARREN_SYS_ERROR("bind to the client's address " + client.toString()));
  return mesh::DialedSocket{std::move(*fd), to};
}

Result<net::SocketAddress> PodNetnsSockets::originalDestination(const EnrolledPod&, int fd) {
  return net::originalDestination(fd);
}

relay::SocketRelayEngine PodNetnsSockets::plainRelayEngine() {
  if (run_dir_.empty()) return relay::SocketRelayEngine::kSplice;
  // Read per connection (a stat or two): the agent may turn the fast path on or off while
  // ztunnel runs.
  auto pin_dir = redirect::readPinDirFile(run_dir_);
  if (!pin_dir) return relay::SocketRelayEngine::kSplice;  // no eBPF capture: no sockmap
  std::error_code ec;
  bool fast_path =
      std::filesystem::exists(std::filesystem::path(*pin_dir) / WARREN_LINK_SK_MSG, ec);
  return fast_path ? relay::SocketRelayEngine::kCopy : relay::SocketRelayEngine::kSplice;
}

}  // namespace warren::ztunnel
