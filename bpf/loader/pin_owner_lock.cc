#include "bpf/loader/pin_owner_lock.h"

#include <fcntl.h>
#include <sys/stat.h>

namespace warren::redirect {

namespace {

// The whole file, write-locked: l_pid must be 0 for open-file-description locks.
struct flock wholeFile(short type) {
  struct flock fl{};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 0;
  return fl;
}

// Whether another open file description holds the write lock on the file `fd` is open on.
Result<bool> lockedByOther(int fd, const std::string& path) {
  // "Could a read lock be placed?" conflicts with the owner's write lock only.
  struct flock fl = wholeFile(F_RDLCK);
  if (::fcntl(fd, F_OFD_GETLK, &fl) != 0) return fail(WARREN_SYS_ERROR("F_OFD_GETLK " + path));
  return fl.l_type != F_UNLCK;
}

}  // namespace

Result<PinOwnerLock> PinOwnerLock::acquire(const std::string& run_dir) {
  std::string path = run_dir + "/" + kPinOwnerLockFile;
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) return fail(WARREN_SYS_ERROR("open " + path));
  PinOwnerLock lock(std::move(path), std::move(fd));
  lock.tryAgain();
  return lock;
}

bool PinOwnerLock::tryAgain() {
  if (held_) return true;
  struct flock fl = wholeFile(F_WRLCK);
  held_ = ::fcntl(fd_.get(), F_OFD_SETLK, &fl) == 0;
  return held_;
}

Result<bool> pinOwnerAlive(const std::string& run_dir) {
  const std::string path = run_dir + "/" + kPinOwnerLockFile;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return false;
    return fail(WARREN_SYS_ERROR("open " + path));
  }
  return lockedByOther(fd.get(), path);
}

PinOwnerProbe::PinOwnerProbe(std::string run_dir)
    : path_(std::move(run_dir) + "/" + kPinOwnerLockFile) {}

Result<bool> PinOwnerProbe::alive() {
  struct stat st{};
  if (::stat(path_.c_str(), &st) != 0) {
    fd_.reset();
    if (errno == ENOENT) return false;
    return fail(WARREN_SYS_ERROR("stat " + path_));
  }
  if (!fd_ || st.st_ino != ino_) {
    fd_.reset(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd_) {
      if (errno == ENOENT) return false;
      return fail(WARREN_SYS_ERROR("open " + path_));
    }
    ino_ = st.st_ino;
  }
  return lockedByOther(fd_.get(), path_);
}

}  // namespace warren::redirect
