// Shared helpers for warrenctl tests: fixture and golden file access.
#pragma once

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

namespace warren::ctl::testing {

inline std::string testDir() {
  const char* src = std::getenv("WARREN_SOURCE_DIR");
  return std::string(src ? src : ".") + "/tests/warrenctl";
}

inline std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline nlohmann::json fixture(const std::string& name) {
  return nlohmann::json::parse(readFile(testDir() + "/fixtures/" + name + ".json"));
}

// Compares with golden/<name>; WARREN_UPDATE_GOLDEN=1 rewrites the file instead.
inline std::string golden(const std::string& name, const std::string& actual) {
  std::string path = testDir() + "/golden/" + name;
  if (const char* u = std::getenv("WARREN_UPDATE_GOLDEN"); u && std::string(u) == "1") {
    std::ofstream(path, std::ios::binary) << actual;
    return actual;
  }
  return readFile(path);
}

}  // namespace warren::ctl::testing
