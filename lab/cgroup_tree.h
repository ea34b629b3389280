// cgroup v2 directories the lab owns: create, list members, kill every process inside
// (cgroup.kill, which also catches children that double-forked away), remove bottom-up.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "common/error.h"

namespace warren::lab {

class CgroupTree {
 public:
  // mkdir -p under an existing cgroup2 mount.
  static Status create(const std::string& dir);
  static bool exists(const std::string& dir);
  // PIDs in this cgroup only (not descendants).
  static std::vector<pid_t> procs(const std::string& dir);
  // PIDs in this cgroup and every descendant.
  static std::vector<pid_t> procsRecursive(const std::string& dir);
  // SIGKILLs everything in the subtree and waits (bounded) until it is empty.
  static Status kill(const std::string& dir,
                     std::chrono::milliseconds wait = std::chrono::milliseconds(5000));
  // Signals the processes of this cgroup only.
  static void signalAll(const std::string& dir, int sig);
  // Waits (bounded) until the subtree has no processes; true when empty.
  static bool waitEmpty(const std::string& dir, std::chrono::milliseconds wait);
  // kill() then rmdir of the subtree, deepest first. Missing dir is fine.
  static Status remove(const std::string& dir);
};

}  // namespace warren::lab
