#include "common/http/router.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace warren::http {
namespace {

HttpRequest req(std::string method, std::string path) {
  HttpRequest r;
  r.method = std::move(method);
  r.path = std::move(path);
  return r;
}

TEST(Router, DispatchTable) {
  Router router;
  router.add("GET", "/a", [](const HttpRequest& r) {
    return HttpResponse::text(200, "a:" + r.queryOr("x", "none"));
  });
  router.add("PUT", "/a", [](const HttpRequest& r) { return HttpResponse::text(201, r.body); });
  router.add("GET", "/boom",
             [](const HttpRequest&) -> HttpResponse { throw std::runtime_error("kaput"); });

  auto r = router.dispatch(req("GET", "/a"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "a:none");

  auto put = req("PUT", "/a");
  put.body = "b";
  EXPECT_EQ(router.dispatch(put).status, 201);

  auto nf = router.dispatch(req("GET", "/nope"));
  EXPECT_EQ(nf.status, 404);
  EXPECT_NE(nf.body.find("/nope"), std::string::npos);

  auto na = router.dispatch(req("DELETE", "/a"));
  EXPECT_EQ(na.status, 405);
  ASSERT_EQ(na.headers.size(), 1u);
  EXPECT_EQ(na.headers[0].first, "Allow");
  EXPECT_EQ(na.headers[0].second, "GET, PUT");

  auto boom = router.dispatch(req("GET", "/boom"));
  EXPECT_EQ(boom.status, 500);
  EXPECT_NE(boom.body.find("kaput"), std::string::npos);

  EXPECT_EQ(router.describe(), "GET /a\nPUT /a\nGET /boom\n");
}

}  // namespace
}  // namespace warren::http
