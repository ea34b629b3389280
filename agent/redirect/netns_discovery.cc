#include "agent/redirect/netns_discovery.h"

#include <dirent.h>
#include <sys/stat.h>

#include <set>
#include <vector>

#include "bpf/loader/inbound_registration.h"
#include "common/netns.h"

namespace warren::agent {

namespace {

std::vector<std::string> candidates() {
  std::vector<std::string> out;
  if (DIR* d = ::opendir("/run/netns")) {
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.') out.push_back(std::string("/run/netns/") + e->d_name);
    }
    ::closedir(d);
  }
  if (DIR* d = ::opendir("/proc")) {
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] >= '1' && e->d_name[0] <= '9') out.push_back(std::string("/proc/") + e->d_name + "/ns/net");
    }
    ::closedir(d);
  }
  return out;
}

}  // namespace

std::map<net::IpAddress, std::string> scanNetnsByAddress() {
  std::map<net::IpAddress, std::string> by_ip;
  std::set<std::pair<dev_t, ino_t>> seen;
  for (const auto& path : candidates()) {
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0) continue;
    if (!seen.insert({st.st_dev, st.st_ino}).second) continue;
    auto guard = NetnsGuard::enter(path);
    if (!guard) continue;
    auto addrs = redirect::localAddresses();
    if (!addrs) continue;
    for (const auto& a : *addrs) by_ip.emplace(a, path);
  }
  return by_ip;
}

}  // namespace warren::agent
