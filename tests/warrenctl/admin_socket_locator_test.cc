#include "warrenctl/admin_socket_locator.h"

#include <gtest/gtest.h>

namespace warren::ctl {
namespace {

TEST(AdminSocketLocator, PrecedenceTable) {
  struct Case {
    SocketFlags flags;
    std::optional<std::string> env;
    std::string want_path;
    std::string want_log;
  };
  const Case cases[] = {
      {{}, std::nullopt, "/var/run/warren/admin.sock", ""},
      {{}, "/tmp/lab", "/var/run/warren/admin.sock", ""},  // the env only matters with --node
      {{.socket = std::nullopt, .run_dir = "/r", .node = std::nullopt, .lab_dir = std::nullopt},
       std::nullopt,
       "/r/admin.sock",
       ""},
      {{.socket = std::nullopt, .run_dir = std::nullopt, .node = "node-2", .lab_dir = std::nullopt},
       std::nullopt,
       "/run/warren-lab/nodes/node-2/run/admin.sock",
       "/run/warren-lab/nodes/node-2/logs/agent.log"},
      {{.socket = std::nullopt, .run_dir = std::nullopt, .node = "node-2", .lab_dir = std::nullopt},
       "/tmp/lab",
       "/tmp/lab/nodes/node-2/run/admin.sock",
       "/tmp/lab/nodes/node-2/logs/agent.log"},
      {{.socket = std::nullopt, .run_dir = std::nullopt, .node = "node-3", .lab_dir = "/l"},
       "/tmp/lab",
       "/l/nodes/node-3/run/admin.sock",
       "/l/nodes/node-3/logs/agent.log"},
      {{.socket = std::nullopt, .run_dir = "/r", .node = "node-3", .lab_dir = "/l"},
       std::nullopt,
       "/r/admin.sock",
       ""},
      {{.socket = "/s.sock", .run_dir = "/r", .node = "node-3", .lab_dir = "/l"},
       std::nullopt,
       "/s.sock",
       ""},
  };
  for (const auto& c : cases) {
    auto loc = locateAdminSocket(c.flags, c.env);
    EXPECT_EQ(loc.path, c.want_path);
    EXPECT_EQ(loc.log_hint, c.want_log);
    EXPECT_FALSE(loc.how.empty());
  }
}

}  // namespace
}  // namespace warren::ctl
