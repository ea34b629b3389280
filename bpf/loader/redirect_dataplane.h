// The loaded, attached redirect dataplane of one node: owns the five BPF skeletons, keeps the
// cgroup links (pinned, so they outlive the agent) and applies RedirectAction plans.
//
// With RedirectConfig::sockmap_fast_path the cgroup runs sockops_fastpath instead of sockops
// and the sk_msg program is linked to warren_socks (sockmap_fast_path.h).
//
// Restart story: open() finds pins left by a previous agent and re-adopts them: the same maps
// (libbpf re-uses pins by name), each cgroup link updated in place to the freshly loaded
// program (BPF_LINK_UPDATE: no moment without a program, never a second attachment), each
// netns link likewise. Redirection never stops while the agent is down.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bpf/loader/pin_keeper.h"
#include "bpf/loader/pin_owner_lock.h"
#include "bpf/loader/redirect_plan.h"
#include "common/error.h"
#include "common/net/ip_address.h"
#include "warren_abi.h"

namespace warren::redirect {

struct RedirectConfig {
  std::string pin_dir;  // --bpf-pin-dir, e.g. /sys/fs/bpf/warren/node-1
  std::string cgroup;   // --cgroup: every pod's and ztunnel's cgroup is below it
  // --sockmap-fast-path: the sk_msg same-node fast path (sockmap_fast_path.h). Off = nothing
  // of it is loaded, and what an earlier agent left of it is removed.
  bool sockmap_fast_path = false;
  std::string pod_cidr{};  // --pod-cidr: pod pairs inside it take the fast path (when on)
  // --run-dir: the dataplane holds <run-dir>/bpf_pin_owner.lock for its whole life, so ztunnel's
  // PinKeeper knows an agent owns the pins (pin_owner_lock.h). "" = no lock (tests).
  std::string run_dir{};
};

using Counters = std::array<uint64_t, WARREN_CNT_MAX>;

class RedirectDataplane {
 public:
  // Loads the programs, pins/re-uses maps, attaches or re-adopts the cgroup links.
  static Result<RedirectDataplane> open(const RedirectConfig& config);

  RedirectDataplane(RedirectDataplane&&) noexcept;
  RedirectDataplane& operator=(RedirectDataplane&&) noexcept;
  ~RedirectDataplane();  // closes fds only: pinned state stays (see uninstall)

  // Makes the kernel match `desired` (netns cookie -> an open fd of that netns, borrowed for
  // the call). Applies every action it can; returns the first failure.
  Status reconcile(const std::map<uint64_t, int>& desired);

  Result<PinnedRedirectState> pinnedState() const;

  // Pins removed by hand (a link's or a map's) are pinned again from the fds this agent
  // holds; reconcile() runs it first. Links stay attached meanwhile: the agent holds an fd of
  // each. Logs and counts what it did (pinRepairs()).
  Status repinMissing();
  const PinRepairs& pinRepairs() const { return pin_repairs_; }

  // Replaces the set of source addresses exempt from inbound capture (node addresses:
  // kubelet probes).
  Status setExemptSources(const std::vector<net::IpAddress>& addresses);

  // Sum over CPUs of each decision counter.
  Result<Counters> counters() const;
  static const char* counterName(size_t index);

  const std::string& pinDir() const { return config_.pin_dir; }

  // Detaches every Warren link and removes every pin under `pin_dir`.
  static Status uninstall(const std::string& pin_dir);

  struct Programs;  // the loaded skeletons and held links (redirect_dataplane.cc)

 private:
  RedirectDataplane(RedirectConfig config, std::unique_ptr<Programs> programs,
                    std::optional<PinOwnerLock> owner_lock);
  Status apply(const RedirectAction& action, int netns_fd);
  // repinMissing() without the log and the counts: the pins it put back into `restored`.
  Status repinMissingPins(std::vector<std::string>& restored);

  RedirectConfig config_;
  std::unique_ptr<Programs> programs_;
  PinRepairs pin_repairs_;
  std::optional<PinOwnerLock> owner_lock_;  // nullopt: no run dir given
};

}  // namespace warren::redirect
