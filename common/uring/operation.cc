#include "common/uring/operation.h"

#include <unistd.h>

#include <algorithm>

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
  uint32_t index;
  if (!free_.empty()) {
    index = free_.back();
    free_.pop_back();
  } else {
    index = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Slot& slot = slots_[index];
  if (++slot.uses == 0) slot.uses = 1;  // id 0 names nothing
  op->id = (static_cast<OpId>(slot.uses) << 32) | index;
  slot.op = std::move(op);
  linkFd(index, 0, slot.op->fd);
  if (slot.op->pipe_fd != slot.op->fd) linkFd(index, 1, slot.op->pipe_fd);
  return *slot.op;
}

void OperationTable::linkFd(uint32_t index, int which, int fd) {
  FdLink& mine = slots_[index].fd_links[which];
  mine = FdLink{};
  if (fd < 0) return;
  if (static_cast<size_t>(fd) >= fd_heads_.size())
    fd_heads_.resize(std::max<size_t>(static_cast<size_t>(fd) + 1, 2 * fd_heads_.size()), kNoLink);
  const uint32_t link = (index << 1) | static_cast<uint32_t>(which);
  mine.next = fd_heads_[fd];
  if (mine.next != kNoLink) linkAt(mine.next).prev = link;
  fd_heads_[fd] = link;
}

void OperationTable::unlinkFds(uint32_t index) {
  const Operation& op = *slots_[index].op;
  const int fds[2] = {op.fd, op.pipe_fd == op.fd ? -1 : op.pipe_fd};
  for (int which = 0; which < 2; ++which) {
    if (fds[which] < 0) continue;
    FdLink mine = slots_[index].fd_links[which];
    if (mine.prev != kNoLink)
      linkAt(mine.prev).next = mine.next;
    else
      fd_heads_[fds[which]] = mine.next;
    if (mine.next != kNoLink) linkAt(mine.next).prev = mine.prev;
    slots_[index].fd_links[which] = FdLink{};
  }
}

std::unique_ptr<Operation>* OperationTable::slotOf(OpId id) {
  const auto slot = static_cast<uint32_t>(id);
  if (slot >= slots_.size()) return nullptr;
  auto& held = slots_[slot].op;
  return held && held->id == id ? &held : nullptr;
}

Operation* OperationTable::find(OpId id) {
  auto* held = slotOf(id);
  return held ? held->get() : nullptr;
}

size_t OperationTable::complete(OpId id, int res, std::span<const char> data, bool final) {
  auto* held = slotOf(id);
  if (!held) return 0;
  if (!final) {
    Operation& op = **held;
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
  unlinkFds(static_cast<uint32_t>(id));
  std::unique_ptr<Operation> op = std::move(*held);
  free_.push_back(static_cast<uint32_t>(id));
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

std::vector<std::unique_ptr<Operation>> OperationTable::takeAll() {
  deferred_.clear();
  std::vector<std::unique_ptr<Operation>> all;
  all.reserve(size());
  free_.clear();
  fd_heads_.clear();
  // Every slot is free again and keeps its use count: an id given before is never given again.
  for (uint32_t index = 0; index < slots_.size(); ++index) {
    if (slots_[index].op) all.push_back(std::move(slots_[index].op));
    free_.push_back(index);
  }
  return all;
}

}  // namespace warren::uring
