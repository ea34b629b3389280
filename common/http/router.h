// Routes (method, exact path) to handlers. Deciding only: dispatch() is a pure function of the
// route table and the request, so 404/405 behaviour is table-tested without sockets.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "common/http/http_message.h"

namespace warren::http {

using Handler = std::function<HttpResponse(const HttpRequest&)>;

class Router {
 public:
  // Registers `handler` for `method` on `path` (exact match; the query is not part of it).
  // A second registration of the same pair replaces the first.
  Router& add(const std::string& method, const std::string& path, Handler handler);

  // The handler's response; 404 for an unknown path; 405 with an Allow header when the path
  // exists but not for this method. A handler that throws yields 500 (handlers are not on the
  // data path, and one bad handler must not take the server down).
  HttpResponse dispatch(const HttpRequest& request) const;

  // Registered paths, sorted (for an index page).
  std::string describe() const;

 private:
  std::map<std::string, std::map<std::string, Handler>> routes_;  // path -> method -> handler
};

}  // namespace warren::http
