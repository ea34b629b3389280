#include "common/zds/zds_socket.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <vector>

namespace warren::zds {

namespace {

// Room for a few fds, so a peer breaking the one-fd rule is reported with a count rather
// than silently cut (fds beyond this room are closed by the kernel: MSG_CTRUNC).
constexpr size_t kFdRoom = 8;

Result<sockaddr_un> unixAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty()) return fail(Error::invalid("ZDS socket path is empty"));
  if (path.size() >= sizeof(addr.sun_path))
    return fail(Error::invalid("ZDS socket path too long (" + std::to_string(path.size()) +
                               " bytes, at most " + std::to_string(sizeof(addr.sun_path) - 1) +
                               "): " + path));
  std::memcpy(addr.sun_path, path.data(), path.size());
  return addr;
}

Result<UniqueFd> seqpacketSocket() {
  UniqueFd s(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!s) return fail(WARREN_SYS_ERROR("socket(AF_UNIX, SOCK_SEQPACKET)"));
  return s;
}

std::string sizeLimitMessage(size_t size) {
  return "ZDS message of " + std::to_string(size) + " bytes exceeds the " +
         std::to_string(kMaxMessageBytes) + "-byte limit";
}

}  // namespace

Result<UniqueFd> listenSocket(const std::string& path) {
  auto addr = unixAddress(path);
  if (!addr) return fail(addr.error());
  auto s = seqpacketSocket();
  if (!s) return s;
  ::unlink(path.c_str());
  if (::bind(s->get(), reinterpret_cast<sockaddr*>(&*addr), sizeof(*addr)) != 0)
    return fail(WARREN_SYS_ERROR("bind " + path));
  // Root only: whoever connects gets pod netns fds (the run dir is 0700 as well).
  if (::chmod(path.c_str(), 0600) != 0) return fail(WARREN_SYS_ERROR("chmod " + path));
  if (::listen(s->get(), 16) != 0) return fail(WARREN_SYS_ERROR("listen " + path));
  return s;
}

Result<UniqueFd> connectSocket(const std::string& path) {
  auto addr = unixAddress(path);
  if (!addr) return fail(addr.error());
  auto s = seqpacketSocket();
  if (!s) return s;
  if (::connect(s->get(), reinterpret_cast<sockaddr*>(&*addr), sizeof(*addr)) != 0)
    return fail(WARREN_SYS_ERROR("connect " + path));
  return s;
}

Status sendMessage(int sock, std::string_view bytes, int pass_fd) {
  if (bytes.empty()) return fail(Error::invalid("empty ZDS message (it would read as EOF)"));
  if (bytes.size() > kMaxMessageBytes) return fail(Error::invalid(sizeLimitMessage(bytes.size())));
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
  if (n < 0) return fail(WARREN_SYS_ERROR("send ZDS message"));
  // SEQPACKET sends are atomic; a short count would mean a broken socket type.
  if (static_cast<size_t>(n) != bytes.size())
    return fail(Error(ErrorCode::kProtocol, "short ZDS message send (" + std::to_string(n) +
                                                " of " + std::to_string(bytes.size()) + " bytes)"));
  return ok();
}

Result<Message> receiveMessage(int sock, std::chrono::milliseconds timeout) {
  pollfd p{sock, POLLIN, 0};
  int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
  if (r < 0) return fail(WARREN_SYS_ERROR("poll ZDS socket"));
  if (r == 0)
    return fail(Error(ErrorCode::kTimeout,
                      "no ZDS message within " + std::to_string(timeout.count()) + " ms"));
  std::vector<char> buf(kMaxMessageBytes);
  iovec iov{buf.data(), buf.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kFdRoom)] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  // MSG_TRUNC: the return value is the real message length even when it did not fit, so an
  // oversized message is reported with its size (Linux >= 3.4 for SEQPACKET).
  ssize_t n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_TRUNC);
  if (n < 0) return fail(WARREN_SYS_ERROR("receive ZDS message"));

  // Take ownership of every fd first, so any error below closes them all.
  std::vector<UniqueFd> fds;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      fds.emplace_back(fd);
    }
  }
  if (n == 0 && fds.empty()) return fail(Error(ErrorCode::kUnavailable, "ZDS peer closed"));
  if ((msg.msg_flags & MSG_TRUNC) || static_cast<size_t>(n) > kMaxMessageBytes)
    return fail(Error(ErrorCode::kProtocol, sizeLimitMessage(static_cast<size_t>(n))));
  if (msg.msg_flags & MSG_CTRUNC)
    return fail(Error(ErrorCode::kProtocol, "ZDS message carries more than " +
                                                std::to_string(kFdRoom) + " fds (at most 1)"));
  if (fds.size() > 1)
    return fail(Error(ErrorCode::kProtocol,
                      "ZDS message carries " + std::to_string(fds.size()) + " fds (at most 1)"));
  Message m;
  m.bytes.assign(buf.data(), static_cast<size_t>(n));
  if (!fds.empty()) m.fd = std::move(fds.front());
  return m;
}

}  // namespace warren::zds
