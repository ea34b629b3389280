// SHA-256 as lower-case hex: content-derived names and versions (xDS resource versions, the
// agent's pod netns record files) and test checksums.
#pragma once

#include <string>
#include <string_view>

namespace warren {

std::string sha256Hex(std::string_view data);

}  // namespace warren
