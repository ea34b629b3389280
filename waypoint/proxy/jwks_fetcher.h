// JwksFetcher: keeps the key set of every RequestAuthentication `jwksUri` fresh, from a thread
// of its own (blocking HTTP through common/http's client, never on the data path). A new URI
// is fetched at once; a fetched one again every `refresh` (Istio's
// PILOT_JWT_PUB_KEY_REFRESH_INTERVAL default, 20 min); a failed fetch is retried after
// `retry`, doubling up to `refresh`, and the keys fetched before stay in use meanwhile. Each
// new key set goes to `on_fetched` (the daemon rebuilds its PolicyConfig with it).
//
// Where: "http://<host>[:port]/<path>". `host` is first looked up as a Service of the mesh
// (<name>.<ns>.svc.<domain>, <name>.<ns>.svc or <name>.<ns>: `resolve`, an endpoint's address
// and target port, since the waypoint's own connections are not captured), else handed to the
// resolver libcurl uses. https is refused (no TLS client for it yet): reported, every token of
// that issuer fails (401), never a silent skip.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>

#include "common/error.h"
#include "common/http/http_url.h"
#include "common/net/socket_address.h"
#include "waypoint/jwt/jwks.h"

namespace warren::waypoint {

// "http://host[:port][/path]" (port 80, path "/" when absent); errors name the jwksUri and what
// is wrong ("https is not supported").
Result<http::HttpUrl> parseJwksUri(std::string_view uri);

struct JwksFetcherOptions {
  std::chrono::seconds refresh{1200};
  std::chrono::milliseconds retry{1000};
  std::chrono::milliseconds timeout{5000};  // per fetch
};

class JwksFetcher {
 public:
  // An in-cluster host (and port) to the address to dial; nullopt: not a mesh Service.
  using Resolve =
      std::function<std::optional<net::SocketAddress>(std::string_view host, uint16_t port)>;
  using OnFetched = std::function<void(const std::string& uri, std::shared_ptr<const Jwks>)>;

  JwksFetcher(JwksFetcherOptions options, Resolve resolve, OnFetched on_fetched);
  ~JwksFetcher();
  JwksFetcher(const JwksFetcher&) = delete;
  JwksFetcher& operator=(const JwksFetcher&) = delete;

  // The URIs to keep fresh (the current PolicyConfig's); others are forgotten.
  void setUris(const std::set<std::string>& uris);
  void stop();
  // Per URI: keys held, last fetch time and error (admin /policies).
  nlohmann::json toJson() const;

 private:
  struct Entry {
    std::chrono::steady_clock::time_point due{};
    std::chrono::milliseconds backoff{0};
    size_t keys = 0;
    uint64_t fetches = 0, failures = 0;
    std::string last_error;
  };
  void run();
  Result<std::shared_ptr<const Jwks>> fetch(const std::string& uri) const;

  JwksFetcherOptions options_;
  Resolve resolve_;
  OnFetched on_fetched_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Entry> entries_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace warren::waypoint
