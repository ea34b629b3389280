#include "bpf_test_env.h"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <thread>

#include "bpf/loader/redirect_dataplane.h"
#include "common/kernel_mounts.h"

namespace warren::redirect::testing {

namespace {

bool writeFile(const std::string& path, const std::string& content) {
  std::ofstream out(path);
  out << content;
  out.flush();
  return static_cast<bool>(out);
}

std::string currentCgroup(const std::string& mount) {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("0::")) return mount + line.substr(3);
  }
  return mount;
}

std::atomic<int> counter{0};

}  // namespace

TempCgroup::TempCgroup() {
  auto mount = cgroup2Mount();
  if (!mount) return;
  original_ = currentCgroup(*mount);
  path_ = *mount + "/warren-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  ok_ = ::mkdir(path_.c_str(), 0755) == 0;
}

void TempCgroup::enter() {
  entered_ = writeFile(path_ + "/cgroup.procs", std::to_string(::getpid()));
}

TempCgroup::~TempCgroup() {
  if (entered_) writeFile(original_ + "/cgroup.procs", std::to_string(::getpid()));
  if (ok_) ::rmdir(path_.c_str());
}

UniqueFd makeNetns() {
  UniqueFd result;
  std::thread t([&] {
    if (::unshare(CLONE_NEWNET) != 0) return;
    result.reset(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) == 0) {
      ifr.ifr_flags |= IFF_UP;
      (void)::ioctl(s.get(), SIOCSIFFLAGS, &ifr);
    }
  });
  t.join();
  return result;
}

TempPinDir::TempPinDir()
    : path_("/sys/fs/bpf/warren-test-" + std::to_string(::getpid()) + "-" +
            std::to_string(counter++)) {}

TempPinDir::~TempPinDir() { (void)RedirectDataplane::uninstall(path_); }

}  // namespace warren::redirect::testing
