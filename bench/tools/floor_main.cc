// warren-bench-floor: what this machine charges for the primitives every proxy is made of, so a
// run's per-request figures can be read against them: a system call (`syscall_ns`), and for two
// threads on one CPU (`same_cpu`) and on two (`across_cpus`, null on a one-CPU machine) an
// eventfd ping-pong (`wake`: one round trip is two wake-ups of a sleeping thread) and a 64 B
// TCP round trip over loopback (`tcp_rr`: two hops, each a send, a wake-up and a receive).
// Each gives the CPUs used, round trips, p50/p99 µs and `cpu_us`, both threads' CPU per round
// trip while measuring. A proxy handles two messages per request (a wake-up, a receive and a
// send each), as the two threads of one `tcp_rr` round trip together do, so `tcp_rr.cpu_us` is
// about the CPU a proxy spends per request on its hops alone, where they land; two proxies add
// four hops to a round trip. Every wait is bounded (5 s), every measurement by --duration and
// by a sample count. Prints one JSON object; exit 0 ok, 2 usage, 3 a failed measurement.
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "bench/tools/bench_socket.h"
#include "bench/tools/latency_summary.h"
#include "bench/tools/tool_options.h"
#include "common/net/socket_factory.h"
#include "common/net/socket_info.h"

using namespace warren;
using namespace warren::bench;

namespace {

constexpr double kWaitLimitS = 5;  // a peer that stopped answering fails the run

double threadCpuUs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

// Pins the calling thread to `cpu` and checks that it runs there.
Status pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(static_cast<unsigned>(cpu), &set);
  if (int e = pthread_setaffinity_np(pthread_self(), sizeof set, &set); e != 0)
    return fail(Error::system(e, "pinning a thread to CPU " + std::to_string(cpu)));
  if (sched_getcpu() != cpu)
    return fail(Error::invalid("a thread pinned to CPU " + std::to_string(cpu) + " runs on CPU " +
                               std::to_string(sched_getcpu())));
  return ok();
}

// The cost of one system call that does nothing (getppid), median over batches (one at least).
double syscallNs(double seconds) {
  std::vector<double> per_call;
  auto stop = deadlineAfter(seconds);
  do {
    constexpr int kBatch = 20000;
    auto t0 = Clock::now();
    for (int i = 0; i < kBatch; ++i) syscall(SYS_getppid);
    per_call.push_back(std::chrono::duration<double, std::nano>(Clock::now() - t0).count() /
                       kBatch);
  } while (Clock::now() < stop);
  std::nth_element(per_call.begin(), per_call.begin() + per_call.size() / 2, per_call.end());
  return per_call[per_call.size() / 2];
}

// The two ends of a ping-pong. Side 0 is the measuring thread, side 1 its partner.
class Channel {
 public:
  virtual ~Channel() = default;
  virtual Status send(int side) = 0;
  // true: a message; false: the partner is told to stop (side 1 only).
  virtual Result<bool> receive(int side) = 0;
  // Side 0, done: the partner's next receive answers false.
  virtual void stop() = 0;
  // After a failure: ends every wait of both sides.
  virtual void unblock() = 0;
};

struct PingPong {
  int cpu_a = 0, cpu_b = 0;
  LatencySummary latency;
  double cpu_us_per_round_trip = 0;
};

// Round trips for `seconds` (after 200 not recorded) between this thread on `cpu_a` and a
// partner on `cpu_b`, at most one per microsecond of `seconds`.
Result<PingPong> pingPong(double seconds, int cpu_a, int cpu_b, Channel& ch) {
  std::vector<uint64_t> samples;
  samples.reserve(static_cast<size_t>(seconds * 1e6) + 1);
  std::atomic<bool> measuring{false};
  std::atomic<int> first_failure{0};  // 1: this thread, 2: the partner (the cause to report)
  Status partner_status;
  double partner_cpu = 0;
  std::thread partner([&] {
    auto failed = [&](Status st) {
      int none = 0;
      first_failure.compare_exchange_strong(none, 2);
      partner_status = std::move(st);
      ch.unblock();
    };
    if (auto st = pin(cpu_b); !st) return failed(std::move(st));
    double p0 = 0;
    bool started = false;
    for (;;) {
      auto r = ch.receive(1);
      if (!r) return failed(fail(r.error()));
      if (!*r) break;
      if (!started && measuring.load()) {
        p0 = threadCpuUs();
        started = true;
      }
      if (auto st = ch.send(1); !st) return failed(std::move(st));
    }
    if (started) partner_cpu = threadCpuUs() - p0;
  });
  auto run = [&]() -> Result<double> {
    WARREN_TRY(pin(cpu_a));
    auto exchange = [&]() -> Status {
      WARREN_TRY(ch.send(0));
      auto r = ch.receive(0);
      if (!r) return fail(r.error());
      if (!*r) return fail(Error::invalid("the partner thread stopped"));
      return ok();
    };
    for (int i = 0; i < 200; ++i) WARREN_TRY(exchange());
    measuring = true;
    double c0 = threadCpuUs();
    auto stop = deadlineAfter(seconds);
    for (;;) {
      auto t0 = Clock::now();
      if (t0 >= stop || samples.size() == samples.capacity()) break;
      WARREN_TRY(exchange());
      samples.push_back(static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count()));
    }
    return threadCpuUs() - c0;
  };
  auto own_cpu = run();
  if (own_cpu) {
    ch.stop();
  } else {
    int none = 0;
    first_failure.compare_exchange_strong(none, 1);
    ch.unblock();
  }
  partner.join();
  if (first_failure.load() == 2) return fail(partner_status.error());
  if (!own_cpu) return fail(own_cpu.error());
  PingPong out;
  out.cpu_a = cpu_a;
  out.cpu_b = cpu_b;
  const double round_trips = static_cast<double>(samples.size());
  out.latency = summarizeLatencies(std::move(samples));
  out.cpu_us_per_round_trip = round_trips == 0 ? 0 : (*own_cpu + partner_cpu) / round_trips;
  return out;
}

// Two eventfds: each side sleeps in poll(2) until the other writes. A value of 2 or more
// (stop, unblock) ends the partner.
class Wake final : public Channel {
 public:
  static Result<std::unique_ptr<Wake>> make() {
    auto w = std::unique_ptr<Wake>(new Wake);
    for (UniqueFd* fd : {&w->to_partner_, &w->to_caller_}) {
      *fd = UniqueFd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
      if (fd->get() < 0) return fail(WARREN_SYS_ERROR("eventfd"));
    }
    return w;
  }
  Status send(int side) override { return post(side == 1 ? to_caller_ : to_partner_, 1); }
  Result<bool> receive(int side) override {
    int fd = side == 1 ? to_partner_.get() : to_caller_.get();
    auto deadline = deadlineAfter(kWaitLimitS);
    for (;;) {
      uint64_t v = 0;
      if (read(fd, &v, sizeof v) == sizeof v) return v < 2;
      if (errno == EINTR) continue;
      if (errno != EAGAIN) return fail(WARREN_SYS_ERROR("eventfd read"));
      WARREN_TRY(waitFor(fd, POLLIN, deadline, "waiting for the other thread"));
    }
  }
  void stop() override { (void)post(to_partner_, 2); }
  void unblock() override {
    (void)post(to_partner_, 2);
    (void)post(to_caller_, 2);
  }

 private:
  Wake() = default;
  static Status post(const UniqueFd& fd, uint64_t v) {
    while (write(fd.get(), &v, sizeof v) != sizeof v)
      if (errno != EINTR) return fail(WARREN_SYS_ERROR("eventfd write"));
    return ok();
  }
  UniqueFd to_partner_, to_caller_;
};

// 64 B each way over a loopback TCP connection (TCP_NODELAY), the partner echoing; each side
// sleeps in poll(2) until its message is there.
class TcpRoundTrip final : public Channel {
 public:
  static Result<std::unique_ptr<TcpRoundTrip>> make() {
    net::SocketOptions opts;  // TCP_NODELAY, which the accepted end inherits
    auto listener = net::SocketFactory::listenTcp(net::SocketAddress::loopbackV4(), opts);
    if (!listener) return fail(listener.error().wrap("loopback listener"));
    auto bound = net::localAddress(listener->get());
    if (!bound) return fail(bound.error());
    auto to = parseTarget(bound->toString());
    if (!to) return fail(to.error());
    auto t = std::unique_ptr<TcpRoundTrip>(new TcpRoundTrip);
    auto client = connectTcp(*to, deadlineAfter(kWaitLimitS));
    if (!client) return fail(client.error().wrap("loopback connect"));
    t->client_ = std::move(*client);
    // connectTcp returned once the handshake completed: the connection waits in the queue.
    t->server_ = UniqueFd(accept4(listener->get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (t->server_.get() < 0) return fail(WARREN_SYS_ERROR("accept"));
    WARREN_TRY(net::SocketFactory::configureAccepted(t->server_.get(), opts));
    std::fill(std::begin(t->msg_), std::end(t->msg_), 'f');
    return t;
  }
  Status send(int side) override {
    return writeAll(fd(side), msg_, sizeof msg_, deadlineAfter(kWaitLimitS));
  }
  Result<bool> receive(int side) override {
    char in[sizeof msg_];
    auto deadline = deadlineAfter(kWaitLimitS);
    auto n = readSome(fd(side), in, sizeof in, deadline);
    if (!n) return fail(n.error());
    if (*n == 0) {
      if (side == 1) return false;
      return fail(Error::invalid("the partner closed the connection"));
    }
    WARREN_TRY(readExact(fd(side), in + *n, sizeof in - *n, deadline));
    return true;
  }
  void stop() override { shutdown(client_.get(), SHUT_WR); }
  void unblock() override {
    shutdown(client_.get(), SHUT_RDWR);
    shutdown(server_.get(), SHUT_RDWR);
  }

 private:
  TcpRoundTrip() = default;
  int fd(int side) const { return side == 1 ? server_.get() : client_.get(); }
  UniqueFd client_, server_;
  char msg_[64];
};

nlohmann::json toJson(const PingPong& p) {
  return {{"cpus", {p.cpu_a, p.cpu_b}},
          {"round_trips", p.latency.count},
          {"p50_us", p.latency.p50_us},
          {"p99_us", p.latency.p99_us},
          {"cpu_us", p.cpu_us_per_round_trip}};
}

Result<nlohmann::json> placement(double seconds, int cpu_a, int cpu_b) {
  auto wake = Wake::make();
  if (!wake) return fail(wake.error());
  auto w = pingPong(seconds, cpu_a, cpu_b, **wake);
  if (!w) return fail(w.error().wrap("wake-ups"));
  auto tcp = TcpRoundTrip::make();
  if (!tcp) return fail(tcp.error());
  auto t = pingPong(seconds, cpu_a, cpu_b, **tcp);
  if (!t) return fail(t.error().wrap("TCP round trips"));
  return nlohmann::json{{"wake", toJson(*w)}, {"tcp_rr", toJson(*t)}};
}

Result<nlohmann::json> measure(const FloorOptions& opts) {
  // The first two CPUs the process may use: both threads on the first, then one on each.
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0)
    return fail(WARREN_SYS_ERROR("sched_getaffinity"));
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE && cpus.size() < 2; ++c)
    if (CPU_ISSET(c, &allowed)) cpus.push_back(c);
  if (cpus.empty()) return fail(Error::invalid("no CPU allowed"));
  nlohmann::json j = {{"tool", "floor"}, {"syscall_ns", syscallNs(opts.duration_s)}};
  auto same = placement(opts.duration_s, cpus[0], cpus[0]);
  if (!same) return fail(same.error().wrap("one CPU"));
  j["same_cpu"] = std::move(*same);
  j["across_cpus"] = nullptr;
  if (cpus.size() > 1) {
    auto across = placement(opts.duration_s, cpus[0], cpus[1]);
    if (!across) return fail(across.error().wrap("two CPUs"));
    j["across_cpus"] = std::move(*across);
  }
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  auto opts = parseFloorOptions({argv + 1, argv + argc});
  if (!opts) {
    std::cerr << opts.error().message() << "\n";
    return 2;
  }
  auto j = measure(*opts);
  if (!j) {
    std::cerr << "warren-bench-floor: " << j.error().message() << "\n";
    return 3;
  }
  std::cout << j->dump() << std::endl;
  return 0;
}
