#include "common/http/response_writer.h"

#include <gtest/gtest.h>

namespace warren::http {
namespace {

TEST(ResponseWriter, KeepAliveAndClose) {
  auto r = HttpResponse::json(200, "{}");
  EXPECT_EQ(serializeResponse(r, true),
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
  auto e = HttpResponse::text(405, "no");
  e.headers.emplace_back("Allow", "GET");
  EXPECT_EQ(serializeResponse(e, false),
            "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 2\r\nAllow: GET\r\nConnection: close\r\n\r\nno");
}

TEST(ResponseWriter, HeaderValuesCannotSplitTheResponse) {
  HttpResponse r;
  r.body = "";
  r.headers.emplace_back("X", "a\r\nSet-Cookie: evil");
  std::string s = serializeResponse(r, true);
  EXPECT_NE(s.find("X: aSet-Cookie: evil\r\n"), std::string::npos);
}

}  // namespace
}  // namespace warren::http
