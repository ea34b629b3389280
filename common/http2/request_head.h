// The request pseudo-header fields of an HTTP/2 request, checked against RFC 9113 §8.3.1 and
// §8.5 before a server acts on them. The engine runs this on every request it receives
// (Session answers an ordinary request that fails it with 400 naming the field), and a proxy
// reads the result instead of searching the header list again.
#pragma once

#include <string>

#include "common/error.h"
#include "common/http2/header.h"

namespace warren::http2 {

struct RequestHead {
  std::string method;
  std::string scheme;     // empty for CONNECT
  std::string authority;  // :authority, or else the Host field (RFC 9113 §8.3.1)
  std::string path;       // empty for CONNECT
  bool operator==(const RequestHead&) const = default;
};

// Checks the request's pseudo-header fields and returns them. The error (kInvalidArgument)
// names the field and what is wrong with it:
//  - pseudo-header fields: only :method :scheme :authority :path, each at most once, all before
//    the regular fields (§8.3);
//  - :method is a token (RFC 9110 §9.1);
//  - CONNECT (§8.5): :authority present, :scheme and :path absent;
//  - otherwise :method, :scheme and :path present; :scheme per RFC 3986 §3.1; :path non-empty,
//    without whitespace, control bytes or a fragment, starting with '/' or "*" (OPTIONS only);
//  - http and https: an :authority or a Host field (not both differing), with no userinfo.
Result<RequestHead> parseRequestHead(const HeaderList& headers);

}  // namespace warren::http2
