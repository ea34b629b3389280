#include "lab/process.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

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

namespace warren::lab {
namespace {

// A hostPath volume as the lab gives it: the host directory appears at the mount path in the
// process's own mount namespace only; the host keeps an empty mount point (root: mount
// namespaces).
TEST(BindMountTest, HostDirectoryAppearsAtTheMountPathOnly) {
  if (::getuid() != 0) GTEST_SKIP() << "needs root (mount namespace)";
  char tmpl[] = "/tmp/warren-mount-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string src = tmpl;
  { std::ofstream(src + "/xds.sock") << "x"; }
  const std::string target = src + "-target/proxy";
  auto rc = runForeground({"sh", "-c", "test -f " + target + "/xds.sock"}, "", "",
                          MountSetup{{{src, target, false}}, {}});
  ASSERT_TRUE(rc.has_value()) << rc.error().message();
  EXPECT_EQ(*rc, 0);
  EXPECT_FALSE(std::filesystem::exists(target + "/xds.sock")) << "the host sees the bind";
  // Without the mount the file is not there.
  auto without = runForeground({"sh", "-c", "test -f " + target + "/xds.sock"}, "", "");
  ASSERT_TRUE(without);
  EXPECT_NE(*without, 0);
  std::filesystem::remove_all(src);
  std::filesystem::remove_all(src + "-target");
}

}  // namespace
}  // namespace warren::lab
