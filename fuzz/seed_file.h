// Writing one seed file for a target's `--make-seeds DIR` mode (see replay_main.cc).
#pragma once

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <span>
#include <string>
#include <string_view>

namespace warren::fuzz {

// DIR/name = one flag byte (the target's input layout) followed by `body`.
inline bool writeSeed(const std::string& dir, const std::string& name, uint8_t flags,
                      std::string_view body) {
  std::ofstream out(dir + "/" + name, std::ios::binary | std::ios::trunc);
  out.put(static_cast<char>(flags));
  out.write(body.data(), static_cast<std::streamsize>(body.size()));
  if (!out) std::fprintf(stderr, "make-seeds: cannot write %s/%s\n", dir.c_str(), name.c_str());
  return static_cast<bool>(out);
}

inline bool writeSeed(const std::string& dir, const std::string& name, uint8_t flags,
                      std::span<const uint8_t> body) {
  return writeSeed(dir, name, flags,
                   std::string_view(reinterpret_cast<const char*>(body.data()), body.size()));
}

}  // namespace warren::fuzz
