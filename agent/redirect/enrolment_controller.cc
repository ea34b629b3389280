#include "agent/redirect/enrolment_controller.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include "agent/model/enrolment.h"
#include "bpf/loader/inbound_registration.h"
#include "common/netns.h"

namespace warren::agent {

namespace {

// Re-sync cadence: retries pods whose netns was not found yet and ztunnels that came late.
constexpr auto kResyncEvery = std::chrono::seconds(2);
// CNI ADD can race the informer by a few ms (the pod object is written just before).
constexpr auto kWaitForPodObject = std::chrono::seconds(5);
// A netns registered by CNI whose pod object never showed up is forgotten after this.
constexpr auto kForgetUnknownAfter = std::chrono::seconds(30);

std::string podKey(const std::string& ns, const std::string& name) { return ns + "/" + name; }

}  // namespace

EnrolmentController::EnrolmentController(std::string node, std::string node_ip,
                                         std::unique_ptr<redirect::RedirectDataplane> dataplane,
                                         zds::ZdsServer& zds, PodNetnsStore records)
    : node_(std::move(node)),
      node_ip_(std::move(node_ip)),
      dataplane_(std::move(dataplane)),
      zds_(zds),
      records_(std::move(records)) {}

EnrolmentController::~EnrolmentController() { stop(); }

void EnrolmentController::start() {
  thread_ = std::thread([this] { loop(); });
}

void EnrolmentController::stop() {
  {
    std::lock_guard lock(snap_mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void EnrolmentController::onSnapshot(SnapshotPtr snapshot) {
  {
    std::lock_guard lock(snap_mu_);
    snapshot_ = std::move(snapshot);
    dirty_ = true;
  }
  cv_.notify_all();
}

SnapshotPtr EnrolmentController::latestSnapshot() {
  std::lock_guard lock(snap_mu_);
  return snapshot_;
}

void EnrolmentController::loop() {
  while (true) {
    {
      std::unique_lock lock(snap_mu_);
      cv_.wait_for(lock, kResyncEvery, [&] { return (dirty_ && synced_) || stopping_; });
      if (stopping_) return;
      if (!synced_) continue;  // initialSync() makes the first pass
      dirty_ = false;
    }
    if (auto s = sync(""); !s) spdlog::warn("enrolment: {}", s.error().message());
  }
}

Status EnrolmentController::sync(const std::string& focus) {
  std::lock_guard lock(sync_mu_);
  SnapshotPtr snap = latestSnapshot();
  if (!snap) return ok();
  const auto enrolled = enrolledPodsOnNode(*snap, node_);
  const auto now = std::chrono::steady_clock::now();

  // 1. Pods that ran before this agent started: their netns from the CNI records.
  if (!restored_) restoreFromRecords();

  // 2. ZDS add for newly enrolled pods (ztunnel binds before capture starts).
  Status focus_status = ok();
  std::map<std::string, const PodNetns*> desired;
  for (const auto& p : enrolled) {
    const std::string key = podKey(p.namespace_, p.name);
    auto it = netns_by_pod_.find(key);
    if (it == netns_by_pod_.end()) continue;
    desired[key] = &it->second;
    if (zds_added_.contains(key)) continue;
    const std::string uid = p.uid.empty() ? key : p.uid;
    Status s = zds_.add({uid, p.name, p.namespace_, p.service_account, it->second.fd});
    zds_added_[key] = uid;
    if (!s)
      spdlog::warn("enrolment: {} (capture stays on: fail closed)", s.error().message());
    else
      spdlog::info("enrolment: {} acknowledged by ztunnel", key);
    if (key == focus) focus_status = std::move(s);
  }

  // 3. eBPF: enrol the desired netns, unenrol the rest.
  Status bpf_status = ok();
  if (dataplane_) {
    std::vector<net::IpAddress> exempt;
    if (auto local = redirect::localAddresses(); local) exempt = std::move(*local);
    if (!node_ip_.empty()) {
      if (auto ip = net::IpAddress::parse(node_ip_)) {
        exempt.push_back(*ip);
      } else {
        spdlog::warn("enrolment: node IP: {}", ip.error().message());
      }
    }
    if (auto s = dataplane_->setExemptSources(exempt); !s)
      spdlog::warn("enrolment: exempt sources: {}", s.error().message());
    std::map<uint64_t, int> cookies;
    for (const auto& [key, pod] : desired) cookies[pod->cookie] = pod->fd->get();
    bpf_status = dataplane_->reconcile(cookies);
  }

  // 4. ZDS del for pods that left (after capture stopped).
  for (auto it = zds_added_.begin(); it != zds_added_.end();) {
    if (desired.contains(it->first)) {
      ++it;
      continue;
    }
    spdlog::info("enrolment: {} left the mesh", it->first);
    (void)zds_.remove(it->second);
    it = zds_added_.erase(it);
  }

  // 5. Forget netns of pods that are gone from the model.
  std::erase_if(netns_by_pod_, [&](const auto& entry) {
    const auto& pod = entry.second;
    const bool known = snap->pods.contains(pod.ns + "/" + pod.name);  // keyed "ns/name"
    if (known || now - pod.added <= kForgetUnknownAfter) return false;
    records_.forget(pod.ns, pod.name);
    return true;
  });

  // 6. What the admin API shows.
  std::vector<PodRedirection> view;
  for (const auto& p : enrolled) {
    PodRedirection r{p.namespace_, p.name, p.uid, p.pod_ip, 0, 0};
    if (auto it = netns_by_pod_.find(podKey(p.namespace_, p.name)); it != netns_by_pod_.end()) {
      r.netns_cookie = it->second.cookie;
      struct stat st {};
      if (::fstat(it->second.fd->get(), &st) == 0) r.netns_inode = st.st_ino;
    }
    view.push_back(std::move(r));
  }
  {
    std::lock_guard published_lock(published_mu_);
    published_ = std::move(view);
    if (dataplane_) published_repairs_ = dataplane_->pinRepairs();
  }

  if (!focus_status) return focus_status;
  return bpf_status;
}

void EnrolmentController::restoreFromRecords() {
  restored_ = true;
  const auto now = std::chrono::steady_clock::now();
  for (const PodNetnsRecord& r : records_.load()) {
    if (netns_by_pod_.contains(r.key())) continue;  // a CNI ADD of this run came first
    auto fd = openRecordedNetns(r);
    if (!fd) {
      // Deleted while no agent ran (its DEL found nobody), or the path now names another
      // namespace: this record will never be right again.
      spdlog::info("enrolment: dropping the record of {}: {}", r.key(), fd.error().message());
      records_.forget(r.ns, r.name);
      continue;
    }
    auto cookie = netnsCookie(fd->get());
    if (!cookie) continue;
    spdlog::info("enrolment: netns of {} from its CNI record: {}", r.key(), r.netns_path);
    netns_by_pod_[r.key()] = PodNetns{
        r.ns, r.name, r.uid, r.ip, std::make_shared<UniqueFd>(std::move(*fd)), *cookie, now};
  }
}

std::vector<EnrolmentController::PodRedirection> EnrolmentController::redirections() const {
  std::lock_guard lock(published_mu_);
  return published_;
}

std::optional<redirect::PinRepairs> EnrolmentController::pinRepairs() const {
  std::lock_guard lock(published_mu_);
  return published_repairs_;
}

void EnrolmentController::initialSync() {
  if (auto s = sync(""); !s) spdlog::warn("enrolment: initial sync: {}", s.error().message());
  {
    std::lock_guard lock(snap_mu_);
    synced_ = true;
  }
  cv_.notify_all();
  zds_.markReady();
}

bool EnrolmentController::waitForInitialSync(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(snap_mu_);
  return cv_.wait_until(lock, deadline, [&] { return synced_ || stopping_; }) && synced_;
}

Status EnrolmentController::handleCni(const cni::AgentCniRequest& req) {
  const std::string key = podKey(req.pod_namespace, req.pod_name);
  if (req.command == "CHECK") return ok();
  if (req.command == "DEL") {
    {
      std::lock_guard lock(sync_mu_);
      netns_by_pod_.erase(key);
      records_.forget(req.pod_namespace, req.pod_name);
    }
    // Before the first pass, that pass unenrols it.
    if (!waitForInitialSync(std::chrono::steady_clock::now())) return ok();
    return sync("");
  }
  auto fd = openNetns(req.netns);
  if (!fd) return fail(fd.error());
  auto cookie = netnsCookie(fd->get());
  if (!cookie) return fail(cookie.error().wrap("netns cookie of " + req.netns));
  auto identity = netnsIdentity(fd->get());
  if (!identity) return fail(identity.error());
  PodNetnsRecord record{req.pod_namespace,
                        req.pod_name,
                        req.pod_uid,
                        req.netns,
                        req.pod_ips.empty() ? "" : req.pod_ips.front(),
                        identity->first,
                        identity->second};
  {
    std::lock_guard lock(sync_mu_);
    // Without the record a restarted agent would not find this pod again: fail the ADD.
    if (auto s = records_.save(record); !s) return fail(s.error().wrap("recording the pod netns"));
    netns_by_pod_[key] = PodNetns{req.pod_namespace,
                                  req.pod_name,
                                  req.pod_uid,
                                  req.pod_ips.empty() ? "" : req.pod_ips.front(),
                                  std::make_shared<UniqueFd>(std::move(*fd)),
                                  *cookie,
                                  std::chrono::steady_clock::now()};
    zds_added_.erase(key);  // a new netns: ztunnel must get it even if it knew the pod
  }
  // Wait until the model has the pod object (written before CNI ADD, seen via the informer).
  const auto deadline = std::chrono::steady_clock::now() + kWaitForPodObject;
  while (std::chrono::steady_clock::now() < deadline) {
    SnapshotPtr snap = latestSnapshot();
    if (snap && snap->pods.contains(req.pod_namespace + "/" + req.pod_name)) break;
    std::unique_lock lock(snap_mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(100));
  }
  // The netns is recorded, so the initial pass enrols the pod if it comes later; but the ADD
  // reports success only once the pod is captured (kubelet retries a failed ADD).
  if (!waitForInitialSync(deadline))
    return fail(Error(ErrorCode::kUnavailable,
                      "agent has not synced its configuration yet: pod " + key +
                          " not enrolled (recorded; the first pass will enrol it)"));
  return sync(key);
}

}  // namespace warren::agent
