#include "common/cni_config_dir.h"

#include <algorithm>
#include <string_view>

namespace warren {

bool hasCniConfigExtension(const std::string& name) {
  for (std::string_view ext : {".conflist", ".conf", ".json"})
    if (name.size() > ext.size() && name.ends_with(ext)) return true;
  return false;
}

std::optional<std::string> primaryCniConfigName(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  for (const auto& n : names)
    if (!n.starts_with(".") && hasCniConfigExtension(n)) return n;
  return std::nullopt;
}

}  // namespace warren
