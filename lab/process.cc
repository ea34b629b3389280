#include "lab/process.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>

#include "common/unique_fd.h"

extern char** environ;

namespace warren::lab {
namespace {

struct Pipe {
  UniqueFd r, w;
};

Result<Pipe> makePipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return fail(WARREN_SYS_ERROR("pipe2"));
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

std::vector<char*> cArgv(const std::vector<std::string>& v) {
  std::vector<char*> out;
  for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// Child-side helpers: report an errno and a short tag through the error pipe, then exit.
[[noreturn]] void childFail(int fd, const char* what) {
  int e = errno;
  char buf[256];
  int n = std::snprintf(buf, sizeof(buf), "%s: %s", what, std::strerror(e));
  if (n > 0) (void)!::write(fd, buf, static_cast<size_t>(n));
  ::_exit(127);
}

void childEnterNetns(const std::string& path, int err_fd) {
  if (path.empty()) return;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) childFail(err_fd, "open netns");
  if (::setns(fd, CLONE_NEWNET) != 0) childFail(err_fd, "setns");
  ::close(fd);
}

void childJoinCgroup(const std::string& dir, int err_fd) {
  if (dir.empty()) return;
  std::string procs = dir + "/cgroup.procs";
  int fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) childFail(err_fd, "open cgroup.procs");
  // "0" moves the writing process itself.
  if (::write(fd, "0", 1) != 1) childFail(err_fd, "join cgroup");
  ::close(fd);
}

// In the child, after setns: a private mount namespace (slave of ours, so netns files and
// mounts made later on the host still appear), masks, then binds. Targets exist already
// (prepareMountTargets ran in the parent).
void childMounts(const MountSetup& m, int err_fd) {
  if (m.empty()) return;
  if (::unshare(CLONE_NEWNS) != 0) childFail(err_fd, "unshare(CLONE_NEWNS)");
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0)
    childFail(err_fd, "make / a slave mount");
  for (const auto& dir : m.masks) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    if (::mount("warren-lab-mask", dir.c_str(), "tmpfs",
                MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0555") != 0)
      childFail(err_fd, "mask a host path");
  }
  for (const auto& b : m.mounts) {
    if (b.source == b.target) continue;
    if (::mount(b.source.c_str(), b.target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
      childFail(err_fd, "bind mount");
    if (b.read_only &&
        ::mount(nullptr, b.target.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) != 0)
      childFail(err_fd, "remount read-only");
  }
}

std::string readAll(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return out;
  }
}

int exitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

Result<CommandResult> runCommand(const CommandSpec& spec) {
  if (spec.argv.empty()) return fail(Error::invalid("runCommand: empty argv"));
  WARREN_TRY(prepareMountTargets(spec.mounts));
  auto in = makePipe();
  auto out = makePipe();
  auto err = makePipe();
  auto ctl = makePipe();
  if (!in || !out || !err || !ctl) return fail(Error::system(errno, "pipes for " + spec.argv[0]));
  std::vector<std::string> env_strings;
  if (spec.env)
    for (const auto& [k, v] : *spec.env) env_strings.push_back(k + "=" + v);
  auto argv = cArgv(spec.argv);
  auto envp = cArgv(env_strings);

  pid_t pid = ::fork();
  if (pid < 0) return fail(WARREN_SYS_ERROR("fork for " + spec.argv[0]));
  if (pid == 0) {
    ::dup2(in->r.get(), 0);
    ::dup2(out->w.get(), 1);
    ::dup2(err->w.get(), 2);
    childEnterNetns(spec.netns_path, ctl->w.get());
    childMounts(spec.mounts, ctl->w.get());
    if (spec.env) {
      ::execvpe(argv[0], argv.data(), envp.data());
    } else {
      ::execvp(argv[0], argv.data());
    }
    childFail(ctl->w.get(), "exec");
  }
  in->r.reset();
  out->w.reset();
  err->w.reset();
  ctl->w.reset();

  // Feed stdin and drain both outputs with poll, bounded by the timeout.
  CommandResult res;
  size_t written = 0;
  if (spec.stdin_data.empty()) in->w.reset();
  ::fcntl(in->w.get(), F_SETFL, O_NONBLOCK);
  auto deadline = std::chrono::steady_clock::now() + spec.timeout;
  bool timed_out = false;
  while (out->r || err->r) {
    std::vector<pollfd> pfds;
    if (out->r) pfds.push_back({out->r.get(), POLLIN, 0});
    if (err->r) pfds.push_back({err->r.get(), POLLIN, 0});
    if (in->w) pfds.push_back({in->w.get(), POLLOUT, 0});
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    int n = ::poll(pfds.data(), pfds.size(), static_cast<int>(left.count()));
    if (n < 0 && errno != EINTR) break;
    for (const auto& p : pfds) {
      if (p.revents == 0) continue;
      if (in->w && p.fd == in->w.get()) {
        ssize_t w =
            ::write(p.fd, spec.stdin_data.data() + written, spec.stdin_data.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        if (w < 0 && errno != EAGAIN) in->w.reset();
        if (written == spec.stdin_data.size()) in->w.reset();
        continue;
      }
      char buf[8192];
      ssize_t r = ::read(p.fd, buf, sizeof(buf));
      bool is_out = out->r && p.fd == out->r.get();
      if (r > 0) {
        (is_out ? res.out : res.err).append(buf, static_cast<size_t>(r));
      } else if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
        (is_out ? out->r : err->r).reset();
      }
    }
  }
  in->w.reset();
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::string ctl_msg = readAll(ctl->r.get());
  if (!ctl_msg.empty()) return fail(Error::invalid(spec.argv[0] + ": " + ctl_msg));
  if (timed_out)
    return fail(Error(ErrorCode::kTimeout, spec.argv[0] + ": timed out after " +
                                               std::to_string(spec.timeout.count()) + " ms"));
  res.exit_code = exitCodeOf(status);
  return res;
}

Status runChecked(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  CommandSpec spec;
  spec.argv = argv;
  spec.timeout = timeout;
  auto r = runCommand(spec);
  if (!r) return fail(r.error());
  if (r->exit_code != 0) {
    std::string cmd;
    for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    std::string err = r->err;
    while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
    return fail(
        Error::invalid("'" + cmd + "' failed (exit " + std::to_string(r->exit_code) + "): " + err));
  }
  return ok();
}

Status prepareMountTargets(const MountSetup& mounts) {
  for (const auto& b : mounts.mounts) {
    std::error_code ec;
    std::filesystem::create_directories(b.target, ec);
    if (ec && !std::filesystem::is_directory(b.target))
      return fail(Error::system(ec.value(), "create mount target " + b.target));
  }
  return ok();
}

Result<pid_t> spawnDetached(const DetachedSpec& spec) {
  if (spec.argv.empty()) return fail(Error::invalid("spawnDetached: empty argv"));
  WARREN_TRY(prepareMountTargets(spec.mounts));
  auto ctl = makePipe();   // exec errors (closed by exec on success)
  auto pidp = makePipe();  // the grandchild's pid
  if (!ctl || !pidp) return fail(Error::system(errno, "pipes for " + spec.argv[0]));
  auto argv = cArgv(spec.argv);
  pid_t child = ::fork();
  if (child < 0) return fail(WARREN_SYS_ERROR("fork for " + spec.argv[0]));
  if (child == 0) {
    ::setsid();
    pid_t grandchild = ::fork();
    if (grandchild < 0) childFail(ctl->w.get(), "fork");
    if (grandchild > 0) {
      (void)!::write(pidp->w.get(), &grandchild, sizeof(grandchild));
      ::_exit(0);
    }
    ::signal(SIGPIPE, SIG_DFL);
    int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null_fd >= 0) ::dup2(null_fd, 0);
    if (!spec.log_path.empty()) {
      int log_fd = ::open(spec.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (log_fd < 0) childFail(ctl->w.get(), "open log");
      ::dup2(log_fd, 1);
      ::dup2(log_fd, 2);
    }
    childJoinCgroup(spec.cgroup_dir, ctl->w.get());
    childEnterNetns(spec.netns_path, ctl->w.get());
    childMounts(spec.mounts, ctl->w.get());
    for (const auto& [k, v] : spec.env) ::setenv(k.c_str(), v.c_str(), 1);
    ::execv(argv[0], argv.data());
    childFail(ctl->w.get(), "exec");
  }
  ctl->w.reset();
  pidp->w.reset();
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  pid_t grandchild = -1;
  std::string pid_bytes = readAll(pidp->r.get());
  if (pid_bytes.size() == sizeof(pid_t)) std::memcpy(&grandchild, pid_bytes.data(), sizeof(pid_t));
  std::string msg = readAll(ctl->r.get());  // EOF once the grandchild exec'd or exited
  if (!msg.empty()) return fail(Error::invalid("start " + spec.argv[0] + ": " + msg));
  if (grandchild <= 0) return fail(Error::invalid("start " + spec.argv[0] + ": fork failed"));
  return grandchild;
}

Result<int> runForeground(const std::vector<std::string>& argv, const std::string& netns_path,
                          const std::string& cgroup_dir, const MountSetup& mounts) {
  if (argv.empty()) return fail(Error::invalid("no command given"));
  WARREN_TRY(prepareMountTargets(mounts));
  auto ctl = makePipe();
  if (!ctl) return fail(ctl.error());
  auto cargv = cArgv(argv);
  pid_t pid = ::fork();
  if (pid < 0) return fail(WARREN_SYS_ERROR("fork for " + argv[0]));
  if (pid == 0) {
    childJoinCgroup(cgroup_dir, ctl->w.get());
    childEnterNetns(netns_path, ctl->w.get());
    childMounts(mounts, ctl->w.get());
    ::execvp(cargv[0], cargv.data());
    childFail(ctl->w.get(), "exec");
  }
  ctl->w.reset();
  // Ctrl-C reaches the child (same process group); we only wait for it.
  ::signal(SIGINT, SIG_IGN);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::string msg = readAll(ctl->r.get());
  if (!msg.empty()) return fail(Error::invalid(argv[0] + ": " + msg));
  return exitCodeOf(status);
}

Result<std::string> resolveProgram(const std::string& word, const std::string& bin_dir) {
  namespace fs = std::filesystem;
  auto executable = [](const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0;
  };
  if (word.empty()) return fail(Error::invalid("empty command"));
  if (word.find('/') != std::string::npos) {
    if (executable(word)) return word;
    return fail(Error::notFound("command '" + word + "' is not an executable file"));
  }
  if (!bin_dir.empty() && executable(bin_dir + "/" + word)) return bin_dir + "/" + word;
  const char* path = std::getenv("PATH");
  std::string p = path ? path : "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find(':', start);
    if (end == std::string::npos) end = p.size();
    std::string dir = p.substr(start, end - start);
    if (!dir.empty() && executable(dir + "/" + word)) return dir + "/" + word;
    start = end + 1;
  }
  return fail(Error::notFound("command '" + word + "' not found in " + bin_dir + " or PATH"));
}

std::string selfBinDir() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return ".";
  std::string p(buf, static_cast<size_t>(n));
  return std::filesystem::path(p).parent_path().string();
}

bool processAlive(pid_t pid) {
  if (pid <= 0) return false;
  if (::kill(pid, 0) != 0 && errno == ESRCH) return false;
  // A zombie is not alive.
  std::string stat_path = "/proc/" + std::to_string(pid) + "/stat";
  int fd = ::open(stat_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  std::string s = readAll(fd);
  ::close(fd);
  auto rp = s.rfind(')');
  return rp == std::string::npos || rp + 2 >= s.size() || s[rp + 2] != 'Z';
}

}  // namespace warren::lab
