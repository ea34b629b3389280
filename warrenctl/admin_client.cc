#include "warrenctl/admin_client.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "common/http/http_client.h"
#include "common/percent_encoding.h"

namespace warren::ctl {

Result<nlohmann::json> AdminClient::get(ResourceKind kind,
                                        const std::map<std::string, std::string>& query) const {
  return call("GET", apiPath(kind), query);
}

Result<nlohmann::json> AdminClient::setLogLevel(const std::string& level,
                                                const std::string& component) const {
  return call("PUT", apiPath(ResourceKind::kLog), {{"level", level}, {"component", component}});
}

Result<nlohmann::json> AdminClient::call(const std::string& method, const std::string& path,
                                         const std::map<std::string, std::string>& query) const {
  const std::string& sock = location_.path;
  std::string checks = "check that warren-agent is running on this node";
  if (!location_.log_hint.empty()) checks += " (its log: " + location_.log_hint + ")";
  checks += ", that " + sock + " exists and that you may open it (root or the socket's group)";
  checks += "; choose another agent with --node NAME, --run-dir DIR or --socket PATH";

  struct stat st {};
  if (::stat(sock.c_str(), &st) != 0) {
    int saved = errno;
    return fail(Error(ErrorCode::kUnavailable,
                      "cannot reach the warren agent admin API: no socket at " + sock + " (" +
                          location_.how + ": " + std::strerror(saved) + "); " + checks));
  }
  if (!S_ISSOCK(st.st_mode))
    return fail(Error(ErrorCode::kUnavailable, "cannot reach the warren agent admin API: " + sock +
                                                   " exists but is not a socket (" + location_.how +
                                                   ")"));

  std::string target = path;
  char sep = '?';
  for (const auto& [k, v] : query) {
    if (v.empty()) continue;
    target += sep + percentEncode(k, isUriUnreserved) + "=" + percentEncode(v, isUriUnreserved);
    sep = '&';
  }
  http::ClientRequest req = http::ClientRequest::withMethod(method, target);
  req.timeout = timeout_;
  auto resp = http::httpRequest(http::ListenAddress::unixSocket(sock), req);
  if (!resp)
    return fail(Error(resp.error().code(), "cannot reach the warren agent admin API at " + sock +
                                               " (" + location_.how +
                                               "): " + resp.error().context() + "; " + checks));

  auto parsed = nlohmann::json::parse(resp->body, nullptr, /*allow_exceptions=*/false);
  if (resp->status < 200 || resp->status > 299) {
    std::string detail = resp->body;
    if (parsed.is_object() && parsed.contains("error") && parsed["error"].is_string())
      detail = parsed["error"].get<std::string>();
    while (!detail.empty() && (detail.back() == '\n' || detail.back() == '\r')) detail.pop_back();
    return fail(Error(resp->status == 404 ? ErrorCode::kNotFound : ErrorCode::kProtocol,
                      "agent answered " + method + " " + target + " with HTTP " +
                          std::to_string(resp->status) + ": " + detail));
  }
  if (parsed.is_discarded())
    return fail(Error(ErrorCode::kProtocol, "agent answered " + method + " " + target +
                                                " with a body that is not JSON (" +
                                                std::to_string(resp->body.size()) + " bytes)"));
  return parsed;
}

}  // namespace warren::ctl
