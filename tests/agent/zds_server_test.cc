// The ZDS server against a client written from the protocol (hello, ack per message,
// SCM_RIGHTS netns fd, replay + snapshot_sent on connect).
#include "agent/zds/zds_server.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "common/zds/zds_socket.h"
#include "zds.pb.h"

namespace warren::zds {
namespace {

namespace pb = ::istio::workload::zds;
using namespace std::chrono_literals;

// A socket path in a fresh temp dir, removed with everything in it at scope exit.
struct TempSocket {
  std::string dir;
  std::string path;
  TempSocket() {
    char tmpl[] = "/tmp/warren-zds-XXXXXX";
    EXPECT_NE(::mkdtemp(tmpl), nullptr);
    dir = tmpl;
    path = dir + "/zds.sock";
  }
  ~TempSocket() { std::filesystem::remove_all(dir); }
};

struct FakeZtunnel {
  UniqueFd sock;
  static FakeZtunnel connect(const std::string& path) {
    auto s = connectSocket(path);
    EXPECT_TRUE(s) << s.error().message();
    pb::ZdsHello hello;
    hello.set_version(pb::V1);
    EXPECT_TRUE(sendMessage(s->get(), hello.SerializeAsString()));
    return FakeZtunnel{std::move(*s)};
  }
  std::pair<pb::WorkloadRequest, UniqueFd> next() {
    auto p = receiveMessage(sock.get(), 3000ms);
    EXPECT_TRUE(p) << p.error().message();
    pb::WorkloadRequest req;
    EXPECT_TRUE(req.ParseFromString(p->bytes));
    return {req, std::move(p->fd)};
  }
  void ack(const std::string& error = "") {
    pb::WorkloadResponse resp;
    resp.mutable_ack()->set_error(error);
    EXPECT_TRUE(sendMessage(sock.get(), resp.SerializeAsString()));
  }
};

ZdsWorkload workload(const std::string& uid) {
  auto fd = std::make_shared<UniqueFd>(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
  return ZdsWorkload{uid, "pod-" + uid, "demo", "sa", fd};
}

TEST(ZdsWire, FieldNumbersMatchIstio) {
  // Golden bytes: WorkloadRequest.add(1){uid(1)="u"}, .del(2){uid(2)="u"}, .snapshot_sent(3).
  pb::WorkloadRequest add;
  add.mutable_add()->set_uid("u");
  EXPECT_EQ(add.SerializeAsString(), std::string("\x0a\x03\x0a\x01u", 5));
  pb::WorkloadRequest del;
  del.mutable_del()->set_uid("u");
  EXPECT_EQ(del.SerializeAsString(), std::string("\x12\x03\x12\x01u", 5));
  pb::WorkloadRequest snap;
  snap.mutable_snapshot_sent();
  EXPECT_EQ(snap.SerializeAsString(), std::string("\x1a\x00", 2));
  pb::WorkloadRequest keep;
  keep.mutable_keep()->set_uid("u");
  EXPECT_EQ(keep.SerializeAsString(), std::string("\x2a\x03\x0a\x01u", 5));
  pb::ZdsHello hello;
  hello.set_version(pb::V1);
  EXPECT_EQ(hello.SerializeAsString(), std::string("\x08\x01", 2));
}

TEST(ZdsServer, AddWithoutZtunnelIsUnavailableButReplayedLater) {
  TempSocket temp;
  const std::string& path = temp.path;
  auto server = ZdsServer::start(path, 2000ms);
  ASSERT_TRUE(server) << server.error().message();
  (*server)->markReady();
  auto s = (*server)->add(workload("u1"));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), ErrorCode::kUnavailable);

  auto zt = FakeZtunnel::connect(path);
  auto [req, fd] = zt.next();
  ASSERT_TRUE(req.has_add());
  EXPECT_EQ(req.add().uid(), "u1");
  EXPECT_EQ(req.add().workload_info().namespace_(), "demo");
  EXPECT_EQ(req.add().workload_info().service_account(), "sa");
  ASSERT_TRUE(fd) << "netns fd via SCM_RIGHTS";
  struct stat a {
  }, b{};
  ASSERT_EQ(::fstat(fd.get(), &a), 0);
  ASSERT_EQ(::stat("/proc/self/ns/net", &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  zt.ack();
  auto [snap, nofd] = zt.next();
  EXPECT_TRUE(snap.has_snapshot_sent());
  zt.ack();

  // Incremental add: waits for our ack, which we send from another thread.
  std::thread t([&] {
    auto [r, f] = zt.next();
    EXPECT_EQ(r.add().uid(), "u2");
    zt.ack();
    auto [d, nf] = zt.next();
    EXPECT_TRUE(d.has_del());
    EXPECT_EQ(d.del().uid(), "u1");
    zt.ack();
  });
  EXPECT_TRUE((*server)->add(workload("u2")));
  EXPECT_TRUE((*server)->remove("u1"));
  t.join();
  EXPECT_EQ((*server)->connectedClients(), 1u);
}

TEST(ZdsServer, NackAndSilentZtunnelAreErrors) {
  TempSocket temp;
  const std::string& path = temp.path;
  auto server = ZdsServer::start(path, 300ms);
  ASSERT_TRUE(server);
  (*server)->markReady();
  auto zt = FakeZtunnel::connect(path);
  auto [snap, f0] = zt.next();
  ASSERT_TRUE(snap.has_snapshot_sent());
  zt.ack();
  std::thread t([&] {
    auto [r, f] = zt.next();
    zt.ack("cannot bind 15001");
  });
  auto s = (*server)->add(workload("u1"));
  t.join();
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("cannot bind 15001"), std::string::npos);
  // No ack at all within the timeout: the client is dropped.
  s = (*server)->add(workload("u2"));
  ASSERT_FALSE(s);
  EXPECT_EQ((*server)->connectedClients(), 0u);
}

TEST(ZdsServer, BadHelloIsRejected) {
  TempSocket temp;
  const std::string& path = temp.path;
  auto server = ZdsServer::start(path, 300ms);
  ASSERT_TRUE(server);
  (*server)->markReady();
  auto s = connectSocket(path);
  ASSERT_TRUE(s);
  ASSERT_TRUE(sendMessage(s->get(), "\xff\xff garbage"));
  auto p = receiveMessage(s->get(), 2000ms);
  ASSERT_FALSE(p) << "server must close, not send a snapshot";
  EXPECT_EQ((*server)->connectedClients(), 0u);
}

}  // namespace
}  // namespace warren::zds
