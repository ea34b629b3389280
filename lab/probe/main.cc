// warren-probe: the test workload. `serve` echoes (or, with --sink, hashes and answers
// "sha256 <hex> <nbytes>"); `send` pushes a deterministic payload and verifies the echo byte
// for byte (or the sink's digest). Exit codes: 0 verified, 1 mismatch, 2 usage, 3 connection
// or I/O error, 4 timeout.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "lab/probe/payload.h"

namespace {

using Clock = std::chrono::steady_clock;
using warren::probe::Sha256;

enum Exit { kOk = 0, kMismatch = 1, kUsage = 2, kIoError = 3, kTimeout = 4 };

constexpr size_t kChunk = 64 * 1024;

std::string peerName(const sockaddr_in& a) {
  char buf[INET_ADDRSTRLEN];
  ::inet_ntop(AF_INET, &a.sin_addr, buf, sizeof(buf));
  return std::string(buf) + ":" + std::to_string(ntohs(a.sin_port));
}

bool parseEndpoint(const std::string& s, sockaddr_in* out) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos) return false;
  std::string host = s.substr(0, colon);
  int port = 0;
  try {
    size_t used = 0;
    port = std::stoi(s.substr(colon + 1), &used);
    if (used != s.size() - colon - 1) return false;
  } catch (...) {
    return false;
  }
  if (port < 1 || port > 65535) return false;
  *out = {};
  out->sin_family = AF_INET;
  out->sin_port = htons(static_cast<uint16_t>(port));
  return ::inet_pton(AF_INET, host.c_str(), &out->sin_addr) == 1;
}

// ---- serve ----

// " mark 0x53a" when the accepted socket carries a mark (it takes the SYN's in a pod netns
// with tcp_fwmark_accept: ztunnel's connections from the client's address carry 0x53a), so a
// test can tell those from a client that reached the app directly (no mark).
std::string markSuffix(int fd) {
  uint32_t mark = 0;
  socklen_t len = sizeof(mark);
  if (::getsockopt(fd, SOL_SOCKET, SO_MARK, &mark, &len) != 0 || mark == 0) return "";
  char buf[32];
  std::snprintf(buf, sizeof(buf), " mark 0x%x", mark);
  return buf;
}

void serveConnection(int fd, sockaddr_in peer, bool sink, int idle_timeout_s) {
  const std::string mark = markSuffix(fd);
  timeval tv{idle_timeout_s, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  std::vector<uint8_t> buf(kChunk);
  uint64_t total = 0;
  Sha256 sha;
  bool failed = false;
  for (;;) {
    ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      std::printf("conn %s: read error after %llu bytes: %s%s\n", peerName(peer).c_str(),
                  static_cast<unsigned long long>(total), std::strerror(errno), mark.c_str());
      failed = true;
      break;
    }
    total += static_cast<uint64_t>(n);
    if (sink) {
      sha.update(buf.data(), static_cast<size_t>(n));
      continue;
    }
    size_t off = 0;
    while (off < static_cast<size_t>(n)) {
      ssize_t w = ::send(fd, buf.data() + off, static_cast<size_t>(n) - off, MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        failed = true;
        break;
      }
      off += static_cast<size_t>(w);
    }
    if (failed) break;
  }
  if (sink && !failed) {
    std::string digest = sha.hex();
    std::string reply = "sha256 " + digest + " " + std::to_string(total) + "\n";
    (void)!::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL);
    std::printf("conn %s: sink %llu bytes sha256 %s%s\n", peerName(peer).c_str(),
                static_cast<unsigned long long>(total), digest.c_str(), mark.c_str());
  } else if (!failed) {
    std::printf("conn %s: echoed %llu bytes%s\n", peerName(peer).c_str(),
                static_cast<unsigned long long>(total), mark.c_str());
  }
  std::fflush(stdout);
  ::shutdown(fd, SHUT_WR);
  ::close(fd);
}

int serve(int port, const std::string& bind_addr, bool sink, int idle_timeout_s) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    std::fprintf(stderr, "warren-probe: socket: %s\n", std::strerror(errno));
    return kIoError;
  }
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, bind_addr.c_str(), &addr.sin_addr) != 1) {
    std::fprintf(stderr, "warren-probe: --bind: '%s' is not an IPv4 address\n", bind_addr.c_str());
    return kUsage;
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd, 512) != 0) {
    std::fprintf(stderr, "warren-probe: listen on %s:%d: %s\n", bind_addr.c_str(), port,
                 std::strerror(errno));
    return kIoError;
  }
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::printf("listening on %s (%s)\n", peerName(addr).c_str(), sink ? "sink" : "echo");
  std::fflush(stdout);
  for (;;) {
    sockaddr_in peer{};
    socklen_t plen = sizeof(peer);
    int c = ::accept4(fd, reinterpret_cast<sockaddr*>(&peer), &plen, SOCK_CLOEXEC);
    if (c < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        continue;
      }
      std::fprintf(stderr, "warren-probe: accept: %s\n", std::strerror(errno));
      return kIoError;
    }
    std::thread(serveConnection, c, peer, sink, idle_timeout_s).detach();
  }
}

// ---- send ----

struct SendResult {
  int code = kOk;
  std::string message;
};

int remainingMs(Clock::time_point deadline) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return ms < 0 ? 0 : static_cast<int>(ms);
}

SendResult sendOnce(const sockaddr_in& to, uint64_t bytes, bool sink, Clock::time_point deadline) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return {kIoError, std::string("socket: ") + std::strerror(errno)};
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof(to)) != 0 &&
      errno != EINPROGRESS)
    return {kIoError, "connect to " + peerName(to) + ": " + std::strerror(errno)};
  pollfd p{fd, POLLOUT, 0};
  int n = ::poll(&p, 1, remainingMs(deadline));
  if (n == 0) return {kTimeout, "connect to " + peerName(to) + ": timed out"};
  int err = 0;
  socklen_t elen = sizeof(err);
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
  if (err != 0) return {kIoError, "connect to " + peerName(to) + ": " + std::strerror(err)};

  std::vector<uint8_t> out(kChunk), in(kChunk);
  uint64_t sent = 0, received = 0;
  bool shut = false, eof = false;
  Sha256 sha;
  std::string reply;
  while (!eof) {
    if (sent == bytes && !shut) {
      ::shutdown(fd, SHUT_WR);
      shut = true;
    }
    pollfd pf{fd, static_cast<short>(POLLIN | (shut ? 0 : POLLOUT)), 0};
    int r = ::poll(&pf, 1, remainingMs(deadline));
    if (r == 0)
      return {kTimeout, "timed out after sending " + std::to_string(sent) + " and receiving " +
                            std::to_string(received) + " of " + std::to_string(bytes) + " bytes"};
    if (r < 0) {
      if (errno == EINTR) continue;
      return {kIoError, std::string("poll: ") + std::strerror(errno)};
    }
    if ((pf.revents & POLLOUT) && !shut) {
      size_t len = static_cast<size_t>(std::min<uint64_t>(kChunk, bytes - sent));
      warren::probe::fillPayload(sent, out.data(), len);
      ssize_t w = ::send(fd, out.data(), len, MSG_NOSIGNAL);
      if (w < 0 && errno != EAGAIN && errno != EINTR)
        return {kIoError, "send after " + std::to_string(sent) + " bytes: " + std::strerror(errno)};
      if (w > 0) {
        if (sink) sha.update(out.data(), static_cast<size_t>(w));
        sent += static_cast<uint64_t>(w);
      }
    }
    if (pf.revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t rd = ::recv(fd, in.data(), in.size(), 0);
      if (rd < 0 && errno != EAGAIN && errno != EINTR)
        return {kIoError,
                "receive after " + std::to_string(received) + " bytes: " + std::strerror(errno)};
      if (rd == 0) eof = true;
      if (rd > 0) {
        if (sink) {
          reply.append(reinterpret_cast<char*>(in.data()), static_cast<size_t>(rd));
          if (reply.size() > 4096) return {kMismatch, "sink reply too long"};
        } else {
          if (received + static_cast<uint64_t>(rd) > bytes)
            return {kMismatch, "received more bytes than sent (" +
                                   std::to_string(received + static_cast<uint64_t>(rd)) + " > " +
                                   std::to_string(bytes) + ")"};
          size_t bad = warren::probe::firstMismatch(received, in.data(), static_cast<size_t>(rd));
          if (bad != static_cast<size_t>(rd))
            return {kMismatch, "echo differs at byte " + std::to_string(received + bad)};
          received += static_cast<uint64_t>(rd);
        }
      }
    }
  }
  if (!shut)
    return {kIoError, "peer closed after " + std::to_string(sent) + " of " + std::to_string(bytes) +
                          " bytes sent"};
  if (sink) {
    std::string expect = "sha256 " + sha.hex() + " " + std::to_string(bytes);
    while (!reply.empty() && (reply.back() == '\n' || reply.back() == '\r')) reply.pop_back();
    if (reply != expect)
      return {kMismatch, "sink answered '" + reply + "', expected '" + expect + "'"};
    return {kOk, expect.substr(0, 7 + 64)};
  }
  if (received != bytes)
    return {kMismatch, "echo ended after " + std::to_string(received) + " of " +
                           std::to_string(bytes) + " bytes"};
  return {kOk, "echo verified"};
}

int sendCmd(const std::string& to_text, uint64_t bytes, bool sink, int timeout_s, int retry_s) {
  sockaddr_in to{};
  if (!parseEndpoint(to_text, &to)) {
    std::fprintf(stderr, "warren-probe: --to: '%s' is not IPv4:PORT\n", to_text.c_str());
    return kUsage;
  }
  auto start = Clock::now();
  auto deadline = start + std::chrono::seconds(timeout_s);
  auto retry_until = start + std::chrono::seconds(retry_s);
  SendResult r;
  for (;;) {
    r = sendOnce(to, bytes, sink, deadline);
    // Retry only refused connections (the server not listening yet), within --retry seconds.
    bool refused = r.code == kIoError && r.message.find("refused") != std::string::npos;
    if (!refused || Clock::now() >= retry_until || Clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  if (r.code != kOk) {
    std::fprintf(stderr, "warren-probe: send to %s: %s\n", to_text.c_str(), r.message.c_str());
    return r.code;
  }
  double mib = static_cast<double>(bytes) / (1024.0 * 1024.0);
  std::printf("ok: %s %llu bytes to %s in %.1f ms (%.1f MiB/s) %s\n", sink ? "sink" : "echo",
              static_cast<unsigned long long>(bytes), to_text.c_str(), secs * 1000,
              secs > 0 ? mib / secs : 0.0, r.message.c_str());
  return kOk;
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"warren-probe: echo/sink server and verifying client for the lab"};
  app.require_subcommand(1);
  int port = 0;
  std::string bind_addr = "0.0.0.0";
  bool sink = false;
  int idle = 120;
  auto* serve_cmd =
      app.add_subcommand("serve", "accept connections: echo, or --sink (hash and answer)");
  serve_cmd->add_option("--port", port, "TCP port (0 picks one)")
      ->required()
      ->check(CLI::Range(0, 65535));
  serve_cmd->add_option("--bind", bind_addr, "IPv4 address to listen on");
  serve_cmd->add_flag("--sink", sink, "read to EOF, answer 'sha256 <hex> <nbytes>'");
  serve_cmd->add_option("--idle-timeout", idle, "seconds a connection may stay silent")
      ->check(CLI::Range(1, 86400));

  std::string to;
  uint64_t bytes = 0;
  int timeout_s = 30, retry_s = 0;
  auto* send_cmd = app.add_subcommand("send", "send a deterministic payload and verify the answer");
  send_cmd->add_option("--to", to, "IPv4:PORT")->required();
  send_cmd->add_option("--bytes", bytes, "payload size")->required();
  send_cmd->add_flag("--sink", sink, "the server is a sink: compare its sha256");
  send_cmd->add_option("--timeout", timeout_s, "overall bound in seconds")
      ->check(CLI::Range(1, 3600));
  send_cmd->add_option("--retry", retry_s, "retry refused connections for this many seconds")
      ->check(CLI::Range(0, 3600));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kUsage;
  }
  if (serve_cmd->parsed()) return serve(port, bind_addr, sink, idle);
  return sendCmd(to, bytes, sink, timeout_s, retry_s);
}
