#include "ztunnel/control/zds_socket.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <vector>

namespace warren::ztunnel {
namespace {
constexpr size_t kMaxZdsPacket = 64 * 1024;
}

Result<UniqueFd> connectZds(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return fail(Error::invalid("ZDS socket path too long: " + path));
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  UniqueFd s(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!s) return fail(WARREN_SYS_ERROR("socket(AF_UNIX, SOCK_SEQPACKET)"));
  if (::connect(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return fail(WARREN_SYS_ERROR("connect " + path));
  }
  return s;
}

Status sendZdsPacket(int sock, const std::string& bytes) {
  ssize_t n = ::send(sock, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  if (n < 0) return fail(WARREN_SYS_ERROR("send ZDS packet"));
  if (static_cast<size_t>(n) != bytes.size()) {
    return fail(Error(ErrorCode::kProtocol, "short ZDS packet send"));
  }
  return ok();
}

Result<ZdsPacket> recvZdsPacket(int sock, std::chrono::milliseconds timeout) {
  pollfd p{sock, POLLIN, 0};
  int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
  if (r < 0) return fail(WARREN_SYS_ERROR("poll ZDS socket"));
  if (r == 0) return fail(Error(ErrorCode::kTimeout, "no ZDS message"));
  std::vector<char> buf(kMaxZdsPacket);
  iovec iov{buf.data(), buf.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  if (n < 0) return fail(WARREN_SYS_ERROR("receive ZDS packet"));
  ZdsPacket packet;
  size_t fds = 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      ++fds;
      if (!packet.fd) {
        packet.fd.reset(fd);
      } else {
        ::close(fd);
      }
    }
  }
  if (n == 0 && fds == 0) return fail(Error(ErrorCode::kUnavailable, "ZDS server closed"));
  if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
    return fail(Error(ErrorCode::kProtocol, "ZDS packet or its ancillary data truncated"));
  }
  if (fds > 1) return fail(Error(ErrorCode::kProtocol, "ZDS packet with more than one fd"));
  packet.bytes.assign(buf.data(), static_cast<size_t>(n));
  return packet;
}

}  // namespace warren::ztunnel
