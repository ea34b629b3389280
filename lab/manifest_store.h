// The directory that plays the API server: one object per file in <dir>/manifests, written
// atomically (a dot-file renamed into place), so readers (the agent's inotify watch) never see
// half an object. Readers ignore dot-files.
#pragma once

#include <string>
#include <vector>

#include "common/error.h"
#include "common/k8s/object.h"

namespace warren::lab {

class ManifestStore {
 public:
  explicit ManifestStore(std::string dir) : dir_(std::move(dir)) {}

  const std::string& dir() const { return dir_; }

  // "Pod_default_web-1.yaml", "Namespace__demo.yaml": kind, namespace, name joined by '_',
  // which no Kubernetes name contains. Pure.
  static std::string fileNameFor(const k8s::Object& obj);

  // Every stored object, in file name order (kind, namespace, name).
  Result<std::vector<k8s::Object>> loadAll() const;
  Status put(const k8s::Object& obj) const;
  // Missing is fine.
  Status remove(const k8s::Object& obj) const;

 private:
  std::string dir_;
};

}  // namespace warren::lab
