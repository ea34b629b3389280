#include "bpf/loader/pin_keeper.h"

#include <bpf/bpf.h>
#include <sys/stat.h>

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
    : run_dir_(std::move(run_dir)), holder_(std::move(holder)) {}

namespace {

// A link fd's target is still there (cgroup, netns, map); an unreadable link counts as gone.
bool linkAttached(int fd) {
  auto target = linkTargetId(fd);
  return target && *target != 0;
}

}  // namespace

Status PinKeeper::pass() {
  state_.passes++;
  auto dir = readPinDirFile(run_dir_);
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
  auto alive = pinOwnerAlive(run_dir_);
  if (!alive) note(alive.error());
  // Unknown counts as alive: restoring behind a live agent's back is the worse mistake.
  state_.agent_alive = !alive || *alive;

  // What is pinned now, opened.
  struct Seen {
    Held object;
    bool attached = false;
  };
  std::map<std::string, Seen> now;
  for (const auto& pin : listPins(*dir)) {
    auto fd = openPin(pin.path);
    if (!fd) {
      if (fd.error().code() != ErrorCode::kNotFound) note(fd.error());
      continue;  // removed meanwhile: decided below from what is held
    }
    const PinKind kind = pin.link ? PinKind::kLink : PinKind::kMap;
    const bool attached = kind == PinKind::kLink && linkAttached(fd->get());
    now.emplace(pin.path, Seen{Held{std::move(*fd), kind}, attached});
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
    if (decidePin(f) == PinAction::kHold)
      held_[path] = std::move(seen.object);
    else
      release.push_back(path);
  }
  for (auto& [path, held] : held_) {
    if (now.contains(path)) continue;
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
  auto alive = pinOwnerAlive(run_dir_);
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
    }
  }
  return first;
}

}  // namespace warren::redirect
