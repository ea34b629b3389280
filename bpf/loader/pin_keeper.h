// Keeping a node's capture pins, and the links they pin, alive when the agent is not there.
//
// A pinned link stays attached while something references it: its pin, or an fd. With the agent
// running, the agent holds an fd of every link (RedirectDataplane) and puts back any pin removed
// by hand (repinMissing). With no agent, the pins were the links' only references: `rm` of one
// detached capture, and an enrolled pod's connections went out uncaptured, in plaintext. A
// PinKeeper (run by ztunnel, ztunnel/control/capture_pin_keeper.h) is the second holder: each
// pass it takes an fd of every link and map pinned under the agent's pin dir, and when no agent
// is alive it pins back, from its fds, whatever disappeared -- unless it went on purpose.
//
// The rule (decidePin, pure and table-tested), for one pin path:
//   - pinned now: hold an fd of what is pinned (a new object replaces the old one), except a
//     link whose target is gone (netns deleted, detached): nothing to keep;
//   - gone, and an agent is alive (pin_owner_lock.h): let it go. The agent owns the pins: it
//     repairs what is removed by hand itself, and what it removes (a pod left the mesh, the fast
//     path turned off, a map of another shape) it removes on purpose;
//   - gone, no agent, a link no longer attached: let it go (detached on purpose: uninstall
//     detaches before it unlinks; a netns that went detaches its link);
//   - gone, no agent, a map, and no link of the directory still attached: let it go (uninstalled);
//   - otherwise pin it back.
// `warren-agent uninstall` also holds the owner lock while it runs.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "bpf/loader/pin_owner_lock.h"
#include "common/error.h"
#include "common/unique_fd.h"

namespace warren::redirect {

// Pins put back over a holder's life (the agent's admin API: `pin_repairs`; ztunnel's
// /config_dump: `capture_pins`). A pass runs every 2 s: a repair is one pass that put pins back,
// logged once with every pin it restored; a failure that repeats pass after pass is logged once,
// when it first shows (and again only when it changes), and counted every time.
struct PinRepairs {
  uint64_t repairs = 0;        // passes that pinned something again
  uint64_t pins_restored = 0;  // pins put back, over all repairs
  uint64_t failures = 0;       // passes that could not put a pin back
  std::string last_error{};    // the last failed pass's error; "" once a pass succeeds

  // Counts and logs one pass: the pins it put back and its first failure. `holder` names
  // whose fds they came from ("the agent", "ztunnel").
  void record(const std::vector<std::string>& restored, const Status& pass,
              std::string_view holder);
};

// Pins `fd` (a link or map) at `path` when nothing is pinned there; true when it did. Someone
// else pinning it first (EEXIST) is false, not an error.
Result<bool> repinIfMissing(int fd, const std::string& path);

enum class PinKind { kLink, kMap };
enum class PinAction {
  kHold,     // keep (or take) an fd of what is pinned there
  kRestore,  // pin the held fd there again
  kRelease,  // hold nothing for this path
};
const char* toString(PinAction action);

struct PinFacts {
  PinKind kind = PinKind::kMap;
  bool present = false;           // something is pinned at the path now
  bool held = false;              // the keeper holds an fd of what was pinned there
  bool attached = false;          // links: attached (target != 0), the pinned one or the held one
  bool agent_alive = false;       // someone holds the pin owner lock
  bool capture_attached = false;  // some link of the directory, pinned or held, is attached
};

PinAction decidePin(const PinFacts& facts);

struct PinKeeperState {
  std::string pin_dir;  // from <run-dir>/bpf_pin_dir; "" when the agent published none
  bool agent_alive = false;
  uint64_t held_links = 0;
  uint64_t held_maps = 0;
  uint64_t passes = 0;
  PinRepairs repairs;
};

class PinKeeper {
 public:
  // `holder` names the fds' owner in logs.
  PinKeeper(std::string run_dir, std::string holder);

  // One pass: reads the pin dir from <run-dir>/bpf_pin_dir (none: holds nothing), asks
  // whether an agent is alive, lists the pins (listPins), and applies decidePin to every pin
  // listed or held. Returns the pass's first failure (also counted in state().repairs).
  Status pass();
  const PinKeeperState& state() const { return state_; }

 private:
  struct Held {
    UniqueFd fd;
    PinKind kind = PinKind::kMap;
    ino_t ino = 0;  // the pin's inode when taken: the same inode later = the same pin, no fd
  };
  // <run-dir>/bpf_pin_dir's identity when last read; re-read only when it changes.
  struct PinDirFile {
    ino_t ino = 0;
    int64_t mtime_sec = 0;
    int64_t mtime_nsec = 0;
    int64_t size = 0;
    bool operator==(const PinDirFile&) const = default;
  };
  Result<std::string> publishedPinDir();
  Status restore(const std::map<std::string, Held*>& missing, std::vector<std::string>& restored);

  std::string run_dir_;
  std::string holder_;
  PinOwnerProbe owner_;
  PinDirFile pin_dir_file_;
  std::map<std::string, Held> held_;  // by pin path
  PinKeeperState state_;
};

}  // namespace warren::redirect
