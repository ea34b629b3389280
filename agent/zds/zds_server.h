// The agent's ZDS server (INTEROP §13, proto/zds.proto): ztunnel connects to
// <run-dir>/zds.sock and sends ZdsHello; the server replays every known workload (add + netns
// fd, one ack each), sends snapshot_sent, then forwards each add/del as it happens. Several
// ztunnels may be connected at once (a rolling update overlaps old and new).
//
// Threading: one accept thread; add()/remove() run on the caller's thread. All client
// sockets are touched only under mu_, so an ack is never read by two threads.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"

namespace warren::zds {

struct ZdsWorkload {
  std::string uid;
  std::string name;
  std::string namespace_;
  std::string service_account;
  std::shared_ptr<UniqueFd> netns;  // shared with the agent's pod registry
};

class ZdsServer {
 public:
  static Result<std::unique_ptr<ZdsServer>> start(const std::string& socket_path,
                                                  std::chrono::milliseconds ack_timeout);
  ~ZdsServer();

  // Remembers the workload (replayed to every ztunnel that connects later) and sends it to
  // the connected ones, waiting for their acks. kUnavailable when no ztunnel acknowledged it
  // (none connected, or each failed / timed out); the workload is still remembered.
  Status add(const ZdsWorkload& workload);

  // Forgets the workload and sends del to every connected ztunnel.
  Status remove(const std::string& uid);

  size_t connectedClients();

 private:
  struct Client {
    UniqueFd sock;
    uint64_t id;
  };
  ZdsServer(std::string path, UniqueFd listener, std::chrono::milliseconds ack_timeout);
  void acceptLoop();
  void admit(UniqueFd sock);
  // Sends one request and waits for its ack; false = drop this client.
  bool exchange(Client& client, const std::string& request, int pass_fd, std::string* ack_error);
  void dropDeadClients();

  std::string path_;
  UniqueFd listener_;
  std::chrono::milliseconds ack_timeout_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;

  std::mutex mu_;
  std::map<std::string, ZdsWorkload> workloads_;  // by uid
  std::vector<Client> clients_;
  uint64_t next_client_id_ = 1;
};

}  // namespace warren::zds
