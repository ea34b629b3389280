#include "common/grpc/timeout.h"

#include <fmt/format.h>

#include <array>
#include <cstdint>
#include <utility>

namespace warren::grpc {
namespace {

constexpr size_t kMaxDigits =
    8;  // the spec's TimeoutValue → {positive integer as ASCII, ≤ 8 digits}
constexpr int64_t kMaxValue = 99'999'999;

struct Unit {
  char symbol;
  int64_t nanos;
};
// Finest first, for formatTimeout.
constexpr std::array<Unit, 6> kUnits = {{{'n', 1},
                                         {'u', 1'000},
                                         {'m', 1'000'000},
                                         {'S', 1'000'000'000},
                                         {'M', 60'000'000'000},
                                         {'H', 3'600'000'000'000}}};

}  // namespace

Result<std::chrono::nanoseconds> parseTimeout(std::string_view value) {
  auto bad = [&](std::string_view why) {
    return fail(Error::invalid(fmt::format("grpc-timeout '{}' {}", value.substr(0, 32), why)));
  };
  if (value.size() < 2) return bad("needs digits and a unit (e.g. 250m)");
  std::string_view digits = value.substr(0, value.size() - 1);
  char symbol = value.back();
  if (digits.size() > kMaxDigits) return bad("has more than 8 digits");
  int64_t n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return bad("value is not a decimal number");
    n = n * 10 + (c - '0');
  }
  for (const Unit& u : kUnits) {
    if (u.symbol != symbol) continue;
    // 99999999 H is 3.6e20 ns: beyond int64. Saturate rather than wrap.
    if (n > INT64_MAX / u.nanos) return std::chrono::nanoseconds(INT64_MAX);
    return std::chrono::nanoseconds(n * u.nanos);
  }
  return bad("unit is not one of H M S m u n");
}

std::string formatTimeout(std::chrono::nanoseconds timeout) {
  int64_t ns = timeout.count();
  if (ns <= 0) return "0n";
  for (const Unit& u : kUnits) {
    int64_t v = ns / u.nanos + (ns % u.nanos != 0 ? 1 : 0);  // round up
    if (v <= kMaxValue) return fmt::format("{}{}", v, u.symbol);
  }
  return fmt::format("{}H", kMaxValue);
}

}  // namespace warren::grpc
