// The randomness load balancing draws from, injected so decisions are reproducible in tests
// and benchmarks. Workers own one each (not thread-safe by design: no shared state).
#pragma once

#include <cstdint>

namespace warren::mesh {

class RandomSource {
 public:
  virtual ~RandomSource() = default;
  // Uniform in [0, bound); bound > 0.
  virtual uint64_t below(uint64_t bound) = 0;
};

// splitmix64 (Steele, Lea, Flood 2014): tiny, fast, and good enough to spread connections.
class SeededRandom final : public RandomSource {
 public:
  explicit SeededRandom(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Lemire's multiply-shift: maps 64 random bits to [0, bound) with negligible bias.
  uint64_t below(uint64_t bound) override {
    __extension__ using U128 = unsigned __int128;
    return static_cast<uint64_t>((static_cast<U128>(next()) * bound) >> 64);
  }

 private:
  uint64_t state_;
};

}  // namespace warren::mesh
