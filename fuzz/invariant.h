// What a fuzz target does when one of its invariants does not hold.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace warren::fuzz {

// Aborts with a message when a fuzz target's invariant does not hold (the fuzzer keeps the
// input; the replayer fails).
inline void invariant(bool ok, const char* target, const char* what, const char* detail = "") {
  if (ok) return;
  std::fprintf(stderr, "%s: invariant broken: %s %s\n", target, what, detail);
  std::abort();
}

}  // namespace warren::fuzz
