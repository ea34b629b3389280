#include "lab/cgroup_tree.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

namespace warren::lab {
namespace fs = std::filesystem;

Status CgroupTree::create(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return fail(Error::system(ec.value(), "create cgroup " + dir));
  return ok();
}

bool CgroupTree::exists(const std::string& dir) {
  struct stat st {};
  return ::stat((dir + "/cgroup.procs").c_str(), &st) == 0;
}

std::vector<pid_t> CgroupTree::procs(const std::string& dir) {
  std::vector<pid_t> out;
  std::ifstream f(dir + "/cgroup.procs");
  for (pid_t p; f >> p;) out.push_back(p);
  return out;
}

std::vector<pid_t> CgroupTree::procsRecursive(const std::string& dir) {
  std::vector<pid_t> out = procs(dir);
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_directory(ec)) continue;
    auto sub = procsRecursive(it->path().string());
    out.insert(out.end(), sub.begin(), sub.end());
  }
  return out;
}

void CgroupTree::signalAll(const std::string& dir, int sig) {
  for (pid_t p : procs(dir)) ::kill(p, sig);
}

bool CgroupTree::waitEmpty(const std::string& dir, std::chrono::milliseconds wait) {
  auto deadline = std::chrono::steady_clock::now() + wait;
  while (!procsRecursive(dir).empty()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

Status CgroupTree::kill(const std::string& dir, std::chrono::milliseconds wait) {
  if (!exists(dir)) return ok();
  {
    std::ofstream k(dir + "/cgroup.kill");
    if (k) k << "1";
    if (!k) {
      // Kernels before 5.14 have no cgroup.kill: signal each member, subtree by subtree.
      for (pid_t p : procsRecursive(dir)) ::kill(p, SIGKILL);
    }
  }
  if (!waitEmpty(dir, wait)) {
    for (pid_t p : procsRecursive(dir)) ::kill(p, SIGKILL);
    if (!waitEmpty(dir, std::chrono::milliseconds(2000)))
      return fail(Error(ErrorCode::kTimeout, "processes in cgroup " + dir + " did not exit"));
  }
  return ok();
}

Status CgroupTree::remove(const std::string& dir) {
  if (!fs::exists(dir)) return ok();
  auto killed = kill(dir);
  // Children first: a cgroup with sub-cgroups cannot be removed.
  std::error_code ec;
  std::vector<std::string> subs;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_directory(ec)) subs.push_back(it->path().string());
  for (const auto& s : subs) {
    auto r = remove(s);
    if (!r) return r;
  }
  // cgroup.procs empties before the last task has finished exiting; until then rmdir says
  // EBUSY (cgroup.events still "populated 1"). Bounded retry.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (::rmdir(dir.c_str()) != 0 && errno == EBUSY && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (fs::exists(dir) && ::rmdir(dir.c_str()) != 0 && errno != ENOENT) {
    auto err = WARREN_SYS_ERROR("rmdir cgroup " + dir);
    if (!killed) return fail(killed.error());
    return fail(err);
  }
  return ok();
}

}  // namespace warren::lab
