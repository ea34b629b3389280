// The path normalizer against RFC 3986 and Istio's documented examples (Istio "Security best
// practices: Understand path normalization in authorization policy").
#include "waypoint/path/path_normalizer.h"

#include <gtest/gtest.h>

namespace warren::waypoint {
namespace {

using Mode = PathNormalization;
using Slashes = EscapedSlashesAction;

struct Case {
  std::string target;
  Mode mode;
  std::string want;  // "path?query", or "400" / "307 <location>"
  Slashes slashes = Slashes::kModeDefault;
  bool grpc = false;
};

std::string run(const Case& c) {
  auto r = normalizeRequestTarget(c.target, {c.mode, c.slashes}, c.grpc);
  if (r) return r->pathAndQuery();
  if (r.error().status == 307) return "307 " + r.error().location;
  EXPECT_FALSE(r.error().reason.empty());
  return std::to_string(r.error().status);
}

TEST(PathNormalizer, Table) {
  const Case cases[] = {
      // Dot segments (RFC 3986 §5.2.4), never above the root.
      {"/a/./b", Mode::kBase, "/a/b"},
      {"/a/../b", Mode::kBase, "/b"},
      {"/a/b/../../c", Mode::kBase, "/c"},
      {"/../../a", Mode::kBase, "/a"},
      {"/a/..", Mode::kBase, "/"},
      {"/a/.", Mode::kBase, "/a/"},
      {"/a/b/..", Mode::kBase, "/a/"},
      {"/.", Mode::kBase, "/"},
      {"/a/.../b", Mode::kBase, "/a/.../b"},
      {"/a/..b/c", Mode::kBase, "/a/..b/c"},
      {"/a/..;/b", Mode::kBase, "/a/..;/b"},  // ";" is data, as Istio/Envoy (Tomcat differs)
      // Encoded dots are dots.
      {"/a/%2e%2e/b", Mode::kBase, "/b"},
      {"/a/%2E%2E/b", Mode::kBase, "/b"},
      {"/a/.%2e/b", Mode::kBase, "/b"},
      {"/%2E/b", Mode::kBase, "/b"},
      // Unreserved characters decoded, the rest kept with upper-case hex.
      {"/%41%62c%7e%2D%5f", Mode::kBase, "/Abc~-_"},
      {"/a%3bb", Mode::kBase, "/a%3Bb"},
      {"/a%2fb", Mode::kBase, "/a%2Fb"},
      {"/a%20b", Mode::kBase, "/a%20b"},
      {"/%252F", Mode::kBase, "/%252F"},      // no double decoding
      {"/%25%32%46", Mode::kBase, "/%252F"},  // %32 and %46 decode to "2F", %25 stays
      // Backslash is a separator.
      {"/a\\b", Mode::kBase, "/a/b"},
      {"/a\\..\\b", Mode::kBase, "/b"},
      // Slashes merged only when asked.
      {"//a//b", Mode::kBase, "//a//b"},
      {"//a//b", Mode::kMergeSlashes, "/a/b"},
      {"/a//../b", Mode::kBase, "/a/b"},
      {"/a//../b", Mode::kMergeSlashes, "/a/b"},
      // Escaped slashes.
      {"/a%2Fb", Mode::kMergeSlashes, "/a%2Fb"},
      {"/a%2Fb", Mode::kDecodeAndMergeSlashes, "/a/b"},
      {"/a%2f%2fb", Mode::kDecodeAndMergeSlashes, "/a/b"},
      {"/a%5Cb", Mode::kDecodeAndMergeSlashes, "/a/b"},
      {"/a%2F..%2Fb", Mode::kDecodeAndMergeSlashes, "/b"},
      {"/a%2Fb", Mode::kBase, "400", Slashes::kRejectRequest},
      {"/a%5cb", Mode::kBase, "400", Slashes::kRejectRequest},
      {"/a/b", Mode::kBase, "/a/b", Slashes::kRejectRequest},
      {"/a%2Fb?x=%2F", Mode::kBase, "307 /a/b?x=%2F", Slashes::kUnescapeAndRedirect},
      {"/a%2Fb", Mode::kBase, "400", Slashes::kUnescapeAndRedirect, true},  // gRPC
      {"/a/b", Mode::kBase, "/a/b", Slashes::kUnescapeAndRedirect},
      {"/a%2Fb", Mode::kBase, "/a/b", Slashes::kUnescapeAndForward},
      {"/a%2Fb", Mode::kNone, "/a/b", Slashes::kUnescapeAndForward},
      // Non-ASCII and unsafe bytes are escaped; overlong UTF-8 is never decoded.
      {"/caf\xC3\xA9", Mode::kBase, "/caf%C3%A9"},
      {"/a%c0%afb", Mode::kBase, "/a%C0%AFb"},
      {"/a b", Mode::kBase, "/a%20b"},
      {"/a|b", Mode::kBase, "/a%7Cb"},
      // Fragment dropped, query untouched.
      {"/a/../b#frag", Mode::kBase, "/b"},
      {"/a?x=/../&y=%2f#f", Mode::kBase, "/a?x=/../&y=%2f"},
      {"/a?", Mode::kBase, "/a"},
      // Refused in every mode.
      {"/a%00b", Mode::kNone, "400"},
      {"/a%00b", Mode::kBase, "400"},
      {"/a%zzb", Mode::kBase, "400"},
      {"/a%4", Mode::kBase, "400"},
      {"/a\x01", Mode::kBase, "400"},
      {"a/b", Mode::kBase, "400"},
      {"", Mode::kBase, "400"},
      {"*", Mode::kBase, "400"},
      // NONE leaves everything else alone.
      {"/a/../b//c%2e", Mode::kNone, "/a/../b//c%2e"},
      {"/a\\b", Mode::kNone, "/a\\b"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(run(c), c.want) << "'" << c.target << "' " << toString(c.mode) << " "
                              << toString(c.slashes);
  }
}

TEST(PathNormalizer, Idempotent) {
  const char* targets[] = {"/a/./b/../c",  "/%2e%2E/x", "/a%2fb%5C..",  "//x//y/",
                           "/caf\xC3\xA9", "/a%7e%7E",  "/a\\b\\..\\c", "/%252e%252e/"};
  for (Mode mode : {Mode::kNone, Mode::kBase, Mode::kMergeSlashes, Mode::kDecodeAndMergeSlashes}) {
    for (const char* t : targets) {
      auto once = normalizeRequestTarget(t, {mode, Slashes::kModeDefault});
      ASSERT_TRUE(once) << t;
      auto twice = normalizeRequestTarget(once->path, {mode, Slashes::kModeDefault});
      ASSERT_TRUE(twice) << t;
      if (mode != Mode::kNone) {
        EXPECT_EQ(twice->path, once->path) << t << " " << toString(mode);
      }
    }
  }
}

}  // namespace
}  // namespace warren::waypoint
