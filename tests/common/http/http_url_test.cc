#include "common/http/http_url.h"

#include <gtest/gtest.h>

namespace warren::http {
namespace {

TEST(ParseHttpUrl, Table) {
  struct Row {
    const char* url;
    const char* host;  // nullptr: refused, for `why`
    uint16_t port;
    const char* target;
    const char* why;
  };
  const Row rows[] = {
      {"http://collector:4318", "collector", 4318, "", ""},
      {"http://collector", "collector", 9, "", ""},
      {"http://10.0.0.5:4318/", "10.0.0.5", 4318, "/", ""},
      {"http://keys.shop.svc:8080/.well-known/jwks.json?v=1", "keys.shop.svc", 8080,
       "/.well-known/jwks.json?v=1", ""},
      {"http://h?x=1", "h", 9, "?x=1", ""},
      {"http://[fd00::5]:4318/t", "[fd00::5]", 4318, "/t", ""},
      {"http://[fd00::5]", "[fd00::5]", 9, "", ""},
      {"https://collector", nullptr, 0, "", "https is not supported"},
      {"collector:4318", nullptr, 0, "", "must start with http://"},
      {"ftp://h/", nullptr, 0, "", "must start with http://"},
      {"http://", nullptr, 0, "", "no host"},
      {"http://:4318", nullptr, 0, "", "no host"},
      {"http://[]:1", nullptr, 0, "", "no host"},
      {"http://h:0", nullptr, 0, "", "port '0' is not 1..65535"},
      {"http://h:70000", nullptr, 0, "", "port '70000'"},
      {"http://h:", nullptr, 0, "", "port '' is not"},
      {"http://h:43x", nullptr, 0, "", "port '43x'"},
      {"http://[fd00::5]x", nullptr, 0, "", "unexpected text after the [IPv6] host"},
      {"http://user@h", nullptr, 0, "", "userinfo"},
      {"http://h/p#frag", nullptr, 0, "", "fragment"},
      {"http://h#frag", nullptr, 0, "", "fragment"},
      {"http://co llector", nullptr, 0, "", "invalid character ' '"},
      {"http://[fd00::5", nullptr, 0, "", "unterminated"},
      {"http://fd00::5:4318", nullptr, 0, "", "IPv6 needs [brackets]"},
  };
  for (const Row& row : rows) {
    auto u = parseHttpUrl(row.url, 9);
    if (!row.host) {
      ASSERT_FALSE(u) << row.url;
      EXPECT_NE(u.error().message().find(row.why), std::string::npos)
          << row.url << ": " << u.error().message();
      continue;
    }
    ASSERT_TRUE(u) << row.url << ": " << u.error().message();
    EXPECT_EQ(u->host, row.host) << row.url;
    EXPECT_EQ(u->port, row.port) << row.url;
    EXPECT_EQ(u->target, row.target) << row.url;
    EXPECT_EQ(u->origin(), std::string("http://") + row.host + ":" + std::to_string(row.port));
  }
}

}  // namespace
}  // namespace warren::http
