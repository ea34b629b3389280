#include "common/uring/operation.h"

#include <unistd.h>

namespace warren::uring {

void Operation::deliver(int res, std::span<const char> data) {
  switch (kind) {
    case OpKind::kAccept:
      on_accept(res);
      break;
    case OpKind::kRecv:
    case OpKind::kRecvMultishot:
      on_recv(res, res > 0 ? data : std::span<const char>{});
      break;
    case OpKind::kSend:
      on_send(res, std::move(buffer));
      break;
    case OpKind::kConnect:
    case OpKind::kTimeout:
    case OpKind::kSpliceFromSocket:
    case OpKind::kSpliceToSocket:
      on_done(res);
      break;
  }
}

Operation& OperationTable::add(std::unique_ptr<Operation> op) {
  op->id = next_id_++;
  Operation& ref = *op;
  ops_.emplace(ref.id, std::move(op));
  return ref;
}

Operation* OperationTable::find(OpId id) {
  auto it = ops_.find(id);
  return it == ops_.end() ? nullptr : it->second.get();
}

size_t OperationTable::complete(OpId id, int res, std::span<const char> data, bool final) {
  auto it = ops_.find(id);
  if (it == ops_.end()) return 0;
  if (!final) {
    Operation& op = *it->second;
    if (op.cancelled) {
      // The caller asked it to end: only the final result is still owed. An fd accepted in
      // the meantime belongs to nobody, so it is closed here rather than leaked.
      if (op.kind == OpKind::kAccept && res >= 0) ::close(res);
      return 0;
    }
    ++stats_.completions;
    op.deliver(res, data);
    return 1;
  }
  std::unique_ptr<Operation> op = std::move(it->second);
  ops_.erase(it);
  ++stats_.completions;
  op->deliver(res, data);
  return 1;
}

void OperationTable::completeLater(OpId id, int res) { deferred_.emplace_back(id, res); }

size_t OperationTable::runDeferred() {
  size_t ran = 0;
  while (!deferred_.empty()) {
    auto batch = std::move(deferred_);
    deferred_.clear();
    for (auto [id, res] : batch) ran += complete(id, res);
  }
  return ran;
}

std::unordered_map<OpId, std::unique_ptr<Operation>> OperationTable::takeAll() {
  deferred_.clear();
  return std::exchange(ops_, {});
}

}  // namespace warren::uring
