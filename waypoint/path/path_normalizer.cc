#include "waypoint/path/path_normalizer.h"

#include <fmt/format.h>

#include "common/http/query_string.h"
#include "common/percent_encoding.h"

namespace warren::waypoint {
namespace {

char upperHex(char c) { return (c >= 'a' && c <= 'f') ? static_cast<char>(c - 'a' + 'A') : c; }

constexpr char kHexDigits[] = "0123456789ABCDEF";

bool isUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

// Bytes that may not stand raw in a path (RFC 3986 §3.3 pchar) and that Chromium's canonicalizer
// escapes rather than refuses: non-ASCII, space and the "unwise" set.
bool mustEscape(unsigned char c) {
  if (c >= 0x80) return true;
  switch (c) {
    case ' ':
    case '"':
    case '<':
    case '>':
    case '^':
    case '`':
    case '{':
    case '|':
    case '}':
      return true;
    default:
      return false;
  }
}

void appendEscape(std::string& out, unsigned char c) {
  out.push_back('%');
  out.push_back(kHexDigits[c >> 4]);
  out.push_back(kHexDigits[c & 0xF]);
}

std::unexpected<PathRejection> reject(std::string reason) {
  return std::unexpected(PathRejection{400, std::move(reason), {}});
}

// Checks every escape and refuses control bytes and %00; done in every mode.
std::expected<void, PathRejection> validate(std::string_view path) {
  for (size_t i = 0; i < path.size(); ++i) {
    auto c = static_cast<unsigned char>(path[i]);
    if (c < 0x20 || c == 0x7F) {
      return reject(fmt::format("control byte 0x{:02X} in path at {}", c, i));
    }
    if (c != '%') continue;
    if (i + 2 >= path.size() || hexDigitValue(path[i + 1]) < 0 ||
        hexDigitValue(path[i + 2]) < 0) {
      return reject(fmt::format("malformed percent-escape in path at {}", i));
    }
    if (hexDigitValue(path[i + 1]) == 0 && hexDigitValue(path[i + 2]) == 0) {
      return reject(fmt::format("encoded NUL (%00) in path at {}", i));
    }
    i += 2;
  }
  return {};
}

// %2F/%2f -> "/", %5C/%5c -> "\" (Envoy PathUtil::unescapeSlashes). Returns whether any was found.
bool unescapeSlashes(std::string& path) {
  std::string out;
  out.reserve(path.size());
  bool found = false;
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '%' && i + 2 < path.size()) {
      char hi = path[i + 1];
      char lo = upperHex(path[i + 2]);
      if (hi == '2' && lo == 'F') {
        out.push_back('/');
        found = true;
        i += 2;
        continue;
      }
      if (hi == '5' && lo == 'C') {
        out.push_back('\\');
        found = true;
        i += 2;
        continue;
      }
      out.append(path, i, 3);  // another escape: copied whole, never re-scanned
      i += 2;
      continue;
    }
    out.push_back(path[i]);
  }
  path = std::move(out);
  return found;
}

bool hasEscapedSlash(std::string_view path) {
  for (size_t i = 0; i + 2 < path.size(); ++i) {
    if (path[i] != '%') continue;
    char hi = path[i + 1];
    char lo = upperHex(path[i + 2]);
    if ((hi == '2' && lo == 'F') || (hi == '5' && lo == 'C')) return true;
    i += 2;
  }
  return false;
}

// One pass: decode unreserved escapes, upper-case the others, "\" -> "/", escape what may not
// stand raw. The input has been validated.
std::string canonicalCharacters(std::string_view path) {
  std::string out;
  out.reserve(path.size());
  for (size_t i = 0; i < path.size(); ++i) {
    auto c = static_cast<unsigned char>(path[i]);
    if (c == '%') {
      auto value = static_cast<unsigned char>(hexDigitValue(path[i + 1]) * 16 +
                                              hexDigitValue(path[i + 2]));
      if (isUnreserved(value)) {
        out.push_back(static_cast<char>(value));
      } else {
        out.push_back('%');
        out.push_back(upperHex(path[i + 1]));
        out.push_back(upperHex(path[i + 2]));
      }
      i += 2;
    } else if (c == '\\') {
      out.push_back('/');
    } else if (mustEscape(c)) {
      appendEscape(out, c);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

// RFC 3986 §5.2.4 for an absolute path: "." segments vanish, ".." removes the previous segment
// (never climbing above the root), a final "." or ".." leaves a trailing "/".
std::string removeDotSegments(std::string_view path) {
  std::string out;  // built segment by segment; ".." cuts back to the previous '/'
  out.reserve(path.size());
  size_t i = 1;  // after the leading '/'
  while (true) {
    size_t j = path.find('/', i);
    bool last = j == std::string_view::npos;
    std::string_view seg = path.substr(i, last ? std::string_view::npos : j - i);
    if (seg == ".") {
      if (last) out.push_back('/');
    } else if (seg == "..") {
      size_t cut = out.rfind('/');
      if (cut != std::string::npos) out.resize(cut);
      if (last) out.push_back('/');
    } else {
      out.push_back('/');
      out.append(seg);
    }
    if (last) break;
    i = j + 1;
  }
  if (out.empty()) out.push_back('/');
  return out;
}

std::string mergeSlashes(std::string_view path) {
  std::string out;
  out.reserve(path.size());
  for (char c : path) {
    if (c == '/' && !out.empty() && out.back() == '/') continue;
    out.push_back(c);
  }
  return out;
}

EscapedSlashesAction effectiveAction(const PathNormalizationOptions& o) {
  if (o.escaped_slashes != EscapedSlashesAction::kModeDefault) return o.escaped_slashes;
  return o.mode == PathNormalization::kDecodeAndMergeSlashes
             ? EscapedSlashesAction::kUnescapeAndForward
             : EscapedSlashesAction::kKeepUnchanged;
}

}  // namespace

std::string NormalizedTarget::pathAndQuery() const {
  return query.empty() ? path : path + "?" + query;
}

std::expected<NormalizedTarget, PathRejection> normalizeRequestTarget(
    std::string_view target, const PathNormalizationOptions& options, bool grpc) {
  target = target.substr(0, target.find('#'));  // the fragment never reaches a server
  size_t q = target.find('?');
  std::string_view raw_path = target.substr(0, q);
  NormalizedTarget out;
  if (q != std::string_view::npos) out.query.assign(target.substr(q + 1));

  if (raw_path.empty() || raw_path.front() != '/') {
    return reject(fmt::format("path '{}' does not start with '/'", raw_path.substr(0, 64)));
  }
  if (auto v = validate(raw_path); !v) return std::unexpected(v.error());

  std::string path(raw_path);
  EscapedSlashesAction action = effectiveAction(options);
  bool redirect = false;
  switch (action) {
    case EscapedSlashesAction::kModeDefault:
    case EscapedSlashesAction::kKeepUnchanged:
      break;
    case EscapedSlashesAction::kRejectRequest:
      if (hasEscapedSlash(path)) return reject("escaped slash (%2F or %5C) in path");
      break;
    case EscapedSlashesAction::kUnescapeAndRedirect:
      redirect = unescapeSlashes(path);
      break;
    case EscapedSlashesAction::kUnescapeAndForward:
      unescapeSlashes(path);
      break;
  }

  if (options.mode != PathNormalization::kNone) {
    path = removeDotSegments(canonicalCharacters(path));
    if (options.mode != PathNormalization::kBase) path = mergeSlashes(path);
  }
  out.path = std::move(path);

  if (redirect) {
    if (grpc) return reject("escaped slash in a gRPC path (gRPC clients do not follow redirects)");
    return std::unexpected(PathRejection{
        307, "escaped slash in path: redirecting to the unescaped path", out.pathAndQuery()});
  }
  return out;
}

const char* toString(PathNormalization mode) {
  switch (mode) {
    case PathNormalization::kNone:
      return "NONE";
    case PathNormalization::kBase:
      return "BASE";
    case PathNormalization::kMergeSlashes:
      return "MERGE_SLASHES";
    case PathNormalization::kDecodeAndMergeSlashes:
      return "DECODE_AND_MERGE_SLASHES";
  }
  return "?";
}

const char* toString(EscapedSlashesAction action) {
  switch (action) {
    case EscapedSlashesAction::kModeDefault:
      return "MODE_DEFAULT";
    case EscapedSlashesAction::kKeepUnchanged:
      return "KEEP_UNCHANGED";
    case EscapedSlashesAction::kRejectRequest:
      return "REJECT_REQUEST";
    case EscapedSlashesAction::kUnescapeAndRedirect:
      return "UNESCAPE_AND_REDIRECT";
    case EscapedSlashesAction::kUnescapeAndForward:
      return "UNESCAPE_AND_FORWARD";
  }
  return "?";
}

}  // namespace warren::waypoint
