#include "bpf/loader/sockmap_fast_path.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include "bpf/loader/bpf_skeleton.h"
#include "bpf/loader/pin_dir.h"
#include "common/log.h"
#include "common/unique_fd.h"
#include "sk_msg.skel.h"
#include "sockops_fastpath.skel.h"

namespace warren::redirect {

namespace {

using SockopsFastPathSkel =
    BpfSkeleton<warren_sockops_fastpath_bpf, warren_sockops_fastpath_bpf__open_opts,
                warren_sockops_fastpath_bpf__load, warren_sockops_fastpath_bpf__destroy>;
using SkMsgSkel = BpfSkeleton<warren_sk_msg_bpf, warren_sk_msg_bpf__open_opts,
                              warren_sk_msg_bpf__load, warren_sk_msg_bpf__destroy>;

Result<uint32_t> mapId(int map_fd) {
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(map_fd, &info, &len) != 0)
    return fail(WARREN_SYS_ERROR("bpf map info"));
  return info.id;
}

Status unlinkPin(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return fail(WARREN_SYS_ERROR("unlink " + path));
  return ok();
}

Status detachLinkPin(const std::string& path) {
  auto fd = openPin(path);
  if (fd) {
    if (bpf_link_detach(fd->get()) != 0 && errno != ENOLINK && errno != EINVAL)
      return fail(WARREN_SYS_ERROR("detach " + path));
  } else if (fd.error().code() != ErrorCode::kNotFound) {
    return fail(fd.error());
  }
  return unlinkPin(path);
}

// Keeps <pin>/link_sk_msg on `map_fd` running `prog_fd`: updated in place when it already
// targets that map, replaced when it targets another (a map re-created after its pin was
// removed by hand), created otherwise. Returns an fd of the link.
Result<UniqueFd> adoptOrAttachMsgLink(int prog_fd, int map_fd, const std::string& path) {
  auto want_map = mapId(map_fd);
  if (!want_map) return fail(want_map.error());
  auto existing = openPin(path);
  if (existing) {
    auto target = linkTargetId(existing->get());
    if (!target) return fail(target.error().wrap(path));
    if (*target == *want_map) {
      if (bpf_link_update(existing->get(), prog_fd, nullptr) != 0)
        return fail(WARREN_SYS_ERROR("update pinned link " + path));
      spdlog::info("bpf: re-adopted {}", path);
      return std::move(*existing);
    }
    spdlog::warn("bpf: {} is attached to map id {}, not warren_socks ({}); replacing it", path,
                 *target, *want_map);
    WARREN_TRY(detachLinkPin(path));
  } else if (existing.error().code() != ErrorCode::kNotFound) {
    return fail(existing.error());
  }
  // libbpf 1.1 has no bpf_program__attach_sockmap; the raw BPF_LINK_CREATE takes the map as
  // target. Kernels before 6.10 answer EINVAL here.
  int link = bpf_link_create(prog_fd, map_fd, BPF_SK_MSG_VERDICT, nullptr);
  if (link < 0)
    return fail(Error::system(errno, "attach sk_msg to warren_socks (needs Linux >= 6.10)"));
  UniqueFd owned(link);
  if (bpf_obj_pin(link, path.c_str()) != 0) {
    Error e = WARREN_SYS_ERROR("pin " + path);
    (void)bpf_link_detach(link);
    return fail(std::move(e));
  }
  spdlog::info("bpf: attached {}", path);
  return owned;
}

}  // namespace

struct SockmapFastPath::Objects {
  SockopsFastPathSkel sockops;
  SkMsgSkel sk_msg;
  UniqueFd link;  // link_sk_msg
};

SockmapFastPath::SockmapFastPath(std::unique_ptr<Objects> objects) : objects_(std::move(objects)) {}
SockmapFastPath::~SockmapFastPath() = default;

bpf_program* SockmapFastPath::sockopsProgram() const {
  return objects_->sockops->progs.warren_sockops_fastpath;
}

int SockmapFastPath::linkFd() const { return objects_->link.get(); }

std::vector<bpf_object*> SockmapFastPath::objects() const {
  return {objects_->sockops->obj, objects_->sk_msg->obj};
}

Result<std::unique_ptr<SockmapFastPath>> SockmapFastPath::attach(const std::string& pin_dir,
                                                                 const warren_fastpath_cfg& cfg) {
  // An agent of an earlier version pinned warren_socks_state with the mode alone (4 bytes, no
  // redirect budget). Drop it: sockets that had a record there have none in the new map, and
  // a socket without a record goes through TCP (never redirected again, so nothing is
  // overtaken); sockets established from now on get the new record.
  WARREN_TRY(dropPinnedMapOfAnotherShape(pin_dir + "/" WARREN_MAP_SOCKS_STATE,
                                         sizeof(warren_sock_state), 0));
  auto so = SockopsFastPathSkel::open("sockops_fastpath", pin_dir);
  if (!so) return fail(so.error());
  // const volatile knobs live in .rodata: set between open and load, frozen by the load.
  (*so)->rodata->warren_fastpath_cfg = cfg;
  WARREN_TRY(so->load());
  auto msg = SkMsgSkel::open("sk_msg", pin_dir);
  if (!msg) return fail(msg.error());
  (*msg)->rodata->warren_fastpath_cfg = cfg;
  WARREN_TRY(msg->load());
  auto link = adoptOrAttachMsgLink(bpf_program__fd((*msg)->progs.warren_sk_msg),
                                   bpf_map__fd((*msg)->maps.warren_socks),
                                   pin_dir + "/" WARREN_LINK_SK_MSG);
  if (!link) return fail(link.error());
  auto objects =
      std::make_unique<Objects>(Objects{std::move(*so), std::move(*msg), std::move(*link)});
  return std::unique_ptr<SockmapFastPath>(new SockmapFastPath(std::move(objects)));
}

Status SockmapFastPath::remove(const std::string& pin_dir) {
  const std::string link = pin_dir + "/" WARREN_LINK_SK_MSG;
  const std::string socks = pin_dir + "/" WARREN_MAP_SOCKS;
  const std::string state = pin_dir + "/" WARREN_MAP_SOCKS_STATE;
  if (::access(link.c_str(), F_OK) != 0 && ::access(socks.c_str(), F_OK) != 0 &&
      ::access(state.c_str(), F_OK) != 0)
    return ok();
  WARREN_TRY(detachLinkPin(link));
  WARREN_TRY(unlinkPin(socks));
  WARREN_TRY(unlinkPin(state));
  spdlog::info("bpf: sk_msg fast path off: removed {}, {} and {}", link, socks, state);
  return ok();
}

}  // namespace warren::redirect
