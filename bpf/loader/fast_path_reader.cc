#include "bpf/loader/fast_path_reader.h"

#include <bpf/bpf.h>
#include <unistd.h>

#include <cerrno>

#include "bpf/loader/pin_dir.h"
#include "warren_abi.h"

namespace warren::redirect {

bool fastPathMayRedirect(const std::string& pin_dir, std::span<const int> fds) {
  auto state = openPin(pin_dir + "/" WARREN_MAP_SOCKS_STATE);
  if (!state) {
    if (state.error().code() != ErrorCode::kNotFound) return true;
    return ::access((pin_dir + "/" WARREN_LINK_SK_MSG).c_str(), F_OK) == 0;
  }
  for (int fd : fds) {
    warren_sock_state record{};
    if (bpf_map_lookup_elem(state->get(), &fd, &record) == 0 || errno != ENOENT) return true;
  }
  return false;
}

}  // namespace warren::redirect
