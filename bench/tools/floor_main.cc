// warren-bench-floor: what this machine charges for the primitives every proxy is made of, so a
// run's per-request figures can be read against them: a system call (`syscall_ns`), and for two
// threads on one CPU (`same_cpu`) and on two (`across_cpus`, null on a one-CPU machine) an
// eventfd ping-pong (`wake`: one round trip is two wake-ups of a sleeping thread) and a 64 B
// TCP round trip over loopback (`tcp_rr`: two hops, each a send, a wake-up and a receive).
// Each gives round trips, p50/p99 µs and `cpu_us`, both threads' CPU per round trip. A proxy
// handles two messages per request (a wake-up, a receive and a send each), as the two threads
// of one `tcp_rr` round trip together do, so `tcp_rr.cpu_us` is about the least CPU a proxy
// spends per request where its hops land; two proxies add four hops to a round trip.
// Prints one JSON object; exit 0 ok, 2 usage, 3 a failed system call.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <iostream>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "bench/tools/bench_socket.h"
#include "bench/tools/latency_summary.h"
#include "bench/tools/tool_options.h"

using namespace warren::bench;

namespace {

struct Failed {
  std::string what;
};

[[noreturn]] void failWith(const std::string& what) { throw Failed{what + ": " + strerror(errno)}; }

double threadCpuUs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

// Pins the calling thread to `cpu` when the machine has it (cpu < 0: not pinned).
void pin(int cpu) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(static_cast<unsigned>(cpu), &set);
  pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

// The cost of one system call that does nothing (getppid), median over batches.
double syscallNs(double seconds) {
  std::vector<double> per_call;
  auto stop = deadlineAfter(seconds);
  while (Clock::now() < stop) {
    constexpr int kBatch = 20000;
    auto t0 = Clock::now();
    for (int i = 0; i < kBatch; ++i) syscall(SYS_getppid);
    per_call.push_back(std::chrono::duration<double, std::nano>(Clock::now() - t0).count() /
                       kBatch);
  }
  std::nth_element(per_call.begin(), per_call.begin() + per_call.size() / 2, per_call.end());
  return per_call[per_call.size() / 2];
}

// A ping-pong between two threads on two CPUs for `seconds`: the caller (side 0) sends and
// waits for the answer, the partner (side 1) waits and answers until `receive(1)` returns
// false; `send(-1)` tells it to stop. A partner that fails calls `unblock` (so the caller's
// wait ends) and its error is thrown here.
struct PingPong {
  LatencySummary latency;
  double cpu_us_per_round_trip = 0;
};

template <class Send, class Receive, class Unblock>
PingPong pingPong(double seconds, int cpu_a, int cpu_b, Send send, Receive receive,
                  Unblock unblock) {
  std::atomic<double> partner_cpu{0};
  std::optional<Failed> partner_failed;
  std::thread partner([&] {
    pin(cpu_b);
    double c0 = threadCpuUs();
    try {
      while (receive(1)) send(1);
    } catch (const Failed& f) {
      partner_failed = f;
      unblock();
    }
    partner_cpu = threadCpuUs() - c0;
  });
  pin(cpu_a);
  std::vector<uint64_t> samples;
  samples.reserve(1 << 20);
  double own_cpu = 0;
  try {
    for (int i = 0; i < 200; ++i) {  // warm-up, not recorded
      send(0);
      receive(0);
    }
    double c0 = threadCpuUs();
    auto stop = deadlineAfter(seconds);
    for (;;) {
      auto t0 = Clock::now();
      if (t0 >= stop) break;
      send(0);
      receive(0);
      samples.push_back(static_cast<uint64_t>((Clock::now() - t0).count()));
    }
    own_cpu = threadCpuUs() - c0;
    send(-1);
  } catch (const Failed&) {
    unblock();
    partner.join();
    if (partner_failed) throw *partner_failed;
    throw;
  }
  partner.join();
  if (partner_failed) throw *partner_failed;
  uint64_t round_trips = samples.size();
  PingPong out;
  out.latency = summarizeLatencies(std::move(samples));
  // The partner's CPU includes the warm-up; 200 round trips are noise beside a second's worth.
  out.cpu_us_per_round_trip =
      round_trips == 0 ? 0 : (own_cpu + partner_cpu.load()) / static_cast<double>(round_trips);
  return out;
}

// Two eventfds: each side sleeps in read(2) until the other writes. One round trip is two
// wake-ups of a sleeping thread on the other CPU.
PingPong wakeUps(double seconds, int cpu_a, int cpu_b) {
  int to_partner = eventfd(0, EFD_CLOEXEC), to_caller = eventfd(0, EFD_CLOEXEC);
  if (to_partner < 0 || to_caller < 0) failWith("eventfd");
  std::atomic<bool> stopping{false};
  auto send = [&](int side) {
    if (side < 0) stopping = true;
    uint64_t one = 1;
    if (write(side == 1 ? to_caller : to_partner, &one, sizeof one) != sizeof one)
      failWith("eventfd write");
  };
  auto receive = [&](int side) {
    uint64_t v = 0;
    if (read(side == 1 ? to_partner : to_caller, &v, sizeof v) != sizeof v) failWith("eventfd read");
    if (side == 0 && stopping.load()) throw Failed{"the partner thread stopped"};
    return !stopping.load();
  };
  auto unblock = [&] {
    stopping = true;
    uint64_t one = 1;
    (void)!write(to_partner, &one, sizeof one);
    (void)!write(to_caller, &one, sizeof one);
  };
  auto r = pingPong(seconds, cpu_a, cpu_b, send, receive, unblock);
  close(to_partner);
  close(to_caller);
  return r;
}

// 64 B each way over a loopback TCP connection (TCP_NODELAY), the partner echoing.
PingPong tcpRoundTrips(double seconds, int cpu_a, int cpu_b) {
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (lfd < 0) failWith("socket");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(lfd, 1) != 0 ||
      getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    failWith("loopback listener");
  Target to;
  to.text = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  to.addr = a;
  auto client = connectTcp(to, deadlineAfter(5));
  if (!client) throw Failed{"loopback connect: " + client.error().message()};
  int server = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
  if (server < 0) failWith("accept");
  close(lfd);
  // Both ends block in recv(2), as a proxy sleeps until its next message (connectTcp's
  // socket is non-blocking: its own waits poll).
  fcntl(client->get(), F_SETFL, fcntl(client->get(), F_GETFL) & ~O_NONBLOCK);
  int one = 1;
  setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  timeval limit{5, 0};  // a peer that stopped answering fails the run instead of hanging it
  for (int fd : {server, client->get()}) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  char msg[64];
  memset(msg, 'f', sizeof msg);
  auto send = [&](int side) {
    if (side < 0) {
      shutdown(client->get(), SHUT_WR);
      return;
    }
    if (::send(side == 1 ? server : client->get(), msg, sizeof msg, MSG_NOSIGNAL) != sizeof msg)
      failWith("send");
  };
  auto receive = [&](int side) {
    char in[64];
    size_t got = 0;
    while (got < sizeof in) {
      ssize_t n = recv(side == 1 ? server : client->get(), in + got, sizeof in - got, 0);
      if (n == 0 && side == 1) return false;
      if (n < 0) failWith("recv");
      if (n == 0) throw Failed{"recv: the connection ended"};
      got += static_cast<size_t>(n);
    }
    return true;
  };
  auto unblock = [&] { shutdown(server, SHUT_RDWR); shutdown(client->get(), SHUT_RDWR); };
  auto r = pingPong(seconds, cpu_a, cpu_b, send, receive, unblock);
  close(server);
  return r;
}

nlohmann::json toJson(const PingPong& p) {
  return {{"round_trips", p.latency.count},
          {"p50_us", p.latency.p50_us},
          {"p99_us", p.latency.p99_us},
          {"cpu_us", p.cpu_us_per_round_trip}};
}

}  // namespace

int main(int argc, char** argv) {
  auto opts = parseFloorOptions({argv + 1, argv + argc});
  if (!opts) {
    std::cerr << opts.error().message() << "\n";
    return 2;
  }
  // The first two CPUs the process may use: both threads on the first, then one on each.
  cpu_set_t allowed;
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof allowed, &allowed) == 0)
    for (int c = 0; c < CPU_SETSIZE && cpus.size() < 2; ++c)
      if (CPU_ISSET(c, &allowed)) cpus.push_back(c);
  if (cpus.empty()) cpus.push_back(-1);
  auto placement = [&](int a, int b) {
    return nlohmann::json{{"wake", toJson(wakeUps(opts->duration_s, a, b))},
                          {"tcp_rr", toJson(tcpRoundTrips(opts->duration_s, a, b))}};
  };
  try {
    nlohmann::json j = {{"tool", "floor"},
                        {"syscall_ns", syscallNs(opts->duration_s)},
                        {"same_cpu", placement(cpus[0], cpus[0])},
                        {"across_cpus", cpus.size() > 1 ? placement(cpus[0], cpus[1])
                                                        : nlohmann::json(nullptr)}};
    std::cout << j.dump() << std::endl;
  } catch (const Failed& f) {
    std::cerr << "warren-bench-floor: " << f.what << "\n";
    return 3;
  }
  return 0;
}
