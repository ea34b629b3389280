// Where each pod's network namespace is, as CNI told the agent: one record per CNI ADD, kept
// in <run-dir>/pods/ (root-only, like the run dir) so a restarted agent finds the netns of
// pods that already run without asking anyone else. Nothing is guessed: a pod's netns is the
// path its CNI ADD named, and only if the namespace found there now is the very one recorded
// (device and inode), so a path reused by another netns is never taken for the pod.
//
// This replaces matching pod IPs against every netns on the machine, which let an agent pick
// a netns of another cluster (another lab) that used the same pod range.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"

namespace warren::agent {

struct PodNetnsRecord {
  std::string ns, name, uid;
  std::string netns_path;  // CNI_NETNS of the ADD
  std::string ip;          // the first pod IP CNI reported ("" when none)
  uint64_t netns_dev = 0;  // identity of the netns the path named at ADD time
  uint64_t netns_inode = 0;

  std::string key() const { return ns + "/" + name; }
  bool operator==(const PodNetnsRecord&) const = default;
};

// Opens the record's netns and checks it is the one recorded. Errors say which of the two
// failed: the path is gone (the pod was deleted) or names another netns now.
Result<UniqueFd> openRecordedNetns(const PodNetnsRecord& record);

// The device and inode of an open netns fd (what a record keeps).
Result<std::pair<uint64_t, uint64_t>> netnsIdentity(int netns_fd);

class PodNetnsStore {
 public:
  // Records live in `dir` (created 0700 on first save).
  explicit PodNetnsStore(std::string dir) : dir_(std::move(dir)) {}
  // The agent's records under its run dir (`warren-agent uninstall --run-dir` removes them).
  static std::string dirIn(const std::string& run_dir) { return run_dir + "/pods"; }

  // Writes (or replaces) the record of `record.key()` atomically.
  Status save(const PodNetnsRecord& record) const;
  // Removes the record of pod "ns/name"; a missing record is fine.
  void forget(const std::string& ns, const std::string& name) const;
  // Every readable record; files that do not parse are skipped with a warning.
  std::vector<PodNetnsRecord> load() const;

  const std::string& dir() const { return dir_; }

 private:
  std::string pathOf(const std::string& ns, const std::string& name) const;
  std::string dir_;
};

}  // namespace warren::agent
