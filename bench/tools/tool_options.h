#pragma once
// Command lines of the load tools (warren-bench-rr, -http, -connrate, -idle, -echo, -floor), parsed
// into plain structs so the checks (ranges, IPv4:port targets, time bounds) are table-tested.
// Every tool is bounded: a duration or hold time and a connect/IO timeout are always set.
#include <netinet/in.h>

#include <string>
#include <vector>

#include "common/error.h"

namespace warren::bench {

struct Target {
  std::string text;  // as given, for messages
  sockaddr_in addr{};
};

// "A.B.C.D:PORT", port 1..65535.
Result<Target> parseTarget(const std::string& text);

struct RrOptions {
  Target to;
  unsigned size = 64;     // bytes each way per transaction
  double duration_s = 5;  // measured time
  double warmup_s = 0.2;  // transactions before measuring, not recorded
  double timeout_s = 5;   // connect and per-transaction limit
};

struct HttpOptions {
  Target to;
  std::string path = "/1k";
  double rate = 1000;  // requests per second, all connections together
  unsigned connections = 4;
  double duration_s = 10;
  double timeout_s = 5;
};

struct ConnRateOptions {
  Target to;
  unsigned threads = 2;
  double duration_s = 5;
  double timeout_s = 5;
};

struct IdleOptions {
  Target to;
  unsigned count = 10000;
  double hold_s = 10;          // after all are open; the caller measures meanwhile
  double timeout_s = 5;        // per connection open + 1-byte round trip
  double open_budget_s = 120;  // opening all of them must not take longer
  unsigned parallel = 4;       // connections being opened at once (TLS peers handshake slowly)
};

struct FloorOptions {
  double duration_s = 1;  // per measurement (a system call, then wake-ups and TCP round trips
                          // on one CPU and across two): 0.01..10
};

struct EchoOptions {
  std::string bind = "0.0.0.0";
  unsigned port = 0;
};

// args excludes the program name. Errors name the flag and the problem; "--help" yields an
// error whose context is the usage text (code Invalid), so callers print it and exit 2.
Result<RrOptions> parseRrOptions(const std::vector<std::string>& args);
Result<HttpOptions> parseHttpOptions(const std::vector<std::string>& args);
Result<ConnRateOptions> parseConnRateOptions(const std::vector<std::string>& args);
Result<IdleOptions> parseIdleOptions(const std::vector<std::string>& args);
Result<EchoOptions> parseEchoOptions(const std::vector<std::string>& args);
Result<FloorOptions> parseFloorOptions(const std::vector<std::string>& args);

}  // namespace warren::bench
