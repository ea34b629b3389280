#include "bpf/loader/redirect_dataplane.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <set>

#include "bpf/loader/bpf_address.h"
#include "bpf/loader/bpf_skeleton.h"
#include "bpf/loader/fast_path_config.h"
#include "bpf/loader/pin_dir.h"
#include "bpf/loader/sockmap_fast_path.h"
#include "common/kernel_mounts.h"
#include "common/log.h"
#include "common/unique_fd.h"
#include "connect4.skel.h"
#include "connect6.skel.h"
#include "getsockopt.skel.h"
#include "sk_lookup.skel.h"
#include "sockops.skel.h"

namespace warren::redirect {

namespace {

using Connect4Skel = BpfSkeleton<warren_connect4_bpf, warren_connect4_bpf__open_opts,
                                 warren_connect4_bpf__load, warren_connect4_bpf__destroy>;
using Connect6Skel = BpfSkeleton<warren_connect6_bpf, warren_connect6_bpf__open_opts,
                                 warren_connect6_bpf__load, warren_connect6_bpf__destroy>;
using SockopsSkel = BpfSkeleton<warren_sockops_bpf, warren_sockops_bpf__open_opts,
                                warren_sockops_bpf__load, warren_sockops_bpf__destroy>;
using GetsockoptSkel = BpfSkeleton<warren_getsockopt_bpf, warren_getsockopt_bpf__open_opts,
                                   warren_getsockopt_bpf__load, warren_getsockopt_bpf__destroy>;
using SkLookupSkel = BpfSkeleton<warren_sk_lookup_bpf, warren_sk_lookup_bpf__open_opts,
                                 warren_sk_lookup_bpf__load, warren_sk_lookup_bpf__destroy>;

struct LinkDeleter {
  void operator()(bpf_link* l) const { bpf_link__destroy(l); }
};
using LinkPtr = std::unique_ptr<bpf_link, LinkDeleter>;

// Counter names come from warren_abi.h (warren_counter_names): one table for every reader.

// Pins a freshly created link. Closing our handle afterwards leaves the pinned link attached.
Status pinLink(LinkPtr link, const std::string& path) {
  int err = bpf_link__pin(link.get(), path.c_str());
  if (err) return fail(Error::system(-err, "pin link " + path));
  return ok();
}

Status detachPinnedLink(const std::string& path) {
  auto fd = openPin(path);
  if (fd) {
    if (bpf_link_detach(fd->get()) != 0 && errno != ENOLINK && errno != EINVAL)
      return fail(WARREN_SYS_ERROR("detach " + path));
  } else if (fd.error().code() != ErrorCode::kNotFound) {
    return fail(fd.error());
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return fail(WARREN_SYS_ERROR("unlink " + path));
  return ok();
}

// Keeps an existing pinned cgroup link on the same cgroup (swapping in the new program), or
// replaces a stale one, or attaches a new one. Never two links for one attach point.
// Returns an fd of the link, which the agent holds (see RedirectDataplane::repinMissing).
Result<UniqueFd> adoptOrAttachCgroup(bpf_program* prog, const std::string& path, int cgroup_fd,
                                     uint64_t cgroup_id) {
  auto existing = openPin(path);
  if (existing) {
    auto target = linkTargetId(existing->get());
    if (!target) return fail(target.error().wrap(path));
    if (*target == cgroup_id) {
      if (bpf_link_update(existing->get(), bpf_program__fd(prog), nullptr) != 0)
        return fail(WARREN_SYS_ERROR("update pinned link " + path));
      spdlog::info("bpf: re-adopted {}", path);
      return std::move(*existing);
    }
    spdlog::warn("bpf: {} is attached elsewhere (cgroup id {}), replacing it", path, *target);
    WARREN_TRY(detachPinnedLink(path));
  } else if (existing.error().code() != ErrorCode::kNotFound) {
    return fail(existing.error());
  }
  LinkPtr link(bpf_program__attach_cgroup(prog, cgroup_fd));
  if (!link) return fail(WARREN_SYS_ERROR("attach " + path + " to cgroup"));
  UniqueFd held(::fcntl(bpf_link__fd(link.get()), F_DUPFD_CLOEXEC, 0));
  if (!held) return fail(WARREN_SYS_ERROR("dup link fd of " + path));
  WARREN_TRY(pinLink(std::move(link), path));
  spdlog::info("bpf: attached {}", path);
  return held;
}

}  // namespace

struct RedirectDataplane::Programs {
  Connect4Skel connect4;
  Connect6Skel connect6;
  SockopsSkel sockops;
  GetsockoptSkel getsockopt;
  SkLookupSkel sk_lookup;
  std::unique_ptr<SockmapFastPath> fast_path;  // null when the fast path is off
  // An fd of every link this agent attached or adopted, by pin path. The pin alone keeps a
  // link attached only while the pin exists: one removed by hand (rm under /sys/fs/bpf) would
  // detach capture at once and enrolled pods would connect past ztunnel in plaintext. With
  // the agent holding them, a removed pin detaches nothing, and repinMissing() puts it back.
  std::map<std::string, UniqueFd> held_links;

  int enrolledFd() const { return bpf_map__fd(connect4->maps.warren_enrolled); }
  int exemptFd() const { return bpf_map__fd(connect4->maps.warren_exempt_src); }
  int countersFd() const { return bpf_map__fd(connect4->maps.warren_counters); }
};

namespace {

Status holdCgroupLink(RedirectDataplane::Programs& programs, bpf_program* prog,
                      const std::string& path, int cgroup_fd, uint64_t cgroup_id) {
  auto fd = adoptOrAttachCgroup(prog, path, cgroup_fd, cgroup_id);
  if (!fd) return fail(fd.error());
  programs.held_links[path] = std::move(*fd);
  return ok();
}

}  // namespace

Status RedirectDataplane::repinMissing() {
  std::vector<std::string> restored;
  Status first = repinMissingPins(restored);
  pin_repairs_.record(restored, first, "the agent");
  return first;
}

Status RedirectDataplane::repinMissingPins(std::vector<std::string>& restored) {
  Status first = ok();
  auto note = [&](const Result<bool>& r, const std::string& path) {
    if (!r) {
      if (first) first = fail(r.error());
    } else if (*r) {
      restored.push_back(path);
    }
  };
  // A link detached from outside (`warren-agent uninstall` while this agent runs, a pod's
  // netns gone) reports target 0: let it go, never pin it again.
  std::erase_if(programs_->held_links, [](const auto& entry) {
    auto target = linkTargetId(entry.second.get());
    return target && *target == 0;
  });
  if (programs_->held_links.empty()) return first;         // uninstalled: nothing to put back
  WARREN_TRY(makePinDirs(netnsLinkDir(config_.pin_dir)));  // the whole directory may have gone
  for (const auto& [path, fd] : programs_->held_links) note(repinIfMissing(fd.get(), path), path);
  // Maps: each skeleton pinned its maps by name (libbpf's pin_root_path); ztunnel and the
  // next agent find them there.
  std::vector<bpf_object*> objects{programs_->connect4->obj, programs_->connect6->obj,
                                   programs_->sockops->obj, programs_->getsockopt->obj,
                                   programs_->sk_lookup->obj};
  if (programs_->fast_path) {
    for (bpf_object* obj : programs_->fast_path->objects()) objects.push_back(obj);
  }
  for (bpf_object* obj : objects) {
    bpf_map* map = nullptr;
    bpf_object__for_each_map(map, obj) {
      const char* path = bpf_map__pin_path(map);
      if (path == nullptr || bpf_map__fd(map) < 0) continue;
      note(repinIfMissing(bpf_map__fd(map), path), path);
    }
  }
  return first;
}

RedirectDataplane::RedirectDataplane(RedirectConfig config, std::unique_ptr<Programs> programs,
                                     std::optional<PinOwnerLock> owner_lock)
    : config_(std::move(config)),
      programs_(std::move(programs)),
      owner_lock_(std::move(owner_lock)) {}
RedirectDataplane::RedirectDataplane(RedirectDataplane&&) noexcept = default;
RedirectDataplane& RedirectDataplane::operator=(RedirectDataplane&&) noexcept = default;
RedirectDataplane::~RedirectDataplane() = default;

Result<RedirectDataplane> RedirectDataplane::open(const RedirectConfig& config) {
  if (config.pin_dir.empty() || config.pin_dir[0] != '/')
    return fail(Error::invalid("--bpf-pin-dir must be an absolute path: '" + config.pin_dir + "'"));
  // Taken before any pin is touched: from here on ztunnel's PinKeeper leaves the directory to
  // this agent (it may drop a map of another shape below, on purpose).
  std::optional<PinOwnerLock> owner_lock;
  if (!config.run_dir.empty()) {
    auto lock = PinOwnerLock::acquire(config.run_dir);
    if (!lock) return fail(lock.error());
    if (!lock->held())
      spdlog::warn(
          "bpf: {} is held by another process (an agent still stopping, an uninstall?): "
          "taken when it is free",
          lock->path());
    owner_lock = std::move(*lock);
  }
  WARREN_TRY(ensureBpffs());
  WARREN_TRY(makePinDirs(netnsLinkDir(config.pin_dir)));
  // An agent of another version may have pinned warren_counters with another number of
  // counters (the enum grew with the sk_msg fast path). Counters are statistics only: drop
  // that pin and let the load create the current map. Programs still attached keep counting
  // into the old one until open() updates their links a moment later.
  WARREN_TRY(
      dropPinnedMapOfAnotherShape(config.pin_dir + "/" WARREN_MAP_COUNTERS, 0, WARREN_CNT_MAX));

  // Each skeleton is opened and loaded in turn: the first creates and pins the maps, the
  // others re-use them.
  auto c4 = Connect4Skel::open("connect4", config.pin_dir);
  if (!c4) return fail(c4.error());
  WARREN_TRY(c4->load());
  auto c6 = Connect6Skel::open("connect6", config.pin_dir);
  if (!c6) return fail(c6.error());
  WARREN_TRY(c6->load());
  auto so = SockopsSkel::open("sockops", config.pin_dir);
  if (!so) return fail(so.error());
  WARREN_TRY(so->load());
  auto gs = GetsockoptSkel::open("getsockopt", config.pin_dir);
  if (!gs) return fail(gs.error());
  WARREN_TRY(gs->load());
  auto sl = SkLookupSkel::open("sk_lookup", config.pin_dir);
  if (!sl) return fail(sl.error());
  WARREN_TRY(sl->load());
  auto programs = std::make_unique<Programs>(Programs{std::move(*c4), std::move(*c6),
                                                      std::move(*so), std::move(*gs),
                                                      std::move(*sl), nullptr});
  // The fast path's sk_msg link goes on before sockops starts inserting sockets.
  bpf_program* sockops_prog = programs->sockops->progs.warren_sockops;
  if (config.sockmap_fast_path) {
    auto cfg = fastPathConfig(config.pod_cidr);
    if (!cfg) return fail(cfg.error());
    auto fast = SockmapFastPath::attach(config.pin_dir, *cfg);
    if (!fast) return fail(fast.error().wrap("sk_msg fast path"));
    programs->fast_path = std::move(*fast);
    sockops_prog = programs->fast_path->sockopsProgram();
    UniqueFd held(::fcntl(programs->fast_path->linkFd(), F_DUPFD_CLOEXEC, 0));
    if (!held) return fail(WARREN_SYS_ERROR("dup link fd of " WARREN_LINK_SK_MSG));
    programs->held_links[config.pin_dir + "/" WARREN_LINK_SK_MSG] = std::move(held);
  }

  UniqueFd cgroup(::open(config.cgroup.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cgroup) return fail(WARREN_SYS_ERROR("open cgroup " + config.cgroup));
  struct stat st{};
  if (::fstat(cgroup.get(), &st) != 0) return fail(WARREN_SYS_ERROR("stat " + config.cgroup));
  const uint64_t cgroup_id = st.st_ino;  // a cgroup2 directory's inode is its cgroup id

  const std::string& dir = config.pin_dir;
  WARREN_TRY(holdCgroupLink(*programs, programs->connect4->progs.warren_connect4,
                            dir + "/" WARREN_LINK_CONNECT4, cgroup.get(), cgroup_id));
  WARREN_TRY(holdCgroupLink(*programs, programs->connect6->progs.warren_connect6,
                            dir + "/" WARREN_LINK_CONNECT6, cgroup.get(), cgroup_id));
  WARREN_TRY(holdCgroupLink(*programs, sockops_prog, dir + "/" WARREN_LINK_SOCKOPS, cgroup.get(),
                            cgroup_id));
  // Off: the cgroup runs the plain sockops from here on, so what an earlier agent left of the
  // fast path can go (its established connections keep working until they close).
  if (!config.sockmap_fast_path) WARREN_TRY(SockmapFastPath::remove(dir));
  WARREN_TRY(holdCgroupLink(*programs, programs->getsockopt->progs.warren_getsockopt,
                            dir + "/" WARREN_LINK_GETSOCKOPT, cgroup.get(), cgroup_id));

  // Netns links left by a previous agent run the new sk_lookup program from now on.
  auto links = readLookupLinks(dir);
  if (!links) return fail(links.error());
  const int lookup_fd = bpf_program__fd(programs->sk_lookup->progs.warren_sk_lookup);
  for (const auto& [cookie, attached] : *links) {
    if (!attached) continue;
    auto fd = openPin(netnsLinkPath(dir, cookie));
    if (!fd) return fail(fd.error());
    if (bpf_link_update(fd->get(), lookup_fd, nullptr) != 0)
      return fail(WARREN_SYS_ERROR("update sk_lookup link of netns " + std::to_string(cookie)));
    programs->held_links[netnsLinkPath(dir, cookie)] = std::move(*fd);
  }
  return RedirectDataplane(config, std::move(programs), std::move(owner_lock));
}

Result<PinnedRedirectState> RedirectDataplane::pinnedState() const {
  PinnedRedirectState state;
  auto enrolled = readU64Keys(programs_->enrolledFd());
  if (!enrolled) return fail(enrolled.error().wrap("read " WARREN_MAP_ENROLLED));
  state.enrolled = std::move(*enrolled);
  auto links = readLookupLinks(config_.pin_dir);
  if (!links) return fail(links.error());
  state.lookup_links = std::move(*links);
  return state;
}

Status RedirectDataplane::reconcile(const std::map<uint64_t, int>& desired) {
  if (owner_lock_ && !owner_lock_->held() && owner_lock_->tryAgain())
    spdlog::info("bpf: took {}: this agent owns the pins", owner_lock_->path());
  // Pins removed by hand come back first, so the plan below sees the netns links that are
  // still attached (through our fds) and never attaches a second one. It logs for itself
  // (once per repair, once per new failure: this runs every 2 s).
  (void)repinMissing();
  auto state = pinnedState();
  if (!state) return fail(state.error());
  std::set<uint64_t> cookies;
  for (const auto& [cookie, fd] : desired) cookies.insert(cookie);
  Status first = ok();
  for (const auto& action : planRedirect(cookies, *state)) {
    auto it = desired.find(action.netns_cookie);
    Status s = apply(action, it == desired.end() ? -1 : it->second);
    if (!s) {
      spdlog::warn("bpf: {} failed: {}", toString(action), s.error().message());
      if (first) first = std::move(s);
    } else {
      spdlog::info("bpf: {}", toString(action));
    }
  }
  return first;
}

Status RedirectDataplane::apply(const RedirectAction& action, int netns_fd) {
  const uint64_t cookie = action.netns_cookie;
  const std::string link_path = netnsLinkPath(config_.pin_dir, cookie);
  switch (action.kind) {
    case RedirectAction::Kind::kUnenrol:
      if (bpf_map_delete_elem(programs_->enrolledFd(), &cookie) != 0 && errno != ENOENT)
        return fail(WARREN_SYS_ERROR("delete enrolment " + std::to_string(cookie)));
      return ok();
    case RedirectAction::Kind::kDetachLookup:
    case RedirectAction::Kind::kDropStaleLookup:
      programs_->held_links.erase(link_path);
      return detachPinnedLink(link_path);
    case RedirectAction::Kind::kAttachLookup: {
      if (::unlink(link_path.c_str()) != 0 && errno != ENOENT)
        return fail(WARREN_SYS_ERROR("unlink stale " + link_path));
      LinkPtr link(bpf_program__attach_netns(programs_->sk_lookup->progs.warren_sk_lookup, netns_fd));
      if (!link) return fail(WARREN_SYS_ERROR("attach sk_lookup to netns " + std::to_string(cookie)));
      UniqueFd held(::fcntl(bpf_link__fd(link.get()), F_DUPFD_CLOEXEC, 0));
      if (!held) return fail(WARREN_SYS_ERROR("dup link fd of " + link_path));
      WARREN_TRY(pinLink(std::move(link), link_path));
      programs_->held_links[link_path] = std::move(held);
      return ok();
    }
    case RedirectAction::Kind::kEnrol: {
      warren_enrolled value{};
      if (bpf_map_update_elem(programs_->enrolledFd(), &cookie, &value, BPF_ANY) != 0)
        return fail(WARREN_SYS_ERROR("enrol netns " + std::to_string(cookie)));
      return ok();
    }
  }
  return fail(Error(ErrorCode::kInternal, "unknown redirect action"));
}

Status RedirectDataplane::setExemptSources(const std::vector<net::IpAddress>& addresses) {
  std::set<std::string> wanted_keys;
  std::vector<warren_addr> wanted;
  for (const auto& ip : addresses) {
    warren_addr a = toBpfAddress(ip);
    wanted.push_back(a);
    wanted_keys.insert(std::string(reinterpret_cast<const char*>(&a), sizeof(a)));
  }
  const int fd = programs_->exemptFd();
  // Remove entries no longer wanted (bounded by the map size).
  warren_addr key{};
  warren_addr next{};
  std::vector<warren_addr> stale;
  const void* prev = nullptr;
  for (int i = 0; i <= WARREN_MAX_EXEMPT_SRC && bpf_map_get_next_key(fd, prev, &next) == 0; ++i) {
    if (!wanted_keys.contains(std::string(reinterpret_cast<const char*>(&next), sizeof(next))))
      stale.push_back(next);
    key = next;
    prev = &key;
  }
  for (const auto& a : stale) bpf_map_delete_elem(fd, &a);
  const uint8_t one = 1;
  for (const auto& a : wanted) {
    if (bpf_map_update_elem(fd, &a, &one, BPF_ANY) != 0)
      return fail(WARREN_SYS_ERROR("add exempt source"));
  }
  return ok();
}

Result<Counters> RedirectDataplane::counters() const {
  Counters totals{};
  const int ncpus = libbpf_num_possible_cpus();
  if (ncpus <= 0) return fail(Error::system(-ncpus, "count possible CPUs"));
  std::vector<uint64_t> per_cpu(static_cast<size_t>(ncpus));
  for (uint32_t i = 0; i < WARREN_CNT_MAX; ++i) {
    if (bpf_map_lookup_elem(programs_->countersFd(), &i, per_cpu.data()) != 0)
      return fail(WARREN_SYS_ERROR("read counter " + std::string(warren_counter_names[i])));
    for (uint64_t v : per_cpu) totals[i] += v;
  }
  return totals;
}

const char* RedirectDataplane::counterName(size_t index) {
  return index < WARREN_CNT_MAX ? warren_counter_names[index] : "?";
}

Status RedirectDataplane::uninstall(const std::string& pin_dir) {
  if (pin_dir.empty() || pin_dir[0] != '/')
    return fail(Error::invalid("--bpf-pin-dir must be an absolute path: '" + pin_dir + "'"));
  return uninstallPinDir(pin_dir);
}

}  // namespace warren::redirect
