#include "lab/node_runtime.h"

#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "lab/cgroup_tree.h"

extern char** environ;

namespace warren::lab {
namespace {

std::string basename(const std::string& p) { return std::filesystem::path(p).filename().string(); }

// Node paths this container does not mount stay hidden, as on a real node: a container sees
// only its volumes. A manifest that forgets a mount then fails instead of quietly using the
// machine's directory.
std::vector<std::string> masksFor(const ResolvedContainer& c, const ContainerPlacement& p) {
  std::vector<std::string> masks;
  for (const auto& host : p.private_paths) {
    bool mounted = false;
    for (const auto& m : c.mounts) mounted |= m.target == host;
    if (!mounted) masks.push_back(host);
  }
  return masks;
}

Result<CommandResult> appendLog(Result<CommandResult> r, const std::string& log_path) {
  if (r) {
    std::ofstream log(log_path, std::ios::app);
    log << r->out << r->err;
  }
  return r;
}

class ProcessRuntime : public NodeRuntime {
 public:
  std::string name() const override { return "process"; }

  Result<ComponentState> start(const ResolvedContainer& c, const ContainerPlacement& p) override {
    if (c.argv.empty()) return fail(Error::invalid("container " + c.name + ": empty command"));
    // The image's /usr/local/bin is the build's bin dir: the binary is looked up by name there.
    auto prog = resolveProgram(basename(c.argv[0]), p.bin_dir);
    if (!prog) return fail(prog.error().wrap("container " + c.name));
    std::vector<std::string> argv = c.argv;
    argv[0] = *prog;
    WARREN_TRY(CgroupTree::create(p.cgroup));
    DetachedSpec spec{argv,       p.netns_path, p.cgroup,
                      p.log_path, c.env,        MountSetup{c.mounts, masksFor(c, p)}};
    auto pid = spawnDetached(spec);
    if (!pid) return fail(pid.error().wrap("container " + c.name));
    return ComponentState{*pid, argv, "", "", ""};
  }

  bool alive(const ComponentState& s) const override { return processAlive(s.pid); }

  void signal(const ComponentState& s, int sig) override {
    if (s.pid > 0) ::kill(s.pid, sig);
  }

  Result<CommandResult> exec(const ComponentState&, const ResolvedContainer& c,
                             const ContainerPlacement& p, const std::vector<std::string>& argv,
                             std::chrono::milliseconds timeout) override {
    if (argv.empty()) return fail(Error::invalid("empty exec command"));
    auto prog = resolveProgram(basename(argv[0]), p.bin_dir);
    if (!prog) return fail(prog.error());
    CommandSpec spec;
    spec.argv = argv;
    spec.argv[0] = *prog;
    spec.netns_path = p.netns_path;
    spec.mounts = MountSetup{c.mounts, masksFor(c, p)};
    spec.timeout = timeout;
    return runCommand(spec);
  }

  Result<CommandResult> runToCompletion(const ResolvedContainer& c, const ContainerPlacement& p,
                                        std::chrono::milliseconds timeout) override {
    auto prog = resolveProgram(basename(c.argv.at(0)), p.bin_dir);
    if (!prog) return fail(prog.error().wrap("container " + c.name));
    WARREN_TRY(CgroupTree::create(p.cgroup));
    CommandSpec spec;
    spec.argv = c.argv;
    spec.argv[0] = *prog;
    spec.netns_path = p.netns_path;
    spec.mounts = MountSetup{c.mounts, masksFor(c, p)};
    spec.timeout = timeout;
    std::map<std::string, std::string> env;
    for (char** e = environ; *e; ++e) {
      std::string kv = *e;
      if (auto eq = kv.find('='); eq != std::string::npos)
        env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    for (const auto& [k, v] : c.env) env[k] = v;
    spec.env = std::move(env);
    return appendLog(runCommand(spec), p.log_path);
  }

  void remove(const ComponentState&) override {}
};

Result<CommandResult> podman(std::vector<std::string> args, std::chrono::milliseconds timeout) {
  CommandSpec spec;
  spec.argv = {"podman", "--runtime", "runc"};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.timeout = timeout;
  return runCommand(spec);
}

class PodmanRuntime : public NodeRuntime {
 public:
  std::string name() const override { return "podman"; }

  Result<ComponentState> start(const ResolvedContainer& c, const ContainerPlacement& p) override {
    // A container of that name left by a crash would make `run` fail.
    (void)podmanRemove({p.container_name});
    for (const auto& m : c.mounts) {
      std::error_code ec;
      std::filesystem::create_directories(m.source, ec);
    }
    auto prog = resolveProgram("podman", "");
    if (!prog) return fail(prog.error().wrap("--runtime podman"));
    std::vector<std::string> argv = {*prog, "--runtime", "runc"};
    auto run = podmanRunArgs(c, p);
    argv.insert(argv.end(), run.begin(), run.end());
    // `podman run` stays attached: its output is the container's log, and it exits with it.
    DetachedSpec spec{argv, "", "", p.log_path, {}, {}};
    auto pid = spawnDetached(spec);
    if (!pid) return fail(pid.error().wrap("container " + c.name));
    return ComponentState{*pid, c.argv, "", "", p.container_name};
  }

  bool alive(const ComponentState& s) const override { return processAlive(s.pid); }

  void signal(const ComponentState& s, int sig) override {
    if (s.container_id.empty()) return;
    (void)podman({"kill", "--signal", sig == SIGKILL ? "KILL" : "TERM", s.container_id},
                 std::chrono::seconds(20));
  }

  Result<CommandResult> exec(const ComponentState& s, const ResolvedContainer&,
                             const ContainerPlacement&, const std::vector<std::string>& argv,
                             std::chrono::milliseconds timeout) override {
    std::vector<std::string> args = {"exec", s.container_id};
    args.insert(args.end(), argv.begin(), argv.end());
    return podman(args, timeout);
  }

  Result<CommandResult> runToCompletion(const ResolvedContainer& c, const ContainerPlacement& p,
                                        std::chrono::milliseconds timeout) override {
    (void)podmanRemove({p.container_name});
    return appendLog(podman(podmanRunArgs(c, p), timeout), p.log_path);
  }

  void remove(const ComponentState& s) override {
    if (!s.container_id.empty()) (void)podmanRemove({s.container_id});
  }
};

}  // namespace

std::vector<std::string> podmanRunArgs(const ResolvedContainer& c, const ContainerPlacement& p) {
  std::vector<std::string> a = {
      "run",          "--rm", "--name", p.container_name, "--network", "ns:" + p.netns_path,
      "--log-driver", "none"};
  // Inside the node's cgroup, as on a node where the capture programs sit on the root cgroup:
  // ztunnel's own getsockopt(SO_ORIGINAL_DST) must pass through them.
  if (!p.cgroup_parent.empty()) a.push_back("--cgroup-parent=" + p.cgroup_parent);
  // Capabilities exactly as the manifest grants them.
  for (const auto& cap : c.cap_drop) a.push_back("--cap-drop=" + cap);
  for (const auto& cap : c.cap_add) a.push_back("--cap-add=" + cap);
  if (c.privileged) a.push_back("--privileged");
  if (c.no_new_privileges) a.push_back("--security-opt=no-new-privileges");
  if (c.read_only_root) a.push_back("--read-only");
  if (c.run_as_user) a.push_back("--user=" + std::to_string(*c.run_as_user));
  // podman's defaults exceed this machine's hard limits (runc then fails to start anything):
  // open files as we have them, processes at 4096 (runc here refuses more than ~64k).
  struct rlimit nofile {};
  ::getrlimit(RLIMIT_NOFILE, &nofile);
  auto lim = [](rlim_t x) { return x == RLIM_INFINITY ? std::string("-1") : std::to_string(x); };
  a.push_back("--ulimit=nofile=" + lim(nofile.rlim_cur) + ":" + lim(nofile.rlim_max));
  a.push_back("--ulimit=nproc=4096:4096");
  for (const auto& m : c.mounts)
    a.push_back("--volume=" + m.source + ":" + m.target + (m.read_only ? ":ro,rslave" : ":rslave"));
  for (const auto& [k, v] : c.env) a.push_back("--env=" + k + "=" + v);
  a.push_back("--entrypoint=" + c.argv.at(0));
  a.push_back(p.image);
  a.insert(a.end(), c.argv.begin() + 1, c.argv.end());
  return a;
}

std::vector<std::string> podmanContainersWithPrefix(const std::string& prefix) {
  std::vector<std::string> out;
  if (!resolveProgram("podman", "")) return out;
  auto r = podman({"ps", "-a", "--format", "{{.Names}}"}, std::chrono::seconds(30));
  if (!r || r->exit_code != 0) return out;
  std::istringstream in(r->out);
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with(prefix)) out.push_back(line);
  return out;
}

Status podmanRemove(const std::vector<std::string>& names) {
  if (names.empty() || !resolveProgram("podman", "")) return ok();
  std::vector<std::string> args = {"rm", "-f", "--time", "2"};
  args.insert(args.end(), names.begin(), names.end());
  auto r = podman(args, std::chrono::seconds(60));
  if (!r) return fail(r.error());
  if (r->exit_code != 0 && r->err.find("no such container") == std::string::npos)
    return fail(Error::invalid("podman rm -f: " + r->err));
  return ok();
}

std::unique_ptr<NodeRuntime> makeProcessRuntime() { return std::make_unique<ProcessRuntime>(); }
std::unique_ptr<NodeRuntime> makePodmanRuntime() { return std::make_unique<PodmanRuntime>(); }

Result<std::unique_ptr<NodeRuntime>> makeNodeRuntime(const std::string& name) {
  if (name == "process") return makeProcessRuntime();
  if (name == "podman") return makePodmanRuntime();
  return fail(Error::invalid("--runtime '" + name + "': want process or podman"));
}

}  // namespace warren::lab
