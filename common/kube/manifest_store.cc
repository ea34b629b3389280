#include "common/kube/manifest_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace warren::kube {
namespace fs = std::filesystem;

namespace {

// What generation tracks: the document without metadata and status.
std::string specIdentity(const k8s::Object& obj) {
  YAML::Node c = YAML::Clone(obj.node);
  if (c.IsMap()) {
    c.remove("metadata");
    c.remove("status");
    c.remove("apiVersion");
    c.remove("kind");
  }
  YAML::Emitter e;
  e << c;
  return e.c_str();
}

YAML::Node statusOf(const k8s::Object& obj) {
  if (!obj.node.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  const YAML::Node& c = obj.node;
  YAML::Node s = c["status"];
  if (!s.IsDefined()) return YAML::Node(YAML::NodeType::Undefined);
  return YAML::Clone(s);
}

bool matchesSelector(const k8s::Labels& selector, const k8s::Labels& labels) {
  for (const auto& [k, v] : selector) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  return true;
}

Status writeFileAtomically(const std::string& final_path, const std::string& tmp,
                           const std::string& text) {
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fail(WARREN_SYS_ERROR("create " + tmp));
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      auto e = WARREN_SYS_ERROR("write " + tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return fail(e);
    }
    off += static_cast<size_t>(n);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
    auto e = WARREN_SYS_ERROR("rename " + tmp + " to " + final_path);
    ::unlink(tmp.c_str());
    return fail(e);
  }
  return ok();
}

}  // namespace

std::string randomUid() {
  static thread_local std::random_device rd;
  std::uniform_int_distribution<int> d(0, 15);
  const char* hex = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 32; ++i) {
    int v = d(rd);
    if (i == 12) v = 4;
    if (i == 16) v = 8 | (v & 3);
    s.push_back(hex[v]);
    if (i == 7 || i == 11 || i == 15 || i == 19) s.push_back('-');
  }
  return s;
}

std::string ManifestStore::fileNameFor(const k8s::Object& obj) {
  return obj.kind + "_" + obj.meta.namespace_ + "_" + obj.meta.name + ".yaml";
}

std::string ManifestStore::pathOf(const std::string& kind, const std::string& ns,
                                  const std::string& name) const {
  return dir_ + "/" + kind + "_" + ns + "_" + name + ".yaml";
}

ManifestStore::Lock::~Lock() {
  if (store_) store_->release();
}

Status ManifestStore::acquire() {
  if (lock_depth_++ > 0) return ok();
  const std::string path = dir_ + "/.lock";
  lock_fd_.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!lock_fd_) {
    lock_depth_ = 0;
    return fail(WARREN_SYS_ERROR("open " + path));
  }
  // Writers hold it for one read-modify-write of a few files: waiting is short.
  while (::flock(lock_fd_.get(), LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    auto e = WARREN_SYS_ERROR("flock " + path);
    lock_fd_.reset();
    lock_depth_ = 0;
    return fail(e);
  }
  return ok();
}

void ManifestStore::release() {
  if (lock_depth_ > 0 && --lock_depth_ == 0) lock_fd_.reset();  // closing drops the flock
}

Result<ManifestStore::Lock> ManifestStore::lock() {
  WARREN_TRY(acquire());
  return Lock(this);
}

template <class Fn>
auto ManifestStore::locked(Fn&& fn) -> decltype(fn()) {
  if (auto s = acquire(); !s) return fail(s.error());
  Lock guard(this);
  return fn();
}

Result<std::string> ManifestStore::nextResourceVersion() {
  const std::string path = dir_ + "/.resource-version";
  uint64_t current = 0;
  {
    std::ifstream in(path);
    if (in) in >> current;
  }
  const std::string next = std::to_string(current + 1);
  WARREN_TRY(writeFileAtomically(path, dir_ + "/.resource-version.tmp", next + "\n"));
  return next;
}

Result<std::vector<k8s::Object>> ManifestStore::loadAll() const {
  std::vector<k8s::Object> out;
  std::error_code ec;
  std::vector<std::string> files;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    std::string n = it->path().filename().string();
    if (n.empty() || n.front() == '.' || !it->is_regular_file(ec)) continue;
    files.push_back(it->path().string());
  }
  if (ec) return fail(Error::system(ec.value(), "list manifests in " + dir_));
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    auto objs = k8s::loadManifestFile(f);
    if (!objs) {
      // Removed between listing and reading: not an error.
      if (objs.error().sysErrno() == ENOENT) continue;
      return fail(objs.error());
    }
    for (auto& o : *objs) out.push_back(std::move(o));
  }
  return out;
}

Result<std::optional<k8s::Object>> ManifestStore::read(const std::string& kind,
                                                       const std::string& ns,
                                                       const std::string& name) const {
  auto objs = k8s::loadManifestFile(pathOf(kind, ns, name));
  if (!objs) {
    if (objs.error().sysErrno() == ENOENT) return std::optional<k8s::Object>();
    return fail(objs.error());
  }
  for (auto& o : *objs)
    if (o.kind == kind && o.meta.namespace_ == ns && o.meta.name == name)
      return std::optional<k8s::Object>(std::move(o));
  return std::optional<k8s::Object>();
}

Result<k8s::Object> ManifestStore::write(k8s::Object obj, const k8s::Object* stored) {
  if (stored) {
    if (obj.meta.uid.empty()) obj.meta.uid = stored->meta.uid;
    if (obj.meta.creation_timestamp.empty())
      obj.meta.creation_timestamp = stored->meta.creation_timestamp;
    obj.meta.generation = std::max<int64_t>(stored->meta.generation, 1);
    if (specIdentity(obj) != specIdentity(*stored)) obj.meta.generation++;
  } else {
    if (obj.meta.uid.empty()) obj.meta.uid = randomUid();
    if (obj.meta.creation_timestamp.empty())
      obj.meta.creation_timestamp = rfc3339(std::chrono::system_clock::now());
    obj.meta.generation = 1;
  }
  auto rv = nextResourceVersion();
  if (!rv) return fail(rv.error());
  obj.meta.resource_version = *rv;
  WARREN_TRY(writeFileAtomically(dir_ + "/" + fileNameFor(obj),
                                 dir_ + "/." + fileNameFor(obj) + ".tmp", k8s::toYaml(obj)));
  // Reflect the stamped metadata in the document, as a read would return it.
  auto reread = k8s::parseManifests(k8s::toYaml(obj), dir_ + "/" + fileNameFor(obj));
  if (!reread || reread->size() != 1) return obj;
  return std::move(reread->front());
}

Status ManifestStore::put(const k8s::Object& obj) {
  return locked([&]() -> Status {
    auto stored = read(obj.kind, obj.meta.namespace_, obj.meta.name);
    if (!stored) return fail(stored.error());
    auto w = write(obj, *stored ? &**stored : nullptr);
    if (!w) return fail(w.error());
    return ok();
  });
}

Status ManifestStore::remove(const k8s::Object& obj) {
  return locked([&]() -> Status {
    std::string path = dir_ + "/" + fileNameFor(obj);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
      return fail(WARREN_SYS_ERROR("remove " + path));
    return ok();
  });
}

Result<k8s::Object> ManifestStore::get(const ObjectRef& ref) {
  auto stored = read(ref.kind, ref.namespace_, ref.name);
  if (!stored) return fail(stored.error());
  if (!*stored) return fail(Error::notFound(ref.describe() + " not found in " + dir_));
  return std::move(**stored);
}

Result<std::vector<k8s::Object>> ManifestStore::list(const std::string& api_version,
                                                     const std::string& kind,
                                                     const std::string& namespace_,
                                                     const k8s::Labels& selector) {
  auto all = loadAll();
  if (!all) return fail(all.error());
  std::vector<k8s::Object> out;
  for (auto& o : *all) {
    if (o.kind != kind || (!api_version.empty() && o.api_version != api_version)) continue;
    if (!namespace_.empty() && o.meta.namespace_ != namespace_) continue;
    if (!matchesSelector(selector, o.meta.labels)) continue;
    out.push_back(std::move(o));
  }
  return out;
}

Result<k8s::Object> ManifestStore::create(const k8s::Object& obj) {
  return locked([&]() -> Result<k8s::Object> {
    auto stored = read(obj.kind, obj.meta.namespace_, obj.meta.name);
    if (!stored) return fail(stored.error());
    if (*stored) return fail(Error(ErrorCode::kAlreadyExists, obj.describe() + " already exists"));
    k8s::Object fresh = obj;
    fresh.meta.uid.clear();
    fresh.meta.creation_timestamp.clear();
    return write(std::move(fresh), nullptr);
  });
}

Result<k8s::Object> ManifestStore::update(const k8s::Object& obj) {
  return locked([&]() -> Result<k8s::Object> {
    auto stored = read(obj.kind, obj.meta.namespace_, obj.meta.name);
    if (!stored) return fail(stored.error());
    if (!*stored) return fail(Error::notFound(obj.describe() + " not found"));
    const k8s::Object& cur = **stored;
    if (!obj.meta.resource_version.empty() &&
        obj.meta.resource_version != cur.meta.resource_version)
      return fail(Error(ErrorCode::kConflict, obj.describe() + " changed (resourceVersion " +
                                                  cur.meta.resource_version + ", not " +
                                                  obj.meta.resource_version + ")"));
    k8s::Object next = obj;
    next.meta.uid = cur.meta.uid;
    next.meta.creation_timestamp = cur.meta.creation_timestamp;
    next.node.remove("status");  // status is not updated through update
    if (YAML::Node st = statusOf(cur); st.IsDefined()) next.node["status"] = st;
    return write(std::move(next), &cur);
  });
}

Result<k8s::Object> ManifestStore::updateStatus(const k8s::Object& obj) {
  return locked([&]() -> Result<k8s::Object> {
    auto stored = read(obj.kind, obj.meta.namespace_, obj.meta.name);
    if (!stored) return fail(stored.error());
    if (!*stored) return fail(Error::notFound(obj.describe() + " not found"));
    k8s::Object cur = std::move(**stored);
    if (!obj.meta.resource_version.empty() &&
        obj.meta.resource_version != cur.meta.resource_version)
      return fail(Error(ErrorCode::kConflict, obj.describe() + " changed (resourceVersion " +
                                                  cur.meta.resource_version + ", not " +
                                                  obj.meta.resource_version + ")"));
    k8s::Object next = cur;
    next.node.remove("status");
    if (YAML::Node st = statusOf(obj); st.IsDefined()) next.node["status"] = st;
    return write(std::move(next), &cur);
  });
}

Status ManifestStore::remove(const ObjectRef& ref, const std::string& uid) {
  return locked([&]() -> Status {
    auto stored = read(ref.kind, ref.namespace_, ref.name);
    if (!stored) return fail(stored.error());
    if (!*stored) return fail(Error::notFound(ref.describe() + " not found"));
    if (!uid.empty() && (*stored)->meta.uid != uid)
      return fail(Error(ErrorCode::kConflict, ref.describe() + " was replaced (uid " +
                                                  (*stored)->meta.uid + ", not " + uid + ")"));
    const std::string path = pathOf(ref.kind, ref.namespace_, ref.name);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
      return fail(WARREN_SYS_ERROR("remove " + path));
    return ok();
  });
}

}  // namespace warren::kube
