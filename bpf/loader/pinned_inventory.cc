#include "bpf/loader/pinned_inventory.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <memory>
#include <optional>

#include "bpf/loader/pin_dir.h"
#include "warren_abi.h"

namespace warren::redirect {

namespace {

// Reads one pinned link; nullopt (not an error) when the pin is something else.
Result<std::optional<PinnedLink>> readLink(const std::string& path) {
  auto fd = openPin(path);
  if (!fd) return fail(fd.error());
  bpf_link_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd->get(), &info, &len) != 0 || info.id == 0 || info.type == 0)
    return std::optional<PinnedLink>{};
  PinnedLink l;
  l.id = info.id;
  l.pin = path;
  l.prog_id = info.prog_id;
  const char* type = libbpf_bpf_link_type_str(static_cast<bpf_link_type>(info.type));
  l.type = type ? type : "type " + std::to_string(info.type);
  if (info.type == BPF_LINK_TYPE_CGROUP) {
    l.cgroup_id = info.cgroup.cgroup_id;
    l.attach_type = attachTypeName(info.cgroup.attach_type);
  } else if (info.type == BPF_LINK_TYPE_NETNS) {
    l.netns_ino = info.netns.netns_ino;
    l.attach_type = attachTypeName(info.netns.attach_type);
  }
  return std::optional<PinnedLink>(std::move(l));
}

// The full name of the program's main function from its BTF ("" when it has none): the
// kernel's own name field stops at 15 characters ("warren_sk_looku"), bpftool shows this one.
std::string btfName(int prog_fd, const bpf_prog_info& info) {
  if (info.btf_id == 0 || info.nr_func_info == 0) return "";
  std::vector<bpf_func_info> funcs(info.nr_func_info);
  bpf_prog_info again{};
  again.nr_func_info = info.nr_func_info;
  again.func_info_rec_size = sizeof(bpf_func_info);
  again.func_info = reinterpret_cast<uintptr_t>(funcs.data());
  uint32_t len = sizeof(again);
  if (bpf_obj_get_info_by_fd(prog_fd, &again, &len) != 0) return "";
  struct BtfDeleter {
    void operator()(btf* b) const { btf__free(b); }
  };
  std::unique_ptr<btf, BtfDeleter> b(btf__load_from_kernel_by_id(info.btf_id));
  if (!b) return "";
  const btf_type* t = btf__type_by_id(b.get(), funcs[0].type_id);
  if (!t) return "";
  const char* name = btf__name_by_offset(b.get(), t->name_off);
  return name ? name : "";
}

// The program's name: from BTF when available, else the kernel's (truncated) one.
void describeProgram(uint32_t prog_id, LoadedProgram& out) {
  out.id = prog_id;
  int fd = bpf_prog_get_fd_by_id(prog_id);
  if (fd < 0) return;
  UniqueFd owned(fd);
  bpf_prog_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(owned.get(), &info, &len) != 0) return;
  out.name = info.name;
  if (std::string full = btfName(owned.get(), info); full.rfind(out.name, 0) == 0)
    out.name = std::move(full);
}

}  // namespace

std::string attachTypeName(uint32_t attach_type) {
  switch (attach_type) {
    case BPF_CGROUP_INET4_CONNECT:
      return "cgroup/connect4";
    case BPF_CGROUP_INET6_CONNECT:
      return "cgroup/connect6";
    case BPF_CGROUP_SOCK_OPS:
      return "sockops";
    case BPF_CGROUP_GETSOCKOPT:
      return "cgroup/getsockopt";
    case BPF_SK_LOOKUP:
      return "sk_lookup";
    case BPF_SK_MSG_VERDICT:
      return "sk_msg";
    default: {
      const char* s = libbpf_bpf_attach_type_str(static_cast<bpf_attach_type>(attach_type));
      return s ? s : "attach type " + std::to_string(attach_type);
    }
  }
}

Result<PinnedInventory> readPinnedInventory(const std::string& pin_dir) {
  struct stat st{};
  if (::stat(pin_dir.c_str(), &st) != 0) {
    if (errno == ENOENT) return fail(Error::notFound("no pin directory " + pin_dir));
    return fail(WARREN_SYS_ERROR("stat " + pin_dir));
  }
  PinnedInventory inv;
  std::vector<std::string> paths;
  for (const auto& pin : listPins(pin_dir))
    if (pin.link) paths.push_back(pin.path);
  const std::string netns_dir = netnsLinkDir(pin_dir);

  std::map<uint32_t, LoadedProgram> programs;
  for (const auto& path : paths) {
    auto link = readLink(path);
    if (!link) {
      if (link.error().code() == ErrorCode::kNotFound) continue;  // removed meanwhile
      return fail(link.error());
    }
    if (!*link) continue;
    PinnedLink l = std::move(**link);
    if (l.type == "netns") {
      const std::string name = path.substr(netns_dir.size() + 1);
      std::from_chars(name.data(), name.data() + name.size(), l.netns_cookie);
    }
    LoadedProgram& p = programs[l.prog_id];
    if (p.id == 0) {
      describeProgram(l.prog_id, p);
      p.attach_type = l.attach_type;
    }
    l.program = p.name;
    inv.links.push_back(std::move(l));
  }
  for (auto& [id, p] : programs) inv.programs.push_back(std::move(p));

  auto enrolled = openPin(pin_dir + "/" + WARREN_MAP_ENROLLED);
  if (enrolled) {
    auto keys = readU64Keys(enrolled->get());
    if (!keys) return fail(keys.error().wrap(pin_dir + "/" + WARREN_MAP_ENROLLED));
    inv.enrolled_cookies = std::move(*keys);
  } else if (enrolled.error().code() != ErrorCode::kNotFound) {
    return fail(enrolled.error());
  }
  return inv;
}

}  // namespace warren::redirect
