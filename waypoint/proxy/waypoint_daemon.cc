#include "waypoint/proxy/waypoint_daemon.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <future>
#include <set>
#include <thread>

#include "common/http/log_level_routes.h"
#include "common/http/memory_routes.h"
#include "common/metrics/process_metrics.h"
#include "common/net/socket_factory.h"
#include "mesh/routing/endpoint_selector.h"
#include "mesh/worker_loops.h"

namespace warren::waypoint {

WaypointDaemon::WaypointDaemon(WaypointOptions options) : options_(std::move(options)) {
  tls::setKernelTlsMode(options_.kernel_tls);
  pod_ip_ = net::IpAddress::parse(options_.pod_ip).value_or(net::IpAddress{});
  const std::string target = "unix:" + options_.xds_socket;
  ca_ = std::make_unique<mesh::CaClient>(target);
  certs_ = std::make_unique<mesh::CertificateManager>(
      [this](const identity::SpiffeId& id) { return ca_->fetch(id, std::chrono::seconds(10)); });
  mesh::XdsClientOptions xo;
  xo.target = target;
  xo.user_agent = "warren-waypoint";
  xo.node_name = options_.node_name;
  xo.pod_name = options_.pod_name;
  xo.pod_namespace = options_.pod_namespace;
  xo.instance_ip = options_.pod_ip;
  // Istio names a waypoint proxy's node "router~<ip>~<pod>.<ns>~<ns>.svc.cluster.local".
  xo.node_id = fmt::format("router~{}~{}.{}~{}.svc.cluster.local", options_.pod_ip,
                           options_.pod_name, options_.pod_namespace, options_.pod_namespace);
  xo.extra_types.push_back({std::string(kServiceRoutesTypeUrl),
                            [this](const envoy::service::discovery::v3::DeltaDiscoveryResponse& r) {
                              return applyRoutes(r);
                            }});
  xo.extra_types.push_back({std::string(kWaypointPolicyTypeUrl),
                            [this](const envoy::service::discovery::v3::DeltaDiscoveryResponse& r) {
                              return applyPolicies(r);
                            }});
  xds_ = std::make_unique<mesh::XdsClient>(
      xo, store_, [this](const std::shared_ptr<const mesh::StateSnapshot>& s) { onSnapshot(s); });
  routes_ = RouteConfig::build({}, 0);
  policies_ = PolicyConfig::build({}, {}, 0);

  shared_.store = &store_;
  shared_.certs = certs_.get();
  shared_.routes = [this] { return routes(); };
  shared_.self_identity = [this] { return identity(); };
  shared_.pod_ip = pod_ip_;
  shared_.request_header_timeout = options_.request_header_timeout;
}

WaypointDaemon::~WaypointDaemon() { stop(); }

std::vector<std::string> WaypointDaemon::applyRoutes(
    const envoy::service::discovery::v3::DeltaDiscoveryResponse& response) {
  std::vector<std::string> errors;
  for (const auto& r : response.resources()) {
    l7::v1::ServiceRoutes sr;
    if (!r.resource().UnpackTo(&sr)) {
      errors.push_back(fmt::format("resource {}: not a warren.l7.v1.ServiceRoutes ({})", r.name(),
                                   r.resource().type_url()));
      continue;
    }
    route_resources_[r.name()] = std::move(sr);
  }
  for (const auto& name : response.removed_resources()) route_resources_.erase(name);
  // Built off the data path; the workers pick the new pointer up on their next request. A
  // rule RouteTable refuses is dropped with a diagnostic, the rest applies (never a NACK of
  // the whole push, which would keep every other route stale too).
  auto built = RouteConfig::build(route_resources_, ++route_pushes_);
  for (const auto& d : built->diagnostics())
    spdlog::warn("waypoint routes v{}: {}", built->version(), d.toString());
  spdlog::info("waypoint routes v{}: {} services, {} routes, {} rules accepted", built->version(),
               route_resources_.size(), built->httpRoutes().size(), built->table().ruleCount());
  std::lock_guard lock(routes_mu_);
  routes_ = std::move(built);
  return errors;
}

std::vector<std::string> WaypointDaemon::applyPolicies(
    const envoy::service::discovery::v3::DeltaDiscoveryResponse& response) {
  std::vector<std::string> errors;
  {
    std::lock_guard lock(policy_build_mu_);
    for (const auto& r : response.resources()) {
      l7::v1::WaypointPolicy p;
      if (!r.resource().UnpackTo(&p)) {
        errors.push_back(fmt::format("resource {}: not a warren.l7.v1.WaypointPolicy ({})",
                                     r.name(), r.resource().type_url()));
        continue;
      }
      policy_resources_[r.name()] = std::move(p);
    }
    for (const auto& name : response.removed_resources()) policy_resources_.erase(name);
  }
  // As with routes: a policy value compile() refuses is reported and fails closed, the rest
  // applies; never a NACK of the whole push.
  rebuildPolicies();
  return errors;
}

void WaypointDaemon::rebuildPolicies() {
  std::shared_ptr<const PolicyConfig> built;
  {
    std::lock_guard lock(policy_build_mu_);
    std::erase_if(fetched_jwks_, [&](const auto& f) {
      for (const auto& [n, p] : policy_resources_)
        for (const auto& r : p.authentication().jwt_rules())
          if (r.jwks_uri() == f.first) return false;
      return true;
    });
    built = PolicyConfig::build(policy_resources_, fetched_jwks_, ++policy_builds_);
    for (const auto& d : built->diagnostics())
      spdlog::warn("waypoint policies v{}: {}", built->version(), d);
    spdlog::info("waypoint policies v{}: {} resources, {} authorization policies", built->version(),
                 policy_resources_.size(), built->authz().policyCount());
    // Published (and its URIs handed to the fetcher) under the build lock: a push and a JWKS
    // fetch rebuild from two threads, and a build published after a newer one would undo it
    // (seen: the fetched keys lost, every token of that issuer 401 although /policies showed
    // them fetched). Lock order: policy_build_mu_, then the fetcher's or policies_mu_.
    if (jwks_) jwks_->setUris(built->jwksUris());
    std::lock_guard publish(policies_mu_);
    policies_ = built;
  }
}

std::shared_ptr<const PolicyConfig> WaypointDaemon::policies() const {
  std::lock_guard lock(policies_mu_);
  return policies_;
}

std::optional<net::SocketAddress> WaypointDaemon::resolveInCluster(std::string_view host,
                                                                   uint16_t port) const {
  // <name>.<ns>[.svc[.<cluster domain>]] -> the Service <name> in <ns>, by its hostname.
  auto dot = host.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  std::string name(host.substr(0, dot));
  std::string_view rest = host.substr(dot + 1);
  std::string ns(rest.substr(0, rest.find('.')));
  auto snap = store_.current();
  const mesh::Service* svc = snap->serviceByHostname(ns, name + "." + ns + ".svc.cluster.local");
  if (!svc) svc = snap->serviceByHostname(ns, host);
  if (!svc) return std::nullopt;
  const mesh::ServicePort* sp = svc->findPort(port);
  if (!sp) return std::nullopt;
  for (const auto& ep : snap->endpoints(*svc)) {
    auto ip = mesh::pickAddress(*ep.workload, false);
    uint16_t target = sp->target_port;
    if (ep.ports) {
      if (auto it = ep.ports->find(port); it != ep.ports->end()) target = it->second;
    }
    if (ip && target != 0 && ep.workload->status == mesh::WorkloadStatus::kHealthy)
      return net::SocketAddress{*ip, target};
  }
  return std::nullopt;
}

void WaypointDaemon::onSnapshot(const std::shared_ptr<const mesh::StateSnapshot>& snapshot) {
  const mesh::Workload* self = snapshot->workloadByAddress(mesh::NetworkAddress{"", pod_ip_});
  std::optional<identity::SpiffeId> id;
  if (self) {
    if (auto i = self->identity(); i) id = *i;
  }
  {
    std::lock_guard lock(identity_mu_);
    if (id != identity_ && id) spdlog::info("waypoint identity: {}", id->uri());
    identity_ = id;
  }
  std::set<identity::SpiffeId> wanted;
  if (id) wanted.insert(*id);
  certs_->setWanted("self", wanted);
}

std::shared_ptr<const RouteConfig> WaypointDaemon::routes() const {
  std::lock_guard lock(routes_mu_);
  return routes_;
}

std::optional<identity::SpiffeId> WaypointDaemon::identity() const {
  std::lock_guard lock(identity_mu_);
  return identity_;
}

std::string WaypointDaemon::notReadyReason() const {
  if (!xds_->synced())
    return "xDS not synced (Address, Authorization, ServiceRoutes and WaypointPolicy)";
  auto id = identity();
  if (!id) return "the waypoint's workload (" + options_.pod_ip + ") is not in the state yet";
  if (!certs_->get(*id)) return "no certificate yet for " + id->uri();
  return "";
}

bool WaypointDaemon::ready() const { return notReadyReason().empty(); }

nlohmann::json WaypointDaemon::onWorkers(
    const std::function<nlohmann::json(WaypointWorker&)>& fn) const {
  nlohmann::json out = nlohmann::json::array();
  std::vector<std::future<nlohmann::json>> answers;
  {
    std::lock_guard lock(life_mu_);
    if (!running_) return out;
    for (unsigned i = 0; i < threads_->size(); ++i) {
      auto promise = std::make_shared<std::promise<nlohmann::json>>();
      answers.push_back(promise->get_future());
      WaypointWorker* w = workers_[i].get();
      threads_->loop(i).post([promise, w, fn] { promise->set_value(fn(*w)); });
    }
  }
  for (auto& a : answers) {
    if (a.wait_for(std::chrono::seconds(2)) == std::future_status::ready) out.push_back(a.get());
  }
  return out;
}

nlohmann::json WaypointDaemon::stats() const {
  nlohmann::json workers = onWorkers([](WaypointWorker& w) { return w.stats(); });
  // Totals over the workers, for scripts.
  nlohmann::json total = {{"hbone_connections_accepted", 0},
                          {"connects", 0},
                          {"requests", 0},
                          {"tcp_relays_done", 0},
                          {"http2_sessions_started", 0},
                          {"request_header_timeouts", 0},
                          {"tunnels_opened", 0},
                          {"keepalive_reuses", 0},
                          {"h2_connections_opened", 0},
                          {"h2_streams_opened", 0}};
  // Per-key sums of the workers' maps of counters.
  auto sumOf = [&](const char* key) {
    nlohmann::json sum = nlohmann::json::object();
    for (const auto& w : workers)
      for (const auto& [k, n] : w[key].items())
        sum[k] = sum.value(k, uint64_t{0}) + n.get<uint64_t>();
    return sum;
  };
  for (const auto& w : workers) {
    for (const char* k : {"hbone_connections_accepted", "connects", "requests", "tcp_relays_done",
                          "http2_sessions_started", "request_header_timeouts"})
      total[k] = total[k].get<uint64_t>() + w[k].get<uint64_t>();
    for (const char* k : {"h2_connections_opened", "h2_streams_opened"})
      total[k] = total[k].get<uint64_t>() + w["h2_upstreams"][k].get<uint64_t>();
    total["tunnels_opened"] =
        total["tunnels_opened"].get<uint64_t>() + w["upstreams"]["tunnels_opened"].get<uint64_t>();
    total["keepalive_reuses"] = total["keepalive_reuses"].get<uint64_t>() +
                                w["upstreams"]["keepalive_reuses"].get<uint64_t>();
  }
  for (const char* key : {"responses", "resilience", "mirrors", "http2_goaways_sent", "loop"})
    total[key] = sumOf(key);
  // DestinationRule: the waypoint's (not a worker's) outlier ejections and request overflows.
  total["outlier_ejections"] = destinations_ ? destinations_->ejections() : 0;
  total["upstream_rq_pending_overflow"] = destinations_ ? destinations_->overflows() : 0;
  total["upstream_cx_overflow"] = destinations_ ? destinations_->connectionOverflows() : 0;
  return {{"gateway", options_.gateway}, {"total", total}, {"workers", workers}};
}

std::vector<metrics::FamilySnapshot> WaypointDaemon::loopFamilies() const {
  uring::LoopStats sum;
  {
    std::lock_guard lock(life_mu_);
    if (running_) sum = mesh::sumLoopCounters(*threads_);
  }
  auto families = mesh::workerLoopFamilies("waypoint", sum);
  for (auto& f : mesh::tlsRecordFamilies("waypoint")) families.push_back(std::move(f));
  return families;
}

nlohmann::json WaypointDaemon::configDump() const {
  nlohmann::json out = store_.current()->toJson();
  out["routes"] = routes()->toJson();
  out["policies"] = policies()->toJson();
  if (jwks_) out["policies"]["jwks_fetches"] = jwks_->toJson();
  out["certificates"] = certs_->toJson();
  mesh::XdsStats xs = xds_->stats();
  out["xds"] = {{"target", "unix:" + options_.xds_socket},
                {"connected", xs.connected},
                {"synced", xds_->synced()},
                {"acks", xs.acks},
                {"nacks", xs.nacks},
                {"last_nack", xs.last_nack},
                {"last_error", xs.last_error}};
  auto id = identity();
  out["waypoint"] = {
      {"gateway", options_.gateway},     {"pod", options_.pod_namespace + "/" + options_.pod_name},
      {"pod_ip", options_.pod_ip},       {"node", options_.node_name},
      {"identity", id ? id->uri() : ""}, {"ready", ready()}};
  return out;
}

uint16_t WaypointDaemon::adminPort() const {
  return admin_ ? admin_->address().socket_address.port : 0;
}

uint16_t WaypointDaemon::readinessPort() const {
  return readiness_ ? readiness_->address().socket_address.port : 0;
}

Status WaypointDaemon::start() {
  auto listen_ip = net::IpAddress::parse(options_.listen_ip);
  if (!listen_ip) return fail(listen_ip.error().wrap("--listen-ip"));
  auto serve = [](net::SocketAddress at, const std::string& name,
                  http::Router router) -> Result<std::unique_ptr<http::HttpServer>> {
    auto o = http::HttpServerOptions::at(http::ListenAddress::tcp(at), name);
    o.reuse_port = true;  // a new waypoint pod's replacement may overlap on one node
    auto server = http::HttpServer::start(std::move(o), std::move(router));
    if (!server) return fail(server.error().wrap(fmt::format("{} on {}", name, at.toString())));
    return server;
  };

  // Admin: loopback only (it changes log levels and dumps the state), like ztunnel's 15000.
  http::Router admin;
  admin.add("GET", "/config_dump", [this](const http::HttpRequest&) {
    return http::HttpResponse::json(200, configDump().dump(2) + "\n");
  });
  admin.add("GET", "/routes", [this](const http::HttpRequest&) {
    return http::HttpResponse::json(200, routes()->toJson().dump(2) + "\n");
  });
  admin.add("GET", "/clusters", [this](const http::HttpRequest&) {
    // Every backend Service the routes name (and every Service served), its endpoints as the
    // state has them (with their outlier-detection state when a DestinationRule applies), the
    // DestinationRule view (ejections, requests active, overflows) and the workers' view
    // (in-flight requests, idle connections).
    auto snap = store_.current();
    nlohmann::json destinations =
        destinations_ ? destinations_->toJson() : nlohmann::json::object();
    auto rc = routes();
    std::set<std::string> keys;
    for (const auto& r : rc->httpRoutes())
      for (const auto& rule : r.rules)
        for (const auto& b : rule.backend_refs)
          keys.insert(rc->serviceKey(b.ref.namespace_, b.ref.name));
    for (const auto& s : rc->toJson()["services"]) keys.insert(s["key"].get<std::string>());
    // And every Service a DestinationRule tracks ("ns/name" there).
    for (const auto& [name, d] : destinations["services"].items()) {
      auto slash = name.find('/');
      if (slash != std::string::npos)
        keys.insert(rc->serviceKey(name.substr(0, slash), name.substr(slash + 1)));
    }
    nlohmann::json clusters = nlohmann::json::array();
    for (const auto& key : keys) {
      const mesh::Service* svc = serviceByKey(*snap, key);
      nlohmann::json eps = nlohmann::json::array();
      const nlohmann::json* outliers = nullptr;
      if (svc) {
        auto d = destinations["services"].find(svc->namespace_ + "/" + svc->name);
        if (d != destinations["services"].end() && d->contains("endpoints"))
          outliers = &(*d)["endpoints"];
      }
      if (svc) {
        for (const auto& ep : snap->endpoints(*svc)) {
          nlohmann::json addrs = nlohmann::json::array();
          for (const auto& a : ep.workload->addresses) addrs.push_back(a.toString());
          eps.push_back({{"uid", ep.workload->uid},
                         {"name", ep.workload->name},
                         {"addresses", addrs},
                         {"status", mesh::toString(ep.workload->status)},
                         {"tunnel", mesh::toString(ep.workload->tunnel_protocol)},
                         {"outlier", outliers && outliers->contains(ep.workload->uid)
                                         ? (*outliers)[ep.workload->uid]
                                         : nlohmann::json(nullptr)},
                         {"ejected", outliers && outliers->contains(ep.workload->uid) &&
                                         (*outliers)[ep.workload->uid].value("ejected", false)}});
        }
      }
      clusters.push_back({{"service", key}, {"in_state", svc != nullptr}, {"endpoints", eps}});
    }
    nlohmann::json workers = onWorkers([](WaypointWorker& w) { return w.stats()["upstreams"]; });
    return http::HttpResponse::json(
        200, nlohmann::json{{"clusters", clusters},
                            {"destinations", destinations},
                            {"workers", workers}}
                     .dump(2) +
                 "\n");
  });
  admin.add("GET", "/policies", [this](const http::HttpRequest&) {
    nlohmann::json out = policies()->toJson();
    if (jwks_) out["jwks_fetches"] = jwks_->toJson();
    return http::HttpResponse::json(200, out.dump(2) + "\n");
  });
  admin.add("GET", "/stats", [this](const http::HttpRequest&) {
    return http::HttpResponse::json(200, stats().dump(2) + "\n");
  });
  admin.add("GET", "/requests", [this](const http::HttpRequest&) {
    nlohmann::json all = nlohmann::json::array();
    for (auto& w : onWorkers([](WaypointWorker& w) { return w.recentRequests(); }))
      for (auto& r : w) all.push_back(r);
    return http::HttpResponse::json(200, nlohmann::json{{"items", all}}.dump(2) + "\n");
  });
  http::addLogLevelRoutes(admin, "waypoint");
  http::addMemoryRoutes(admin);
  auto a = serve({net::IpAddress::loopbackV4(), options_.admin_port}, "admin", std::move(admin));
  if (!a) return fail(a.error());
  admin_ = std::move(*a);

  if (options_.metrics_port != 0) {
    metrics::registerProcessMetrics(registry_);
    registry_.addCollector([this] { return loopFamilies(); });
    http::Router m;
    m.add("GET", "/metrics", [this](const http::HttpRequest&) {
      return http::HttpResponse{200, metrics::kTextContentType, registry_.render(), {}};
    });
    auto ms = serve({*listen_ip, options_.metrics_port}, "metrics", std::move(m));
    if (!ms) return fail(ms.error());
    metrics_ = std::move(*ms);
  }

  http::Router r;
  r.add("GET", "/healthz/ready", [this](const http::HttpRequest&) {
    std::string why = notReadyReason();
    if (why.empty()) return http::HttpResponse::text(200, "ready\n");
    return http::HttpResponse::text(503, "not ready: " + why + "\n");
  });
  auto rs = serve({*listen_ip, options_.readiness_port}, "readiness", std::move(r));
  if (!rs) return fail(rs.error());
  readiness_ = std::move(*rs);

  // Telemetry before the workers: every request ends in its finish().
  const std::string gw_ns = options_.gateway.substr(0, options_.gateway.find('/'));
  const std::string gw_name = options_.gateway.substr(options_.gateway.find('/') + 1);
  if (options_.tracing_otlp_endpoint && !exporter_) {
    OtlpExporterOptions eo;
    eo.endpoint = *options_.tracing_otlp_endpoint;
    // Istio names a waypoint's spans' service "<gateway>.<namespace>".
    eo.resource.attributes = {{"service.name", gw_name + "." + gw_ns},
                              {"k8s.namespace.name", gw_ns},
                              {"k8s.pod.name", options_.pod_name}};
    auto e = OtlpExporter::start(std::move(eo), registry_);
    if (!e) return fail(e.error().wrap("--tracing-otlp-endpoint"));
    exporter_ = std::move(*e);
  }
  if (!telemetry_) {
    RequestTelemetryOptions to;
    to.spans = exporter_.get();
    to.tracing.sampling_percent = options_.tracing_sampling_percent;
    auto t = RequestTelemetry::create(registry_, to);
    if (!t) return fail(t.error().wrap("request telemetry"));
    telemetry_ = std::move(*t);
  }
  shared_.telemetry = telemetry_.get();
  if (!admission_) {
    auto admission = RequestAdmission::create(registry_, [this] { return policies(); });
    if (!admission) return fail(admission.error().wrap("request admission"));
    admission_ = std::move(*admission);
  }
  shared_.admission = admission_.get();
  if (!traffic_) {
    auto traffic = TrafficControl::create(registry_, [this] { return policies(); });
    if (!traffic) return fail(traffic.error().wrap("traffic control"));
    traffic_ = std::move(*traffic);
  }
  shared_.traffic = traffic_.get();
  if (!destinations_) {
    auto d = DestinationControl::create(registry_, [this] { return policies(); });
    if (!d) return fail(d.error().wrap("destination control"));
    destinations_ = std::move(*d);
  }
  shared_.destinations = destinations_.get();
  if (!jwks_) {
    JwksFetcherOptions jo;
    jo.refresh = options_.jwks_refresh;
    jwks_ = std::make_unique<JwksFetcher>(
        jo, [this](std::string_view host, uint16_t port) { return resolveInCluster(host, port); },
        [this](const std::string& uri, std::shared_ptr<const Jwks> keys) {
          {
            std::lock_guard lock(policy_build_mu_);
            fetched_jwks_[uri] = std::move(keys);
          }
          rebuildPolicies();
        });
    jwks_->setUris(policies()->jwksUris());
  }

  auto lo = mesh::workerLoopOptions(std::nullopt);
  if (!lo) return fail(lo.error());
  unsigned n = uring::WorkerThreads::count(options_.workers);
  workers_.resize(n);
  std::mutex mu;
  net::SocketAddress hbone_at{*listen_ip, options_.hbone_port};
  auto threads = uring::WorkerThreads::start(
      n, *lo,
      [this, &mu, hbone_at](uring::EventLoop& loop, unsigned i) -> Status {
        net::SocketOptions so;
        so.reuse_port = true;  // one listener per worker; the kernel spreads connections
        auto fd = net::SocketFactory::listenTcp(hbone_at, so);
        if (!fd) return fail(fd.error().wrap("HBONE listener on " + hbone_at.toString()));
        std::lock_guard lock(mu);
        workers_[i] = std::make_unique<WaypointWorker>(i, loop, shared_);
        workers_[i]->listen(std::move(*fd));
        return ok();
      },
      [this](uring::EventLoop&, unsigned i) {
        if (workers_[i]) workers_[i]->shutdown();
      });
  if (!threads) return fail(threads.error().wrap("starting the waypoint workers"));
  {
    std::lock_guard lock(life_mu_);
    threads_ = std::move(*threads);
    running_ = true;
  }
  certs_->start();
  xds_->start();
  spdlog::info("waypoint {} up: pod {}/{} ({}), HBONE {}, {} workers, xDS+CA unix:{}",
               options_.gateway, options_.pod_namespace, options_.pod_name, options_.pod_ip,
               hbone_at.toString(), n, options_.xds_socket);
  return ok();
}

void WaypointDaemon::drain(std::chrono::steady_clock::time_point deadline) {
  {
    std::lock_guard lock(life_mu_);
    if (!running_) return;
    for (unsigned i = 0; i < threads_->size(); ++i) {
      WaypointWorker* w = workers_[i].get();
      threads_->loop(i).post([w] { w->drain(); });
    }
  }
  while (std::chrono::steady_clock::now() < deadline) {
    size_t open = 0;
    for (const auto& n : onWorkers([](WaypointWorker& w) { return w.openStreams(); }))
      open += n.get<size_t>();
    if (open == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void WaypointDaemon::stop() {
  readiness_.reset();
  metrics_.reset();
  admin_.reset();
  if (xds_) xds_->stop();
  if (jwks_) jwks_->stop();
  if (certs_) certs_->stop();
  std::unique_ptr<uring::WorkerThreads> threads;
  {
    std::lock_guard lock(life_mu_);
    running_ = false;
    threads = std::move(threads_);
  }
  if (threads) threads->stop();
  threads.reset();
  workers_.clear();
}

}  // namespace warren::waypoint
