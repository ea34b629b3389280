#include "mesh/hbone/pool_choice.h"

namespace warren::mesh {

std::optional<size_t> chooseConnection(std::span<const PooledConnectionLoad> connections,
                                       const PoolSpread& spread) {
  std::optional<size_t> best;
  size_t live = 0;
  for (size_t i = 0; i < connections.size(); ++i) {
    const auto& c = connections[i];
    if (!c.going_away) ++live;
    if (!c.can_open) continue;
    if (!best || c.open_streams < connections[*best].open_streams) best = i;
  }
  if (!best) return std::nullopt;
  bool busy = connections[*best].open_streams >= spread.busy_streams;
  if (busy && live < spread.connections) return std::nullopt;
  return best;
}

}  // namespace warren::mesh
