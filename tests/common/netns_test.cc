#include "common/netns.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace warren {
namespace {

ino_t currentNetnsInode() {
  struct stat st{};
  EXPECT_EQ(::stat("/proc/thread-self/ns/net", &st), 0);
  return st.st_ino;
}

TEST(Netns, MissingPathIsAnError) {
  auto g = NetnsGuard::enter("/run/netns/warren-does-not-exist");
  ASSERT_FALSE(g);
  EXPECT_EQ(g.error().sysErrno(), ENOENT);
  EXPECT_NE(g.error().message().find("/run/netns/warren-does-not-exist"), std::string::npos);
}

TEST(Netns, EnterAndRestore) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to create a network namespace";
  // A child process makes a fresh netns and keeps it alive; we enter it through /proc/PID.
  int ready[2], done[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(done), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (unshare(CLONE_NEWNET) != 0) _exit(1);
    char c;
    (void)!write(ready[1], "r", 1);
    (void)!read(done[0], &c, 1);  // wait until the parent is done
    _exit(0);
  }
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  ino_t before = currentNetnsInode();
  std::string path = "/proc/" + std::to_string(child) + "/ns/net";
  {
    auto g = NetnsGuard::enter(path);
    ASSERT_TRUE(g) << g.error().message();
    EXPECT_NE(currentNetnsInode(), before);
    auto fd = openNetns("/proc/thread-self/ns/net");
    ASSERT_TRUE(fd);
  }
  EXPECT_EQ(currentNetnsInode(), before);
  auto self = openNetns("/proc/thread-self/ns/net");
  auto other = openNetns(path);
  ASSERT_TRUE(self && other);
  auto c1 = netnsCookie(self->get());
  auto c2 = netnsCookie(other->get());
  ASSERT_TRUE(c1 && c2);
  EXPECT_NE(*c1, *c2);
  EXPECT_EQ(currentNetnsInode(), before);
  (void)!write(done[1], "x", 1);
  int status = 0;
  waitpid(child, &status, 0);
  for (int fd : {ready[0], ready[1], done[0], done[1]}) close(fd);
}

}  // namespace
}  // namespace warren
