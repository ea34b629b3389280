// Where the kernel's special filesystems are. Hosts differ: cgroup v2 may be at
// /sys/fs/cgroup (unified) or beside v1 controllers at /sys/fs/cgroup/unified (hybrid), and
// bpffs may not be mounted at all; never assume, look in /proc/self/mountinfo.
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"

namespace warren {

// Mount point of the first cgroup2 filesystem in `mountinfo` text (the format of
// /proc/self/mountinfo). Pure, for tests.
Result<std::string> findMountOfType(std::string_view mountinfo, std::string_view fstype);

// The cgroup2 mount of this process's mount namespace.
Result<std::string> cgroup2Mount();

// Makes sure `path` (default /sys/fs/bpf) is a bpffs, mounting one when missing.
Status ensureBpffs(const std::string& path = "/sys/fs/bpf");

}  // namespace warren
