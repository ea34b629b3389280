// Request path normalization, as Istio's waypoint (Envoy's HTTP connection manager) does it
// before routing and authorization. The normalized path is the one that is matched against
// HTTPRoutes and AuthorizationPolicies AND the one forwarded upstream, so what the policy saw
// is what the application gets (Istio "Security best practices: path normalization").
//
// Modes (MeshConfig.pathNormalization.normalization):
//   NONE                      no normalization
//   BASE (default)            RFC 3986 normalization as Envoy's normalize_path (Chromium's URL
//                             canonicalizer): percent-decoding of unreserved characters only
//                             (ALPHA DIGIT "-" "." "_" "~", RFC 3986 §2.3, §6.2.2.2), upper-case
//                             hex in the escapes that stay (§6.2.2.1), "\" -> "/", dot-segment
//                             removal (§5.2.4; "%2e" is a dot), bytes that may not appear in a
//                             path (non-ASCII, space, "<>\"^`{|}") percent-encoded
//   MERGE_SLASHES             BASE, then "//" -> "/" (Envoy merge_slashes)
//   DECODE_AND_MERGE_SLASHES  "%2F"/"%5C" decoded to "/"/"\" first (any hex case), then
//                             MERGE_SLASHES
//
// Escaped slashes (Envoy path_with_escaped_slashes_action), applied before the above:
//   KEEP_UNCHANGED            leave %2F and %5C alone (default of NONE, BASE, MERGE_SLASHES)
//   REJECT_REQUEST            400 when the path has one
//   UNESCAPE_AND_REDIRECT     307 to the normalized path (gRPC: 400, gRPC clients do not
//                             follow redirects; Envoy conn_manager_impl.cc)
//   UNESCAPE_AND_FORWARD      decode and go on (default of DECODE_AND_MERGE_SLASHES)
//
// Always, whatever the mode: the fragment ("#..." ) is dropped, the query is left untouched, a
// path must start with "/", a "%" must be followed by two hex digits, "%00" and raw control
// bytes are refused (400). Decoding happens once: "%252F" stays "%252F", it never becomes "/".
#pragma once

#include <expected>
#include <string>
#include <string_view>

namespace warren::waypoint {

enum class PathNormalization { kNone, kBase, kMergeSlashes, kDecodeAndMergeSlashes };

enum class EscapedSlashesAction {
  kModeDefault,  // KEEP_UNCHANGED, or UNESCAPE_AND_FORWARD under DECODE_AND_MERGE_SLASHES
  kKeepUnchanged,
  kRejectRequest,
  kUnescapeAndRedirect,
  kUnescapeAndForward,
};

struct PathNormalizationOptions {
  PathNormalization mode = PathNormalization::kBase;
  EscapedSlashesAction escaped_slashes = EscapedSlashesAction::kModeDefault;
};

struct NormalizedTarget {
  std::string path;   // normalized, starts with "/"
  std::string query;  // untouched, without "?"; "" when none
  std::string pathAndQuery() const;
};

// Why a target was not forwarded: 400 (bad request) or 307 (redirect to `location`).
struct PathRejection {
  int status = 400;
  std::string reason;    // names what was wrong ("escaped slash %2F in path")
  std::string location;  // 307 only: the normalized path and query
};

// `target` is the request-target (HTTP/1.1) or :path (HTTP/2); `grpc` turns a redirect into 400.
std::expected<NormalizedTarget, PathRejection> normalizeRequestTarget(
    std::string_view target, const PathNormalizationOptions& options, bool grpc = false);

const char* toString(PathNormalization mode);
const char* toString(EscapedSlashesAction action);

}  // namespace warren::waypoint
