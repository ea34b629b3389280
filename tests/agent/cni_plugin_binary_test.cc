// The warren-cni binary as a container runtime runs it: env + stdin in, stdout + exit code
// out. Malformed input gets a CNI error object and a non-zero exit before anything is sent.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace {

struct PluginRun {
  int exit_code = -1;
  std::string out;
};

class CniBinary : public ::testing::Test {
 protected:
  void SetUp() override {
    // WARREN_BIN_DIR, else build/bin next to this test's build/tests.
    const char* bin = std::getenv("WARREN_BIN_DIR");
    std::string bin_dir =
        bin ? bin
            : std::filesystem::read_symlink("/proc/self/exe").parent_path().string() + "/../bin";
    plugin_ = bin_dir + "/warren-cni";
    if (::access(plugin_.c_str(), X_OK) != 0) GTEST_SKIP() << plugin_ << " not built";
    char tmpl[] = "/tmp/warren-cni-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  PluginRun run(const std::string& command, const std::string& stdin_text) {
    std::ofstream(dir_ + "/in") << stdin_text;
    std::string cmd = "env -i CNI_COMMAND=" + command +
                      " CNI_CONTAINERID=c1 CNI_NETNS=/run/netns/none CNI_IFNAME=eth0"
                      " 'CNI_ARGS=K8S_POD_NAMESPACE=demo;K8S_POD_NAME=a' timeout 20 " +
                      plugin_ + " <" + dir_ + "/in >" + dir_ + "/out 2>&1";
    int status = std::system(cmd.c_str());
    PluginRun r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::ifstream in(dir_ + "/out");
    std::stringstream ss;
    ss << in.rdbuf();
    r.out = ss.str();
    return r;
  }

  std::string plugin_;
  std::string dir_;
};

TEST_F(CniBinary, Version) {
  auto r = run("VERSION", "");
  EXPECT_EQ(r.exit_code, 0);
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_TRUE(j["supportedVersions"].is_array());
}

TEST_F(CniBinary, MalformedJsonIsDecodeErrorAndNonZeroExit) {
  auto r = run("ADD", "{\"cniVersion\": \"1.0.0\", ");
  EXPECT_EQ(r.exit_code, 1);
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["code"], 6);
  EXPECT_NE(j["msg"].get<std::string>().find("JSON"), std::string::npos);
}

TEST_F(CniBinary, NotChainedIsRejectedBeforeContactingTheAgent) {
  auto r = run("ADD", R"({"cniVersion":"1.0.0","runDir":")" + dir_ + R"("})");
  EXPECT_EQ(r.exit_code, 1);
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["code"], 7);
  EXPECT_NE(j["msg"].get<std::string>().find("prevResult"), std::string::npos);
}

TEST_F(CniBinary, DelWithoutAgentSucceeds) {
  auto r = run("DEL", R"({"cniVersion":"1.0.0","runDir":")" + dir_ + R"("})");
  EXPECT_EQ(r.exit_code, 0) << r.out;
}

}  // namespace
