// warren-bench-rr: request/response round trips of --size bytes (default 64) on one TCP
// connection to an echo server, for --duration seconds; prints one JSON object with
// transactions/s and latency percentiles (µs). Exit 0 ok, 2 usage, 3 connection/IO error.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/tools/bench_socket.h"
#include "bench/tools/latency_summary.h"

using namespace warren::bench;

int main(int argc, char** argv) {
  auto opts = parseRrOptions({argv + 1, argv + argc});
  if (!opts) {
    std::cerr << opts.error().message() << "\n";
    return 2;
  }
  auto fd = connectTcp(opts->to, deadlineAfter(opts->timeout_s));
  if (!fd) {
    std::cerr << "warren-bench-rr: " << fd.error().message() << "\n";
    return 3;
  }
  std::string out(opts->size, 'r');
  std::string in(opts->size, '\0');
  std::vector<uint64_t> samples;
  samples.reserve(1 << 20);
  auto warm_end = deadlineAfter(opts->warmup_s);
  Clock::time_point start{}, end{};
  bool measuring = opts->warmup_s == 0;
  if (measuring) start = Clock::now();
  Clock::time_point stop = measuring ? deadlineAfter(opts->duration_s) : Clock::time_point::max();
  for (;;) {
    auto t0 = Clock::now();
    if (!measuring && t0 >= warm_end) {
      measuring = true;
      start = t0;
      stop = deadlineAfter(opts->duration_s);
    }
    if (measuring && t0 >= stop) break;
    auto deadline = t0 + std::chrono::duration_cast<Clock::duration>(
                             std::chrono::duration<double>(opts->timeout_s));
    auto w = writeAll(fd->get(), out.data(), out.size(), deadline);
    auto r = w ? readExact(fd->get(), in.data(), in.size(), deadline) : w;
    if (!r) {
      std::cerr << "warren-bench-rr: transaction to " << opts->to.text << ": "
                << r.error().message() << "\n";
      return 3;
    }
    if (in != out) {
      std::cerr << "warren-bench-rr: the echo differs from what was sent\n";
      return 3;
    }
    if (measuring) samples.push_back(static_cast<uint64_t>((Clock::now() - t0).count()));
  }
  end = Clock::now();
  double secs = std::chrono::duration<double>(end - start).count();
  auto s = summarizeLatencies(std::move(samples));
  nlohmann::json j = {{"tool", "rr"},
                      {"to", opts->to.text},
                      {"size", opts->size},
                      {"seconds", secs},
                      {"transactions", s.count},
                      {"tps", secs > 0 ? static_cast<double>(s.count) / secs : 0.0},
                      {"p50_us", s.p50_us},
                      {"p90_us", s.p90_us},
                      {"p99_us", s.p99_us},
                      {"p999_us", s.p999_us},
                      {"min_us", s.min_us},
                      {"mean_us", s.mean_us},
                      {"max_us", s.max_us}};
  std::cout << j.dump() << std::endl;
  return 0;
}
