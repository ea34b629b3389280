#include "waypoint/proxy/jwks_fetcher.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/http/http_client.h"

namespace warren::waypoint {

Result<http::HttpUrl> parseJwksUri(std::string_view uri) {
  auto u = http::parseHttpUrl(uri, 80);
  if (!u) return fail(Error::invalid(fmt::format("jwksUri {}: {}", uri, u.error().message())));
  if (u->target.empty()) u->target = "/";
  return u;
}

JwksFetcher::JwksFetcher(JwksFetcherOptions options, Resolve resolve, OnFetched on_fetched)
    : options_(options), resolve_(std::move(resolve)), on_fetched_(std::move(on_fetched)) {
  thread_ = std::thread([this] { run(); });
}

JwksFetcher::~JwksFetcher() { stop(); }

void JwksFetcher::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void JwksFetcher::setUris(const std::set<std::string>& uris) {
  {
    std::lock_guard lock(mu_);
    std::erase_if(entries_, [&](const auto& e) { return !uris.contains(e.first); });
    for (const auto& u : uris) entries_.try_emplace(u);  // due now
  }
  cv_.notify_all();
}

Result<std::shared_ptr<const Jwks>> JwksFetcher::fetch(const std::string& uri) const {
  auto url = parseJwksUri(uri);
  if (!url) return fail(url.error());
  std::string origin = url->origin();
  if (resolve_) {
    if (auto at = resolve_(url->host, url->port)) origin = "http://" + at->toString();
  }
  http::ClientRequest req = http::ClientRequest::get(url->target);
  req.timeout = options_.timeout;
  auto resp = http::httpRequestToOrigin(origin, req);
  if (!resp) return fail(resp.error().wrap("fetching " + uri + " (" + origin + ")"));
  if (resp->status != 200)
    return fail(
        Error(ErrorCode::kUnavailable, fmt::format("fetching {}: HTTP {}", uri, resp->status)));
  auto keys = Jwks::parse(resp->body);
  if (!keys) return fail(keys.error().wrap("JWKS from " + uri));
  return std::make_shared<const Jwks>(std::move(*keys));
}

void JwksFetcher::run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    auto now = std::chrono::steady_clock::now();
    std::string due;
    auto next = now + options_.refresh;
    for (const auto& [uri, e] : entries_) {
      if (e.due <= now) {
        due = uri;
        break;
      }
      next = std::min(next, e.due);
    }
    if (due.empty()) {
      cv_.wait_until(lock, next);
      continue;
    }
    lock.unlock();
    auto got = fetch(due);
    if (got) on_fetched_(due, *got);
    lock.lock();
    auto it = entries_.find(due);
    if (it == entries_.end()) continue;  // no longer wanted
    Entry& e = it->second;
    ++e.fetches;
    now = std::chrono::steady_clock::now();
    if (got) {
      e.keys = (*got)->keys().size();
      e.last_error.clear();
      e.backoff = std::chrono::milliseconds(0);
      e.due = now + options_.refresh;
      spdlog::info("waypoint: JWKS {}: {} keys", due, e.keys);
    } else {
      ++e.failures;
      e.last_error = got.error().message();
      e.backoff = e.backoff.count() == 0
                      ? options_.retry
                      : std::min<std::chrono::milliseconds>(e.backoff * 2, options_.refresh);
      e.due = now + e.backoff;
      spdlog::warn("waypoint: JWKS {}: {} (retry in {} ms)", due, e.last_error, e.backoff.count());
    }
  }
}

nlohmann::json JwksFetcher::toJson() const {
  std::lock_guard lock(mu_);
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [uri, e] : entries_)
    out.push_back({{"uri", uri},
                   {"keys", e.keys},
                   {"fetches", e.fetches},
                   {"failures", e.failures},
                   {"last_error", e.last_error}});
  return out;
}

}  // namespace warren::waypoint
