#include "bpf/loader/pin_keeper.h"

#include <bpf/bpf.h>
#include <sys/stat.h>

#include <set>

#include "bpf/loader/inbound_registration.h"
#include "bpf/loader/pin_dir.h"
#include "bpf/loader/pin_owner_lock.h"
#include "common/log.h"

namespace warren::redirect {

void PinRepairs::record(const std::vector<std::string>& restored, const Status& pass,
                        std::string_view holder) {
  if (!restored.empty()) {
    repairs++;
    pins_restored += restored.size();
    std::string names;
    for (const auto& path : restored) names += (names.empty() ? "" : ", ") + path;
    spdlog::warn(
        "bpf: {} pin(s) were removed (by hand?): pinned again from {}'s fds "
        "(repair {}): {}",
        restored.size(), holder, repairs, names);
  }
  if (!pass) {
    failures++;
    if (pass.error().message() != last_error)
      spdlog::warn(
          "bpf: {} cannot put removed pins back (retried every pass, "
          "logged again "
          "only when the error changes): {}",
          holder, pass.error().message());
    last_error = pass.error().message();
  } else if (!last_error.empty()) {
    spdlog::info(
        "bpf: removed pins can be put back again from {}'s fds (after {} "
        "failed passes)",
        holder, failures);
    last_error.clear();
  }
}

Result<bool> repinIfMissing(int fd, const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) == 0) return false;
  if (errno != ENOENT) return fail(WARREN_SYS_ERROR("stat " + path));
  if (bpf_obj_pin(fd, path.c_str()) != 0) {
    if (errno == EEXIST) return false;  // another holder put it back first
    return fail(WARREN_SYS_ERROR("pin again " + path));
  }
  return true;
}

const char* toString(PinAction action) {
  switch (action) {
    case PinAction::kHold:
      return "hold";
    case PinAction::kRestore:
      return "restore";
    case PinAction::kRelease:
      return "release";
  }
  return "?";
}

PinAction decidePin(const PinFacts& f) {
  if (f.present)
    return f.kind == PinKind::kLink && !f.attached ? PinAction::kRelease : PinAction::kHold;
  if (!f.held || f.agent_alive) return PinAction::kRelease;
  if (f.kind == PinKind::kLink) return f.attached ? PinAction::kRestore : PinAction::kRelease;
  return f.capture_attached ? PinAction::kRestore : PinAction::kRelease;
}

PinKeeper::PinKeeper(std::string run_dir, std::string holder)
    : run_dir_(run_dir), holder_(std::move(holder)), owner_(std::move(run_dir)) {}

namespace {

// A link fd's target is still there (cgroup, netns, map); an unreadable link counts as gone.
bool linkAttached(int fd) {
  auto target = linkTargetId(fd);
  return target && *target != 0;
}

}  // namespace

namespace {

// The inode of what is at `path` (0 when nothing is): a pin's identity, read without an fd.
ino_t inodeOf(const std::string& path) {
  struct stat st{};
  return ::lstat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

}  // namespace

Result<std::string> PinKeeper::publishedPinDir() {
  // Read again only when the file changed: a pass opens no file in the steady state.
  const std::string path = run_dir_ + "/" + kPinDirFile;
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) {
    pin_dir_file_ = {};
    return fail(Error::notFound("no " + path));
  }
  const PinDirFile now{st.st_ino, st.st_mtim.tv_sec, st.st_mtim.tv_nsec, st.st_size};
  if (now == pin_dir_file_ && !state_.pin_dir.empty()) return state_.pin_dir;
  auto dir = readPinDirFile(run_dir_);
  if (dir) pin_dir_file_ = now;
  return dir;
}

Status PinKeeper::pass() {
  state_.passes++;
  auto dir = publishedPinDir();
  if (!dir) {  // nothing published (no agent yet, no eBPF capture, uninstalled)
    if (!held_.empty())
      spdlog::info("bpf: {} lets go of the capture pins of {}: no pin dir in {}", holder_,
                   state_.pin_dir, run_dir_);
    held_.clear();
    state_.pin_dir.clear();
    state_.held_links = state_.held_maps = 0;
    return ok();
  }
  if (*dir != state_.pin_dir) {
    held_.clear();
    spdlog::info(
        "bpf: {} holds the capture pins of {} (and pins back, while no agent runs, "
        "any removed by hand)",
        holder_, *dir);
    state_.pin_dir = *dir;
  }
  Status first = ok();
  auto note = [&first](Error e) {
    if (first) first = fail(std::move(e));
  };
  auto alive = owner_.alive();
  if (!alive) note(alive.error());
  // Unknown counts as alive: restoring behind a live agent's back is the worse mistake.
  state_.agent_alive = !alive || *alive;

  // What is pinned now. A pin whose inode is the one held is the same pin: no fd is opened for
  // it (ztunnel may run close to its RLIMIT_NOFILE); a new or replaced one is opened once.
  struct Seen {
    Held object;  // fd invalid: the held one is still what is pinned
    bool attached = false;
  };
  std::map<std::string, Seen> now;
  std::set<std::string> unreadable;  // pinned, but could not be opened: held as it is
  for (const auto& pin : listPins(*dir)) {
    const ino_t ino = inodeOf(pin.path);
    if (ino == 0) continue;  // removed meanwhile: decided below from what is held
    const PinKind kind = pin.link ? PinKind::kLink : PinKind::kMap;
    if (auto it = held_.find(pin.path); it != held_.end() && it->second.ino == ino) {
      const bool attached = kind == PinKind::kLink && linkAttached(it->second.fd.get());
      now.emplace(pin.path, Seen{Held{UniqueFd(), kind, ino}, attached});
      continue;
    }
    auto fd = openPin(pin.path);
    if (!fd) {
      if (fd.error().code() == ErrorCode::kNotFound) continue;
      note(fd.error());  // EMFILE...: not a reason to let go of what is held
      unreadable.insert(pin.path);
      continue;
    }
    const bool attached = kind == PinKind::kLink && linkAttached(fd->get());
    now.emplace(pin.path, Seen{Held{std::move(*fd), kind, ino}, attached});
  }
  bool capture_attached = false;
  for (const auto& [path, seen] : now) capture_attached |= seen.attached;
  for (const auto& [path, held] : held_)
    if (held.kind == PinKind::kLink && !now.contains(path))
      capture_attached |= linkAttached(held.fd.get());

  std::map<std::string, Held*> missing;
  std::vector<std::string> release;
  for (auto& [path, seen] : now) {
    PinFacts f{seen.object.kind, true, held_.contains(path), seen.attached, state_.agent_alive,
               capture_attached};
    if (decidePin(f) != PinAction::kHold)
      release.push_back(path);
    else if (seen.object.fd)
      held_[path] = std::move(seen.object);
  }
  for (auto& [path, held] : held_) {
    if (now.contains(path) || unreadable.contains(path)) continue;
    const bool attached = held.kind == PinKind::kLink && linkAttached(held.fd.get());
    PinFacts f{held.kind, false, true, attached, state_.agent_alive, capture_attached};
    if (decidePin(f) == PinAction::kRestore)
      missing[path] = &held;
    else
      release.push_back(path);
  }
  for (const auto& path : release) held_.erase(path);

  std::vector<std::string> restored;
  if (!missing.empty())
    if (Status s = restore(missing, restored); !s) note(s.error());
  state_.held_links = state_.held_maps = 0;
  for (const auto& [path, held] : held_)
    (held.kind == PinKind::kLink ? state_.held_links : state_.held_maps)++;
  state_.repairs.record(restored, first, holder_);
  return first;
}

Status PinKeeper::restore(const std::map<std::string, Held*>& missing,
                          std::vector<std::string>& restored) {
  // Asked again right before pinning: an agent starting meanwhile owns the directory (it may
  // just have dropped a map of another shape on purpose).
  auto alive = owner_.alive();
  if (!alive) return fail(alive.error());
  if (*alive) {
    state_.agent_alive = true;
    return ok();
  }
  Status first = ok();
  for (const auto& [path, held] : missing) {
    if (Status s = makePinDirs(path.substr(0, path.rfind('/'))); !s) {
      if (first) first = std::move(s);
      continue;
    }
    auto r = repinIfMissing(held->fd.get(), path);
    if (!r) {
      if (first) first = fail(r.error());
    } else if (*r) {
      restored.push_back(path);
      held->ino = inodeOf(path);  // the pin just made: the next pass needs no fd for it
    }
  }
  return first;
}

}  // namespace warren::redirect
