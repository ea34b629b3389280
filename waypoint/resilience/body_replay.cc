#include "waypoint/resilience/body_replay.h"

namespace warren::waypoint {

void BodyReplay::reset(bool keep, size_t limit) {
  bytes_.clear();
  bytes_.shrink_to_fit();
  limit_ = limit;
  keep_ = keep;
  overflowed_ = false;
}

void BodyReplay::append(std::string_view data) {
  if (!keep_ || overflowed_) return;
  if (bytes_.size() + data.size() > limit_) {
    overflowed_ = true;
    bytes_.clear();
    bytes_.shrink_to_fit();
    return;
  }
  bytes_.append(data);
}

}  // namespace warren::waypoint
