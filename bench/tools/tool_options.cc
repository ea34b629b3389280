#include "bench/tools/tool_options.h"

#include <arpa/inet.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <functional>

namespace warren::bench {
namespace {

// Upper bounds keep a typo from turning a benchmark into an hour-long run.
constexpr double kMaxDurationS = 3600;
constexpr double kMaxTimeoutS = 600;

// Runs CLI11 over args (exceptions stay inside: they are config parsing), then `check`.
template <class T>
Result<T> parseWith(const std::string& name, const std::vector<std::string>& args, T opts,
                    const std::function<void(CLI::App&, T&, std::string&)>& declare,
                    const std::function<Status(T&, const std::string&)>& check) {
  CLI::App app{name};
  std::string to;
  declare(app, opts, to);
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    return fail(Error::invalid(app.help()));
  } catch (const CLI::ParseError& e) {
    return fail(Error::invalid(name + ": " + e.what()));
  }
  if (auto st = check(opts, to); !st) return fail(st.error().wrap(name));
  return opts;
}

Status checkDuration(double v, const char* flag, bool allow_zero = false) {
  if (!(allow_zero ? v >= 0 : v > 0) || v > kMaxDurationS) {
    return fail(Error::invalid(std::string(flag) + " must be " + (allow_zero ? ">= 0" : "> 0") +
                               " and <= 3600 seconds"));
  }
  return ok();
}
Status checkTimeout(double v) {
  if (!(v > 0) || v > kMaxTimeoutS)
    return fail(Error::invalid("--timeout must be > 0 and <= 600 seconds"));
  return ok();
}
Status setTarget(Target& t, const std::string& to) {
  auto r = parseTarget(to);
  if (!r) return fail(r.error().wrap("--to"));
  t = *r;
  return ok();
}

}  // namespace

Result<Target> parseTarget(const std::string& text) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos) return fail(Error::invalid("'" + text + "' is not IPv4:PORT"));
  Target t;
  t.text = text;
  std::string host = text.substr(0, colon);
  std::string port = text.substr(colon + 1);
  t.addr.sin_family = AF_INET;
  if (inet_pton(AF_INET, host.c_str(), &t.addr.sin_addr) != 1) {
    return fail(Error::invalid("'" + host + "' is not an IPv4 address"));
  }
  unsigned p = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || p == 0 ||
      p > 65535) {
    return fail(Error::invalid("'" + port + "' is not a port (1..65535)"));
  }
  t.addr.sin_port = htons(static_cast<uint16_t>(p));
  return t;
}

Result<RrOptions> parseRrOptions(const std::vector<std::string>& args) {
  return parseWith<RrOptions>(
      "warren-bench-rr", args, {},
      [](CLI::App& app, RrOptions& o, std::string& to) {
        app.add_option("--to", to, "echo server IPv4:PORT")->required();
        app.add_option("--size", o.size, "bytes each way per transaction (default 64)");
        app.add_option("--duration", o.duration_s, "measured seconds (default 5)");
        app.add_option("--warmup", o.warmup_s, "unrecorded seconds first (default 0.2)");
        app.add_option("--timeout", o.timeout_s,
                       "connect / transaction timeout seconds (default 5)");
      },
      [](RrOptions& o, const std::string& to) -> Status {
        WARREN_TRY(setTarget(o.to, to));
        if (o.size == 0 || o.size > 1 << 20)
          return fail(Error::invalid("--size must be 1..1048576 bytes"));
        WARREN_TRY(checkDuration(o.duration_s, "--duration"));
        WARREN_TRY(checkDuration(o.warmup_s, "--warmup", true));
        return checkTimeout(o.timeout_s);
      });
}

Result<HttpOptions> parseHttpOptions(const std::vector<std::string>& args) {
  return parseWith<HttpOptions>(
      "warren-bench-http", args, {},
      [](CLI::App& app, HttpOptions& o, std::string& to) {
        app.add_option("--to", to, "HTTP server IPv4:PORT")->required();
        app.add_option("--path", o.path, "request path (default /1k)");
        app.add_option("--rate", o.rate, "requests per second over all connections (default 1000)");
        app.add_option("--connections", o.connections, "keep-alive connections (default 4)");
        app.add_option("--duration", o.duration_s, "seconds (default 10)");
        app.add_option("--timeout", o.timeout_s, "connect / response timeout seconds (default 5)");
      },
      [](HttpOptions& o, const std::string& to) -> Status {
        WARREN_TRY(setTarget(o.to, to));
        if (o.path.empty() || o.path.front() != '/' ||
            std::any_of(o.path.begin(), o.path.end(),
                        [](char c) { return c <= ' ' || c == 0x7f; })) {
          return fail(Error::invalid(
              "--path must start with '/' and hold no spaces or control characters"));
        }
        if (!(o.rate > 0) || o.rate > 1e6)
          return fail(Error::invalid("--rate must be > 0 and <= 1000000"));
        if (o.connections == 0 || o.connections > 1024) {
          return fail(Error::invalid("--connections must be 1..1024"));
        }
        WARREN_TRY(checkDuration(o.duration_s, "--duration"));
        return checkTimeout(o.timeout_s);
      });
}

Result<ConnRateOptions> parseConnRateOptions(const std::vector<std::string>& args) {
  return parseWith<ConnRateOptions>(
      "warren-bench-connrate", args, {},
      [](CLI::App& app, ConnRateOptions& o, std::string& to) {
        app.add_option("--to", to, "echo server IPv4:PORT")->required();
        app.add_option("--threads", o.threads, "concurrent connectors (default 2)");
        app.add_option("--duration", o.duration_s, "seconds (default 5)");
        app.add_option("--timeout", o.timeout_s, "per connection timeout seconds (default 5)");
      },
      [](ConnRateOptions& o, const std::string& to) -> Status {
        WARREN_TRY(setTarget(o.to, to));
        if (o.threads == 0 || o.threads > 256)
          return fail(Error::invalid("--threads must be 1..256"));
        WARREN_TRY(checkDuration(o.duration_s, "--duration"));
        return checkTimeout(o.timeout_s);
      });
}

Result<IdleOptions> parseIdleOptions(const std::vector<std::string>& args) {
  return parseWith<IdleOptions>(
      "warren-bench-idle", args, {},
      [](CLI::App& app, IdleOptions& o, std::string& to) {
        app.add_option("--to", to, "echo server IPv4:PORT")->required();
        app.add_option("--count", o.count, "connections to open (default 10000)");
        app.add_option("--hold", o.hold_s, "seconds to hold them open after the last (default 10)");
        app.add_option("--timeout", o.timeout_s, "per connection timeout seconds (default 5)");
        app.add_option("--open-budget", o.open_budget_s,
                       "seconds allowed to open them all (default 120)");
        app.add_option("--parallel", o.parallel, "connections opened at once (default 4)");
      },
      [](IdleOptions& o, const std::string& to) -> Status {
        WARREN_TRY(setTarget(o.to, to));
        if (o.count == 0 || o.count > 200000)
          return fail(Error::invalid("--count must be 1..200000"));
        if (o.parallel == 0 || o.parallel > 64)
          return fail(Error::invalid("--parallel must be 1..64"));
        WARREN_TRY(checkDuration(o.hold_s, "--hold", true));
        WARREN_TRY(checkDuration(o.open_budget_s, "--open-budget"));
        return checkTimeout(o.timeout_s);
      });
}

Result<EchoOptions> parseEchoOptions(const std::vector<std::string>& args) {
  return parseWith<EchoOptions>(
      "warren-bench-echo", args, {},
      [](CLI::App& app, EchoOptions& o, std::string&) {
        app.add_option("--port", o.port, "TCP port to listen on")->required();
        app.add_option("--bind", o.bind, "IPv4 address (default 0.0.0.0)");
      },
      [](EchoOptions& o, const std::string&) -> Status {
        if (o.port == 0 || o.port > 65535) return fail(Error::invalid("--port must be 1..65535"));
        in_addr a{};
        if (inet_pton(AF_INET, o.bind.c_str(), &a) != 1) {
          return fail(Error::invalid("--bind '" + o.bind + "' is not an IPv4 address"));
        }
        return ok();
      });
}

Result<FloorOptions> parseFloorOptions(const std::vector<std::string>& args) {
  return parseWith<FloorOptions>(
      "warren-bench-floor", args, {},
      [](CLI::App& app, FloorOptions& o, std::string&) {
        app.add_option("--duration", o.duration_s, "seconds per measurement (default 1, 0.01..10)");
      },
      [](FloorOptions& o, const std::string&) -> Status {
        if (!(o.duration_s >= 0.01) || o.duration_s > 10)
          return fail(Error::invalid("--duration must be 0.01..10 seconds"));
        return ok();
      });
}

}  // namespace warren::bench
