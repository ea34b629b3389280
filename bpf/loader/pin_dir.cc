#include "bpf/loader/pin_dir.h"

#include <bpf/bpf.h>
#include <dirent.h>
#include <linux/bpf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <memory>
#include <vector>

#include "common/log.h"

namespace warren::redirect {

namespace {

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};
using DirPtr = std::unique_ptr<DIR, DirCloser>;

std::vector<std::string> listDir(const std::string& dir) {
  std::vector<std::string> names;
  DirPtr d(::opendir(dir.c_str()));
  if (!d) return names;
  while (dirent* e = ::readdir(d.get())) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  return names;
}

bool isDecimalCookie(const std::string& name) {
  uint64_t cookie = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), cookie);
  return ec == std::errc() && end == name.data() + name.size();
}

bool isLinkFd(int fd) {
  bpf_link_info info{};
  uint32_t len = sizeof(info);
  return bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && info.id != 0 && info.type != 0;
}

Status removePinTree(const std::string& path) {
  struct stat st{};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return ok();
    return fail(WARREN_SYS_ERROR("stat " + path));
  }
  if (S_ISDIR(st.st_mode)) {
    for (const auto& name : listDir(path)) WARREN_TRY(removePinTree(path + "/" + name));
    // EBUSY: a mount point (a pin dir handed to a container as its own volume) stays, empty.
    if (::rmdir(path.c_str()) != 0 && errno != ENOENT && errno != EBUSY)
      return fail(WARREN_SYS_ERROR("rmdir " + path));
    return ok();
  }
  // A link pin: detach first, so the attachment ends even if someone else holds an fd.
  int fd = bpf_obj_get(path.c_str());
  if (fd >= 0) {
    UniqueFd owned(fd);
    if (path.find("/link_") != std::string::npos || path.find("/netns/") != std::string::npos) {
      if (isLinkFd(fd) && bpf_link_detach(fd) != 0 && errno != EINVAL && errno != ENOLINK) {
        return fail(WARREN_SYS_ERROR("detach link " + path));
      }
    }
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return fail(WARREN_SYS_ERROR("unlink " + path));
  return ok();
}

}  // namespace

std::string netnsLinkDir(const std::string& pin_dir) { return pin_dir + "/netns"; }

std::vector<PinEntry> listPins(const std::string& pin_dir) {
  std::vector<PinEntry> pins;
  std::vector<std::string> names = listDir(pin_dir);
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    const std::string path = pin_dir + "/" + name;
    struct stat st{};
    if (::lstat(path.c_str(), &st) != 0 || S_ISDIR(st.st_mode)) continue;
    pins.push_back({path, name.starts_with("link_")});
  }
  const std::string netns_dir = netnsLinkDir(pin_dir);
  names = listDir(netns_dir);
  std::sort(names.begin(), names.end());
  for (const auto& name : names)
    if (isDecimalCookie(name)) pins.push_back({netns_dir + "/" + name, true});
  return pins;
}

Status makePinDirs(const std::string& path) {
  std::string prefix;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    prefix = path.substr(0, pos);
    if (prefix.empty()) continue;
    if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST)
      return fail(WARREN_SYS_ERROR("mkdir " + prefix));
  }
  return ok();
}

std::string netnsLinkPath(const std::string& pin_dir, uint64_t netns_cookie) {
  return netnsLinkDir(pin_dir) + "/" + std::to_string(netns_cookie);
}

Result<UniqueFd> openPin(const std::string& path) {
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) {
    if (errno == ENOENT) return fail(Error::notFound("no pin " + path));
    return fail(WARREN_SYS_ERROR("open pin " + path));
  }
  return UniqueFd(fd);
}

Status dropPinnedMapOfAnotherShape(const std::string& path, uint32_t value_size,
                                   uint32_t max_entries) {
  auto fd = openPin(path);
  if (!fd) return fd.error().code() == ErrorCode::kNotFound ? ok() : fail(fd.error());
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd->get(), &info, &len) != 0)
    return fail(WARREN_SYS_ERROR("bpf map info " + path));
  if ((value_size == 0 || info.value_size == value_size) &&
      (max_entries == 0 || info.max_entries == max_entries))
    return ok();
  spdlog::warn("bpf: {} holds {} entries of {} bytes, this agent {} of {}: re-creating it", path,
               info.max_entries, info.value_size, max_entries, value_size);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return fail(WARREN_SYS_ERROR("unlink " + path));
  return ok();
}

// Not in Debian 12's <linux/bpf.h> (6.1): the sk_msg link type of Linux 6.10. Its link info
// is { __u32 map_id; __u32 attach_type; }, the same layout as the netns one.
constexpr uint32_t kBpfLinkTypeSockmap = 14;

Result<uint64_t> linkTargetId(int link_fd) {
  bpf_link_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(link_fd, &info, &len) != 0)
    return fail(WARREN_SYS_ERROR("bpf link info"));
  switch (info.type) {
    case BPF_LINK_TYPE_CGROUP:
      return info.cgroup.cgroup_id;
    case BPF_LINK_TYPE_NETNS:
      return static_cast<uint64_t>(info.netns.netns_ino);
    default:
      if (info.type == kBpfLinkTypeSockmap) return static_cast<uint64_t>(info.netns.netns_ino);
      return fail(Error::invalid("unexpected bpf link type " + std::to_string(info.type)));
  }
}

Result<std::map<uint64_t, bool>> readLookupLinks(const std::string& pin_dir) {
  std::map<uint64_t, bool> links;
  const std::string dir = netnsLinkDir(pin_dir);
  for (const auto& name : listDir(dir)) {
    uint64_t cookie = 0;
    auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), cookie);
    if (ec != std::errc() || end != name.data() + name.size()) continue;
    auto fd = openPin(dir + "/" + name);
    if (!fd) return fail(fd.error());
    auto target = linkTargetId(fd->get());
    if (!target) return fail(target.error().wrap(dir + "/" + name));
    links[cookie] = *target != 0;
  }
  return links;
}

Result<std::set<uint64_t>> readU64Keys(int map_fd) {
  std::set<uint64_t> keys;
  uint64_t key = 0;
  uint64_t next = 0;
  const void* prev = nullptr;
  // Bounded by the map size; a concurrent delete restarts from the first key at worst.
  for (int i = 0; i < 1 << 20; ++i) {
    if (bpf_map_get_next_key(map_fd, prev, &next) != 0) {
      if (errno == ENOENT) return keys;
      return fail(WARREN_SYS_ERROR("iterate map keys"));
    }
    keys.insert(next);
    key = next;
    prev = &key;
  }
  return fail(Error::invalid("map iteration did not end"));
}

Status uninstallPinDir(const std::string& pin_dir) {
  // Links first (they stop redirecting), then maps, then the directories.
  for (const auto& name : listDir(netnsLinkDir(pin_dir))) {
    WARREN_TRY(removePinTree(netnsLinkDir(pin_dir) + "/" + name));
  }
  for (const auto& name : listDir(pin_dir)) {
    if (name.starts_with("link_")) WARREN_TRY(removePinTree(pin_dir + "/" + name));
  }
  return removePinTree(pin_dir);
}

}  // namespace warren::redirect
