// Running programs for the lab: short commands whose output we need (ip, CNI plugins,
// openssl), and long-lived detached processes (pod containers, node components) placed in a
// network namespace and a cgroup before exec, exactly as a container runtime would.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"

namespace warren::lab {

// A bind mount made in a private mount namespace of the started process, before exec (how
// the lab gives a lab node's processes their "host" paths and a container its volumes).
struct BindMount {
  std::string source;  // a real path on this machine
  std::string target;  // where the process sees it
  bool read_only = false;
};

// The mount setup of a started process: `masks` (existing directories) are hidden behind an
// empty read-only tmpfs first, then `mounts` are bound in order. Nothing when both are empty.
struct MountSetup {
  std::vector<BindMount> mounts;
  std::vector<std::string> masks;
  bool empty() const { return mounts.empty() && masks.empty(); }
};

struct CommandResult {
  int exit_code = -1;  // 128+signal when killed by a signal
  std::string out;
  std::string err;
};

struct CommandSpec {
  std::vector<std::string> argv;                          // argv[0] is a path or looked up in PATH
  std::optional<std::map<std::string, std::string>> env;  // replaces the environment when set
  std::string stdin_data;
  std::string netns_path;  // run inside this netns when not empty
  MountSetup mounts = {};  // in a private mount namespace when not empty
  std::chrono::milliseconds timeout{30000};
};

// Runs to completion (killed at the timeout), capturing stdout and stderr.
Result<CommandResult> runCommand(const CommandSpec& spec);

// Runs and fails with a message carrying stderr when the exit code is not 0.
Status runChecked(const std::vector<std::string>& argv,
                  std::chrono::milliseconds timeout = std::chrono::milliseconds(30000));

struct DetachedSpec {
  std::vector<std::string> argv;  // argv[0] already resolved to a path
  std::string netns_path;         // may be empty
  std::string cgroup_dir;         // the process joins it before exec; may be empty
  std::string log_path;           // stdout+stderr appended here
  std::vector<std::pair<std::string, std::string>> env = {};  // added to our environment
  MountSetup mounts = {};  // in a private mount namespace when not empty
};

// Starts a process in its own session, reparented away from us (double fork), so it outlives
// the CLI. Returns its PID once it has exec'd; exec failures come back as errors.
Result<pid_t> spawnDetached(const DetachedSpec& spec);

// Creates every mount target that does not exist yet (mkdir -p on this machine: a bind needs
// a directory to land on).
Status prepareMountTargets(const MountSetup& mounts);

// Runs in the foreground with our stdio (for `exec`), returning the exit code; with `mounts`
// in a private mount namespace, as a started container (targets made as spawnDetached does).
Result<int> runForeground(const std::vector<std::string>& argv, const std::string& netns_path,
                          const std::string& cgroup_dir, const MountSetup& mounts = {});

// The first word of a container command: the lab's bin dir first, then PATH.
Result<std::string> resolveProgram(const std::string& word, const std::string& bin_dir);

// Directory holding the running executable (where warren-agent etc. live too).
std::string selfBinDir();

bool processAlive(pid_t pid);

}  // namespace warren::lab
