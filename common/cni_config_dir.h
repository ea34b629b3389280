// The CNI network config directory convention (/etc/cni/net.d), shared by the CNI installer
// (warren-cni install) and the lab's container runtime, which must agree on which file is
// the node's network config.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace warren {

// The network config a container runtime uses: the first file by name ending in .conflist,
// .conf or .json, as libcni's ConfFiles + sort (containerd, CRI-O) picks it. Dot-files
// (temporary files of atomic writers) are never candidates. Pure.
std::optional<std::string> primaryCniConfigName(std::vector<std::string> names);

bool hasCniConfigExtension(const std::string& name);

}  // namespace warren
