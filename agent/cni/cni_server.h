// The agent's end of warren-cni: a Unix stream socket <run-dir>/cni.sock, one JSON request
// line in, one JSON answer line out ({} or {"error": "..."}). Requests are handled one at a
// time on the server thread (an ADD may wait for ztunnel's ack).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "agent/cni/cni_invocation.h"
#include "common/error.h"
#include "common/unique_fd.h"

namespace warren::cni {

class CniServer {
 public:
  using Handler = std::function<Status(const AgentCniRequest&)>;
  static Result<std::unique_ptr<CniServer>> start(const std::string& socket_path, Handler handler);
  ~CniServer();

 private:
  CniServer(std::string path, UniqueFd listener, Handler handler);
  void loop();
  void serve(int conn);

  std::string path_;
  UniqueFd listener_;
  Handler handler_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace warren::cni
