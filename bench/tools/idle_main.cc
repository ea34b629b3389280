// warren-bench-idle: opens --count TCP connections to an echo server (--parallel at once),
// each proven by a 1-byte round trip, then holds them all for --hold seconds and exits
// (closing them). It prints one JSON line as soon as they are open ({"phase":"open",...}) so
// a caller can measure the proxies' memory while they are held, and a second one
// ({"phase":"done",...}) at the end.
// Exit 0 ok (failures are counted), 2 usage, 3 when none could be opened or over budget.
#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "bench/tools/bench_socket.h"

using namespace warren::bench;

namespace {

struct Opener {
  std::vector<warren::UniqueFd> conns;
  uint64_t failed = 0;
  bool over_budget = false;
  std::string first_error;
};

// Opens `n` connections one after the other; gives up early on a path that refuses all.
Opener openConnections(const IdleOptions& o, unsigned n, Clock::time_point budget) {
  Opener r;
  r.conns.reserve(n);
  for (unsigned i = 0; i < n; ++i) {
    if (Clock::now() >= budget) {
      r.over_budget = true;
      break;
    }
    auto deadline = std::min(deadlineAfter(o.timeout_s), budget);
    auto fd = connectTcp(o.to, deadline);
    warren::Status st = fd ? warren::ok() : warren::Status(warren::fail(fd.error()));
    char c = 'i';
    if (st) st = writeAll(fd->get(), &c, 1, deadline);
    if (st) st = readExact(fd->get(), &c, 1, deadline);
    if (!st) {
      ++r.failed;
      if (r.first_error.empty()) r.first_error = st.error().message();
      // A path that refuses everything is not worth thousands more tries.
      if (r.conns.empty() && r.failed >= 20) break;
      continue;
    }
    r.conns.push_back(std::move(*fd));
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  auto opts = parseIdleOptions({argv + 1, argv + argc});
  if (!opts) {
    std::cerr << opts.error().message() << "\n";
    return 2;
  }
  auto limit = raiseFdLimit();
  if (!limit || *limit < opts->count + 16) {
    std::cerr << "warren-bench-idle: need " << opts->count + 16 << " file descriptors, have "
              << (limit ? std::to_string(*limit) : limit.error().message()) << "\n";
    return 2;
  }
  auto start = Clock::now();
  auto budget = deadlineAfter(opts->open_budget_s);
  unsigned workers = std::min(opts->parallel, opts->count);
  std::vector<Opener> results(workers);
  std::vector<std::thread> threads;
  for (unsigned w = 0; w < workers; ++w) {
    unsigned n = opts->count / workers + (w < opts->count % workers ? 1 : 0);
    threads.emplace_back([&, w, n] { results[w] = openConnections(*opts, n, budget); });
  }
  for (auto& t : threads) t.join();
  std::vector<warren::UniqueFd> conns;
  uint64_t failed = 0;
  bool over_budget = false;
  std::string first_error;
  for (auto& r : results) {
    for (auto& fd : r.conns) conns.push_back(std::move(fd));
    failed += r.failed;
    over_budget = over_budget || r.over_budget;
    if (first_error.empty()) first_error = r.first_error;
  }
  double open_s = std::chrono::duration<double>(Clock::now() - start).count();
  nlohmann::json j = {{"tool", "idle"},         {"phase", "open"},
                      {"to", opts->to.text},    {"requested", opts->count},
                      {"opened", conns.size()}, {"failed", failed},
                      {"open_seconds", open_s}, {"over_budget", over_budget}};
  if (!first_error.empty()) j["first_error"] = first_error;
  std::cout << j.dump() << std::endl;
  if (conns.empty()) {
    std::cerr << "warren-bench-idle: no connection opened: " << first_error << "\n";
    return 3;
  }
  std::this_thread::sleep_until(deadlineAfter(opts->hold_s));
  // Still open? A proxy that dropped idle connections shows here as EOF/error on read.
  uint64_t alive = 0;
  for (auto& fd : conns) {
    char c;
    ssize_t n = ::recv(fd.get(), &c, 1, MSG_DONTWAIT);
    if (n < 0 && errno == EAGAIN) ++alive;
  }
  std::cout
      << nlohmann::json{{"tool", "idle"}, {"phase", "done"}, {"alive_after_hold", alive}}.dump()
      << std::endl;
  return over_budget ? 3 : 0;
}
