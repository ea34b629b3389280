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
            "Allow: GET\r\nConnection: close\r\nContent-Length: 2\r\n\r\nno");
}

// A header value with CR/LF is a handler bug or an injection: it is neither written nor
// silently repaired, the client gets a 500 that names the field.
TEST(ResponseWriter, HeaderValuesCannotSplitTheResponse) {
  HttpResponse r;
  r.body = "";
  r.headers.emplace_back("X", "a\r\nSet-Cookie: evil");
  std::string s = serializeResponse(r, true);
  EXPECT_TRUE(s.starts_with("HTTP/1.1 500 Internal Server Error\r\n")) << s;
  EXPECT_EQ(s.find("Set-Cookie"), std::string::npos) << s;
  EXPECT_NE(s.find("field 'X' has a control byte"), std::string::npos) << s;
}

TEST(ResponseWriter, StatusesWithoutABodyHaveNoLength) {
  EXPECT_EQ(serializeResponse(HttpResponse::text(204, ""), true),
            "HTTP/1.1 204 No Content\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
  std::string s = serializeResponse(HttpResponse::text(204, "oops"), true);
  EXPECT_TRUE(s.starts_with("HTTP/1.1 500 ")) << s;
}

}  // namespace
}  // namespace warren::http
