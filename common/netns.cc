#include "common/netns.h"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

namespace warren {

Result<UniqueFd> openNetns(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(WARREN_SYS_ERROR("open netns " + path));
  return UniqueFd(fd);
}

Result<NetnsGuard> NetnsGuard::enter(int target_fd) {
  auto original = openNetns("/proc/thread-self/ns/net");
  if (!original) return fail(original.error());
  if (::setns(target_fd, CLONE_NEWNET) != 0) return fail(WARREN_SYS_ERROR("setns(CLONE_NEWNET)"));
  return NetnsGuard(std::move(*original));
}

Result<NetnsGuard> NetnsGuard::enter(const std::string& path) {
  auto fd = openNetns(path);
  if (!fd) return fail(fd.error());
  auto guard = enter(fd->get());
  if (!guard) return fail(guard.error().wrap("enter netns " + path));
  return guard;
}

NetnsGuard::~NetnsGuard() {
  if (!original_) return;  // moved-from
  if (::setns(original_.get(), CLONE_NEWNET) != 0) {
    // Continuing would run the rest of the thread in the wrong namespace.
    std::perror("warren: cannot restore network namespace");
    std::abort();
  }
}

Result<uint64_t> netnsCookie(int netns_fd) {
  auto guard = NetnsGuard::enter(netns_fd);
  if (!guard) return fail(guard.error());
  UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock) return fail(WARREN_SYS_ERROR("socket for SO_NETNS_COOKIE"));
  uint64_t cookie = 0;
  socklen_t len = sizeof(cookie);
  if (::getsockopt(sock.get(), SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) != 0)
    return fail(WARREN_SYS_ERROR("getsockopt(SO_NETNS_COOKIE)"));
  return cookie;
}

Status bringLoopbackUp() {
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s) return fail(WARREN_SYS_ERROR("socket for SIOCGIFFLAGS"));
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) return fail(WARREN_SYS_ERROR("SIOCGIFFLAGS lo"));
  if (ifr.ifr_flags & IFF_UP) return ok();
  ifr.ifr_flags |= IFF_UP;
  if (::ioctl(s.get(), SIOCSIFFLAGS, &ifr) != 0) return fail(WARREN_SYS_ERROR("setting lo up"));
  return ok();
}

Result<int> readNetSysctl(const char* path) {
  UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd) return fail(WARREN_SYS_ERROR(std::string("open ") + path));
  char buf[16] = {};
  ssize_t n = ::read(fd.get(), buf, sizeof(buf) - 1);
  if (n <= 0) return fail(WARREN_SYS_ERROR(std::string("read ") + path));
  return std::atoi(buf);
}

Status writeNetSysctl(const char* path, int value) {
  UniqueFd fd(::open(path, O_WRONLY | O_CLOEXEC));
  if (!fd) return fail(WARREN_SYS_ERROR(std::string("open ") + path));
  std::string text = std::to_string(value) + "\n";
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
    return fail(WARREN_SYS_ERROR(std::string("write ") + path));
  return ok();
}

}  // namespace warren
