#include "common/error.h"

#include <gtest/gtest.h>

#include <fcntl.h>

namespace warren {
namespace {

Result<int> openMissing() {
  int fd = ::open("/nonexistent/warren", O_RDONLY);
  if (fd < 0) return fail(WARREN_SYS_ERROR("open /nonexistent/warren"));
  return fd;
}

Status chain() {
  WARREN_TRY(openMissing());
  return ok();
}

TEST(Error, SystemErrorCarriesErrnoAndContext) {
  auto r = openMissing();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kSystem);
  EXPECT_EQ(r.error().sysErrno(), ENOENT);
  EXPECT_EQ(r.error().message(), "open /nonexistent/warren: No such file or directory (ENOENT)");
}

TEST(Error, TryPropagatesAndWrapPrefixes) {
  auto s = chain();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().wrap("loading").context(), "loading: open /nonexistent/warren");
  EXPECT_EQ(s.error().wrap("loading").sysErrno(), ENOENT);
}

TEST(Error, InvalidHasNoErrno) {
  Error e = Error::invalid("bad flag --nodes: expected a number");
  EXPECT_EQ(e.message(), "bad flag --nodes: expected a number");
  EXPECT_STREQ(errorCodeName(e.code()), "invalid argument");
}

}  // namespace
}  // namespace warren
