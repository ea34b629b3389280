// Helpers shared by the agent tests: temp dirs and atomic manifest writes (dot-file + rename,
// as the lab writes them).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>

namespace warren::agent::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "warren-agent-test-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline void writeAtomically(const std::string& dir, const std::string& name,
                            const std::string& text) {
  std::string tmp = dir + "/." + name + ".tmp";
  {
    std::ofstream f(tmp);
    f << text;
  }
  std::filesystem::rename(tmp, dir + "/" + name);
}

// Polls `cond` every millisecond until it holds or `limit` passes.
inline bool waitFor(const std::function<bool()>& cond,
                    std::chrono::milliseconds limit = std::chrono::milliseconds(2000)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return cond();
}

}  // namespace warren::agent::testing
