#include "lab/manifest_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

namespace warren::lab {
namespace fs = std::filesystem;

std::string ManifestStore::fileNameFor(const k8s::Object& obj) {
  return obj.kind + "_" + obj.meta.namespace_ + "_" + obj.meta.name + ".yaml";
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
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.key() < b.key(); });
  return out;
}

Status ManifestStore::put(const k8s::Object& obj) const {
  std::string final_path = dir_ + "/" + fileNameFor(obj);
  std::string tmp = dir_ + "/." + fileNameFor(obj) + ".tmp";
  std::string text = k8s::toYaml(obj);
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

Status ManifestStore::remove(const k8s::Object& obj) const {
  std::string path = dir_ + "/" + fileNameFor(obj);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return fail(WARREN_SYS_ERROR("remove " + path));
  return ok();
}

}  // namespace warren::lab
