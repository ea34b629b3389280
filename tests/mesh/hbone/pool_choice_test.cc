// chooseConnection (mesh/hbone/pool_choice.h): which pooled connection a new tunnel rides, or
// whether it dials, as a table.
#include "mesh/hbone/pool_choice.h"

#include <gtest/gtest.h>

#include <vector>

namespace warren::mesh {
namespace {

constexpr std::optional<size_t> kDial = std::nullopt;

struct Row {
  const char* name;
  std::vector<PooledConnectionLoad> connections;  // {can_open, going_away, open_streams}
  PoolSpread spread;
  std::optional<size_t> want;
};

TEST(PoolChoice, Table) {
  const PoolSpread on{};  // busy at 1 stream, up to 4 connections
  const PoolSpread off{.busy_streams = 1, .connections = 1};
  const PoolSpread busy_at_3{.busy_streams = 3, .connections = 4};
  const std::vector<Row> rows = {
      {"no connection: dial", {}, on, kDial},
      {"an idle connection is reused", {{true, false, 0}}, on, 0},
      {"a busy one spreads", {{true, false, 1}}, on, kDial},
      {"spreading off: a busy one is shared", {{true, false, 1}}, off, 0},
      {"the least loaded one", {{true, false, 2}, {true, false, 0}, {true, false, 1}}, on, 1},
      {"ties go to the oldest", {{true, false, 1}, {true, false, 1}}, busy_at_3, 0},
      {"every one busy, below the limit: dial",
       {{true, false, 1}, {true, false, 1}, {true, false, 2}},
       on,
       kDial},
      {"every one busy, at the limit: the least loaded",
       {{true, false, 3}, {true, false, 1}, {true, false, 2}, {true, false, 1}},
       on,
       1},
      {"below the busy threshold: shared", {{true, false, 2}}, busy_at_3, 0},
      {"at the busy threshold: spread", {{true, false, 3}}, busy_at_3, kDial},
      {"full ones count toward the limit",
       {{false, false, 100}, {false, false, 100}, {false, false, 100}, {true, false, 1}},
       on,
       3},
      {"every one full: dial, whatever the limit",
       {{false, false, 100}, {false, false, 100}, {false, false, 100}, {false, false, 100}},
       on,
       kDial},
      {"going-away ones are never picked", {{false, true, 0}}, off, kDial},
      {"going-away ones do not count toward the limit",
       {{false, true, 0}, {false, true, 0}, {false, true, 0}, {true, false, 1}},
       on,
       kDial},
      {"going-away ones skipped, the live one shared past the limit",
       {{false, true, 0}, {true, false, 5}},
       off,
       1},
  };
  for (const auto& r : rows) {
    EXPECT_EQ(chooseConnection(r.connections, r.spread), r.want) << r.name;
  }
}

}  // namespace
}  // namespace warren::mesh
