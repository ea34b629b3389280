#include "common/http/router.h"

#include <exception>

namespace warren::http {

Router& Router::add(const std::string& method, const std::string& path, Handler handler) {
  routes_[path][method] = std::move(handler);
  return *this;
}

HttpResponse Router::dispatch(const HttpRequest& request) const {
  auto path_it = routes_.find(request.path);
  if (path_it == routes_.end())
    return HttpResponse::text(404, "no handler for path '" + request.path + "'\n");
  auto method_it = path_it->second.find(request.method);
  if (method_it == path_it->second.end()) {
    std::string allow;
    for (const auto& [method, _] : path_it->second) allow += (allow.empty() ? "" : ", ") + method;
    auto r = HttpResponse::text(405, "method " + request.method + " not allowed on '" +
                                         request.path + "' (allowed: " + allow + ")\n");
    r.headers.emplace_back("Allow", allow);
    return r;
  }
  try {
    return method_it->second(request);
  } catch (const std::exception& e) {
    return HttpResponse::text(500, std::string("handler failed: ") + e.what() + "\n");
  } catch (...) {
    return HttpResponse::text(500, "handler failed\n");
  }
}

std::string Router::describe() const {
  std::string out;
  for (const auto& [path, methods] : routes_) {
    for (const auto& [method, _] : methods) out += method + " " + path + "\n";
  }
  return out;
}

}  // namespace warren::http
