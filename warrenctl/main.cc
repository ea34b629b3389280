// warrenctl: shows what a node's warren-agent knows (workloads, services, policies,
// certificates, connections, redirection state, xDS subscribers) and changes log levels,
// through the agent admin API on <run-dir>/admin.sock. See README.md.
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "common/log.h"
#include "warrenctl/admin_client.h"
#include "warrenctl/output_renderer.h"
#include "warrenctl/resource_filter.h"
#include "warrenctl/resource_tables.h"
#include "warrenctl/waypoint_command.h"
#include "warrenctl/waypoint_routes.h"

#ifndef WARREN_VERSION
#define WARREN_VERSION "0.0.0"
#endif

namespace {

using warren::ctl::ResourceKind;

struct Flags {
  std::string output = "table";
  std::string namespace_;
  std::string node;
  std::string workload;
  std::string run_dir;
  std::string lab_dir;
  std::string socket;
  double timeout_seconds = 5;
  std::string level;
  std::string component = "agent";
  std::string waypoint;   // routes --waypoint NS/NAME
  std::string manifests;  // waypoint apply|delete --manifests DIR
  std::string wp_name;    // waypoint NAME
  std::string wp_for = "service";
  std::string wp_admin = "127.0.0.1:15000";  // waypoint routes --admin
  bool enroll_namespace = false;
  bool all = false;
};

bool labDirExists(const std::string& dir) {
  struct stat st {};
  return ::stat((dir + "/manifests").c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::optional<std::string> opt(const std::string& s) {
  return s.empty() ? std::nullopt : std::optional<std::string>(s);
}

int failWith(const std::string& message) {
  std::cerr << "warrenctl: " << message << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  CLI::App app{"warrenctl: inspect a Warren node through its agent's admin API"};
  app.set_version_flag("--version", std::string("warrenctl ") + WARREN_BUILD_VERSION);
  app.require_subcommand(1);
  app.add_option("-o,--output", f.output, "Output format: table, json or yaml")
      ->check(CLI::IsMember({"table", "wide", "json", "yaml"}));
  app.add_option("-n,--namespace", f.namespace_, "Only this namespace");
  app.add_option("--node", f.node,
                 "Lab node whose agent to ask (<lab-dir>/nodes/NODE/run/admin.sock); also "
                 "filters items by node");
  app.add_option("-w,--workload", f.workload, "Only this workload (pod name)");
  app.add_option("--run-dir", f.run_dir, "The agent's run dir (default /var/run/warren)");
  app.add_option("--lab-dir", f.lab_dir,
                 "Lab dir for --node (default $WARREN_LAB_DIR or /run/warren-lab)");
  app.add_option("--socket", f.socket, "The agent admin socket path, overriding the above");
  app.add_option("--timeout", f.timeout_seconds, "Seconds to wait for the agent")
      ->check(CLI::Range(0.1, 600.0));

  std::vector<std::pair<CLI::App*, ResourceKind>> getters;
  auto addGetter = [&](const char* name, const char* help, ResourceKind kind) {
    getters.emplace_back(app.add_subcommand(name, help)->fallthrough(), kind);
  };
  addGetter("workloads", "Workloads the agent knows (pods), with identity and enrolment",
            ResourceKind::kWorkloads);
  addGetter("services", "Services with VIPs, ports and endpoints", ResourceKind::kServices);
  addGetter("policies", "AuthorizationPolicies and PeerAuthentications in force",
            ResourceKind::kPolicies);
  addGetter("certificates", "Workload certificates: state, validity, next refresh",
            ResourceKind::kCertificates);
  addGetter("connections", "Open proxied connections", ResourceKind::kConnections);
  addGetter("redirection", "eBPF redirection: enrolled pods, programs, links, counters",
            ResourceKind::kRedirection);
  addGetter("xds-subscribers", "xDS clients and the versions they acked",
            ResourceKind::kXdsSubscribers);
  addGetter("waypoints", "Waypoints, their instances, and the Services and workloads using them",
            ResourceKind::kWaypoints);
  auto* routes_cmd =
      app.add_subcommand("routes", "The L7 routes waypoints are served, in match order")
          ->fallthrough();
  routes_cmd->add_option("--waypoint", f.waypoint, "Only this waypoint's (NS/NAME)");
  addGetter("config-dump", "The agent's full state as one document", ResourceKind::kConfigDump);
  auto* log_cmd = app.add_subcommand("log", "Show or set the log level")->fallthrough();
  log_cmd->add_option("level", f.level,
                      "New level: trace, debug, info, warn, error, critical, off");
  log_cmd->add_option("--component", f.component, "Whose level: agent or ztunnel")
      ->check(CLI::IsMember({"agent", "ztunnel"}));
  auto* version_cmd = app.add_subcommand("version", "Client and agent versions")->fallthrough();
  auto* all_cmd = app.add_subcommand("all", "Everything, one section per resource")->fallthrough();
  auto* wp = app.add_subcommand("waypoint", "Deploy and inspect waypoints (cf. istioctl waypoint)")
                 ->fallthrough()
                 ->require_subcommand(1);
  auto wpWrite = [&](CLI::App* c) {
    c->add_option("--manifests", f.manifests,
                  "Write to this manifest directory (default: the lab's, else the Kubernetes API)");
  };
  auto* wp_gen = wp->add_subcommand("generate", "Print the waypoint Gateway")->fallthrough();
  auto* wp_apply =
      wp->add_subcommand("apply", "Create or update the waypoint Gateway")->fallthrough();
  for (auto* c : {wp_gen, wp_apply}) {
    c->add_option("--name", f.wp_name, "Waypoint name (default waypoint)");
    c->add_option("--for", f.wp_for, "Traffic it takes: service, workload, all, none")
        ->check(CLI::IsMember({"service", "workload", "all", "none"}));
  }
  wp_apply->add_flag("--enroll-namespace", f.enroll_namespace,
                     "Also label the namespace warren.dev/use-waypoint=<name>");
  wpWrite(wp_apply);
  auto* wp_list =
      wp->add_subcommand("list", "List waypoints (all namespaces unless -n)")->fallthrough();
  auto* wp_status =
      wp->add_subcommand("status", "Show a waypoint's status conditions")->fallthrough();
  wp_status->add_option("name", f.wp_name, "Waypoint name (default: all)");
  auto* wp_routes =
      wp->add_subcommand("routes",
                         "The routes a waypoint compiled, from its admin (cf. istioctl "
                         "proxy-config routes)")
          ->fallthrough();
  wp_routes->add_option("name", f.wp_name, "Check that the admin serves this waypoint");
  wp_routes->add_option("--admin", f.wp_admin,
                        "The waypoint's admin, HOST:PORT (default 127.0.0.1:15000: run in the "
                        "waypoint pod's network namespace, or port-forward)");
  auto* wp_delete = wp->add_subcommand("delete", "Delete a waypoint Gateway")->fallthrough();
  wp_delete->add_option("name", f.wp_name, "Waypoint name (default waypoint)");
  wp_delete->add_flag("--all", f.all, "Every waypoint of the namespace");
  wpWrite(wp_delete);

  CLI11_PARSE(app, argc, argv);

  auto format = warren::ctl::parseOutputFormat(f.output);
  if (!format) return failWith("unknown output format '" + f.output + "'");
  const char* env_lab = std::getenv("WARREN_LAB_DIR");
  auto location = warren::ctl::locateAdminSocket(
      {opt(f.socket), opt(f.run_dir), opt(f.node), opt(f.lab_dir)},
      env_lab && *env_lab ? std::optional<std::string>(env_lab) : std::nullopt);
  warren::ctl::AdminClient client(
      location, std::chrono::milliseconds(static_cast<int64_t>(f.timeout_seconds * 1000)));
  warren::ctl::ResourceFilter filter{opt(f.namespace_), opt(f.node), opt(f.workload)};

  for (const auto& [cmd, kind] : getters) {
    if (!cmd->parsed()) continue;
    auto doc = client.get(kind);
    if (!doc) return failWith(doc.error().message());
    std::cout << warren::ctl::renderOutput(kind, warren::ctl::applyFilter(kind, *doc, filter),
                                           *format);
    return 0;
  }

  if (routes_cmd->parsed()) {
    std::map<std::string, std::string> q;
    if (!f.waypoint.empty()) q["waypoint"] = f.waypoint;
    auto doc = client.get(ResourceKind::kRoutes, q);
    if (!doc) return failWith(doc.error().message());
    std::cout << warren::ctl::renderOutput(
        ResourceKind::kRoutes, warren::ctl::applyFilter(ResourceKind::kRoutes, *doc, filter),
        *format);
    return 0;
  }

  if (wp->parsed()) {
    warren::ctl::WaypointSpec spec;
    if (!f.wp_name.empty()) spec.name = f.wp_name;
    if (!f.namespace_.empty()) spec.namespace_ = f.namespace_;
    spec.traffic_type = f.wp_for;
    if (wp_gen->parsed() || wp_apply->parsed() || wp_delete->parsed()) {
      if (auto v = warren::ctl::validateWaypointSpec(spec); !v)
        return failWith(v.error().message());
    }
    if (wp_gen->parsed()) {
      std::cout << warren::ctl::waypointGatewayYaml(spec);
      return 0;
    }
    if (wp_routes->parsed()) {
      std::string expect = f.wp_name.empty() ? "" : spec.namespace_ + "/" + spec.name;
      auto doc = warren::ctl::fetchWaypointRoutes(
          f.wp_admin, expect,
          std::chrono::milliseconds(static_cast<int64_t>(f.timeout_seconds * 1000)));
      if (!doc) return failWith(doc.error().message());
      if (*format == warren::ctl::OutputFormat::kTable)
        std::cout << warren::ctl::renderWaypointRoutes(*doc);
      else
        std::cout << warren::ctl::renderOutput(warren::ctl::ResourceKind::kConfigDump, *doc,
                                               *format);
      return 0;
    }
    if (wp_list->parsed() || wp_status->parsed()) {
      auto doc = client.get(ResourceKind::kWaypoints);
      if (!doc) return failWith(doc.error().message());
      auto filtered = warren::ctl::applyFilter(ResourceKind::kWaypoints, *doc, filter);
      if (wp_list->parsed() || *format != warren::ctl::OutputFormat::kTable)
        std::cout << warren::ctl::renderOutput(ResourceKind::kWaypoints, filtered, *format);
      else
        std::cout << warren::ctl::renderWaypointStatus(filtered, f.wp_name);
      return 0;
    }
    auto choice = warren::ctl::chooseObjectStore(
        opt(f.manifests), opt(f.lab_dir),
        env_lab && *env_lab ? std::optional<std::string>(env_lab) : std::nullopt, &labDirExists);
    auto store = warren::ctl::openObjectStore(choice);
    if (!store) return failWith(store.error().message());
    if (wp_apply->parsed()) {
      auto done = warren::ctl::applyWaypoint(**store, spec);
      if (!done) return failWith(done.error().message());
      std::cout << *done << " (" << choice.how << ")\n";
      if (f.enroll_namespace) {
        auto labelled = warren::ctl::enrollNamespace(**store, spec);
        if (!labelled) return failWith(labelled.error().message());
        std::cout << *labelled << "\n";
      }
      return 0;
    }
    auto done = warren::ctl::deleteWaypoints(**store, spec, f.all);
    if (!done) return failWith(done.error().message());
    std::cout << *done << "\n";
    return 0;
  }

  if (log_cmd->parsed()) {
    warren::Result<nlohmann::json> doc;
    if (f.level.empty()) {
      doc = client.get(ResourceKind::kLog, {{"component", f.component}});
    } else {
      if (auto lvl = warren::log::parseLevel(f.level); !lvl) return failWith(lvl.error().message());
      doc = client.setLogLevel(f.level, f.component);
    }
    if (!doc) return failWith(doc.error().message());
    std::cout << warren::ctl::renderOutput(ResourceKind::kLog, *doc, *format);
    return 0;
  }

  if (version_cmd->parsed()) {
    nlohmann::json client_doc = {{"component", "warrenctl"}, {"version", WARREN_VERSION}};
    auto server = client.get(ResourceKind::kVersion);
    nlohmann::json both = {{"client", client_doc}};
    if (server) both["server"] = *server;
    std::cout << warren::ctl::renderOutput(ResourceKind::kVersion, both, *format);
    if (!server) return failWith(server.error().message());
    return 0;
  }

  if (all_cmd->parsed()) {
    std::vector<std::pair<ResourceKind, warren::Result<nlohmann::json>>> docs;
    bool any_ok = false;
    for (ResourceKind kind : warren::ctl::allKinds()) {
      auto doc = client.get(kind);
      if (doc) {
        any_ok = true;
        docs.emplace_back(kind, warren::ctl::applyFilter(kind, *doc, filter));
      } else {
        docs.emplace_back(kind, std::move(doc));
      }
    }
    // Nothing answered: one clear error instead of seven copies of it.
    if (!any_ok) return failWith(docs.front().second.error().message());
    std::cout << warren::ctl::renderAll(docs, *format);
    return 0;
  }
  return failWith("no subcommand");
}
