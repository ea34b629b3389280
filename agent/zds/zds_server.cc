#include "agent/zds/zds_server.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "common/zds/zds_socket.h"
#include "zds.pb.h"

namespace warren::zds {

namespace {

namespace pb = ::istio::workload::zds;

std::string addRequest(const ZdsWorkload& w) {
  pb::WorkloadRequest req;
  auto* add = req.mutable_add();
  add->set_uid(w.uid);
  auto* info = add->mutable_workload_info();
  info->set_name(w.name);
  info->set_namespace_(w.namespace_);
  info->set_service_account(w.service_account);
  return req.SerializeAsString();
}

std::string delRequest(const std::string& uid) {
  pb::WorkloadRequest req;
  req.mutable_del()->set_uid(uid);
  return req.SerializeAsString();
}

std::string snapshotSentRequest() {
  pb::WorkloadRequest req;
  req.mutable_snapshot_sent();
  return req.SerializeAsString();
}

}  // namespace

ZdsServer::ZdsServer(std::string path, UniqueFd listener, std::chrono::milliseconds ack_timeout)
    : path_(std::move(path)), listener_(std::move(listener)), ack_timeout_(ack_timeout) {}

Result<std::unique_ptr<ZdsServer>> ZdsServer::start(const std::string& socket_path,
                                                    std::chrono::milliseconds ack_timeout) {
  auto listener = listenSocket(socket_path);
  if (!listener) return fail(listener.error().wrap("ZDS server"));
  std::unique_ptr<ZdsServer> server(new ZdsServer(socket_path, std::move(*listener), ack_timeout));
  server->thread_ = std::thread([s = server.get()] { s->acceptLoop(); });
  spdlog::info("zds: listening on {}", socket_path);
  return server;
}

ZdsServer::~ZdsServer() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
  ::unlink(path_.c_str());
}

void ZdsServer::acceptLoop() {
  while (!stopping_) {
    if (!ready_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    pollfd p{listener_.get(), POLLIN, 0};
    int r = ::poll(&p, 1, 200);
    if (r > 0 && (p.revents & POLLIN)) {
      int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) admit(UniqueFd(fd));
    }
    dropDeadClients();
  }
}

void ZdsServer::admit(UniqueFd sock) {
  auto hello_packet = receiveMessage(sock.get(), ack_timeout_);
  if (!hello_packet) {
    spdlog::warn("zds: client sent no hello: {}", hello_packet.error().message());
    return;
  }
  pb::ZdsHello hello;
  if (!hello.ParseFromString(hello_packet->bytes) || hello.version() != pb::V1) {
    spdlog::warn("zds: bad hello (want version V1), closing");
    return;
  }
  std::lock_guard lock(mu_);
  Client client{std::move(sock), next_client_id_++};
  for (const auto& [uid, w] : workloads_) {
    std::string err;
    if (!exchange(client, addRequest(w), w.netns ? w.netns->get() : -1, &err)) return;
    if (!err.empty()) spdlog::warn("zds: ztunnel refused {}: {}", uid, err);
  }
  std::string err;
  if (!exchange(client, snapshotSentRequest(), -1, &err)) return;
  spdlog::info("zds: ztunnel #{} connected, replayed {} workloads", client.id, workloads_.size());
  clients_.push_back(std::move(client));
}

bool ZdsServer::exchange(Client& client, const std::string& request, int pass_fd,
                         std::string* ack_error) {
  if (auto s = sendMessage(client.sock.get(), request, pass_fd); !s) {
    spdlog::warn("zds: ztunnel #{}: {}", client.id, s.error().message());
    return false;
  }
  auto reply = receiveMessage(client.sock.get(), ack_timeout_);
  if (!reply) {
    spdlog::warn("zds: ztunnel #{}: waiting for ack: {}", client.id, reply.error().message());
    return false;
  }
  pb::WorkloadResponse resp;
  if (!resp.ParseFromString(reply->bytes) || !resp.has_ack()) {
    spdlog::warn("zds: ztunnel #{} answered something that is not an ack", client.id);
    return false;
  }
  *ack_error = resp.ack().error();
  return true;
}

void ZdsServer::dropDeadClients() {
  std::lock_guard lock(mu_);
  std::erase_if(clients_, [](const Client& c) {
    pollfd p{c.sock.get(), POLLRDHUP, 0};
    bool dead = ::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
    if (dead) spdlog::info("zds: ztunnel #{} disconnected", c.id);
    return dead;
  });
}

Status ZdsServer::add(const ZdsWorkload& workload) {
  std::lock_guard lock(mu_);
  workloads_[workload.uid] = workload;
  const std::string req = addRequest(workload);
  size_t acked = 0;
  std::string last_error = "no ztunnel connected";
  std::erase_if(clients_, [&](Client& c) {
    std::string err;
    if (!exchange(c, req, workload.netns ? workload.netns->get() : -1, &err)) {
      last_error = "ztunnel did not answer";
      return true;
    }
    if (err.empty()) ++acked;
    else last_error = "ztunnel: " + err;
    return false;
  });
  if (acked == 0)
    return fail(Error(ErrorCode::kUnavailable,
                      "pod " + workload.namespace_ + "/" + workload.name + " not acknowledged: " + last_error));
  return ok();
}

Status ZdsServer::remove(const std::string& uid) {
  std::lock_guard lock(mu_);
  if (workloads_.erase(uid) == 0) return ok();
  const std::string req = delRequest(uid);
  std::erase_if(clients_, [&](Client& c) {
    std::string err;
    if (!exchange(c, req, -1, &err)) return true;
    if (!err.empty()) spdlog::warn("zds: ztunnel #{} del {}: {}", c.id, uid, err);
    return false;
  });
  return ok();
}

size_t ZdsServer::connectedClients() {
  std::lock_guard lock(mu_);
  return clients_.size();
}

}  // namespace warren::zds
