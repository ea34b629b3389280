#include "agent/admin/admin_routes.h"

#include <dirent.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "agent/admin/cluster_documents.h"
#include "agent/admin/proxied_documents.h"
#include "agent/admin/redirection_document.h"
#include "agent/admin/waypoint_documents.h"
#include "bpf/loader/pinned_counters.h"
#include "bpf/loader/pinned_inventory.h"
#include "common/http/http_client.h"
#include "common/http/log_level_routes.h"
#include "common/percent_encoding.h"

#ifndef WARREN_VERSION
#define WARREN_VERSION "0.0.0"
#endif
#ifndef WARREN_GIT_COMMIT
#define WARREN_GIT_COMMIT ""
#endif

namespace warren::agent::admin {
namespace {

using nlohmann::json;

// Invalid UTF-8 (a label value, a ztunnel error) is replaced, never a 500.
http::HttpResponse jsonResponse(int status, const json& body) {
  return http::HttpResponse::json(status,
                                  body.dump(2, ' ', false, json::error_handler_t::replace) + "\n");
}

http::HttpResponse answer(const AdminAnswer& a) { return jsonResponse(a.status, a.body); }

// Inode -> path for every named netns (ip netns add, the lab): how a pod's netns is shown.
std::map<uint64_t, std::string> namedNetns(const std::string& dir = "/run/netns") {
  std::map<uint64_t, std::string> out;
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
  if (!d) return out;
  while (dirent* e = ::readdir(d.get())) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st {};
    if (::stat((dir + "/" + name).c_str(), &st) == 0) out.emplace(st.st_ino, dir + "/" + name);
  }
  return out;
}

}  // namespace

AdminRoutes::AdminRoutes(AdminSources sources, http::ListenAddress ztunnel)
    : sources_(std::move(sources)), ztunnel_(std::move(ztunnel)) {}

Result<std::unique_ptr<AdminRoutes>> AdminRoutes::create(AdminSources sources) {
  auto ztunnel = http::ListenAddress::parse(sources.options.ztunnel_admin);
  if (!ztunnel) return fail(ztunnel.error().wrap("--ztunnel-admin"));
  return std::unique_ptr<AdminRoutes>(new AdminRoutes(std::move(sources), std::move(*ztunnel)));
}

http::Router AdminRoutes::router() {
  http::Router r;
  const std::string& node = sources_.options.node;
  auto snapshot = [this] { return sources_.model->snapshot(); };
  auto ztunnelGet = [this](const std::string& target) {
    http::ClientRequest req = http::ClientRequest::get(target);
    req.timeout = kZtunnelTimeout;
    return http::httpRequest(ztunnel_, req);
  };
  auto cookies = [this] {
    NetnsCookies out;
    if (!sources_.enrolment) return out;
    for (const auto& p : sources_.enrolment->redirections())
      if (p.netns_cookie) out[p.ns + "/" + p.name] = p.netns_cookie;
    return out;
  };
  auto redirection = [this] {
    const AgentOptions& o = sources_.options;
    RedirectionInputs in;
    in.node = o.node;
    in.pin_dir = o.bpf_pin_dir;
    in.cgroup = o.cgroup;
    struct stat st {};
    if (!o.cgroup.empty() && ::stat(o.cgroup.c_str(), &st) == 0) in.cgroup_id = st.st_ino;
    if (sources_.enrolment) {
      in.pods = sources_.enrolment->redirections();
      in.pin_repairs = sources_.enrolment->pinRepairs();
    }
    in.netns_paths = namedNetns();
    if (o.cgroup.empty()) {
      in.pins_error = "eBPF capture is off (the agent runs without --cgroup)";
      return redirectionDocument(in);
    }
    if (auto inv = redirect::readPinnedInventory(o.bpf_pin_dir))
      in.inventory = std::move(*inv);
    else
      in.pins_error = inv.error().message();
    if (auto c = redirect::readPinnedCounters(o.bpf_pin_dir))
      in.counters = std::move(*c);
    else if (in.pins_error.empty())
      in.pins_error = c.error().message();
    return redirectionDocument(in);
  };
  auto subscribers = [this, node] {
    std::vector<XdsSubscriberInfo> all;
    if (sources_.xds) all = sources_.xds->subscribers();
    if (sources_.proxy_xds)
      for (auto& s : sources_.proxy_xds->subscribers()) all.push_back(std::move(s));
    return xdsSubscriberItems(node, all);
  };
  auto controller = [this] {
    ControllerState st;
    st.enabled = sources_.controller != nullptr;
    st.leading = st.enabled && sources_.controller->leading();
    if (st.enabled) st.identity = sources_.controller->identity();
    return controllerJson(st);
  };
  auto waypoints = [=, this] {
    json doc = listDocument("waypoints", node, waypointItems(*snapshot(), sources_.translation));
    doc["controller"] = controller();
    return doc;
  };

  r.add("GET", "/api/v1/workloads", [=, this](const http::HttpRequest&) {
    return jsonResponse(200,
                        listDocument("workloads", node,
                                     workloadItems(*snapshot(), sources_.translation, cookies())));
  });
  r.add("GET", "/api/v1/services", [=, this](const http::HttpRequest&) {
    return jsonResponse(
        200, listDocument("services", node, serviceItems(*snapshot(), sources_.translation)));
  });
  r.add("GET", "/api/v1/policies", [=, this](const http::HttpRequest&) {
    return jsonResponse(
        200, listDocument("policies", node, policyItems(*snapshot(), sources_.translation)));
  });
  r.add("GET", "/api/v1/waypoints",
        [=](const http::HttpRequest&) { return jsonResponse(200, waypoints()); });
  r.add("GET", "/api/v1/routes", [=, this](const http::HttpRequest& req) {
    return jsonResponse(200, listDocument("routes", node,
                                          routeItems(*snapshot(), sources_.translation,
                                                     req.queryOr("waypoint", ""))));
  });
  r.add("GET", "/api/v1/certificates", [=, this](const http::HttpRequest&) {
    return answer(certificatesAnswer(node, ztunnel_.toString(), ztunnelGet("/config_dump")));
  });
  r.add("GET", "/api/v1/connections", [=, this](const http::HttpRequest&) {
    return answer(connectionsAnswer(node, ztunnel_.toString(), ztunnelGet("/connections")));
  });
  r.add("GET", "/api/v1/redirection",
        [=](const http::HttpRequest&) { return jsonResponse(200, redirection()); });
  r.add("GET", "/api/v1/xds/subscribers", [=](const http::HttpRequest&) {
    return jsonResponse(200, listDocument("xds-subscribers", node, subscribers()));
  });
  r.add("GET", "/api/v1/config_dump", [=, this](const http::HttpRequest&) {
    auto snap = snapshot();
    const AgentOptions& o = sources_.options;
    json dump = {
        {"node", node},
        {"trust_domain", o.trust_domain},
        {"generation", snap->generation},
        {"config",
         {{"node_ip", o.node_ip},
          {"run_dir", o.run_dir},
          {"manifests", o.manifests},
          {"ca_dir", o.ca_dir},
          {"cgroup", o.cgroup},
          {"bpf_pin_dir", o.bpf_pin_dir},
          {"pod_cidr", o.pod_cidr},
          {"log_level", o.log_level},
          {"ztunnel_admin", o.ztunnel_admin}}},
        {"workloads", workloadItems(*snap, sources_.translation, cookies())},
        {"services", serviceItems(*snap, sources_.translation)},
        {"policies", policyItems(*snap, sources_.translation)},
        {"redirection", redirection()},
        {"xds_subscribers", subscribers()},
        {"waypoints", waypoints()["items"]},
        {"routes", routeItems(*snap, sources_.translation, "")},
        {"controller", controller()},
    };
    AdminAnswer certs = certificatesAnswer(node, ztunnel_.toString(), ztunnelGet("/config_dump"));
    if (certs.status == 200)
      dump["certificates"] = certs.body["items"];
    else
      dump["certificates_error"] = certs.body.value("error", "");
    return jsonResponse(200, dump);
  });
  auto log = [this](const http::HttpRequest& req) {
    const std::string component = req.queryOr("component", "agent");
    if (component == "agent") return http::handleLogLevel(req, "agent");
    if (component != "ztunnel")
      return jsonResponse(
          400, json{{"error", "unknown component '" + component + "' (want agent or ztunnel)"}});
    std::string target = "/api/v1/log?component=ztunnel";
    if (req.query.contains("level"))
      target += "&level=" + percentEncode(req.queryOr("level"), isUriUnreserved);
    http::ClientRequest fwd = http::ClientRequest::withMethod(req.method, target);
    fwd.timeout = kZtunnelTimeout;
    return answer(forwardedLogAnswer(ztunnel_.toString(), http::httpRequest(ztunnel_, fwd)));
  };
  r.add("GET", "/api/v1/log", log);
  r.add("PUT", "/api/v1/log", log);
  r.add("GET", "/api/v1/version", [](const http::HttpRequest&) {
    return jsonResponse(200, json{{"component", "warren-agent"},
                                  {"version", WARREN_VERSION},
                                  {"git_commit", WARREN_GIT_COMMIT}});
  });
  std::string index = r.describe();
  r.add("GET", "/",
        [index](const http::HttpRequest&) { return http::HttpResponse::text(200, index); });
  return r;
}

}  // namespace warren::agent::admin
