// parseRequestHead: the RFC 9113 §8.3.1 / §8.5 table.
#include "common/http2/request_head.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace warren::http2 {
namespace {

struct Row {
  const char* name;
  HeaderList headers;
  const char* error;  // substring of the error, or "" for accepted
  RequestHead want = {};
};

TEST(Http2RequestHead, Table) {
  const std::vector<Row> rows = {
      {"get",
       {{":method", "GET"}, {":scheme", "http"}, {":authority", "a:80"}, {":path", "/x?y"}},
       "",
       {"GET", "http", "a:80", "/x?y"}},
      {"options asterisk",
       {{":method", "OPTIONS"}, {":scheme", "https"}, {":authority", "a"}, {":path", "*"}},
       "",
       {"OPTIONS", "https", "a", "*"}},
      {"host instead of authority",
       {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {"host", "h:8080"}},
       "",
       {"GET", "http", "h:8080", "/"}},
      {"host equal to authority",
       {{":method", "GET"},
        {":scheme", "http"},
        {":authority", "h"},
        {":path", "/"},
        {"host", "h"}},
       "",
       {"GET", "http", "h", "/"}},
      {"non-http scheme needs no authority",
       {{":method", "GET"}, {":scheme", "urn"}, {":path", "/x"}},
       "",
       {"GET", "urn", "", "/x"}},
      {"extension method",
       {{":method", "PURGE"}, {":scheme", "http"}, {":authority", "a"}, {":path", "/"}},
       "",
       {"PURGE", "http", "a", "/"}},
      {"connect",
       {{":method", "CONNECT"}, {":authority", "10.0.0.1:8080"}},
       "",
       {"CONNECT", "", "10.0.0.1:8080", ""}},
      {"connect with path",
       {{":method", "CONNECT"}, {":authority", "a:1"}, {":path", "/"}},
       ":path must not be sent with CONNECT"},
      {"connect with scheme",
       {{":method", "CONNECT"}, {":authority", "a:1"}, {":scheme", "http"}},
       ":scheme must not be sent with CONNECT"},
      {"connect without authority", {{":method", "CONNECT"}}, ":authority is missing (CONNECT)"},
      {"no method",
       {{":scheme", "http"}, {":authority", "a"}, {":path", "/"}},
       ":method is missing"},
      {"method not a token",
       {{":method", "GE T"}, {":scheme", "http"}, {":authority", "a"}, {":path", "/"}},
       ":method is not a token"},
      {"duplicate path",
       {{":method", "GET"},
        {":scheme", "http"},
        {":authority", "a"},
        {":path", "/"},
        {":path", "/"}},
       ":path appears twice"},
      {"status in a request",
       {{":status", "200"}, {":method", "GET"}},
       ":status is not a request pseudo-header field"},
      {"pseudo after regular",
       {{":method", "GET"}, {"accept", "*/*"}, {":path", "/"}},
       ":path follows a regular header"},
      {"no scheme",
       {{":method", "GET"}, {":authority", "a"}, {":path", "/"}},
       ":scheme is missing"},
      {"bad scheme",
       {{":method", "GET"}, {":scheme", "h_t"}, {":authority", "a"}, {":path", "/"}},
       ":scheme is not a URI scheme"},
      {"no path",
       {{":method", "GET"}, {":scheme", "http"}, {":authority", "a"}},
       ":path is missing"},
      {"empty path",
       {{":method", "GET"}, {":scheme", "http"}, {":authority", "a"}, {":path", ""}},
       ":path is empty"},
      {"space in path",
       {{":method", "GET"}, {":scheme", "http"}, {":authority", "a"}, {":path", "/a b"}},
       ":path holds whitespace"},
      {"absolute-form path",
       {{":method", "GET"}, {":scheme", "http"}, {":authority", "a"}, {":path", "http://a/"}},
       ":path must start with '/'"},
      {"asterisk for GET",
       {{":method", "GET"}, {":scheme", "http"}, {":authority", "a"}, {":path", "*"}},
       "is '*' but the method is not OPTIONS"},
      {"fragment",
       {{":method", "GET"}, {":scheme", "http"}, {":authority", "a"}, {":path", "/#x"}},
       ":path holds a fragment"},
      {"userinfo",
       {{":method", "GET"}, {":scheme", "http"}, {":authority", "u@a"}, {":path", "/"}},
       ":authority must not carry userinfo"},
      {"userinfo in host",
       {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {"host", "u@a"}},
       "host must not carry userinfo"},
      {"empty authority",
       {{":method", "GET"}, {":scheme", "http"}, {":authority", ""}, {":path", "/"}},
       ":authority is empty"},
      {"path in authority",
       {{":method", "GET"}, {":scheme", "http"}, {":authority", "a/b"}, {":path", "/"}},
       "not an authority"},
      {"no authority",
       {{":method", "GET"}, {":scheme", "https"}, {":path", "/"}},
       ":authority is missing (and no host field)"},
      {"host differs",
       {{":method", "GET"},
        {":scheme", "http"},
        {":authority", "a"},
        {":path", "/"},
        {"host", "b"}},
       "host 'b' differs from :authority 'a'"},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.name);
    auto got = parseRequestHead(r.headers);
    if (std::string(r.error).empty()) {
      ASSERT_TRUE(got.has_value()) << got.error().message();
      EXPECT_EQ(*got, r.want);
    } else {
      ASSERT_FALSE(got.has_value());
      EXPECT_EQ(got.error().code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(got.error().message().find(r.error), std::string::npos) << got.error().message();
    }
  }
}

}  // namespace
}  // namespace warren::http2
