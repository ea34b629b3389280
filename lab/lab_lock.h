// One CLI at a time changes a lab: an flock on <dir>/.lock, waited for (bounded).
#pragma once

#include <chrono>
#include <string>

#include "common/error.h"
#include "common/unique_fd.h"

namespace warren::lab {

class LabLock {
 public:
  static Result<LabLock> acquire(const std::string& dir,
                                 std::chrono::milliseconds wait = std::chrono::seconds(120));

 private:
  explicit LabLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;  // the lock goes with the fd
};

}  // namespace warren::lab
