// The warrenctl binary end to end: a real warren_http server (test fixture, not a stand-in
// inside the product) serves the fixture documents on a temp unix socket laid out like the lab
// (<lab>/nodes/node-2/run/admin.sock); warrenctl's real client, filters and renderers run
// against it and the output is compared with the golden files.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <cstring>
#include <filesystem>
#include <mutex>

#include "common/http/http_server.h"
#include "test_support.h"

namespace warren::ctl {
namespace {

using testing::fixture;
using testing::golden;
using testing::readFile;
using testing::testDir;

std::string warrenctl() {
  if (const char* bin = std::getenv("WARREN_BIN_DIR"); bin && *bin)
    return std::string(bin) + "/warrenctl";
  return WARRENCTL_BINARY;
}

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class WarrenctlCli : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/warrenctl-test-XXXXXX";
    lab_ = ::mkdtemp(tmpl);
    run_dir_ = lab_ + "/nodes/node-2/run";
    std::filesystem::create_directories(run_dir_);
    http::Router router;
    for (const char* kind : {"workloads", "services", "policies", "certificates", "connections",
                             "redirection", "version", "waypoints"}) {
      std::string body = fixture(kind).dump();
      router.add("GET", std::string("/api/v1/") + kind,
                 [body](const http::HttpRequest&) { return http::HttpResponse::json(200, body); });
    }
    // Routes of one waypoint when asked (?waypoint=): the query must reach the agent.
    router.add("GET", "/api/v1/routes", [](const http::HttpRequest& r) {
      nlohmann::json doc = fixture("routes");
      if (r.queryOr("waypoint") == "shop/elsewhere") doc["items"] = nlohmann::json::array();
      return http::HttpResponse::json(200, doc.dump());
    });
    router.add("GET", "/api/v1/xds/subscribers", [](const http::HttpRequest&) {
      return http::HttpResponse::json(200, fixture("xds-subscribers").dump());
    });
    router.add("GET", "/api/v1/config_dump", [](const http::HttpRequest&) {
      return http::HttpResponse::json(500, R"({"error": "state is being rebuilt"})");
    });
    router.add("GET", "/api/v1/log", [this](const http::HttpRequest& r) {
      std::lock_guard lock(mu_);
      return http::HttpResponse::json(
          200,
          nlohmann::json{{"component", r.queryOr("component", "agent")}, {"level", level_}}.dump());
    });
    router.add("PUT", "/api/v1/log", [this](const http::HttpRequest& r) {
      std::lock_guard lock(mu_);
      level_ = r.queryOr("level");
      last_put_component_ = r.queryOr("component");
      return http::HttpResponse::json(
          200, nlohmann::json{{"component", last_put_component_}, {"level", level_}}.dump());
    });
    auto server = http::HttpServer::start(
        http::HttpServerOptions::at(http::ListenAddress::unixSocket(run_dir_ + "/admin.sock")),
        std::move(router));
    ASSERT_TRUE(server) << server.error().message();
    server_ = std::move(*server);
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(lab_);
  }

  RunResult run(const std::string& args) {
    std::string out = lab_ + "/out", err = lab_ + "/err";
    std::string cmd =
        "env -u WARREN_LAB_DIR " + warrenctl() + " " + args + " >" + out + " 2>" + err;
    int rc = std::system(cmd.c_str());
    RunResult r;
    r.exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    r.out = readFile(out);
    r.err = readFile(err);
    return r;
  }

  std::string lab_, run_dir_;
  std::unique_ptr<http::HttpServer> server_;
  std::mutex mu_;
  std::string level_ = "info";
  std::string last_put_component_;
};

TEST_F(WarrenctlCli, EveryResourceInEveryFormatMatchesGolden) {
  for (const char* kind : {"workloads", "services", "policies", "certificates", "connections",
                           "redirection", "xds-subscribers"}) {
    for (const char* fmt : {"table", "json", "yaml"}) {
      auto r = run("--run-dir " + run_dir_ + " " + kind + " -o " + fmt);
      EXPECT_EQ(r.exit_code, 0) << kind << " " << r.err;
      EXPECT_EQ(r.out, readFile(testDir() + "/golden/" + kind + "." + fmt)) << kind << " " << fmt;
    }
  }
}

TEST_F(WarrenctlCli, NodeFindsTheLabSocketAndFilters) {
  auto r = run("--lab-dir " + lab_ + " --node node-2 workloads");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("echo-5c4b"), std::string::npos);
  EXPECT_EQ(r.out.find("sleep-7d9f"), std::string::npos) << "node filter not applied";
  // The same through $WARREN_LAB_DIR.
  std::string cmd_env = "WARREN_LAB_DIR=" + lab_ + " " + warrenctl() +
                        " --node node-2 -n default -o json connections > " + lab_ + "/o2";
  ASSERT_EQ(std::system(cmd_env.c_str()), 0);
  auto j = nlohmann::json::parse(readFile(lab_ + "/o2"));
  EXPECT_EQ(j["items"].size(), 2u);
}

TEST_F(WarrenctlCli, WorkloadFilter) {
  auto r = run("--run-dir " + run_dir_ + " -w echo-5c4b -o json connections");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["items"].size(), 1u);
  EXPECT_EQ(j["items"][0]["id"], "c-1");
}

TEST_F(WarrenctlCli, LogGetAndSet) {
  auto get = run("--run-dir " + run_dir_ + " log");
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(get.out, "COMPONENT   LEVEL\nagent       info\n");
  auto set = run("--run-dir " + run_dir_ + " log debug --component ztunnel");
  ASSERT_EQ(set.exit_code, 0) << set.err;
  EXPECT_EQ(set.out, "COMPONENT   LEVEL\nztunnel     debug\n");
  {
    std::lock_guard lock(mu_);
    EXPECT_EQ(level_, "debug");
    EXPECT_EQ(last_put_component_, "ztunnel");
  }
  auto bad = run("--run-dir " + run_dir_ + " log loud");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("unknown log level 'loud'"), std::string::npos) << bad.err;
  std::lock_guard lock(mu_);
  EXPECT_EQ(level_, "debug") << "an invalid level must not reach the agent";
}

TEST_F(WarrenctlCli, AgentErrorsAreShownNotHidden) {
  auto r = run("--run-dir " + run_dir_ + " config-dump");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("HTTP 500: state is being rebuilt"), std::string::npos) << r.err;
}

TEST_F(WarrenctlCli, AllAndVersion) {
  auto all = run("--run-dir " + run_dir_ + " all -o json");
  ASSERT_EQ(all.exit_code, 0) << all.err;
  auto j = nlohmann::json::parse(all.out);
  for (const char* k : {"workloads", "services", "policies", "certificates", "connections",
                        "redirection", "xds-subscribers", "waypoints", "routes"})
    EXPECT_EQ(j[k], fixture(k)) << k;
  EXPECT_FALSE(j.contains("errors"));
  auto table = run("--run-dir " + run_dir_ + " all");
  ASSERT_EQ(table.exit_code, 0);
  EXPECT_NE(table.out.find("== workloads ==\n"), std::string::npos);
  EXPECT_NE(table.out.find("== xds-subscribers ==\n"), std::string::npos);

  auto v = run("--run-dir " + run_dir_ + " version -o json");
  ASSERT_EQ(v.exit_code, 0) << v.err;
  auto vj = nlohmann::json::parse(v.out);
  EXPECT_EQ(vj["client"]["component"], "warrenctl");
  EXPECT_EQ(vj["server"], fixture("version"));
}

TEST_F(WarrenctlCli, Waypoints) {
  auto list = run("--run-dir " + run_dir_ + " waypoint list -n shop");
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(list.out, golden("waypoints.table", list.out));
  auto status = run("--run-dir " + run_dir_ + " waypoint status waypoint");
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("Programmed   True"), std::string::npos) << status.out;
  EXPECT_EQ(status.out.find("broken"), std::string::npos);
  auto routes = run("--run-dir " + run_dir_ + " routes --waypoint shop/waypoint");
  ASSERT_EQ(routes.exit_code, 0) << routes.err;
  EXPECT_EQ(routes.out, golden("routes.table", routes.out));
  auto none = run("--run-dir " + run_dir_ + " routes --waypoint shop/elsewhere");
  EXPECT_EQ(none.out, "No routes found.\n");
  auto gen = run("waypoint generate -n shop --for all");
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  EXPECT_EQ(gen.out, golden("waypoint-generate.yaml", gen.out));
  auto bad = run("waypoint generate --name Bad_Name");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("'Bad_Name' is not a valid DNS label"), std::string::npos) << bad.err;
  // apply writes the manifest directory (where the lab's API server keeps objects).
  std::string manifests = lab_ + "/manifests";
  std::filesystem::create_directories(manifests);
  auto apply = run("waypoint apply -n shop --enroll-namespace --manifests " + manifests);
  ASSERT_EQ(apply.exit_code, 0) << apply.err;
  EXPECT_NE(apply.out.find("waypoint shop/waypoint applied (Gateway created"), std::string::npos)
      << apply.out;
  EXPECT_NE(apply.out.find("namespace shop labelled warren.dev/use-waypoint=waypoint"),
            std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(manifests + "/Gateway_shop_waypoint.yaml"));
  auto del = run("waypoint delete -n shop --manifests " + manifests);
  ASSERT_EQ(del.exit_code, 0) << del.err;
  EXPECT_FALSE(std::filesystem::exists(manifests + "/Gateway_shop_waypoint.yaml"));
  auto again = run("waypoint delete -n shop --manifests " + manifests);
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("not found"), std::string::npos) << again.err;
}

TEST_F(WarrenctlCli, UnreachableAgentSaysWhereAndWhatToCheck) {
  auto r = run("--lab-dir " + lab_ + " --node node-9 workloads");
  EXPECT_EQ(r.exit_code, 1);
  std::string sock = lab_ + "/nodes/node-9/run/admin.sock";
  EXPECT_NE(r.err.find("no socket at " + sock), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("warren-agent is running"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(lab_ + "/nodes/node-9/logs/agent.log"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");

  // A socket file nobody listens on (agent crashed): connection refused, path named.
  server_.reset();
  {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::string path = run_dir_ + "/admin.sock";
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    ASSERT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  }
  auto refused = run("--run-dir " + run_dir_ + " --timeout 2 workloads");
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(
      refused.err.find("cannot reach the warren agent admin API at " + run_dir_ + "/admin.sock"),
      std::string::npos)
      << refused.err;
}

TEST_F(WarrenctlCli, BadFlagsAreRejected) {
  EXPECT_NE(run("--run-dir " + run_dir_ + " workloads -o xml").exit_code, 0);
  EXPECT_NE(run("--run-dir " + run_dir_).exit_code, 0);
  EXPECT_NE(run("--run-dir " + run_dir_ + " log --component sidecar").exit_code, 0);
}

}  // namespace
}  // namespace warren::ctl
