// warren-bench-http: an open-loop HTTP/1.1 client. --rate requests/s spread over
// --connections keep-alive connections (GET --path, default /1k) for --duration seconds; each
// latency is measured from when the request was due (coordinated-omission corrected, see
// rate_schedule.h), plus the uncorrected service time. Prints one JSON object.
// Exit 0 ok (even with some failed requests, which are counted), 2 usage, 3 no connection.
#include <sys/prctl.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "bench/tools/bench_socket.h"
#include "bench/tools/http1_response.h"
#include "bench/tools/latency_summary.h"
#include "bench/tools/rate_schedule.h"

using namespace warren::bench;

namespace {

struct ConnResult {
  std::vector<uint64_t> corrected_ns, service_ns;
  uint64_t errors = 0, reconnects = 0, non_2xx = 0, bytes = 0;
  std::string first_error;
};

// Sends its share of the schedule on one connection (reconnecting after an error).
ConnResult runConnection(const HttpOptions& o, const RateSchedule& sched, unsigned conn,
                         Clock::time_point start) {
  ConnResult res;
  auto duration = std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::duration<double>(o.duration_s));
  uint64_t n = sched.requestsFor(conn, duration);
  res.corrected_ns.reserve(n);
  res.service_ns.reserve(n);
  const std::string request =
      "GET " + o.path + " HTTP/1.1\r\nHost: bench\r\nUser-Agent: warren-bench-http\r\n\r\n";
  auto timeout =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.timeout_s));
  // Past the end plus one timeout, the run stops whatever is left (bounded).
  auto hard_stop = start + duration + timeout;
  warren::UniqueFd fd;
  std::string buf;
  std::vector<char> chunk(64 * 1024);
  auto noteError = [&](const std::string& what) {
    ++res.errors;
    if (res.first_error.empty()) res.first_error = what;
    fd.reset();
    buf.clear();
  };
  for (uint64_t k = 0; k < n; ++k) {
    auto due = start + sched.dueOffset(conn, k);
    std::this_thread::sleep_until(due);
    auto now = Clock::now();
    if (now >= hard_stop) {
      noteError("run over time");
      break;
    }
    auto deadline = std::min(now + timeout, hard_stop);
    if (fd.get() < 0) {
      auto c = connectTcp(o.to, deadline);
      if (!c) {
        noteError(c.error().message());
        continue;
      }
      fd = std::move(*c);
      if (k > 0) ++res.reconnects;
    }
    auto sent = Clock::now();
    if (auto w = writeAll(fd.get(), request.data(), request.size(), deadline); !w) {
      noteError(w.error().message());
      continue;
    }
    bool done = false;
    while (!done) {
      auto parsed = parseHttp1Response(buf);
      if (!parsed) {
        noteError(parsed.error().message());
        break;
      }
      if (parsed->has_value()) {
        const auto& r = **parsed;
        auto end = Clock::now();
        res.corrected_ns.push_back(static_cast<uint64_t>((end - due).count()));
        res.service_ns.push_back(static_cast<uint64_t>((end - sent).count()));
        if (r.status < 200 || r.status > 299) ++res.non_2xx;
        res.bytes += r.total();
        buf.erase(0, r.total());
        done = true;
        break;
      }
      auto got = readSome(fd.get(), chunk.data(), chunk.size(), deadline);
      if (!got || *got == 0) {
        noteError(got ? "server closed the connection" : got.error().message());
        break;
      }
      buf.append(chunk.data(), *got);
    }
  }
  return res;
}

nlohmann::json summaryJson(const LatencySummary& s) {
  return {{"p50_us", s.p50_us},   {"p90_us", s.p90_us}, {"p99_us", s.p99_us},
          {"p999_us", s.p999_us}, {"min_us", s.min_us}, {"mean_us", s.mean_us},
          {"max_us", s.max_us}};
}

}  // namespace

int main(int argc, char** argv) {
  auto opts = parseHttpOptions({argv + 1, argv + argc});
  if (!opts) {
    std::cerr << opts.error().message() << "\n";
    return 2;
  }
  // Default timer slack (50 µs) would be charged to every request as "latency" by the
  // due-time measurement; 1 ns makes sleep_until wake on time.
  ::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  auto sched = RateSchedule::create(opts->rate, opts->connections);
  if (!sched) {
    std::cerr << "warren-bench-http: " << sched.error().message() << "\n";
    return 2;
  }
  // One probe connection first: a dead target is an error, not a run full of failures.
  if (auto c = connectTcp(opts->to, deadlineAfter(opts->timeout_s)); !c) {
    std::cerr << "warren-bench-http: " << c.error().message() << "\n";
    return 3;
  }
  auto start = Clock::now() + std::chrono::milliseconds(20);
  std::vector<ConnResult> results(opts->connections);
  std::vector<std::thread> threads;
  for (unsigned c = 0; c < opts->connections; ++c) {
    threads.emplace_back([&, c] { results[c] = runConnection(*opts, *sched, c, start); });
  }
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<uint64_t> corrected, service;
  uint64_t errors = 0, reconnects = 0, non_2xx = 0, bytes = 0;
  std::string first_error;
  for (auto& r : results) {
    corrected.insert(corrected.end(), r.corrected_ns.begin(), r.corrected_ns.end());
    service.insert(service.end(), r.service_ns.begin(), r.service_ns.end());
    errors += r.errors;
    reconnects += r.reconnects;
    non_2xx += r.non_2xx;
    bytes += r.bytes;
    if (first_error.empty()) first_error = r.first_error;
  }
  uint64_t completed = corrected.size();
  nlohmann::json j = {
      {"tool", "http"},
      {"to", opts->to.text},
      {"target_rate", opts->rate},
      {"connections", opts->connections},
      {"seconds", secs},
      {"scheduled", sched->totalRequests(std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::duration<double>(opts->duration_s)))},
      {"completed", completed},
      {"achieved_rate", completed / opts->duration_s},
      {"errors", errors},
      {"reconnects", reconnects},
      {"non_2xx", non_2xx},
      {"bytes", bytes},
      {"latency", summaryJson(summarizeLatencies(std::move(corrected)))},
      {"service_time", summaryJson(summarizeLatencies(std::move(service)))}};
  if (!first_error.empty()) j["first_error"] = first_error;
  std::cout << j.dump() << std::endl;
  return 0;
}
