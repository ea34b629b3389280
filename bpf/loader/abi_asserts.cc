// The C++ half of the ABI check: the BPF programs and the agent must agree on every layout in
// warren_abi.h. A change on one side that forgets the other fails here, at build time.
#include <cstddef>
#include <cstdint>

#include "warren_abi.h"

static_assert(sizeof(warren_enrolled) == 8);
static_assert(sizeof(warren_addr) == 20);
static_assert(offsetof(warren_addr, port) == 16);
static_assert(offsetof(warren_addr, family) == 18);
static_assert(sizeof(warren_pending) == 32);
static_assert(offsetof(warren_pending, netns_cookie) == 24);
static_assert(sizeof(warren_orig_key) == 32);
static_assert(offsetof(warren_orig_key, client) == 8);
static_assert(sizeof(warren_sock_key) == 48);
static_assert(sizeof(warren_sock_state) == 16);
static_assert(offsetof(warren_sock_state, redirected) == 8);
static_assert(WARREN_CNT_MAX == 18);
static_assert(sizeof(warren_fastpath_cfg) == 28);
static_assert(offsetof(warren_fastpath_cfg, pod_prefix_len) == 20);
static_assert(sizeof(warren_counter_names) / sizeof(warren_counter_names[0]) == WARREN_CNT_MAX,
              "warren_abi.h: one name in warren_counter_names per enum warren_counter");
static_assert(WARREN_ZTUNNEL_MARK == 1337);
