#include "common/kernel_mounts.h"

#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <fstream>
#include <sstream>
#include <vector>

namespace warren {
namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo octal.
std::string unescapeMountField(std::string_view s) {
  auto isOctal = [](char c) { return c >= '0' && c <= '7'; };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && isOctal(s[i + 1]) &&
        isOctal(s[i + 2]) && isOctal(s[i + 3])) {
      out.push_back(static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
      i += 3;
      continue;
    }
    out.push_back(s[i]);
  }
  return out;
}

}  // namespace

Result<std::string> findMountOfType(std::string_view mountinfo, std::string_view fstype) {
  // Line: id parent major:minor root mountpoint options [optional...] - fstype source superopts
  std::istringstream in{std::string(mountinfo)};
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::vector<std::string> f;
    for (std::string w; fields >> w;) f.push_back(w);
    size_t dash = 0;
    for (size_t i = 6; i < f.size(); ++i)
      if (f[i] == "-") { dash = i; break; }
    if (dash == 0 || dash + 1 >= f.size() || f.size() < 5) continue;
    if (f[dash + 1] == fstype) return unescapeMountField(f[4]);
  }
  return fail(Error::notFound(std::string("no ") + std::string(fstype) + " mount in mountinfo"));
}

Result<std::string> cgroup2Mount() {
  std::ifstream f("/proc/self/mountinfo");
  if (!f) return fail(WARREN_SYS_ERROR("open /proc/self/mountinfo"));
  std::stringstream ss;
  ss << f.rdbuf();
  auto m = findMountOfType(ss.str(), "cgroup2");
  if (!m) return fail(m.error().wrap("cgroup v2 is required (mount it, e.g. at /sys/fs/cgroup/unified)"));
  return m;
}

Status ensureBpffs(const std::string& path) {
  struct statfs st{};
  if (::statfs(path.c_str(), &st) == 0 && static_cast<unsigned long>(st.f_type) == BPF_FS_MAGIC)
    return ok();
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST)
    return fail(WARREN_SYS_ERROR("mkdir " + path));
  if (::mount("bpf", path.c_str(), "bpf", 0, "mode=0700") != 0)
    return fail(WARREN_SYS_ERROR("mount bpffs at " + path));
  return ok();
}

}  // namespace warren
