#include "lab/lab_lock.h"

#include <fcntl.h>
#include <sys/file.h>

#include <filesystem>
#include <thread>

namespace warren::lab {

Result<LabLock> LabLock::acquire(const std::string& dir, std::chrono::milliseconds wait) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail(Error::system(ec.value(), "create lab dir " + dir));
  std::string path = dir + "/.lock";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!fd) return fail(WARREN_SYS_ERROR("open " + path));
  auto deadline = std::chrono::steady_clock::now() + wait;
  while (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) return fail(WARREN_SYS_ERROR("flock " + path));
    if (std::chrono::steady_clock::now() >= deadline)
      return fail(Error(ErrorCode::kTimeout, "another warren-lab command holds " + path));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return LabLock(std::move(fd));
}

}  // namespace warren::lab
