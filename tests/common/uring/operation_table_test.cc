// OperationTable: the bookkeeping both loop backends share, driven directly (no kernel): what a
// backend reports, which callbacks run, and when.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "common/uring/operation.h"

namespace warren::uring {
namespace {

std::unique_ptr<Operation> timeoutOp(std::vector<std::string>& log, std::string name) {
  auto op = std::make_unique<Operation>();
  op->kind = OpKind::kTimeout;
  op->on_done = [&log, name](int res) { log.push_back(name + ":" + std::to_string(res)); };
  return op;
}

TEST(OperationTableTest, IdsAreNeverZeroAndAStaleOneFindsNothing) {
  OperationTable t;
  std::vector<std::string> log;
  OpId a = t.add(timeoutOp(log, "a")).id;
  OpId b = t.add(timeoutOp(log, "b")).id;
  EXPECT_NE(a, 0u);
  EXPECT_NE(a, b);
  EXPECT_EQ(t.complete(a, 0), 1u);
  OpId c = t.add(timeoutOp(log, "c")).id;  // takes the slot `a` left
  EXPECT_NE(c, a);
  EXPECT_NE(c, b);
  // A late report for `a` must not reach the operation now in its slot.
  EXPECT_EQ(t.find(a), nullptr);
  EXPECT_EQ(t.complete(a, -ECANCELED), 0u);
  EXPECT_EQ(t.find(c)->id, c);
  EXPECT_EQ(log, (std::vector<std::string>{"a:0"}));
  EXPECT_EQ(t.size(), 2u);
}

TEST(OperationTableTest, AFinalResultRunsOnceAndLaterReportsAreDropped) {
  OperationTable t;
  std::vector<std::string> log;
  OpId id = t.add(timeoutOp(log, "t")).id;
  EXPECT_EQ(t.complete(id, 0), 1u);
  EXPECT_EQ(t.complete(id, -ECANCELED), 0u);  // e.g. a cancel that raced the completion
  t.completeLater(id, -ECANCELED);
  EXPECT_EQ(t.runDeferred(), 0u);
  EXPECT_EQ(log, (std::vector<std::string>{"t:0"}));
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.complete(424242, 0), 0u);  // never existed
}

TEST(OperationTableTest, TheOperationLeavesTheTableBeforeItsFinalCallback) {
  OperationTable t;
  auto op = std::make_unique<Operation>();
  op->kind = OpKind::kConnect;
  OpId id = 0;
  bool found_inside = true;
  op->on_done = [&](int) { found_inside = t.find(id) != nullptr; };
  id = t.add(std::move(op)).id;
  t.complete(id, 0);
  EXPECT_FALSE(found_inside) << "a callback cancelling its own id must find nothing to cancel";
}

TEST(OperationTableTest, FinalCallbackAndWhatItOwnsAreDestroyedRightAfterItRuns) {
  OperationTable t;
  auto owned = std::make_shared<int>(1);
  std::weak_ptr<int> watch = owned;
  auto op = std::make_unique<Operation>();
  op->kind = OpKind::kTimeout;
  // Move-only: the callback owns a unique_ptr, no shared holder needed.
  op->on_done = [p = std::make_unique<std::shared_ptr<int>>(std::move(owned))](int) {};
  OpId id = t.add(std::move(op)).id;
  EXPECT_FALSE(watch.expired());
  t.complete(id, 0);
  EXPECT_TRUE(watch.expired());
}

TEST(OperationTableTest, MultishotResultsKeepTheOperationUntilTheFinalOne) {
  OperationTable t;
  std::string got;
  std::vector<int> results;
  auto op = std::make_unique<Operation>();
  op->kind = OpKind::kRecvMultishot;
  op->on_recv = [&](int res, std::span<const char> d) {
    results.push_back(res);
    got.append(d.begin(), d.end());
  };
  OpId id = t.add(std::move(op)).id;
  std::string a = "abc", b = "de";
  EXPECT_EQ(t.complete(id, 3, a, /*final=*/false), 1u);
  EXPECT_EQ(t.complete(id, 2, b, /*final=*/false), 1u);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.complete(id, 0), 1u);  // EOF ends it
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(got, "abcde");
  EXPECT_EQ(results, (std::vector<int>{3, 2, 0}));
  EXPECT_EQ(t.stats().completions, 3u);
}

TEST(OperationTableTest, ACancelledMultishotGetsOnlyItsFinalResult) {
  OperationTable t;
  std::vector<int> results;
  auto op = std::make_unique<Operation>();
  op->kind = OpKind::kRecvMultishot;
  op->on_recv = [&](int res, std::span<const char>) { results.push_back(res); };
  Operation& added = t.add(std::move(op));
  OpId id = added.id;
  added.cancelled = true;
  std::string late = "late";
  EXPECT_EQ(t.complete(id, 4, late, /*final=*/false), 0u);  // in flight when cancel was asked
  EXPECT_EQ(t.complete(id, -ECANCELED), 1u);
  EXPECT_EQ(results, (std::vector<int>{-ECANCELED}));
}

TEST(OperationTableTest, AnFdAcceptedAfterCancelIsClosedNotLeaked) {
  OperationTable t;
  std::vector<int> accepted;
  auto op = std::make_unique<Operation>();
  op->kind = OpKind::kAccept;
  op->on_accept = [&](int res) { accepted.push_back(res); };
  Operation& added = t.add(std::move(op));
  OpId id = added.id;
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  EXPECT_EQ(t.complete(id, fds[0], {}, /*final=*/false), 1u);  // delivered: the caller owns it
  added.cancelled = true;
  EXPECT_EQ(t.complete(id, fds[1], {}, /*final=*/false), 0u);  // nobody asked for this one
  EXPECT_EQ(::fcntl(fds[1], F_GETFD), -1) << "the table must close it";
  EXPECT_EQ(errno, EBADF);
  EXPECT_EQ(t.complete(id, -ECANCELED), 1u);
  EXPECT_EQ(accepted, (std::vector<int>{fds[0], -ECANCELED}));
  ::close(fds[0]);
}

TEST(OperationTableTest, DeferredResultsRunInOrderIncludingThoseTheyCause) {
  OperationTable t;
  std::vector<std::string> log;
  OpId a = t.add(timeoutOp(log, "a")).id;
  OpId b = t.add(timeoutOp(log, "b")).id;
  auto op = std::make_unique<Operation>();
  op->kind = OpKind::kTimeout;
  op->on_done = [&](int res) {
    log.push_back("c:" + std::to_string(res));
    t.completeLater(b, -ECANCELED);  // decided by a callback: runs in this same drain, last
  };
  OpId c = t.add(std::move(op)).id;
  t.completeLater(c, -ECANCELED);
  t.completeLater(a, -5);
  EXPECT_TRUE(t.hasDeferred());
  EXPECT_TRUE(log.empty()) << "completeLater never runs a callback itself";
  EXPECT_EQ(t.runDeferred(), 3u);
  EXPECT_EQ(log, (std::vector<std::string>{"c:-125", "a:-5", "b:-125"}));
  EXPECT_FALSE(t.hasDeferred());
}

TEST(OperationTableTest, SendGetsItsBufferBack) {
  OperationTable t;
  auto op = std::make_unique<Operation>();
  op->kind = OpKind::kSend;
  op->buffer = Buffer{'x', 'y', 'z'};
  Buffer back;
  op->on_send = [&](int, Buffer b) { back = std::move(b); };
  OpId id = t.add(std::move(op)).id;
  t.complete(id, 3);
  EXPECT_EQ(back, (Buffer{'x', 'y', 'z'}));
}

std::unique_ptr<Operation> recvOp(int fd) {
  auto op = std::make_unique<Operation>();
  op->kind = OpKind::kRecv;
  op->fd = fd;
  op->on_recv = [](int, std::span<const char>) {};
  return op;
}

std::vector<OpId> onFd(OperationTable& t, int fd) {
  std::vector<OpId> ids;
  t.forEachOnFd(fd, [&](Operation& op) { ids.push_back(op.id); });
  return ids;
}

// What closing an fd must end is found through its own list, not by looking at every
// operation (io_uring's cancel by fd compares every request the kernel holds).
TEST(OperationTableTest, OperationsAreListedByTheFdsTheyUseUntilTheyEnd) {
  OperationTable t;
  std::vector<std::string> log;
  OpId a = t.add(recvOp(7)).id;
  OpId b = t.add(recvOp(9)).id;
  OpId c = t.add(recvOp(7)).id;
  auto splice = std::make_unique<Operation>();
  splice->kind = OpKind::kSpliceFromSocket;
  splice->fd = 9;
  splice->pipe_fd = 7;  // a number is listed under both fds it uses
  splice->on_done = [](int) {};
  OpId d = t.add(std::move(splice)).id;
  OpId timer = t.add(timeoutOp(log, "timer")).id;  // no fd: in no list
  EXPECT_EQ(onFd(t, 7), (std::vector<OpId>{d, c, a}));
  EXPECT_EQ(onFd(t, 9), (std::vector<OpId>{d, b}));
  EXPECT_TRUE(onFd(t, 8).empty());
  EXPECT_TRUE(onFd(t, -1).empty());
  EXPECT_TRUE(onFd(t, 100000).empty());

  // Ending one takes it out of every list it was in, from the middle, the head or the tail.
  ASSERT_EQ(t.complete(c, 0), 1u);
  EXPECT_EQ(onFd(t, 7), (std::vector<OpId>{d, a}));
  ASSERT_EQ(t.complete(d, 0), 1u);
  EXPECT_EQ(onFd(t, 7), (std::vector<OpId>{a}));
  EXPECT_EQ(onFd(t, 9), (std::vector<OpId>{b}));
  ASSERT_EQ(t.complete(a, 0), 1u);
  EXPECT_TRUE(onFd(t, 7).empty());

  // A multishot operation stays listed through its intermediate results.
  auto multi = std::make_unique<Operation>();
  multi->kind = OpKind::kRecvMultishot;
  multi->fd = 7;
  multi->on_recv = [](int, std::span<const char>) {};
  OpId m = t.add(std::move(multi)).id;
  ASSERT_EQ(t.complete(m, 5, {}, /*final=*/false), 1u);
  EXPECT_EQ(onFd(t, 7), (std::vector<OpId>{m}));

  // Slots are reused: the new operation is listed under its own fd only.
  OpId e = t.add(recvOp(11)).id;
  EXPECT_EQ(onFd(t, 11), (std::vector<OpId>{e}));
  EXPECT_EQ(onFd(t, 7), (std::vector<OpId>{m}));
  EXPECT_EQ(onFd(t, 9), (std::vector<OpId>{b}));

  // Teardown empties every list.
  auto all = t.takeAll();
  EXPECT_EQ(all.size(), 4u);
  for (int fd : {7, 9, 11}) EXPECT_TRUE(onFd(t, fd).empty()) << fd;
  (void)timer;
}

TEST(OperationTableTest, TakeAllEmptiesTheTableAndDropsDeferredResults) {
  OperationTable t;
  std::vector<std::string> log;
  OpId done = t.add(timeoutOp(log, "done")).id;
  OpId a = t.add(timeoutOp(log, "a")).id;
  OpId b = t.add(timeoutOp(log, "b")).id;
  ASSERT_EQ(t.complete(done, 0), 1u);  // its slot is empty: not handed over
  log.clear();
  t.completeLater(a, 0);
  auto all = t.takeAll();
  EXPECT_EQ(all.size(), 2u);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.runDeferred(), 0u);
  EXPECT_TRUE(log.empty()) << "teardown destroys callbacks without running them";
  // Slots are reused after it, never an earlier id.
  for (int i = 0; i < 3; ++i) {
    OpId again = t.add(timeoutOp(log, "again")).id;
    EXPECT_NE(again, done);
    EXPECT_NE(again, a);
    EXPECT_NE(again, b);
  }
}

}  // namespace
}  // namespace warren::uring
