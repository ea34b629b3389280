#include "ztunnel/control/ztunnel_daemon.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <set>

#include "bpf/loader/inbound_registration.h"
#include "bpf/loader/pinned_counters.h"
#include "common/http/log_level_routes.h"
#include "common/http/memory_routes.h"
#include "common/metrics/process_metrics.h"
#include "common/relay/socket_relay.h"
#include "common/uring/worker_threads.h"
#include "mesh/worker_loops.h"

namespace warren::ztunnel {
namespace {

std::string envOr(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : std::move(fallback);
}

}  // namespace

ZtunnelDaemon::ZtunnelDaemon(ZtunnelOptions options) : options_(std::move(options)) {
  tls::setKernelTlsMode(options_.kernel_tls);
  ca_ = std::make_unique<mesh::CaClient>(options_.ca_address, options_.cert_ttl);
  certs_ = std::make_unique<mesh::CertificateManager>(
      [this](const identity::SpiffeId& id) { return ca_->fetch(id, std::chrono::seconds(10)); });
  mesh::XdsClientOptions xo;
  xo.target = options_.xds_address;
  xo.node_name = options_.node;
  // The ztunnel pod's own name, namespace and IP (Istio's downward-API env); in the lab
  // ztunnel is not a pod, so it names itself after the node.
  xo.pod_name = envOr("POD_NAME", "ztunnel-" + options_.node);
  xo.pod_namespace = envOr("POD_NAMESPACE", "warren-system");
  xo.instance_ip = envOr("INSTANCE_IP", "127.0.0.1");
  xo.node_id = mesh::xdsNodeId(xo.instance_ip, xo.pod_name, xo.pod_namespace);
  xds_ = std::make_unique<mesh::XdsClient>(
      xo, store_, [this](const std::shared_ptr<const mesh::StateSnapshot>& s) { onSnapshot(s); });
  ZdsClientOptions zo;
  zo.socket_path = options_.zds_socket;
  zo.listeners.run_dir = options_.run_dir;
  zo.preserve_source = options_.preserve_source_ip && options_.data_path;
  // One listening socket per port per worker (each worker accepts its own share); without a
  // data path (tests) nobody accepts, one is enough. DataPlane gets the same resolved count
  // (start()), so the listener sets ZDS binds always match its workers.
  data_workers_ = options_.data_path ? uring::WorkerThreads::count(options_.workers) : 1;
  zo.listeners.sockets_per_port = data_workers_;
  zo.trust_domain = options_.trust_domain;
  zo.hooks.added = [this](const std::shared_ptr<const EnrolledPod>& pod,
                          const PodListeners& l) -> Status {
    if (!data_) return ok();  // control-only (tests): listeners bound, nobody accepts
    return data_->addPod(pod, l);
  };
  zo.hooks.removed = [this](const std::string& uid) {
    if (data_) data_->removePod(uid);
  };
  zds_ = std::make_unique<ZdsClient>(zo, [this](const ZdsClient::Pods& pods) { onPods(pods); });
  capture_pins_ = std::make_unique<CapturePinKeeper>(options_.run_dir);
}

ZtunnelDaemon::~ZtunnelDaemon() { stop(); }

void ZtunnelDaemon::onSnapshot(const std::shared_ptr<const mesh::StateSnapshot>& snapshot) {
  // Identities of the workloads xDS places on this node: fetch their certificates in the
  // background before a connection needs them (INTEROP §12 "Scheduling").
  certs_->setWanted("xds", snapshot->identitiesOnNode(options_.node));
  if (data_) data_->onSnapshot();  // policy changes re-evaluate open connections
}

void ZtunnelDaemon::onPods(const ZdsClient::Pods& pods) {
  std::set<identity::SpiffeId> ids;
  for (const auto& p : pods) ids.insert(p->identity);
  certs_->setWanted("zds", ids);
}

bool ZtunnelDaemon::ready() const { return xds_->synced() && zds_->snapshotReceived(); }

nlohmann::json ZtunnelDaemon::configDump() const {
  nlohmann::json out = store_.current()->toJson();
  out["certificates"] = certs_->toJson();
  out["pods"] = zds_->toJson();
  mesh::XdsStats xs = xds_->stats();
  out["xds"] = {{"target", options_.xds_address},
                {"connected", xs.connected},
                {"synced", xds_->synced()},
                {"acks", xs.acks},
                {"nacks", xs.nacks},
                {"last_nack", xs.last_nack},
                {"last_error", xs.last_error}};
  out["capture_pins"] = capture_pins_->toJson();
  out["node"] = options_.node;
  out["ready"] = ready();
  return out;
}

std::vector<metrics::FamilySnapshot> ZtunnelDaemon::collect() const {
  using metrics::MetricType;
  using metrics::scalarFamily;
  mesh::XdsStats xs = xds_->stats();
  auto snap = store_.current();
  std::vector<metrics::FamilySnapshot> families = {
      scalarFamily("warren_ztunnel_xds_connects_total", "xDS streams opened", MetricType::kCounter,
                   double(xs.connects)),
      scalarFamily("warren_ztunnel_xds_acks_total", "xDS responses ACKed", MetricType::kCounter,
                   double(xs.acks)),
      scalarFamily("warren_ztunnel_xds_nacks_total", "xDS responses NACKed", MetricType::kCounter,
                   double(xs.nacks)),
      scalarFamily("warren_ztunnel_xds_connected", "1 while the xDS stream is open",
                   MetricType::kGauge, xs.connected ? 1 : 0),
      scalarFamily("warren_ztunnel_workloads", "workloads in the current snapshot",
                   MetricType::kGauge, double(snap->workloadCount())),
      scalarFamily("warren_ztunnel_services", "services in the current snapshot",
                   MetricType::kGauge, double(snap->serviceCount())),
      scalarFamily("warren_ztunnel_policies", "authorization policies in the current snapshot",
                   MetricType::kGauge, double(snap->policyCount())),
      scalarFamily("warren_ztunnel_certificates_issued_total", "certificates received from the CA",
                   MetricType::kCounter, double(certs_->fetched())),
      scalarFamily("warren_ztunnel_certificate_failures_total", "failed certificate requests",
                   MetricType::kCounter, double(certs_->failed())),
      scalarFamily("warren_ztunnel_pods", "pods handed over by ZDS", MetricType::kGauge,
                   double(zds_->pods().size())),
  };
  for (auto& f :
       mesh::workerLoopFamilies("ztunnel", data_ ? data_->loopCounters() : uring::LoopStats{}))
    families.push_back(std::move(f));
  for (auto& f : mesh::tlsRecordFamilies("ztunnel")) families.push_back(std::move(f));
  const auto& engines = relay::socketRelayCounters();
  families.push_back(
      {"warren_ztunnel_plain_relays_total",
       "plaintext relays (15006 inbound, passthrough) by engine: splice (kernel pipes) or copy; "
       "copy_fallback counts splice refused for want of a pipe (also counted under copy)",
       MetricType::kCounter,
       {{"", {{"engine", "splice"}}, double(engines.splice.load())},
        {"", {{"engine", "copy"}}, double(engines.copy.load())},
        {"", {{"engine", "copy_fallback"}}, double(engines.splice_refused.load())}}});
  if (auto redirect = redirectDecisions()) families.push_back(std::move(*redirect));
  return families;
}

// The node's eBPF decision counters (per-CPU sums of the pinned warren_counters map, names
// from warren_abi.h), found through <run-dir>/bpf_pin_dir. Absent (no family at all) when the
// agent runs without eBPF capture or its pins cannot be read: a scrape never fails for it.
std::optional<metrics::FamilySnapshot> ZtunnelDaemon::redirectDecisions() const {
  auto pin_dir = redirect::readPinDirFile(options_.run_dir);
  if (!pin_dir) return std::nullopt;
  auto counters = redirect::readPinnedCounters(*pin_dir);
  if (!counters) {
    spdlog::debug("metrics: eBPF counters in {}: {}", *pin_dir, counters.error().message());
    return std::nullopt;
  }
  metrics::FamilySnapshot f{"warren_redirect_decisions_total",
                            "eBPF redirection decisions on this node, by decision (per-CPU sums "
                            "of the pinned warren_counters map)",
                            metrics::MetricType::kCounter,
                            {}};
  for (const auto& c : *counters)
    f.samples.push_back({"", {{"decision", c.name}}, double(c.value)});
  return f;
}

Status ZtunnelDaemon::start() {
  WARREN_TRY(checkLocalAdminAddress(options_.admin_address));
  metrics::registerProcessMetrics(registry_);
  registry_.addCollector([this] { return collect(); });

  // The data path exists before the HTTP servers whose threads read data_ (/connections,
  // /metrics): assigned after them, it raced their first request (TSan).
  if (options_.data_path) {
    auto dm = DataPathMetrics::create(registry_);
    if (!dm) return fail(dm.error());
    DataPlaneOptions dpo;
    dpo.workers = data_workers_;
    dpo.pool_idle_timeout = options_.pool_idle_timeout;
    data_ = std::make_unique<DataPlane>(dpo, store_, *certs_, *dm,
                                        std::make_shared<PodNetnsSockets>(options_.run_dir));
    if (auto s = data_->start(); !s) return s;
  }

  auto serve = [](const std::string& address, const std::string& name,
                  http::Router router) -> Result<std::unique_ptr<http::HttpServer>> {
    auto listen = http::ListenAddress::parse(address);
    if (!listen) return fail(listen.error().wrap(name + " address"));
    auto o = http::HttpServerOptions::at(*listen, name);
    o.reuse_port = true;  // a rolling restart runs two ztunnels side by side for a moment
    auto server = http::HttpServer::start(std::move(o), std::move(router));
    if (!server) return fail(server.error().wrap(fmt::format("{} on {}", name, address)));
    return server;
  };

  http::Router admin;
  admin.add("GET", "/connections", [this](const http::HttpRequest&) {
    nlohmann::json items = data_ ? data_->connections() : nlohmann::json::array();
    return http::HttpResponse::json(
        200,
        nlohmann::json{{"kind", "connections"}, {"node", options_.node}, {"items", items}}.dump(2) +
            "\n");
  });
  admin.add("GET", "/config_dump", [this](const http::HttpRequest&) {
    return http::HttpResponse::json(200, configDump().dump(2) + "\n");
  });
  http::addLogLevelRoutes(admin, "ztunnel");
  http::addMemoryRoutes(admin);
  auto a = serve(options_.admin_address, "admin", std::move(admin));
  if (!a) return fail(a.error());
  admin_ = std::move(*a);

  http::Router metrics_router;
  metrics_router.add("GET", "/metrics", [this](const http::HttpRequest&) {
    return http::HttpResponse{200, metrics::kTextContentType, registry_.render(), {}};
  });
  auto m = serve(options_.metrics_address, "metrics", std::move(metrics_router));
  if (!m) return fail(m.error());
  metrics_ = std::move(*m);

  http::Router ready_router;
  ready_router.add("GET", "/healthz/ready", [this](const http::HttpRequest&) {
    if (ready()) return http::HttpResponse::text(200, "ready\n");
    return http::HttpResponse::text(503, fmt::format("not ready: xds synced={} zds snapshot={}\n",
                                                     xds_->synced(), zds_->snapshotReceived()));
  });
  auto r = serve(options_.readiness_address, "readiness", std::move(ready_router));
  if (!r) return fail(r.error());
  readiness_ = std::move(*r);

  certs_->start();
  xds_->start();
  zds_->start();
  capture_pins_->start();
  spdlog::info("ztunnel control up: node {}, xDS {}, CA {}, ZDS {}", options_.node,
               options_.xds_address, options_.ca_address, options_.zds_socket);
  return ok();
}

void ZtunnelDaemon::drain(std::chrono::steady_clock::time_point deadline) {
  // The ZDS client holds the original listening sockets; each worker a duplicate of its set. Both
  // must close for the kernel to stop queueing connections here (queued ones migrate to the
  // new ztunnel: tcp_migrate_req).
  if (zds_) zds_->closeListeners();
  if (data_) data_->drain(deadline);
}

void ZtunnelDaemon::stop() {
  // Whoever calls into the data path stops before it: the HTTP endpoints (/connections), the
  // ZDS client (pods), the xDS client (onSnapshot) and the certificate manager. A snapshot
  // that reached a stopping data path used to post to destroyed worker loops (SIGSEGV in
  // agent_admin_test); DataPlane now refuses such calls too.
  readiness_.reset();
  metrics_.reset();
  admin_.reset();
  if (capture_pins_) capture_pins_->stop();
  if (zds_) zds_->stop();
  if (xds_) xds_->stop();
  if (certs_) certs_->stop();
  if (data_) data_->stop();
}

}  // namespace warren::ztunnel
