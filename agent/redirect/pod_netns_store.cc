#include "agent/redirect/pod_netns_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/netns.h"
#include "common/sha256.h"

namespace warren::agent {

namespace {

using nlohmann::json;

// File names: a digest of "ns/name" (pod names may be 253 bytes, and a name from CNI_ARGS is
// never trusted as a path component).
std::string recordFileName(const std::string& ns, const std::string& name) {
  return sha256Hex(ns + "/" + name) + ".json";
}

}  // namespace

Result<std::pair<uint64_t, uint64_t>> netnsIdentity(int netns_fd) {
  struct stat st {};
  if (::fstat(netns_fd, &st) != 0) return fail(WARREN_SYS_ERROR("fstat of a netns fd"));
  return std::pair<uint64_t, uint64_t>{st.st_dev, st.st_ino};
}

Result<UniqueFd> openRecordedNetns(const PodNetnsRecord& record) {
  auto fd = openNetns(record.netns_path);
  if (!fd) return fail(fd.error().wrap("netns of " + record.key()));
  auto id = netnsIdentity(fd->get());
  if (!id) return fail(id.error());
  if (id->first != record.netns_dev || id->second != record.netns_inode)
    return fail(Error::invalid(
        fmt::format("netns of {}: {} is now another namespace (inode {}, recorded {})",
                    record.key(), record.netns_path, id->second, record.netns_inode)));
  return fd;
}

std::string PodNetnsStore::pathOf(const std::string& ns, const std::string& name) const {
  return dir_ + "/" + recordFileName(ns, name);
}

Status PodNetnsStore::save(const PodNetnsRecord& r) const {
  if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST)
    return fail(WARREN_SYS_ERROR("create " + dir_));
  const std::string path = pathOf(r.ns, r.name);
  const std::string tmp = path + ".tmp";
  // dump() with replacement: names come from CNI_ARGS and need not be UTF-8.
  const std::string text =
      json{{"namespace", r.ns},          {"name", r.name}, {"uid", r.uid},
           {"netns", r.netns_path},      {"ip", r.ip},     {"netnsDev", r.netns_dev},
           {"netnsInode", r.netns_inode}}
          .dump(-1, ' ', false, json::error_handler_t::replace) +
      "\n";
  {
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd) return fail(WARREN_SYS_ERROR("create " + tmp));
    if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
      return fail(WARREN_SYS_ERROR("write " + tmp));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail(WARREN_SYS_ERROR("rename " + tmp));
  return ok();
}

void PodNetnsStore::forget(const std::string& ns, const std::string& name) const {
  ::unlink(pathOf(ns, name).c_str());
}

std::vector<PodNetnsRecord> PodNetnsStore::load() const {
  std::vector<PodNetnsRecord> out;
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir_.c_str()), ::closedir);
  if (!d) return out;
  while (dirent* e = ::readdir(d.get())) {
    std::string file = e->d_name;
    if (file.size() < 6 || file.compare(file.size() - 5, 5, ".json") != 0) continue;
    std::ifstream in(dir_ + "/" + file);
    std::stringstream text;
    text << in.rdbuf();
    json j = json::parse(text.str(), nullptr, false);
    auto str = [&](const char* k) {
      return j.is_object() && j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : "";
    };
    auto num = [&](const char* k) -> uint64_t {
      return j.is_object() && j.contains(k) && j[k].is_number_unsigned() ? j[k].get<uint64_t>() : 0;
    };
    PodNetnsRecord r{str("namespace"), str("name"),     str("uid"),       str("netns"),
                     str("ip"),        num("netnsDev"), num("netnsInode")};
    if (r.ns.empty() || r.name.empty() || r.netns_path.empty() || r.netns_inode == 0) {
      spdlog::warn("pod netns records: {}/{} is not a record; ignored", dir_, file);
      continue;
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace warren::agent
