// The directory that plays the API server (the lab's <dir>/manifests, the agent's --manifests):
// one object per file, written atomically (a dot-file renamed into place), so readers (the
// agent's inotify watch) never see half an object. Readers ignore dot-files.
//
// Several processes write it: the lab CLI (apply, label, the kubelet) and the agents' waypoint
// controller. Every write happens under an flock on <dir>/.lock, and the store keeps the API
// server's bookkeeping so those writers cannot lose each other's changes: a store-wide
// resourceVersion counter (<dir>/.resource-version) stamped on every write, uid and
// creationTimestamp on creation, generation bumped when the spec changes; update/updateStatus
// are conditional on resourceVersion (ObjectStore). `put` is the lab's unconditional write
// (apply semantics: it keeps uid and creationTimestamp of what it replaces).
#pragma once

#include <string>
#include <vector>

#include "common/error.h"
#include "common/k8s/object.h"
#include "common/kube/object_store.h"
#include "common/unique_fd.h"

namespace warren::kube {

class ManifestStore : public ObjectStore {
 public:
  explicit ManifestStore(std::string dir) : dir_(std::move(dir)) {}

  const std::string& dir() const { return dir_; }

  // "Pod_default_web-1.yaml", "Namespace__demo.yaml": kind, namespace, name joined by '_',
  // which no Kubernetes name contains. Pure.
  static std::string fileNameFor(const k8s::Object& obj);

  // Holds the store's lock until destroyed, so a read-modify-write of several objects (the
  // lab's apply) is atomic for the other writers. Operations of this store object take the
  // lock themselves unless a Lock of it is alive. Not shared between threads.
  class Lock {
   public:
    Lock(Lock&& other) noexcept : store_(std::exchange(other.store_, nullptr)) {}
    ~Lock();

   private:
    friend class ManifestStore;
    explicit Lock(ManifestStore* store) : store_(store) {}
    ManifestStore* store_;
  };
  Result<Lock> lock();

  // Every stored object, in file name order (kind, namespace, name).
  Result<std::vector<k8s::Object>> loadAll() const;
  // Writes `obj` as given, whatever is stored (stamping resourceVersion, keeping the stored
  // uid/creationTimestamp when `obj` has none, bumping generation on a spec change).
  Status put(const k8s::Object& obj);
  // Missing is fine.
  Status remove(const k8s::Object& obj);

  // ObjectStore
  Result<k8s::Object> get(const ObjectRef& ref) override;
  Result<std::vector<k8s::Object>> list(const std::string& api_version, const std::string& kind,
                                        const std::string& namespace_,
                                        const k8s::Labels& selector) override;
  Result<k8s::Object> create(const k8s::Object& obj) override;
  Result<k8s::Object> update(const k8s::Object& obj) override;
  Result<k8s::Object> updateStatus(const k8s::Object& obj) override;
  Status remove(const ObjectRef& ref, const std::string& uid = "") override;
  std::string describe() const override { return "manifest directory " + dir_; }

 private:
  // Runs `fn` under the lock (taking it unless a Lock is alive).
  template <class Fn>
  auto locked(Fn&& fn) -> decltype(fn());
  Status acquire();
  void release();
  std::string pathOf(const std::string& kind, const std::string& ns, const std::string& name) const;
  Result<std::optional<k8s::Object>> read(const std::string& kind, const std::string& ns,
                                          const std::string& name) const;
  Result<std::string> nextResourceVersion();
  // Stamps bookkeeping from `stored` (may be null) and writes the file.
  Result<k8s::Object> write(k8s::Object obj, const k8s::Object* stored);

  std::string dir_;
  UniqueFd lock_fd_;
  int lock_depth_ = 0;
};

// A new RFC 4122 version-4 UID.
std::string randomUid();

}  // namespace warren::kube
