#include "agent/cni/cni_invocation.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace warren::cni {
namespace {

using json = nlohmann::json;

std::map<std::string, std::string> env(const std::string& cmd) {
  return {{"CNI_COMMAND", cmd},
          {"CNI_CONTAINERID", "c1"},
          {"CNI_NETNS", "/run/netns/wl-pod-a"},
          {"CNI_IFNAME", "eth0"},
          {"CNI_ARGS",
           "IgnoreUnknown=1;K8S_POD_NAMESPACE=demo;K8S_POD_NAME=a;K8S_POD_INFRA_CONTAINER_ID=c1;"
           "K8S_POD_UID=u-1"}};
}

const char* kConfig = R"({"cniVersion":"1.0.0","name":"wl","type":"warren-cni","runDir":"/run/x",
  "prevResult":{"cniVersion":"1.0.0","interfaces":[{"name":"eth0"}],
                "ips":[{"address":"10.244.1.5/24","gateway":"10.244.1.1","interface":0}],
                "routes":[{"dst":"0.0.0.0/0"}]}})";

TEST(CniInvocation, AddParsesEnvArgsAndPrevResult) {
  auto inv = parseCniInvocation(env("ADD"), kConfig);
  ASSERT_TRUE(inv) << inv.error().msg;
  EXPECT_EQ(inv->command, CniCommand::kAdd);
  EXPECT_EQ(inv->run_dir, "/run/x");
  EXPECT_EQ(inv->pod_namespace, "demo");
  EXPECT_EQ(inv->pod_name, "a");
  EXPECT_EQ(inv->pod_uid, "u-1");
  EXPECT_EQ(inv->netns, "/run/netns/wl-pod-a");
  EXPECT_EQ(inv->pod_ips, std::vector<std::string>{"10.244.1.5"});
}

TEST(CniInvocation, AddPassesPrevResultThrough) {
  auto inv = parseCniInvocation(env("ADD"), kConfig);
  ASSERT_TRUE(inv);
  json out = json::parse(cniResultJson(*inv));
  json prev = json::parse(kConfig)["prevResult"];
  EXPECT_EQ(out, prev);
}

TEST(CniInvocation, AgentRequestRoundTrips) {
  auto inv = parseCniInvocation(env("ADD"), kConfig);
  ASSERT_TRUE(inv);
  auto req = parseAgentRequest(agentRequestJson(*inv));
  ASSERT_TRUE(req) << req.error().message();
  EXPECT_EQ(req->command, "ADD");
  EXPECT_EQ(req->pod_namespace, "demo");
  EXPECT_EQ(req->pod_uid, "u-1");
  EXPECT_EQ(req->netns, "/run/netns/wl-pod-a");
  EXPECT_EQ(req->pod_ips, std::vector<std::string>{"10.244.1.5"});
}

TEST(CniInvocation, VersionNeedsNoConfig) {
  auto inv = parseCniInvocation({{"CNI_COMMAND", "VERSION"}}, "");
  ASSERT_TRUE(inv);
  auto v = json::parse(cniVersionJson());
  EXPECT_EQ(v["cniVersion"], "1.0.0");
  EXPECT_TRUE(v["supportedVersions"].is_array());
}

TEST(CniInvocation, DelWithoutPrevResultIsFine) {
  auto inv = parseCniInvocation(env("DEL"), R"({"cniVersion":"1.0.0","runDir":"/run/x"})");
  ASSERT_TRUE(inv) << inv.error().msg;
  EXPECT_EQ(inv->command, CniCommand::kDel);
}

struct BadCase {
  const char* name;
  std::string command;
  std::string config;
  int code;
  const char* msg_has;
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

class CniMalformed : public ::testing::TestWithParam<BadCase> {};

TEST_P(CniMalformed, ClearErrorWithCode) {
  const auto& c = GetParam();
  auto e = env(c.command);
  if (c.command.empty()) e.erase("CNI_COMMAND");
  auto inv = parseCniInvocation(e, c.config);
  ASSERT_FALSE(inv);
  EXPECT_EQ(inv.error().code, c.code);
  EXPECT_NE(inv.error().msg.find(c.msg_has), std::string::npos) << inv.error().msg;
  json err = json::parse(cniErrorJson(inv.error(), "1.0.0"));
  EXPECT_EQ(err["code"], c.code);
  EXPECT_EQ(err["cniVersion"], "1.0.0");
}

INSTANTIATE_TEST_SUITE_P(
    Table, CniMalformed,
    ::testing::Values(
        BadCase{"no_command", "", kConfig, kCniErrInvalidEnv, "CNI_COMMAND"},
        BadCase{"bad_command", "FROB", kConfig, kCniErrInvalidEnv, "FROB"},
        BadCase{"not_json", "ADD", "{not json", kCniErrDecode, "not a JSON object"},
        BadCase{"json_array", "ADD", "[1,2]", kCniErrDecode, "not a JSON object"},
        BadCase{"truncated", "ADD", std::string(kConfig).substr(0, 60), kCniErrDecode, "JSON"},
        BadCase{"no_version", "ADD", R"({"runDir":"/r","prevResult":{}})", kCniErrInvalidConfig,
                "cniVersion"},
        BadCase{"old_version", "ADD", R"({"cniVersion":"0.3.1","runDir":"/r","prevResult":{}})",
                kCniErrIncompatibleVersion, "0.3.1"},
        BadCase{"no_run_dir", "ADD", R"({"cniVersion":"1.0.0","prevResult":{}})",
                kCniErrInvalidConfig, "runDir"},
        BadCase{"relative_run_dir", "ADD",
                R"({"cniVersion":"1.0.0","runDir":"run","prevResult":{}})", kCniErrInvalidConfig,
                "runDir"},
        BadCase{"not_chained", "ADD", R"({"cniVersion":"1.0.0","runDir":"/r"})",
                kCniErrInvalidConfig, "prevResult"},
        BadCase{"prev_result_string", "ADD",
                R"({"cniVersion":"1.0.0","runDir":"/r","prevResult":"x"})", kCniErrDecode,
                "prevResult"},
        BadCase{"ips_not_array", "ADD",
                R"({"cniVersion":"1.0.0","runDir":"/r","prevResult":{"ips":{}}})", kCniErrDecode,
                "ips"},
        BadCase{
            "ip_without_address", "ADD",
            R"({"cniVersion":"1.0.0","runDir":"/r","prevResult":{"ips":[{"gateway":"1.1.1.1"}]}})",
            kCniErrDecode, "address"}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(CniInvocation, AddWithoutPodArgsIsRejected) {
  auto e = env("ADD");
  e["CNI_ARGS"] = "IgnoreUnknown=1";
  auto inv = parseCniInvocation(e, kConfig);
  ASSERT_FALSE(inv);
  EXPECT_NE(inv.error().msg.find("K8S_POD_NAMESPACE"), std::string::npos);
}

TEST(CniInvocation, AgentRequestRejectsGarbage) {
  EXPECT_FALSE(parseAgentRequest("nope"));
  EXPECT_FALSE(parseAgentRequest(R"({"command":"RM"})"));
  EXPECT_FALSE(parseAgentRequest(R"({"command":"ADD","namespace":"a"})"));
}

// Found by cni_fuzz: bytes that are not UTF-8 in the environment made nlohmann's dump() throw
// and warren-cni die instead of printing a CNI error. Each variable is named; well-formed
// multi-byte text passes.
TEST(CniInvocation, EnvironmentThatIsNotUtf8IsACniErrorNamingTheVariable) {
  struct Case {
    const char* var;
    std::string value;
  } cases[] = {
      {"CNI_COMMAND", "\xff"},
      {"CNI_NETNS", "/run/netns/\xc3"},                               // truncated sequence
      {"CNI_CONTAINERID", "c\xe0\x80\x80"},                           // overlong
      {"CNI_ARGS", "K8S_POD_NAMESPACE=\xed\xa0\x80;K8S_POD_NAME=a"},  // a surrogate
  };
  for (const auto& c : cases) {
    auto e = env("ADD");
    e[c.var] = c.value;
    auto inv = parseCniInvocation(e, kConfig);
    ASSERT_FALSE(inv) << c.var;
    EXPECT_EQ(inv.error().code, kCniErrInvalidEnv) << c.var;
    EXPECT_EQ(inv.error().msg, std::string(c.var) + " is not valid UTF-8");
    EXPECT_TRUE(json::parse(cniErrorJson(inv.error(), "1.0.0")).is_object());
  }
  auto e = env("ADD");
  e["CNI_NETNS"] =
      "/run/netns/p\xc3\xa4"
      "d-\xf0\x9f\x90\x87";  // "päd-" and U+1F407
  auto inv = parseCniInvocation(e, kConfig);
  ASSERT_TRUE(inv) << inv.error().msg;
  auto req = parseAgentRequest(agentRequestJson(*inv));
  ASSERT_TRUE(req);
  EXPECT_EQ(req->netns, e["CNI_NETNS"]);
  // An error message quoting such bytes is still a JSON object (U+FFFD in their place).
  auto out = json::parse(cniErrorJson(CniFailure{kCniErrInvalidEnv, "bad \xff", ""}, ""));
  EXPECT_EQ(out["msg"], "bad \xef\xbf\xbd");
}

}  // namespace
}  // namespace warren::cni
