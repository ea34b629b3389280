// Who owns a pin directory right now. The agent (RedirectDataplane, for as long as it lives) and
// `warren-agent uninstall` (while it runs) hold an open-file-description write lock on
// <run-dir>/bpf_pin_owner.lock; the kernel drops it when the holder's last fd of the file closes,
// so also when the process dies by kill -9, OOM or a crash. ztunnel's PinKeeper (pin_keeper.h)
// only tests it (F_OFD_GETLK takes nothing): "an owner is alive" = the pins are the owner's to
// repair, and whatever went missing meanwhile went on purpose.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/error.h"
#include "common/unique_fd.h"

namespace warren::redirect {

inline constexpr const char* kPinOwnerLockFile = "bpf_pin_owner.lock";

class PinOwnerLock {
 public:
  // Creates the lock file if needed and takes the lock when it is free. Held by another
  // process (an agent still stopping, an uninstall running) is not an error: held() is false
  // until a tryAgain() takes it.
  static Result<PinOwnerLock> acquire(const std::string& run_dir);

  bool held() const { return held_; }
  // Takes the lock if this object does not hold it yet and it has become free; true when
  // held.
  bool tryAgain();
  const std::string& path() const { return path_; }

 private:
  PinOwnerLock(std::string path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}

  std::string path_;
  UniqueFd fd_;
  bool held_ = false;
};

// pinOwnerAlive()'s question asked every pass with one fd kept open across calls (opened again
// when the file is replaced: uninstall removes it, the next agent creates it), so asking opens
// no file in the steady state.
class PinOwnerProbe {
 public:
  explicit PinOwnerProbe(std::string run_dir);
  Result<bool> alive();

 private:
  std::string path_;
  UniqueFd fd_;
  ino_t ino_ = 0;
};

// true while some open file description (any process, this one included) holds the lock on
// <run-dir>/bpf_pin_owner.lock; false when none does or there is no such file.
Result<bool> pinOwnerAlive(const std::string& run_dir);

}  // namespace warren::redirect
