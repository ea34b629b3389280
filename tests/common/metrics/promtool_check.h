// Runs Prometheus' own linter (`promtool check metrics`, Debian package prometheus) over an
// exposition, for every test that checks one (common/metrics, the waypoint's HTTP families).
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>

namespace warren::metrics::testing {

struct PromtoolResult {
  int exit_status = -1;  // 0: clean; 3: lint problems only; 1: unparseable
  std::string output;    // stdout and stderr
};

// Nullopt when promtool is not installed (the caller skips, naming the package).
inline std::optional<PromtoolResult> promtoolCheckMetrics(const std::string& exposition) {
  std::string promtool;
  for (const char* p : {"/usr/bin/promtool", "/usr/local/bin/promtool"})
    if (std::filesystem::exists(p)) promtool = p;
  if (promtool.empty()) return std::nullopt;
  static int counter = 0;
  std::string path =
      std::filesystem::temp_directory_path() /
      ("warren-promtool-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".txt");
  std::string out_path = path + ".out";
  {
    std::ofstream f(path);
    f << exposition;
  }
  int rc =
      std::system((promtool + " check metrics < " + path + " > " + out_path + " 2>&1").c_str());
  std::ifstream o(out_path);
  PromtoolResult r;
  r.output.assign(std::istreambuf_iterator<char>(o), std::istreambuf_iterator<char>());
  std::filesystem::remove(path);
  std::filesystem::remove(out_path);
  r.exit_status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return r;
}

}  // namespace warren::metrics::testing
