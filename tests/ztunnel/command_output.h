// What a shell command printed on stdout (empty when it could not run): the root-only ztunnel
// tests read `ip`, `ss` and sysctl state of the netns they made this way.
#pragma once

#include <cstdio>
#include <string>

namespace warren::ztunnel::testing {

inline std::string commandOutput(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

}  // namespace warren::ztunnel::testing
