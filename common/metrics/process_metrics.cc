#include "common/metrics/process_metrics.h"

#include <dirent.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <sstream>

namespace warren::metrics {
namespace {

std::optional<std::string> slurp(const char* path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

template <class T>
bool parseNumber(std::string_view s, T& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size();
}

}  // namespace

std::optional<ProcStat> parseProcStat(std::string_view content) {
  size_t close = content.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  std::vector<std::string_view> fields;  // fields[0] is field 3 (state)
  std::string_view rest = content.substr(close + 1);
  size_t i = 0;
  while (i < rest.size()) {
    while (i < rest.size() && (rest[i] == ' ' || rest[i] == '\n')) ++i;
    size_t start = i;
    while (i < rest.size() && rest[i] != ' ' && rest[i] != '\n') ++i;
    if (i > start) fields.push_back(rest.substr(start, i - start));
  }
  auto field = [&](size_t n) { return fields[n - 3]; };  // proc(5) numbering
  if (fields.size() < 22) return std::nullopt;
  ProcStat st;
  if (!parseNumber(field(14), st.utime_ticks) || !parseNumber(field(15), st.stime_ticks) ||
      !parseNumber(field(22), st.starttime_ticks) || !parseNumber(field(23), st.vsize_bytes) ||
      !parseNumber(field(24), st.rss_pages))
    return std::nullopt;
  return st;
}

std::optional<uint64_t> parseBootTime(std::string_view proc_stat) {
  size_t pos = 0;
  while (pos < proc_stat.size()) {
    size_t eol = proc_stat.find('\n', pos);
    std::string_view line = proc_stat.substr(pos, eol == std::string_view::npos ? eol : eol - pos);
    if (line.starts_with("btime ")) {
      uint64_t v = 0;
      if (parseNumber(line.substr(6), v)) return v;
      return std::nullopt;
    }
    if (eol == std::string_view::npos) break;
    pos = eol + 1;
  }
  return std::nullopt;
}

std::optional<uint64_t> parseMaxFds(std::string_view limits) {
  size_t pos = limits.find("Max open files");
  if (pos == std::string_view::npos) return std::nullopt;
  std::string_view rest = limits.substr(pos + std::string_view("Max open files").size());
  size_t b = rest.find_first_not_of(' ');
  if (b == std::string_view::npos) return std::nullopt;
  rest = rest.substr(b);
  std::string_view soft = rest.substr(0, rest.find(' '));
  uint64_t v = 0;
  if (!parseNumber(soft, v)) return std::nullopt;  // "unlimited"
  return v;
}

std::vector<FamilySnapshot> processFamilies(const ProcessSample& s) {
  const double tps = static_cast<double>(s.ticks_per_second);
  std::vector<FamilySnapshot> out;
  out.push_back(scalarFamily(
      "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
      MetricType::kCounter, static_cast<double>(s.stat.utime_ticks + s.stat.stime_ticks) / tps));
  out.push_back(scalarFamily("process_open_fds", "Number of open file descriptors.",
                             MetricType::kGauge, static_cast<double>(s.open_fds)));
  if (s.max_fds)
    out.push_back(scalarFamily("process_max_fds", "Maximum number of open file descriptors.",
                               MetricType::kGauge, static_cast<double>(*s.max_fds)));
  out.push_back(scalarFamily(
      "process_resident_memory_bytes", "Resident memory size in bytes.", MetricType::kGauge,
      static_cast<double>(s.stat.rss_pages) * static_cast<double>(s.page_size)));
  out.push_back(scalarFamily("process_start_time_seconds",
                             "Start time of the process since unix epoch in seconds.",
                             MetricType::kGauge,
                             static_cast<double>(s.boot_time_seconds) +
                                 static_cast<double>(s.stat.starttime_ticks) / tps));
  out.push_back(scalarFamily("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                             MetricType::kGauge, static_cast<double>(s.stat.vsize_bytes)));
  return out;
}

std::optional<ProcessSample> readSelfProcessSample() {
  auto stat = slurp("/proc/self/stat");
  auto sys = slurp("/proc/stat");
  if (!stat || !sys) return std::nullopt;
  auto parsed = parseProcStat(*stat);
  auto btime = parseBootTime(*sys);
  if (!parsed || !btime) return std::nullopt;
  ProcessSample s;
  s.stat = *parsed;
  s.boot_time_seconds = *btime;
  s.ticks_per_second = ::sysconf(_SC_CLK_TCK);
  s.page_size = ::sysconf(_SC_PAGESIZE);
  if (auto limits = slurp("/proc/self/limits")) s.max_fds = parseMaxFds(*limits);
  if (DIR* d = ::opendir("/proc/self/fd")) {
    uint64_t n = 0;
    while (dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') ++n;
    ::closedir(d);
    s.open_fds = n > 0 ? n - 1 : 0;  // minus the fd opendir itself holds
  }
  return s;
}

void registerProcessMetrics(Registry& registry) {
  registry.addCollector([] {
    auto s = readSelfProcessSample();
    return s ? processFamilies(*s) : std::vector<FamilySnapshot>{};
  });
}

}  // namespace warren::metrics
