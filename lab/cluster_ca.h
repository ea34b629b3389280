// The cluster CA the lab hands to every agent: <dir>/ca/ca.crt + ca.key, EC P-256, PEM.
#pragma once

#include <string>

#include "common/error.h"

namespace warren::lab {

// Creates a self-signed CA (10 years, CA:TRUE, keyCertSign|cRLSign) with OpenSSL. The key is
// PKCS#8 PEM, mode 0600.
Status createClusterCa(const std::string& ca_dir, const std::string& trust_domain);

}  // namespace warren::lab
