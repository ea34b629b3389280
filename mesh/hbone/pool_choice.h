// Which pooled connection a new HBONE tunnel rides, or whether it dials a new one: the pool's
// decision as a pure function over the connections of one key (HboneClientPool invariants 1,
// 2 and 6), table-tested in tests/mesh/hbone/pool_choice_test.cc.
//
// Why spread: one HTTP/2 connection is one TLS stream of records, processed by one worker on
// each side (each ztunnel worker owns the connections it accepts or dials). N busy tunnels on
// one connection share one core per side and one write in flight; N connections let the
// server's SO_REUSEPORT listeners hand them to different workers, so N streams use N cores.
// Idle or lightly used keys keep one connection (a tunnel that finds a connection without an
// open stream rides it), so the spread costs a handshake only where streams overlap.
#pragma once

#include <cstddef>
#include <optional>
#include <span>

namespace warren::mesh {

struct PoolSpread {
  // A connection carrying this many open streams is busy: a new tunnel gets a connection of its
  // own instead, while the key has fewer than `connections` live ones. 1: every tunnel that
  // overlaps another gets its own connection, up to the limit.
  size_t busy_streams = 1;
  // Up to how many live connections per key (per pool, so per worker) spreading opens; past it
  // tunnels share them (least loaded first) and only full connections make new ones. 4: the 4
  // streams of the benchmark's bulk load, and every worker of a small node; each costs one
  // handshake and one TLS session (tens of KiB) until the pool's idle timeout closes it. 1 turns
  // spreading off (a second connection only when the first is full: invariant 2).
  size_t connections = 4;
};

// What the decision needs to know about one pooled connection of the key.
struct PooledConnectionLoad {
  bool can_open = false;    // not closed, no GOAWAY either way, below its stream limit
  bool going_away = false;  // closed or GOAWAY either way: it takes no more streams, ever
  size_t open_streams = 0;
};

// The index of the connection to use, or nullopt to dial a new one:
//  - the connection that can open a stream with the fewest open streams (the oldest on a tie,
//    so the others go idle and time out);
//  - a new one when none can open a stream (invariant 2), or when that one is busy and the key
//    has fewer than spread.connections live (not going away) connections (invariant 6).
std::optional<size_t> chooseConnection(std::span<const PooledConnectionLoad> connections,
                                       const PoolSpread& spread);

}  // namespace warren::mesh
