// ZDS client (INTEROP §13): connects to the agent's zds.sock (SOCK_SEQPACKET), sends
// ZdsHello{V1}, then handles add (pod netns fd via SCM_RIGHTS: bind the pod's listeners) /
// keep / del (close them) / snapshot_sent (drop pods the agent no longer has), acking each
// message (empty error = success). Reconnects with back-off when the agent is not up or goes
// away; pods are kept across a reconnect and reconciled at the next snapshot_sent.
//
// Threading: one thread of its own; pods()/toJson()/snapshotReceived() from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/error.h"
#include "mesh/control/backoff.h"
#include "ztunnel/control/enrolled_pod.h"
#include "ztunnel/control/pod_listeners.h"

namespace warren::ztunnel {

// The data path's view of pod changes, called on the ZDS thread before the ack (the listener
// fds are valid for the call; the callee duplicates what it keeps: worker i its set i). An error
// from `added` is the add's ack error and the pod's listeners are closed again.
struct ZdsPodHooks {
  std::function<Status(const std::shared_ptr<const EnrolledPod>& pod,
                       const PodListeners& listeners)>
      added;
  std::function<void(const std::string& uid)> removed;
};

// One agent request (WorkloadRequest, INTEROP §13) as the client acts on it.
struct ZdsRequest {
  enum class Kind { kAdd, kKeep, kDel, kSnapshotSent };
  Kind kind = Kind::kSnapshotSent;
  std::string uid;                 // kAdd, kKeep, kDel
  std::optional<EnrolledPod> pod;  // kAdd (its netns is attached by the client)
};

// Parses one request packet (`has_fd`: a netns fd rode along as SCM_RIGHTS); an add's pod
// identity is made in `trust_domain`. Pure, so the fuzz target (fuzz/zds_message_fuzz.cc)
// runs exactly what the client runs. An error is a request the client refuses without acting
// on it; its message is the Ack error to send back.
Result<ZdsRequest> parseZdsRequest(std::string_view bytes, bool has_fd,
                                   std::string_view trust_domain);

// The serialised WorkloadResponse{ack{error}} ("" = success) answering one request.
std::string encodeZdsAck(std::string_view error);

struct ZdsClientOptions {
  std::string socket_path;
  std::string trust_domain = "cluster.local";  // of the pods' identities
  PodListenerConfig listeners;
  // Install source-preserving routing in each pod's netns (source_routing.h), so inbound
  // connections reach the app from the client's address (--preserve-source-ip).
  bool preserve_source = false;
  ZdsPodHooks hooks;
  mesh::Backoff::Duration initial_backoff = std::chrono::milliseconds(200);
  mesh::Backoff::Duration max_backoff = std::chrono::seconds(5);
};

class ZdsClient {
 public:
  // Called on the client's thread whenever the pod table changed, with all pods.
  using Pods = std::vector<std::shared_ptr<const EnrolledPod>>;
  using OnPodsChanged = std::function<void(const Pods&)>;

  ZdsClient(ZdsClientOptions options, OnPodsChanged on_change = nullptr);
  ~ZdsClient();
  ZdsClient(const ZdsClient&) = delete;
  ZdsClient& operator=(const ZdsClient&) = delete;

  // Drain: closes every pod's listening sockets now (a ztunnel started beside this one has
  // its own), so the kernel stops queueing connections for us. Pods stay known.
  void closeListeners();
  void start();
  void stop();

  bool snapshotReceived() const { return snapshot_received_.load(); }
  Pods pods() const;
  nlohmann::json toJson() const;
  uint64_t messages() const { return messages_.load(); }

 private:
  struct Pod {
    std::shared_ptr<const EnrolledPod> pod;
    PodListeners listeners;
    bool seen = false;  // confirmed since the current connection started
  };
  void run();
  void session(int sock);
  // Handles one WorkloadRequest; returns the Ack error ("" = success). Sets `done` on a
  // protocol error that ends the session.
  std::string handle(const std::string& bytes, UniqueFd fd, bool& changed);
  void notify();

  ZdsClientOptions options_;
  OnPodsChanged on_change_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> snapshot_received_{false};
  std::atomic<uint64_t> messages_{0};
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Pod> pods_;  // by uid
};

}  // namespace warren::ztunnel
