// The ZDS transport over real SOCK_SEQPACKET pairs: messages and fds both ways, and each rule
// (size limit, one fd, EOF, timeout) answered with its own error, with no fd leaked.
#include "common/zds/zds_socket.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace warren::zds {
namespace {

using namespace std::chrono_literals;

struct Pair {
  UniqueFd a, b;
};

Pair seqpacketPair() {
  int sv[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  return {UniqueFd(sv[0]), UniqueFd(sv[1])};
}

// Sends raw bytes with `fds` attached, bypassing sendMessage's checks (a misbehaving peer).
void sendRaw(int sock, const std::string& bytes, const std::vector<int>& fds) {
  iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()));
  if (!fds.empty()) {
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  ASSERT_EQ(::sendmsg(sock, &msg, MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()));
}

// Number of open fds in this process: an error path must not leak the ones it received.
int openFds() {
  int n = 0;
  for (int fd = 0; fd < 1024; ++fd)
    if (::fcntl(fd, F_GETFD) != -1) ++n;
  return n;
}

TEST(ZdsSocketTest, MessageWithAndWithoutAnFd) {
  auto [a, b] = seqpacketPair();
  int pipefd[2];
  ASSERT_EQ(::pipe2(pipefd, O_CLOEXEC), 0);
  UniqueFd r(pipefd[0]), w(pipefd[1]);
  ASSERT_TRUE(sendMessage(a.get(), "add pod", r.get()));
  ASSERT_TRUE(sendMessage(a.get(), "ack"));
  auto first = receiveMessage(b.get(), 1s);
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_EQ(first->bytes, "add pod");
  ASSERT_TRUE(first->fd);
  // The fd is the same pipe (a new number for the same file): what goes in comes out.
  ASSERT_EQ(::write(w.get(), "x", 1), 1);
  char c = 0;
  ASSERT_EQ(::read(first->fd.get(), &c, 1), 1);
  EXPECT_EQ(c, 'x');
  EXPECT_TRUE(::fcntl(first->fd.get(), F_GETFD) & FD_CLOEXEC) << "received fds are close-on-exec";
  auto second = receiveMessage(b.get(), 1s);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->bytes, "ack");
  EXPECT_FALSE(second->fd);
}

TEST(ZdsSocketTest, TheLargestMessageFitsAndOneByteMoreIsRefusedAtBothEnds) {
  auto [a, b] = seqpacketPair();
  int sndbuf = 4 * kMaxMessageBytes;
  ::setsockopt(a.get(), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
  std::string max(kMaxMessageBytes, 'm');
  ASSERT_TRUE(sendMessage(a.get(), max));
  auto got = receiveMessage(b.get(), 1s);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got->bytes.size(), kMaxMessageBytes);

  auto refused = sendMessage(a.get(), std::string(kMaxMessageBytes + 1, 'm'));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(refused.error().message(), "ZDS message of 65537 bytes exceeds the 65536-byte limit");

  // A peer that does not check: the receiver names the real size and drops the message.
  sendRaw(a.get(), std::string(kMaxMessageBytes + 100, 'm'), {});
  auto big = receiveMessage(b.get(), 1s);
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code(), ErrorCode::kProtocol);
  EXPECT_EQ(big.error().message(), "ZDS message of 65636 bytes exceeds the 65536-byte limit");
  // The stream goes on with the next message.
  ASSERT_TRUE(sendMessage(a.get(), "next"));
  auto next = receiveMessage(b.get(), 1s);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->bytes, "next");
}

TEST(ZdsSocketTest, MoreThanOneFdIsAProtocolErrorAndNoneLeaks) {
  auto [a, b] = seqpacketPair();
  int p1[2], p2[2];
  ASSERT_EQ(::pipe2(p1, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(p2, O_CLOEXEC), 0);
  sendRaw(a.get(), "two", {p1[0], p2[0]});
  int before = openFds();
  auto got = receiveMessage(b.get(), 1s);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), ErrorCode::kProtocol);
  EXPECT_EQ(got.error().message(), "ZDS message carries 2 fds (at most 1)");
  EXPECT_EQ(openFds(), before) << "the received fds must be closed";

  // Past the room we keep for counting: still refused, still nothing leaked.
  std::vector<int> many(12, p1[1]);
  sendRaw(a.get(), "many", many);
  before = openFds();
  auto lots = receiveMessage(b.get(), 1s);
  ASSERT_FALSE(lots);
  EXPECT_EQ(lots.error().code(), ErrorCode::kProtocol);
  EXPECT_EQ(lots.error().message(), "ZDS message carries more than 8 fds (at most 1)");
  EXPECT_EQ(openFds(), before);
  for (int fd : {p1[0], p1[1], p2[0], p2[1]}) ::close(fd);
}

TEST(ZdsSocketTest, EmptyMessagesAreRefusedBecauseTheyReadAsEof) {
  auto [a, b] = seqpacketPair();
  auto s = sendMessage(a.get(), "");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(s.error().message().find("empty ZDS message"), std::string::npos);
}

TEST(ZdsSocketTest, TimeoutAndPeerClosedAreTheirOwnErrors) {
  auto [a, b] = seqpacketPair();
  auto none = receiveMessage(b.get(), 10ms);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), ErrorCode::kTimeout);
  EXPECT_EQ(none.error().message(), "no ZDS message within 10 ms");
  a.reset();
  auto closed = receiveMessage(b.get(), 1s);
  ASSERT_FALSE(closed);
  EXPECT_EQ(closed.error().code(), ErrorCode::kUnavailable);
}

TEST(ZdsSocketTest, ListenAndConnectByPath) {
  char tmpl[] = "/tmp/zds-socket-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string path = std::string(tmpl) + "/zds.sock";
  auto l = listenSocket(path);
  ASSERT_TRUE(l) << l.error().message();
  auto again = listenSocket(path);  // a stale socket file is replaced
  ASSERT_TRUE(again) << again.error().message();
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "root only: whoever connects is handed pod netns fds";
  auto c = connectSocket(path);
  ASSERT_TRUE(c) << c.error().message();
  UniqueFd server(::accept4(again->get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(server);
  ASSERT_TRUE(sendMessage(c->get(), "hello"));
  auto got = receiveMessage(server.get(), 1s);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->bytes, "hello");

  auto missing = connectSocket(std::string(tmpl) + "/nobody.sock");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().sysErrno(), ENOENT);
  auto too_long = connectSocket("/" + std::string(200, 'x'));
  ASSERT_FALSE(too_long);
  EXPECT_NE(too_long.error().message().find("too long"), std::string::npos);
  ::unlink(path.c_str());
  ::rmdir(tmpl);
}

}  // namespace
}  // namespace warren::zds
