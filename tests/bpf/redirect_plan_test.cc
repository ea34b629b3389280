#include "bpf/loader/redirect_plan.h"

#include <gtest/gtest.h>

#include <cctype>

namespace warren::redirect {
namespace {

using Kind = RedirectAction::Kind;

struct PlanCase {
  const char* name;
  std::set<uint64_t> desired;
  PinnedRedirectState pinned;
  std::vector<RedirectAction> want;
};

void PrintTo(const PlanCase& c, std::ostream* os) { *os << c.name; }

class PlanTest : public ::testing::TestWithParam<PlanCase> {};

TEST_P(PlanTest, Plans) {
  const auto& c = GetParam();
  auto got = planRedirect(c.desired, c.pinned);
  std::vector<std::string> got_s, want_s;
  for (const auto& a : got) got_s.push_back(toString(a));
  for (const auto& a : c.want) want_s.push_back(toString(a));
  EXPECT_EQ(got_s, want_s);
}

INSTANTIATE_TEST_SUITE_P(
    Table, PlanTest,
    ::testing::Values(
        PlanCase{"nothing", {}, {}, {}},
        PlanCase{"new pod: inbound capture before outbound", {7}, {}, {{Kind::kAttachLookup, 7}, {Kind::kEnrol, 7}}},
        PlanCase{"already in place: nothing (never a second link)",
                 {7},
                 {{7}, {{7, true}}},
                 {}},
        PlanCase{"restart found map entry but no link", {7}, {{7}, {}}, {{Kind::kAttachLookup, 7}}},
        PlanCase{"link but no map entry", {7}, {{}, {{7, true}}}, {{Kind::kEnrol, 7}}},
        PlanCase{"pod leaves: removals",
                 {},
                 {{7}, {{7, true}}},
                 {{Kind::kUnenrol, 7}, {Kind::kDetachLookup, 7}}},
        PlanCase{"netns died: stale pin dropped",
                 {},
                 {{}, {{9, false}}},
                 {{Kind::kDropStaleLookup, 9}}},
        PlanCase{"desired but link detached: drop then attach again",
                 {9},
                 {{9}, {{9, false}}},
                 {{Kind::kDropStaleLookup, 9}, {Kind::kAttachLookup, 9}}},
        PlanCase{"mixed: removals first, then ascending cookies",
                 {3, 1, 5},
                 {{1, 2}, {{1, true}, {2, true}, {4, false}}},
                 {{Kind::kUnenrol, 2},
                  {Kind::kDetachLookup, 2},
                  {Kind::kDropStaleLookup, 4},
                  {Kind::kAttachLookup, 3},
                  {Kind::kAttachLookup, 5},
                  {Kind::kEnrol, 3},
                  {Kind::kEnrol, 5}}}),
    [](const auto& param_info) {
      std::string n;
      for (const char* p = param_info.param.name; *p; ++p) n += std::isalnum(static_cast<unsigned char>(*p)) ? *p : '_';
      return n;
    });

TEST(Plan, ApplyingThePlanReachesAFixedPoint) {
  // Simulate applying actions on the pinned state: a second plan must be empty.
  PinnedRedirectState pinned{{1, 2}, {{1, true}, {2, true}, {4, false}}};
  std::set<uint64_t> desired{3, 1, 5};
  for (const auto& a : planRedirect(desired, pinned)) {
    switch (a.kind) {
      case Kind::kUnenrol: pinned.enrolled.erase(a.netns_cookie); break;
      case Kind::kDetachLookup:
      case Kind::kDropStaleLookup: pinned.lookup_links.erase(a.netns_cookie); break;
      case Kind::kAttachLookup: pinned.lookup_links[a.netns_cookie] = true; break;
      case Kind::kEnrol: pinned.enrolled.insert(a.netns_cookie); break;
    }
  }
  EXPECT_TRUE(planRedirect(desired, pinned).empty());
  EXPECT_EQ(pinned.enrolled, desired);
}

}  // namespace
}  // namespace warren::redirect
