// Informer over a directory of Kubernetes manifests (the embedded default config source and
// the lab's API server). Every regular file whose name does not start with '.' is read as
// YAML (one or more objects); writers put a dot-file and rename it into place, so a reader
// never sees half a file. inotify reports close-after-write, rename in/out and delete; each
// changed file is re-read and diffed against what it held before. A file that does not parse
// is logged and its objects keep their last good version.
#pragma once

#include <atomic>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "agent/config/informer.h"
#include "common/unique_fd.h"

namespace warren::agent {

class ManifestDirInformer : public Informer {
 public:
  explicit ManifestDirInformer(std::string dir);
  ~ManifestDirInformer() override;

  Status start(UpdateCallback cb) override;
  void stop() override;
  std::string describe() const override { return "manifest directory " + dir_; }

 private:
  // Re-reads every file: the replace_all update sent at start and after an inotify overflow.
  ConfigUpdate scanAll();
  // Re-reads one file (or notes its removal) and returns the diff against its last contents.
  ConfigUpdate rescanFile(const std::string& name);
  void run();

  std::string dir_;
  UniqueFd inotify_fd_;
  UniqueFd stop_fd_;  // eventfd that wakes run() on stop()
  UpdateCallback cb_;
  std::thread thread_;
  // Object keys each file provided at its last good read, and which file owns each key (the
  // latest writer wins when two files name the same object).
  std::map<std::string, std::set<std::string>> file_keys_;
  std::map<std::string, std::string> key_owner_;
};

// Is `name` a file the informer reads? (Not a dot-file, not an editor backup.)
bool isManifestFileName(const std::string& name);

}  // namespace warren::agent
