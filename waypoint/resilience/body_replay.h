// BodyReplay: the request body kept so it can be sent again (a retry) or copied (a mirror), up
// to a bound: Envoy's per-request buffer idea (a request whose body outgrows the retry/shadow
// buffer limit is neither retried nor shadowed). Bodies stream through the proxy as they
// arrive; this only keeps a copy while the copy is small. Once the body outgrows the bound the
// copy is dropped and the request is no longer replayable: it is not retried, nor mirrored.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace warren::waypoint {

class BodyReplay {
 public:
  // 64 KiB: a request body the size of the stream's input bound (StreamConduit::kMaxInput), so
  // replay costs each request at most what one read already may. Envoy's limit is its
  // connection buffer (1 MiB by default); a waypoint holds many more requests per core.
  static constexpr size_t kDefaultLimit = 64 * 1024;

  // Starts a new request: keep up to `limit` bytes when `keep`, else nothing (not replayable).
  void reset(bool keep, size_t limit = kDefaultLimit);
  void append(std::string_view data);
  // The whole body so far is held (and so can be sent again).
  bool replayable() const { return keep_ && !overflowed_; }
  bool overflowed() const { return overflowed_; }
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
  size_t limit_ = kDefaultLimit;
  bool keep_ = false;
  bool overflowed_ = false;
};

}  // namespace warren::waypoint
