// warren-bench-connrate: new TCP connections per second. --threads connectors each loop for
// --duration seconds: connect, one 1-byte round trip (a mesh may accept before its upstream is
// up; the echo proves the whole path), close with RST. Prints one JSON object.
// Exit 0 ok, 2 usage, 3 when not a single connection succeeded.
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "bench/tools/bench_socket.h"
#include "bench/tools/latency_summary.h"

using namespace warren::bench;

namespace {

struct ConnectorResult {
  uint64_t ok = 0, failed = 0;
  std::vector<uint64_t> setup_ns;
  std::string first_error;
};

ConnectorResult connector(const ConnRateOptions& o, Clock::time_point stop) {
  ConnectorResult r;
  r.setup_ns.reserve(1 << 16);
  for (;;) {
    auto t0 = Clock::now();
    if (t0 >= stop) break;
    auto deadline = deadlineAfter(o.timeout_s);
    auto fd = connectTcp(o.to, deadline);
    warren::Status st = fd ? warren::ok() : warren::Status(warren::fail(fd.error()));
    char c = 'c';
    if (st) st = writeAll(fd->get(), &c, 1, deadline);
    if (st) st = readExact(fd->get(), &c, 1, deadline);
    if (!st) {
      ++r.failed;
      if (r.first_error.empty()) r.first_error = st.error().message();
      // A failing path fails fast (refused) or slowly (timeout): either way, go on until stop.
      continue;
    }
    r.setup_ns.push_back(static_cast<uint64_t>((Clock::now() - t0).count()));
    ++r.ok;
    closeWithReset(std::move(*fd));
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  auto opts = parseConnRateOptions({argv + 1, argv + argc});
  if (!opts) {
    std::cerr << opts.error().message() << "\n";
    return 2;
  }
  auto start = Clock::now();
  auto stop = deadlineAfter(opts->duration_s);
  std::vector<ConnectorResult> results(opts->threads);
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < opts->threads; ++t) {
    threads.emplace_back([&, t] { results[t] = connector(*opts, stop); });
  }
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  uint64_t ok_n = 0, failed = 0;
  std::vector<uint64_t> setup;
  std::string first_error;
  for (auto& r : results) {
    ok_n += r.ok;
    failed += r.failed;
    setup.insert(setup.end(), r.setup_ns.begin(), r.setup_ns.end());
    if (first_error.empty()) first_error = r.first_error;
  }
  auto s = summarizeLatencies(std::move(setup));
  nlohmann::json j = {{"tool", "connrate"},
                      {"to", opts->to.text},
                      {"threads", opts->threads},
                      {"seconds", secs},
                      {"connections", ok_n},
                      {"failed", failed},
                      {"conns_per_s", secs > 0 ? static_cast<double>(ok_n) / secs : 0.0},
                      {"setup_p50_us", s.p50_us},
                      {"setup_p99_us", s.p99_us}};
  if (!first_error.empty()) j["first_error"] = first_error;
  std::cout << j.dump() << std::endl;
  if (ok_n == 0) {
    std::cerr << "warren-bench-connrate: no connection succeeded: " << first_error << "\n";
    return 3;
  }
  return 0;
}
