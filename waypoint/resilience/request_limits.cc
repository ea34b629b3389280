#include "waypoint/resilience/request_limits.h"

namespace warren::waypoint {

bool RequestLimits::tryBegin(const std::string& destination, uint32_t max) {
  std::lock_guard lock(mu_);
  auto it = active_.find(destination);
  const uint32_t now = it == active_.end() ? 0 : it->second;
  if (!admitsRequest(now, max)) {
    ++overflows_;
    return false;
  }
  if (it == active_.end()) {
    active_.emplace(destination, 1);
  } else {
    ++it->second;
  }
  return true;
}

void RequestLimits::beginAnyway(const std::string& destination, uint32_t max) {
  std::lock_guard lock(mu_);
  uint32_t& n = active_[destination];
  if (!admitsRequest(n, max)) ++overflows_;
  ++n;
}

void RequestLimits::end(const std::string& destination) {
  std::lock_guard lock(mu_);
  auto it = active_.find(destination);
  if (it == active_.end()) return;
  if (--it->second == 0) active_.erase(it);
}

uint32_t RequestLimits::active(const std::string& destination) const {
  std::lock_guard lock(mu_);
  auto it = active_.find(destination);
  return it == active_.end() ? 0 : it->second;
}

uint64_t RequestLimits::overflows() const {
  std::lock_guard lock(mu_);
  return overflows_;
}

std::map<std::string, uint32_t> RequestLimits::activeByDestination() const {
  std::lock_guard lock(mu_);
  return {active_.begin(), active_.end()};
}

}  // namespace warren::waypoint
