#include "agent/config/manifest_dir_informer.h"

#include <dirent.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <vector>

namespace warren::agent {

bool isManifestFileName(const std::string& name) {
  return !name.empty() && name[0] != '.' && name.back() != '~';
}

ManifestDirInformer::ManifestDirInformer(std::string dir) : dir_(std::move(dir)) {}

ManifestDirInformer::~ManifestDirInformer() { stop(); }

Status ManifestDirInformer::start(UpdateCallback cb) {
  struct stat st{};
  if (::stat(dir_.c_str(), &st) != 0) return fail(WARREN_SYS_ERROR("manifest directory " + dir_));
  if (!S_ISDIR(st.st_mode)) return fail(Error::invalid("manifest directory " + dir_ + ": not a directory"));
  inotify_fd_.reset(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  if (!inotify_fd_) return fail(WARREN_SYS_ERROR("inotify_init1"));
  // Watch before the first scan so nothing written in between is missed.
  if (::inotify_add_watch(inotify_fd_.get(), dir_.c_str(),
                          IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE |
                              IN_DELETE_SELF | IN_MOVE_SELF) < 0)
    return fail(WARREN_SYS_ERROR("inotify_add_watch " + dir_));
  stop_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop_fd_) return fail(WARREN_SYS_ERROR("eventfd"));
  cb_ = std::move(cb);
  cb_(scanAll());
  thread_ = std::thread([this] { run(); });
  return ok();
}

void ManifestDirInformer::stop() {
  if (!thread_.joinable()) return;
  uint64_t one = 1;
  if (::write(stop_fd_.get(), &one, sizeof one) < 0) spdlog::error("manifest informer: wake failed");
  thread_.join();
}

ConfigUpdate ManifestDirInformer::scanAll() {
  file_keys_.clear();
  key_owner_.clear();
  ConfigUpdate all;
  all.replace_all = true;
  std::vector<std::string> names;
  if (DIR* d = ::opendir(dir_.c_str())) {
    while (dirent* e = ::readdir(d)) {
      if (isManifestFileName(e->d_name)) names.emplace_back(e->d_name);
    }
    ::closedir(d);
  } else {
    all.errors.push_back(WARREN_SYS_ERROR("opendir " + dir_));
  }
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    ConfigUpdate one = rescanFile(name);
    for (auto& o : one.upserts) all.upserts.push_back(std::move(o));
    for (auto& e : one.errors) all.errors.push_back(std::move(e));
  }
  return all;
}

ConfigUpdate ManifestDirInformer::rescanFile(const std::string& name) {
  ConfigUpdate u;
  const std::string path = dir_ + "/" + name;
  struct stat st{};
  bool present = ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
  std::vector<k8s::Object> objects;
  if (present) {
    auto parsed = k8s::loadManifestFile(path);
    if (!parsed) {
      // Gone between stat and open is a delete; anything else keeps the last good state.
      if (parsed.error().sysErrno() == ENOENT) {
        present = false;
      } else {
        u.errors.push_back(parsed.error());
        return u;
      }
    } else {
      objects = std::move(*parsed);
    }
  }
  std::set<std::string> now;
  for (k8s::Object& obj : objects) {
    std::string key = obj.key();
    now.insert(key);
    key_owner_[key] = name;
    u.upserts.push_back(std::move(obj));
  }
  for (const std::string& old : file_keys_[name]) {
    if (now.count(old)) continue;
    auto owner = key_owner_.find(old);
    if (owner == key_owner_.end() || owner->second != name) continue;
    key_owner_.erase(owner);
    u.deletes.push_back(old);
  }
  if (now.empty()) {
    file_keys_.erase(name);
  } else {
    file_keys_[name] = std::move(now);
  }
  return u;
}

void ManifestDirInformer::run() {
  alignas(inotify_event) char buf[16384];
  for (;;) {
    pollfd fds[2] = {{inotify_fd_.get(), POLLIN, 0}, {stop_fd_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("manifest informer: {}", WARREN_SYS_ERROR("poll").message());
      return;
    }
    if (fds[1].revents) return;
    ssize_t n = ::read(inotify_fd_.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      spdlog::error("manifest informer: {}", WARREN_SYS_ERROR("read inotify").message());
      return;
    }
    // Coalesce one read's worth of events into one update: a rename-over produces several.
    std::set<std::string> changed;
    bool rescan = false;
    for (ssize_t off = 0; off < n;) {
      const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
      off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
      if (ev->mask & IN_Q_OVERFLOW) rescan = true;
      if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
        spdlog::error("manifest directory {} was removed; keeping the last known state", dir_);
        continue;
      }
      if (ev->len == 0) continue;
      std::string name(ev->name);
      if (!isManifestFileName(name)) continue;
      // IN_CREATE alone is followed by IN_CLOSE_WRITE; reading now would see an empty file.
      if ((ev->mask & ~IN_ISDIR) == IN_CREATE) continue;
      changed.insert(name);
    }
    ConfigUpdate u;
    if (rescan) {
      spdlog::warn("manifest directory {}: inotify queue overflow, re-reading everything", dir_);
      u = scanAll();
    } else {
      for (const std::string& name : changed) {
        ConfigUpdate one = rescanFile(name);
        for (auto& o : one.upserts) u.upserts.push_back(std::move(o));
        for (auto& d : one.deletes) u.deletes.push_back(std::move(d));
        for (auto& e : one.errors) u.errors.push_back(std::move(e));
      }
    }
    if (!u.empty() || !u.errors.empty()) cb_(std::move(u));
  }
}

}  // namespace warren::agent
