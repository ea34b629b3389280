// sk_lookup decisions through BPF_PROG_TEST_RUN (the program type supports it; cgroup
// sock_addr programs do not, so connect4/6 are tested with real connects instead).
// Note: test_run requires every ctx field after local_port to be zero, so ingress_ifindex is
// always 0 here (= "not loopback"); the loopback skip is covered by the e2e test.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bpf/loader/bpf_skeleton.h"
#include "bpf/loader/inbound_registration.h"
#include "bpf_test_env.h"
#include "common/kernel_mounts.h"
#include "sk_lookup.skel.h"
#include "warren_abi.h"

namespace warren::redirect {
namespace {

using SkLookupSkel = BpfSkeleton<warren_sk_lookup_bpf, warren_sk_lookup_bpf__open_opts,
                                 warren_sk_lookup_bpf__load, warren_sk_lookup_bpf__destroy>;

struct LookupResult {
  int retval = -1;
  uint64_t cookie = 0;
};

uint32_t ip4(const char* s) {
  in_addr a{};
  ::inet_pton(AF_INET, s, &a);
  return a.s_addr;
}

class SkLookupTestRun : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to load BPF programs";
    ASSERT_TRUE(ensureBpffs());
    ASSERT_EQ(::mkdir(pins_.path().c_str(), 0700), 0);
    auto skel = SkLookupSkel::open("sk_lookup", pins_.path());
    ASSERT_TRUE(skel);
    ASSERT_TRUE(skel->load()) << "sk_lookup failed verification";
    skel_.emplace(std::move(*skel));

    listener_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(listener_.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    ASSERT_EQ(::listen(listener_.get(), 4), 0);
    socklen_t len = sizeof(listener_cookie_);
    ASSERT_EQ(::getsockopt(listener_.get(), SOL_SOCKET, SO_COOKIE, &listener_cookie_, &len), 0);
  }

  LookupResult run(const char* src, uint16_t sport, const char* dst, uint16_t dport) {
    bpf_sk_lookup ctx{};
    ctx.family = AF_INET;
    ctx.protocol = IPPROTO_TCP;
    ctx.remote_ip4 = ip4(src);
    ctx.remote_port = htons(sport);
    ctx.local_ip4 = ip4(dst);
    ctx.local_port = dport;
    bpf_test_run_opts opts{};
    opts.sz = sizeof(opts);
    opts.ctx_in = &ctx;
    opts.ctx_size_in = sizeof(ctx);
    opts.ctx_out = &ctx;
    opts.ctx_size_out = sizeof(ctx);
    LookupResult r;
    int err = bpf_prog_test_run_opts(bpf_program__fd((*skel_)->progs.warren_sk_lookup), &opts);
    EXPECT_EQ(err, 0) << "test_run errno " << errno;
    r.retval = static_cast<int>(opts.retval);
    r.cookie = ctx.cookie;
    return r;
  }

  int mapFd(bpf_map* m) { return bpf_map__fd(m); }

  testing::TempPinDir pins_;
  std::optional<SkLookupSkel> skel_;
  UniqueFd listener_;
  uint64_t listener_cookie_ = 0;
};

TEST_F(SkLookupTestRun, SteersToRegisteredListenerAndFailsClosedWithout) {
  // No listener registered for 10.244.1.5: drop (the client gets a reset), never the app.
  auto r = run("10.244.2.9", 40000, "10.244.1.5", 8080);
  EXPECT_EQ(r.retval, SK_DROP);

  ASSERT_TRUE(registerInboundListener(pins_.path(), listener_.get(),
                                      {*net::IpAddress::parse("10.244.1.5")}));
  r = run("10.244.2.9", 40000, "10.244.1.5", 8080);
  EXPECT_EQ(r.retval, SK_PASS);
  EXPECT_EQ(r.cookie, listener_cookie_) << "steered to the 15006 listener";

  // HBONE port: never steered.
  r = run("10.244.2.9", 40000, "10.244.1.5", WARREN_PORT_HBONE);
  EXPECT_EQ(r.retval, SK_PASS);
  EXPECT_EQ(r.cookie, 0u);

  // Another address of the node (another pod, not registered): fail closed.
  r = run("10.244.2.9", 40000, "10.244.1.6", 80);
  EXPECT_EQ(r.retval, SK_DROP);
}

TEST_F(SkLookupTestRun, NodeAddressesAreExempt) {
  ASSERT_TRUE(registerInboundListener(pins_.path(), listener_.get(),
                                      {*net::IpAddress::parse("10.244.1.5")}));
  warren_addr node{};
  node.family = WARREN_AF_INET;
  node.addr[0] = ip4("10.244.1.1");
  uint8_t one = 1;
  ASSERT_EQ(bpf_map_update_elem(mapFd((*skel_)->maps.warren_exempt_src), &node, &one, BPF_ANY), 0);
  auto r = run("10.244.1.1", 50000, "10.244.1.5", 8080);
  EXPECT_EQ(r.retval, SK_PASS);
  EXPECT_EQ(r.cookie, 0u) << "kubelet probe must reach the app directly";
  auto counters_fd = mapFd((*skel_)->maps.warren_counters);
  (void)counters_fd;
}

}  // namespace
}  // namespace warren::redirect
