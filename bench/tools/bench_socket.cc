#include "bench/tools/bench_socket.h"

#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace warren::bench {
namespace {

// Milliseconds left until the deadline for poll(), at least 0.
int msLeft(Clock::time_point deadline) {
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(std::min<long long>(left + 1, 1 << 30));
}

}  // namespace

Status waitFor(int fd, short events, Clock::time_point deadline, const char* what) {
  for (;;) {
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, msLeft(deadline));
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(WARREN_SYS_ERROR(std::string("poll while ") + what));
    }
    if (n == 0) return fail(Error(ErrorCode::kTimeout, std::string("timed out while ") + what));
    return ok();
  }
}

Clock::time_point deadlineAfter(double seconds) {
  return Clock::now() +
         std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

Result<UniqueFd> connectTcp(const Target& to, Clock::time_point deadline) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return fail(WARREN_SYS_ERROR("socket"));
  int one = 1;
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&to.addr), sizeof to.addr) < 0) {
    if (errno != EINPROGRESS) return fail(WARREN_SYS_ERROR("connect to " + to.text));
    WARREN_TRY(waitFor(fd.get(), POLLOUT, deadline, ("connecting to " + to.text).c_str()));
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return fail(Error::system(err, "connect to " + to.text));
  }
  return fd;
}

Status writeAll(int fd, const char* data, size_t len, Clock::time_point deadline) {
  while (len > 0) {
    ssize_t n = ::send(fd, data, len, MSG_NOSIGNAL);
    if (n > 0) {
      data += n;
      len -= static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      WARREN_TRY(waitFor(fd, POLLOUT, deadline, "writing"));
      continue;
    }
    return fail(WARREN_SYS_ERROR("send"));
  }
  return ok();
}

Result<size_t> readSome(int fd, char* data, size_t len, Clock::time_point deadline) {
  for (;;) {
    ssize_t n = ::recv(fd, data, len, 0);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return fail(WARREN_SYS_ERROR("recv"));
    WARREN_TRY(waitFor(fd, POLLIN, deadline, "reading"));
  }
}

Status readExact(int fd, char* data, size_t len, Clock::time_point deadline) {
  while (len > 0) {
    auto n = readSome(fd, data, len, deadline);
    if (!n) return fail(n.error());
    if (*n == 0) return fail(Error::invalid("peer closed the connection early"));
    data += *n;
    len -= *n;
  }
  return ok();
}

void closeWithReset(UniqueFd fd) {
  linger l{1, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

Result<size_t> raiseFdLimit() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) < 0) return fail(WARREN_SYS_ERROR("getrlimit"));
  r.rlim_cur = r.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &r) < 0) return fail(WARREN_SYS_ERROR("setrlimit NOFILE"));
  return static_cast<size_t>(r.rlim_cur);
}

}  // namespace warren::bench
