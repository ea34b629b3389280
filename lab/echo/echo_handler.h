// The echo workload's answer to one HTTP request, decided apart from any transport: the
// HTTP/1.1 front end (http1_echo_connection.h) fills an EchoRequest from the codec's events and
// writes the EchoReply back; an HTTP/2 front end can fill the same request from its streams.
//
// Behaviour follows the Gateway API conformance `echo-basic` server (kubernetes-sigs/gateway-api
// conformance/echo-basic), so tests written for it read ours the same way:
//   GET /health              200 "OK"
//   /status/NNN              that status, no body (the target must be exactly /status/ and three
//                            digits, query included; anything else under /status/ is 400)
//   anything else            200, JSON: path (the request target as sent, query included), host,
//                            method, proto, headers (Go's canonical names -> list of values, Host
//                            not among them), namespace, ingress, service, pod (from the
//                            environment: NAMESPACE, INGRESS_NAME, SERVICE_NAME, POD_NAME), sni
//   ?delay=D                 answer after D (Go duration syntax: "150ms", "1.5s", "1m2s")
//   X-Echo-Set-Header: "N: v, N2: v2"   those fields set on the response
//   ?failFirst=N[&failKey=K][&failStatus=S]   (Warren's) the first N requests carrying the same
//                            key K (default "") are answered S (400..599, default 503) with a
//                            text body; later ones as usual, with `failKeySeen` (how many
//                            requests this echo counted for K, this one included) in the JSON:
//                            a backend that fails a known number of times, then recovers
//   ?failPod=P[&failStatus=S]   (Warren's) answered S (400..599, default 503) with a text body
//                            by the pod named P (POD_NAME) only, as usual by the others: one
//                            replica of a Deployment failing (outlier detection tests)
// Warren adds two fields the lab's tests assert on: `bodyBytes` (request body bytes received,
// after de-chunking) and `peer` (the client's IP:port as the server saw it).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"

namespace warren::echo {

using Fields = std::vector<std::pair<std::string, std::string>>;

// Requests counted per ?failKey= value, for the whole echo process (every connection and
// thread): the one piece of state the answers depend on.
class FailureCounts {
 public:
  // Counts one more request for `key`; returns how many there were before it.
  uint64_t next(const std::string& key);

 private:
  std::mutex mu_;
  std::map<std::string, uint64_t> seen_;
};

// Where the server runs (echo-basic's "Context"), from the environment.
struct EchoContext {
  std::string namespace_;
  std::string ingress;
  std::string service;
  std::string pod;
  // Shared by every copy of the context (connections); null: ?failFirst never fails.
  std::shared_ptr<FailureCounts> failures = std::make_shared<FailureCounts>();

  // NAMESPACE, INGRESS_NAME, SERVICE_NAME, POD_NAME; unset ones are empty.
  static EchoContext fromEnvironment();
};

struct EchoRequest {
  std::string method;
  std::string target;  // as sent: path and query
  std::string host;    // the Host field, or :authority
  std::string proto;   // "HTTP/1.1", "HTTP/1.0", "HTTP/2.0"
  Fields headers;      // as received, in order, Host excluded
  uint64_t body_bytes = 0;
  std::string peer;  // client IP:port
};

struct EchoReply {
  int status = 200;
  Fields headers;  // Content-Type and the like; framing is the transport's
  std::string body;
  // Wait this long before answering (?delay=): the transport sleeps, the decision stays pure.
  std::chrono::milliseconds delay{0};
};

// The answer to `request`. Pure but for the ?failFirst= counts in `context.failures`.
EchoReply respond(const EchoRequest& request, const EchoContext& context);

// Go's textproto.CanonicalMIMEHeaderKey: "x-header-set" -> "X-Header-Set"; a name with a byte
// that is not a token character is returned unchanged, as Go does.
std::string canonicalHeaderName(std::string_view name);

// Go's time.ParseDuration for the units an echo delay needs: a sequence of decimal numbers,
// each with a unit (ns, us, µs, ms, s, m, h), e.g. "300ms", "1.5s", "2m10s"; "0" alone is 0.
// Errors name what was wrong. Negative durations and values over `kMaxDelay` are refused.
Result<std::chrono::milliseconds> parseDelay(std::string_view text);
// A delay holds a connection's thread: bounded so a typo cannot park it for hours.
inline constexpr std::chrono::milliseconds kMaxDelay = std::chrono::minutes(5);

}  // namespace warren::echo
