// Turns the model's enrolment decision into kernel and ztunnel state for this node:
//   enrolled pod + known netns  ->  ZDS add (ztunnel binds its listeners), then eBPF enrol;
//   pod leaves the mesh         ->  eBPF unenrol first, then ZDS del.
// Already established connections are untouched either way (eBPF acts on new connects and
// new SYNs only). Fail closed: a pod is enrolled in eBPF even when no ztunnel acknowledged it,
// so its connects are refused rather than sent in plaintext.
//
// Netns come from warren-cni ADD only; each ADD is also recorded (pod_netns_store.h), so after
// a restart the agent reopens the netns of pods that already run from its own records, never
// by looking through other namespaces. One worker thread re-syncs on each snapshot and every
// few seconds.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent/cni/cni_invocation.h"
#include "agent/model/cluster_snapshot.h"
#include "agent/redirect/pod_netns_store.h"
#include "agent/zds/zds_server.h"
#include "bpf/loader/redirect_dataplane.h"

namespace warren::agent {

class EnrolmentController {
 public:
  // `dataplane` may be null (no --cgroup: ZDS only, no capture).
  // `node_ip` and every address of the agent's own netns are exempt from inbound capture
  // (kubelet probes); re-read on each pass, since CNI adds the pod bridge address later.
  // `records`: where CNI ADDs are kept across restarts (<run-dir>/pods).
  EnrolmentController(std::string node, std::string node_ip,
                      std::unique_ptr<redirect::RedirectDataplane> dataplane, zds::ZdsServer& zds,
                      PodNetnsStore records);
  ~EnrolmentController();

  void start();
  void stop();

  void onSnapshot(SnapshotPtr snapshot);

  // After the config source delivered its initial state: one full pass (with the netns of
  // running pods reopened from the records), then ZDS starts serving ztunnels a complete
  // snapshot. No pass runs before it: not the periodic one, not a snapshot's, not a CNI ADD's
  // (which waits for it, and fails if it does not come in time).
  void initialSync();

  // warren-cni ADD/DEL/CHECK. ADD of an enrolled pod returns once ztunnel acknowledged it.
  Status handleCni(const cni::AgentCniRequest& request);

  // Each enrolled pod of this node as the last pass left it, for the admin API. A copy made
  // at the end of every pass, so reading it never waits for a pass (which may wait for ZDS).
  struct PodRedirection {
    std::string ns, name, uid, ip;
    uint64_t netns_cookie = 0;  // 0: the pod's netns is not known yet
    uint64_t netns_inode = 0;
  };
  std::vector<PodRedirection> redirections() const;
  // The eBPF pins this agent put back (RedirectDataplane::pinRepairs) as the last pass left
  // them; nullopt without eBPF capture.
  std::optional<redirect::PinRepairs> pinRepairs() const;

 private:
  struct PodNetns {
    std::string ns, name, uid, ip;
    std::shared_ptr<UniqueFd> fd;
    uint64_t cookie = 0;
    std::chrono::steady_clock::time_point added;
  };
  void loop();
  // One pass; returns the ZDS status of pod `focus` ("ns/name") when it is enrolled now.
  Status sync(const std::string& focus);
  // First pass only: the netns of pods CNI added before this agent started, from the records.
  void restoreFromRecords();
  // Until initialSync() ran (true) or `deadline` passed / stop() was called (false).
  bool waitForInitialSync(std::chrono::steady_clock::time_point deadline);

  std::string node_;
  std::string node_ip_;
  std::unique_ptr<redirect::RedirectDataplane> dataplane_;
  zds::ZdsServer& zds_;
  PodNetnsStore records_;

  SnapshotPtr latestSnapshot();

  std::mutex snap_mu_;  // guards snapshot_, dirty_, stopping_, synced_ (never held across I/O)
  std::condition_variable cv_;
  SnapshotPtr snapshot_;
  bool dirty_ = false;
  bool stopping_ = false;
  // initialSync() ran. Before it a snapshot holds only part of the config source's initial
  // state (its first updates arrive one by one): a pass on it would unenrol running pods whose
  // namespace or pod object is not in yet, and their new connections would go uncaptured.
  bool synced_ = false;

  std::mutex sync_mu_;  // guards the rest; sync() runs under it (may wait for ZDS acks)
  std::map<std::string, PodNetns> netns_by_pod_;  // by "ns/name"
  std::map<std::string, std::string> zds_added_;  // "ns/name" -> uid handed to ZDS
  bool restored_ = false;                         // the records were read (first pass)
  std::thread thread_;
  mutable std::mutex published_mu_;  // guards published_ and published_repairs_ only
  std::vector<PodRedirection> published_;
  std::optional<redirect::PinRepairs> published_repairs_;
};

}  // namespace warren::agent
