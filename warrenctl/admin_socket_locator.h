// Where warrenctl finds the agent's admin socket. Pure: flags and environment in, path out.
#pragma once

#include <optional>
#include <string>

namespace warren::ctl {

inline constexpr const char* kDefaultRunDir = "/var/run/warren";
inline constexpr const char* kDefaultLabDir = "/run/warren-lab";

struct SocketFlags {
  std::optional<std::string> socket;   // --socket PATH: used as is
  std::optional<std::string> run_dir;  // --run-dir DIR: DIR/admin.sock
  std::optional<std::string> node;     // --node NAME: the lab node's agent
  std::optional<std::string> lab_dir;  // --lab-dir DIR (else $WARREN_LAB_DIR, else default)
};

struct SocketLocation {
  std::string path;
  std::string how;       // "from --run-dir", ... (for error messages)
  std::string log_hint;  // where the agent's log is, when known
};

// Precedence: --socket, then --run-dir, then --node (in the lab dir), then the default run dir.
// `env_lab_dir` is $WARREN_LAB_DIR (nullopt when unset or empty).
SocketLocation locateAdminSocket(const SocketFlags& flags,
                                 const std::optional<std::string>& env_lab_dir);

}  // namespace warren::ctl
