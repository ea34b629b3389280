#include "ztunnel/control/zds_client.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdint>

#include "common/net/address_json.h"
#include "common/zds/zds_socket.h"
#include "zds.pb.h"

namespace warren::ztunnel {
namespace {
namespace zds = istio::workload::zds;
constexpr auto kPoll = std::chrono::milliseconds(200);

// A pod leaving the mesh (or gone): undo its source routing; a deleted pod's netns may refuse.
void forgetSourceRouting(const EnrolledPod& pod) {
  if (!pod.netns) return;
  if (auto s = removeSourceRouting(pod.netns->get(), pod.source_routing); !s) {
    spdlog::debug("pod {}/{}: removing source routing: {}", pod.namespace_, pod.name,
                  s.error().message());
  }
}
}  // namespace

ZdsClient::ZdsClient(ZdsClientOptions options, OnPodsChanged on_change)
    : options_(std::move(options)), on_change_(std::move(on_change)) {}

ZdsClient::~ZdsClient() { stop(); }

void ZdsClient::start() {
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void ZdsClient::stop() {
  {
    std::lock_guard lock(mu_);  // so run() cannot miss the wake-up between check and wait
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ZdsClient::closeListeners() {
  std::lock_guard lock(mu_);
  for (auto& [uid, pod] : pods_) {
    pod.listeners.sets.clear();
  }
}

ZdsClient::Pods ZdsClient::pods() const {
  std::lock_guard lock(mu_);
  Pods out;
  for (const auto& [uid, p] : pods_) out.push_back(p.pod);
  return out;
}

nlohmann::json ZdsClient::toJson() const {
  std::lock_guard lock(mu_);
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [uid, pod] : pods_) {
    out.push_back({{"uid", uid},
                   {"name", pod.pod->name},
                   {"namespace", pod.pod->namespace_},
                   {"service_account", pod.pod->service_account},
                   {"identity", pod.pod->identity.uri()},
                   {"listeners", {kOutboundPort, kInboundPlainPort, kHbonePort}},
                   {"sockets_per_port", pod.listeners.sets.size()},
                   {"sk_lookup_addresses", pod.listeners.registered_addresses},
                   // Whether the app sees the client's address (source_routing.h), per family.
                   {"source_address_preserved",
                    {{"ipv4", pod.pod->source_routing.v4}, {"ipv6", pod.pod->source_routing.v6}}}});
  }
  return out;
}

void ZdsClient::notify() {
  if (on_change_) on_change_(pods());
}

void ZdsClient::run() {
  mesh::Backoff backoff(options_.initial_backoff, options_.max_backoff);
  bool logged = false;
  while (!stopping_) {
    auto sock = warren::zds::connectSocket(options_.socket_path);
    if (sock) {
      zds::ZdsHello hello;
      hello.set_version(zds::V1);
      if (auto s = warren::zds::sendMessage(sock->get(), hello.SerializeAsString()); !s) {
        spdlog::warn("ZDS hello: {}", s.error().message());
      } else {
        spdlog::info("ZDS connected to {}", options_.socket_path);
        logged = false;
        backoff.reset();
        session(sock->get());
      }
    } else if (!logged) {
      spdlog::info("ZDS: {} (retrying)", sock.error().message());
      logged = true;
    }
    if (stopping_) break;
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, backoff.next(), [&] { return stopping_.load(); });
  }
}

void ZdsClient::session(int sock) {
  {
    std::lock_guard lock(mu_);
    for (auto& [uid, pod] : pods_) pod.seen = false;
  }
  while (!stopping_) {
    auto packet = warren::zds::receiveMessage(sock, kPoll);
    if (!packet) {
      if (packet.error().code() == ErrorCode::kTimeout) continue;
      spdlog::warn("ZDS session ended: {}", packet.error().message());
      return;
    }
    ++messages_;
    bool changed = false;
    std::string error = handle(packet->bytes, std::move(packet->fd), changed);
    if (auto s = warren::zds::sendMessage(sock, encodeZdsAck(error)); !s) {
      spdlog::warn("ZDS ack: {}", s.error().message());
      return;
    }
    if (changed) notify();
  }
}

Result<ZdsRequest> parseZdsRequest(std::string_view bytes, bool has_fd,
                                   std::string_view trust_domain) {
  zds::WorkloadRequest req;
  if (bytes.size() > static_cast<size_t>(INT32_MAX) ||
      !req.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return fail(Error(ErrorCode::kProtocol, "cannot parse WorkloadRequest"));
  }
  ZdsRequest out;
  switch (req.payload_case()) {
    case zds::WorkloadRequest::kAdd: {
      const auto& add = req.add();
      if (add.uid().empty()) return fail(Error::invalid("add: uid is empty"));
      if (!has_fd)
        return fail(Error::invalid(fmt::format("add {}: no netns fd attached", add.uid())));
      auto pod =
          EnrolledPod::make(add.uid(), add.workload_info().name(), add.workload_info().namespace_(),
                            add.workload_info().service_account(), trust_domain);
      if (!pod) return fail(pod.error().wrap(fmt::format("add {}", add.uid())));
      out.kind = ZdsRequest::Kind::kAdd;
      out.uid = add.uid();
      out.pod = std::move(*pod);
      return out;
    }
    case zds::WorkloadRequest::kKeep:
      out.kind = ZdsRequest::Kind::kKeep;
      out.uid = req.keep().uid();
      return out;
    case zds::WorkloadRequest::kDel:
      out.kind = ZdsRequest::Kind::kDel;
      out.uid = req.del().uid();
      return out;
    case zds::WorkloadRequest::kSnapshotSent:
      out.kind = ZdsRequest::Kind::kSnapshotSent;
      return out;
    default:
      return fail(Error(ErrorCode::kProtocol, "WorkloadRequest with no payload"));
  }
}

std::string encodeZdsAck(std::string_view error) {
  zds::WorkloadResponse resp;
  resp.mutable_ack()->set_error(std::string(error));
  return resp.SerializeAsString();
}

std::string ZdsClient::handle(const std::string& bytes, UniqueFd fd, bool& changed) {
  auto req = parseZdsRequest(bytes, static_cast<bool>(fd), options_.trust_domain);
  if (!req) return req.error().message();
  const std::string& uid = req->uid;
  switch (req->kind) {
    case ZdsRequest::Kind::kAdd: {
      {
        std::lock_guard lock(mu_);
        if (auto it = pods_.find(uid); it != pods_.end()) {
          it->second.seen = true;  // replay after a reconnect: listeners already bound
          return "";
        }
      }
      auto listeners = bindPodListeners(fd.get(), options_.listeners);
      if (!listeners) {
        spdlog::warn("ZDS add {} ({}/{}): {}", uid, req->pod->namespace_, req->pod->name,
                     listeners.error().message());
        return fmt::format("add {}: {}", uid, listeners.error().message());
      }
      req->pod->netns = std::make_shared<const UniqueFd>(std::move(fd));
      if (options_.preserve_source) {
        // Without it the pod is still served, its app seeing connections from its own address.
        if (auto r = installSourceRouting(req->pod->netns->get()); r) {
          req->pod->source_routing = *r;
        } else {
          spdlog::warn("ZDS add {} ({}/{}): the app will see its own address as the source: {}",
                       uid, req->pod->namespace_, req->pod->name, r.error().message());
        }
      }
      Pod pod{std::make_shared<const EnrolledPod>(std::move(*req->pod)), std::move(*listeners),
              true};
      if (options_.hooks.added) {
        if (auto s = options_.hooks.added(pod.pod, pod.listeners); !s) {
          spdlog::warn("ZDS add {}: data path: {}", uid, s.error().message());
          return fmt::format("add {}: data path: {}", uid, s.error().message());
        }
      }
      spdlog::info("pod {}/{} ({}) added: listeners 15001/15006/15008 bound ({} each){}",
                   pod.pod->namespace_, pod.pod->name, pod.pod->uid, pod.listeners.sets.size(),
                   pod.listeners.registered_addresses.empty() ? "" : ", 15006 registered");
      std::lock_guard lock(mu_);
      pods_.emplace(uid, std::move(pod));
      changed = true;
      return "";
    }
    case ZdsRequest::Kind::kKeep: {
      std::lock_guard lock(mu_);
      auto it = pods_.find(uid);
      if (it == pods_.end()) return fmt::format("keep {}: unknown workload", uid);
      it->second.seen = true;
      return "";
    }
    case ZdsRequest::Kind::kDel: {
      std::lock_guard lock(mu_);
      auto it = pods_.find(uid);
      if (it == pods_.end()) return "";  // already gone: deleting is idempotent
      spdlog::info("pod {}/{} ({}) removed: listeners closed", it->second.pod->namespace_,
                   it->second.pod->name, it->first);
      if (options_.hooks.removed) options_.hooks.removed(it->first);
      forgetSourceRouting(*it->second.pod);
      pods_.erase(it);
      changed = true;
      return "";
    }
    case ZdsRequest::Kind::kSnapshotSent: {
      std::lock_guard lock(mu_);
      for (auto it = pods_.begin(); it != pods_.end();) {
        if (!it->second.seen) {
          spdlog::info("pod {} not in the ZDS snapshot: removed", it->first);
          if (options_.hooks.removed) options_.hooks.removed(it->first);
          forgetSourceRouting(*it->second.pod);
          it = pods_.erase(it);
          changed = true;
        } else {
          ++it;
        }
      }
      snapshot_received_ = true;
      spdlog::info("ZDS snapshot received: {} pods", pods_.size());
      return "";
    }
  }
  return "";
}

}  // namespace warren::ztunnel
