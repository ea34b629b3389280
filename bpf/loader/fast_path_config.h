// The sk_msg fast path's load-time knob (struct warren_fastpath_cfg in warren_abi.h) from the
// agent's --pod-cidr. Pure, so it is table-tested (tests/bpf/fastpath_decision_test.cc).
#pragma once

#include <string>

#include "common/error.h"
#include "warren_abi.h"

namespace warren::redirect {

// "10.244.1.0/24" or "fd00:10:244:1::/64" -> the network address (host bits cleared) and
// prefix length. Empty = no pod CIDR: only loopback pairs take the fast path.
Result<warren_fastpath_cfg> fastPathConfig(const std::string& pod_cidr);

}  // namespace warren::redirect
