#include "agent/zds/seqpacket.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <vector>

namespace warren::zds {

namespace {

Result<sockaddr_un> unixAddr(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path))
    return fail(Error::invalid("socket path too long: " + path));
  std::memcpy(addr.sun_path, path.data(), path.size());
  return addr;
}

}  // namespace

Status sendPacket(int sock, const std::string& bytes, int pass_fd) {
  iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (pass_fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
  }
  ssize_t n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
  if (n < 0) return fail(WARREN_SYS_ERROR("send ZDS packet"));
  if (static_cast<size_t>(n) != bytes.size())
    return fail(Error(ErrorCode::kProtocol, "short ZDS packet send"));
  return ok();
}

Result<Packet> recvPacket(int sock, std::chrono::milliseconds timeout) {
  pollfd p{sock, POLLIN, 0};
  int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
  if (r < 0) return fail(WARREN_SYS_ERROR("poll ZDS socket"));
  if (r == 0) return fail(Error(ErrorCode::kTimeout, "no ZDS message within " +
                                                         std::to_string(timeout.count()) + " ms"));
  std::vector<char> buf(kMaxPacket);
  iovec iov{buf.data(), buf.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  if (n < 0) return fail(WARREN_SYS_ERROR("receive ZDS packet"));
  Packet packet;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < nfds; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      if (!packet.fd) packet.fd.reset(fd);
      else ::close(fd);  // at most one fd per ZDS message
    }
  }
  if (n == 0 && !packet.fd) return fail(Error(ErrorCode::kUnavailable, "ZDS peer closed"));
  if (msg.msg_flags & MSG_TRUNC) return fail(Error(ErrorCode::kProtocol, "ZDS packet too large"));
  packet.bytes.assign(buf.data(), static_cast<size_t>(n));
  return packet;
}

Result<UniqueFd> listenSeqpacket(const std::string& path) {
  auto addr = unixAddr(path);
  if (!addr) return fail(addr.error());
  UniqueFd s(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!s) return fail(WARREN_SYS_ERROR("socket(AF_UNIX, SOCK_SEQPACKET)"));
  ::unlink(path.c_str());
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&*addr), sizeof(*addr)) != 0)
    return fail(WARREN_SYS_ERROR("bind " + path));
  // Root only: whoever connects gets pod netns fds (the run dir is 0700 as well).
  if (::chmod(path.c_str(), 0600) != 0) return fail(WARREN_SYS_ERROR("chmod " + path));
  if (::listen(s.get(), 16) != 0) return fail(WARREN_SYS_ERROR("listen " + path));
  return s;
}

Result<UniqueFd> connectSeqpacket(const std::string& path) {
  auto addr = unixAddr(path);
  if (!addr) return fail(addr.error());
  UniqueFd s(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!s) return fail(WARREN_SYS_ERROR("socket(AF_UNIX, SOCK_SEQPACKET)"));
  if (::connect(s.get(), reinterpret_cast<sockaddr*>(&*addr), sizeof(*addr)) != 0)
    return fail(WARREN_SYS_ERROR("connect " + path));
  return s;
}

}  // namespace warren::zds
