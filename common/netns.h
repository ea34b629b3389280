// Network namespaces: open one by path, and enter it on the calling thread for a scope.
// setns(CLONE_NEWNET) affects only the calling thread, so a NetnsGuard must be created and
// destroyed on the same thread; sockets created inside keep their netns after the guard ends.
#pragma once

#include <string>

#include "common/error.h"
#include "common/unique_fd.h"

namespace warren {

// Opens a netns file (/run/netns/NAME, /proc/PID/ns/net) read-only for setns or SCM_RIGHTS.
Result<UniqueFd> openNetns(const std::string& path);

class [[nodiscard]] NetnsGuard {
 public:
  // Enters the netns behind `target_fd` and remembers the thread's current one.
  static Result<NetnsGuard> enter(int target_fd);
  static Result<NetnsGuard> enter(const std::string& path);

  NetnsGuard(NetnsGuard&&) noexcept = default;
  NetnsGuard& operator=(NetnsGuard&&) = delete;
  NetnsGuard(const NetnsGuard&) = delete;
  ~NetnsGuard();  // restores the original netns; aborts if that fails (the thread is unusable)

 private:
  explicit NetnsGuard(UniqueFd original) : original_(std::move(original)) {}
  UniqueFd original_;
};

// The kernel's netns cookie (SO_NETNS_COOKIE on a socket made inside `netns_fd`); the key the
// eBPF enrolment map uses.
Result<uint64_t> netnsCookie(int netns_fd);

// Sets "lo" up in the calling thread's current netns (a pod netns made by CNI without the
// loopback plugin has it down, and then 127.0.0.1 routes nowhere). No-op when already up.
Status bringLoopbackUp();

// net.ipv4.tcp_fwmark_accept: an accepted socket takes the mark of the SYN that opened it.
// ztunnel's source routing needs it in each pod netns (ztunnel/control/source_routing.h);
// warren-cni sets it at ADD, where /proc/sys is writable and a DaemonSet container's is not.
inline constexpr const char* kTcpFwmarkAcceptSysctl = "/proc/sys/net/ipv4/tcp_fwmark_accept";
// A numeric sysctl under /proc/sys/net, of the calling thread's current netns (the file
// resolves to the netns of the thread that opens it: call inside a NetnsGuard).
Result<int> readNetSysctl(const char* path);
Status writeNetSysctl(const char* path, int value);

}  // namespace warren
