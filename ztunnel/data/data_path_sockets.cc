#include "ztunnel/data/data_path_sockets.h"

#include "common/net/socket_factory.h"
#include "common/net/socket_info.h"

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

Result<net::SocketAddress> PodNetnsSockets::originalDestination(const EnrolledPod&, int fd) {
  return net::originalDestination(fd);
}

}  // namespace warren::ztunnel
