#include "agent/xds/xds_resource_store.h"

#include <spdlog/spdlog.h>

namespace warren::agent {
namespace {

bool sameVersions(const XdsResourceMap& a, const XdsResourceMap& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [type, resources] : a) {
    auto it = b.find(type);
    if (it == b.end() || it->second.size() != resources.size()) return false;
    for (const auto& [name, r] : resources) {
      auto other = it->second.find(name);
      if (other == it->second.end() || other->second.version != r.version) return false;
    }
  }
  return true;
}

}  // namespace

XdsResourceStore::XdsResourceStore() {
  current_.resources = std::make_shared<const XdsResourceMap>();
}

void XdsResourceStore::update(const ClusterSnapshot& snap, const TranslationContext& ctx) {
  XdsBuild build = buildXdsResources(snap, ctx, &cache_);
  for (const std::string& note : build.notes) spdlog::debug("xds translation: {}", note);
  std::set<std::string> errors(build.errors.begin(), build.errors.end());
  for (const std::string& e : errors)
    if (!logged_errors_.contains(e)) spdlog::warn("policy error: {}", e);
  logged_errors_ = std::move(errors);
  auto next = std::make_shared<const XdsResourceMap>(std::move(build.resources));
  {
    std::lock_guard lock(mu_);
    if (sameVersions(*current_.resources, *next)) return;
    current_.generation++;
    current_.resources = std::move(next);
  }
  cv_.notify_all();
}

XdsResourceStore::Version XdsResourceStore::current() const {
  std::lock_guard lock(mu_);
  return current_;
}

XdsResourceStore::Version XdsResourceStore::waitForChange(uint64_t seen,
                                                          std::chrono::milliseconds timeout,
                                                          const std::function<bool()>& extra) {
  std::unique_lock lock(mu_);
  uint64_t wakes = wakes_;
  cv_.wait_for(lock, timeout,
               [&] { return current_.generation != seen || wakes_ != wakes || extra(); });
  return current_;
}

void XdsResourceStore::wake() {
  {
    std::lock_guard lock(mu_);
    ++wakes_;
  }
  cv_.notify_all();
}

}  // namespace warren::agent
