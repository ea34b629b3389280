// Root-only fixtures for the BPF tests: a throw-away cgroup the test process moves into, a
// fresh network namespace with lo up, and a pin directory removed (with every link) at the
// end. Everything is undone in destructors, also when a test fails.
#pragma once

#include <string>

#include "common/unique_fd.h"

namespace warren::redirect::testing {

// A cgroup under the cgroup2 mount; the whole test process moves in, and back out on exit.
class TempCgroup {
 public:
  TempCgroup();
  ~TempCgroup();
  bool ok() const { return ok_; }
  const std::string& path() const { return path_; }
  void enter();  // moves this process in

 private:
  std::string path_;
  std::string original_;
  bool entered_ = false;
  bool ok_ = false;
};

// A new netns (created on a helper thread, kept alive by the fd) with "lo" up.
UniqueFd makeNetns();

// /sys/fs/bpf/warren-test-<pid>-<n>; uninstalled (links detached, pins removed) on exit.
class TempPinDir {
 public:
  TempPinDir();
  ~TempPinDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace warren::redirect::testing
