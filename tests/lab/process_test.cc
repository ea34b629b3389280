#include "lab/process.h"

#include <gtest/gtest.h>

namespace warren::lab {
namespace {

TEST(RunCommandTest, CapturesOutputExitCodeAndStdin) {
  CommandSpec spec;
  spec.argv = {"/bin/sh", "-c", "cat; echo err >&2; exit 3"};
  spec.stdin_data = "hello";
  auto r = runCommand(spec);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->out, "hello");
  EXPECT_EQ(r->err, "err\n");
}

TEST(RunCommandTest, ReplacesEnvironment) {
  CommandSpec spec;
  spec.argv = {"/usr/bin/env"};
  spec.env = std::map<std::string, std::string>{{"CNI_COMMAND", "ADD"}};
  auto r = runCommand(spec);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->out, "CNI_COMMAND=ADD\n");
}

TEST(RunCommandTest, TimesOut) {
  CommandSpec spec;
  spec.argv = {"/bin/sleep", "10"};
  spec.timeout = std::chrono::milliseconds(200);
  auto start = std::chrono::steady_clock::now();
  auto r = runCommand(spec);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kTimeout);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(RunCommandTest, MissingProgramIsAnError) {
  CommandSpec spec;
  spec.argv = {"/nonexistent/prog"};
  EXPECT_FALSE(runCommand(spec));
  auto s = runChecked({"/bin/sh", "-c", "echo boom >&2; exit 1"});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("boom"), std::string::npos);
}

TEST(ResolveProgramTest, BinDirFirstThenPath) {
  auto from_path = resolveProgram("sh", "/nonexistent");
  ASSERT_TRUE(from_path);
  EXPECT_TRUE(from_path->ends_with("/sh")) << *from_path;
  EXPECT_EQ(*resolveProgram("sh", "/bin"), "/bin/sh");
  EXPECT_FALSE(resolveProgram("no-such-program-xyz", "/bin"));
  EXPECT_FALSE(resolveProgram("", "/bin"));
  EXPECT_FALSE(resolveProgram("/nonexistent/x", "/bin"));
}

TEST(SpawnDetachedTest, StartsAndReportsExecFailures) {
  char tmpl[] = "/tmp/warren-spawn-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string log = std::string(tmpl) + "/out.log";
  auto pid = spawnDetached({{"/bin/sh", "-c", "echo started; sleep 30"}, "", "", log});
  ASSERT_TRUE(pid) << pid.error().message();
  EXPECT_TRUE(processAlive(*pid));
  ::kill(*pid, SIGKILL);
  for (int i = 0; i < 100 && processAlive(*pid); ++i) ::usleep(10000);
  EXPECT_FALSE(processAlive(*pid));
  EXPECT_FALSE(spawnDetached({{"/nonexistent/prog"}, "", "", log}));
  std::remove(log.c_str());
  ::rmdir(tmpl);
}

}  // namespace
}  // namespace warren::lab
