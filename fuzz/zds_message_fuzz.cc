// fuzz-link: warren_ztunnel_daemon warren_agent_lib
//
// Bytes on the ZDS socket (INTEROP §13), both directions, through the production code:
//
//   flags bit 0 = 0: the rest is a WorkloadRequest as ztunnel's ZDS client receives it
//                    (bit 1: a netns fd rode along). parseZdsRequest is what ZdsClient::handle
//                    runs; its answer is encoded with encodeZdsAck, the client's own encoder.
//   flags bit 0 = 1: the rest is what a ztunnel answers the agent's snapshot_sent with, sent
//                    to a real agent ZdsServer over its socket (bit 1: the rest is the hello
//                    instead, and a well-formed ack follows). The server parses it inside
//                    ZdsServer::admit/exchange; it must survive and keep serving.
//
// Invariants: no crash or sanitizer report; a refused request carries an ack error, an
// accepted add has a uid and a netns fd; every ack the client encodes parses back as an Ack
// with the same error; the agent answers the next connection after any input.
//
//   zds_message_fuzz --make-seeds DIR   writes valid and malformed seeds to DIR
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

#include "common/zds/zds_socket.h"
#include "agent/zds/zds_server.h"
#include "fuzz/seed_file.h"
#include "zds.pb.h"
#include "ztunnel/control/zds_client.h"

namespace {

using namespace warren;
namespace pb = istio::workload::zds;

constexpr uint8_t kAgentSide = 0x01;
constexpr uint8_t kWithFdOrHello = 0x02;
constexpr auto kTimeout = std::chrono::milliseconds(2000);

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "zds_message_fuzz: invariant broken: %s\n", what);
    std::abort();
  }
}

void clientSide(std::string_view bytes, bool has_fd) {
  auto req = ztunnel::parseZdsRequest(bytes, has_fd);
  std::string error;
  if (req) {
    if (req->kind == ztunnel::ZdsRequest::Kind::kAdd) {
      check(!req->pod.uid.empty(), "accepted add without uid");
      check(has_fd, "accepted add without netns fd");
    }
  } else {
    error = req.error().message();
    check(!error.empty(), "refused request with an empty ack error");
  }
  if (std::getenv("ZDS_MESSAGE_FUZZ_VERBOSE")) {
    std::fprintf(stderr, "zds_message_fuzz: %s\n",
                 req ? ("kind " + std::to_string(static_cast<int>(req->kind)) + " uid " + req->pod.uid).c_str()
                     : ("refused: " + error).c_str());
  }
  pb::WorkloadResponse resp;
  check(resp.ParseFromString(ztunnel::encodeZdsAck(error)), "client ack does not parse");
  check(resp.has_ack() && resp.ack().error() == error, "client ack does not round-trip");
}

// A real agent ZDS server on a socket in a private temp dir, for the life of the process.
struct Agent {
  std::string dir;
  std::string path;
  std::unique_ptr<zds::ZdsServer> server;

  Agent() {
    spdlog::set_level(spdlog::level::off);  // a refused ack logs a warning per input
    char tmpl[] = "/tmp/zds_fuzz.XXXXXX";
    check(::mkdtemp(tmpl) != nullptr, "mkdtemp");
    dir = tmpl;
    path = dir + "/zds.sock";
    auto s = zds::ZdsServer::start(path, kTimeout);
    check(s.has_value(), "ZdsServer::start");
    server = std::move(*s);
    server->markReady();
  }
  ~Agent() {
    server.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

Agent& agent() {
  static Agent a;
  return a;
}

std::string validHello() {
  pb::ZdsHello hello;
  hello.set_version(pb::V1);
  return hello.SerializeAsString();
}

// One ztunnel connection: hello, receive snapshot_sent (nothing else is known to this agent),
// answer it. Returns after the server finished with the answer.
void agentSide(std::string_view bytes, bool fuzz_hello) {
  Agent& a = agent();
  auto sock = zds::connectSocket(a.path);
  check(sock.has_value(), "connect to the agent");
  std::string hello = fuzz_hello ? std::string(bytes) : validHello();
  std::string answer = fuzz_hello ? ztunnel::encodeZdsAck("") : std::string(bytes);
  if (zds::sendMessage(sock->get(), hello)) {
    auto request = zds::receiveMessage(sock->get(), kTimeout);
    if (request) {
      // What the agent sent is parsed as the client would.
      auto parsed = ztunnel::parseZdsRequest(request->bytes, static_cast<bool>(request->fd));
      check(parsed.has_value() && parsed->kind == ztunnel::ZdsRequest::Kind::kSnapshotSent,
            "agent did not send snapshot_sent");
      (void)zds::sendMessage(sock->get(), answer);
    }
  }
  // admit() holds the server's lock from the replay until the answer is parsed, and remove()
  // takes it: once it returns, this input has been fully handled.
  check(a.server->remove("zds-fuzz-none").has_value(), "agent remove");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  uint8_t flags = data[0];
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (flags & kAgentSide) {
    if (rest.size() > zds::kMaxMessageBytes) return 0;  // the transport refuses these before parsing
    agentSide(rest, (flags & kWithFdOrHello) != 0);
  } else {
    clientSide(rest, (flags & kWithFdOrHello) != 0);
  }
  return 0;
}

extern "C" int WarrenFuzzMakeSeeds(const char* dir_c) {
  using fuzz::writeSeed;
  std::string dir = dir_c;
  auto request = [](auto fill) {
    pb::WorkloadRequest r;
    fill(r);
    return r.SerializeAsString();
  };
  std::string add = request([](pb::WorkloadRequest& r) {
    r.mutable_add()->set_uid("0d3c7a9e-5b1f-4c2e-9a7d-2f6b8e1c4a50");
    auto* info = r.mutable_add()->mutable_workload_info();
    info->set_name("web-7d9f8c6b5-x2k4p");
    info->set_namespace_("shop");
    info->set_service_account("web");
  });
  std::string keep = request([](pb::WorkloadRequest& r) { r.mutable_keep()->set_uid("uid-1"); });
  std::string del = request([](pb::WorkloadRequest& r) { r.mutable_del()->set_uid("uid-1"); });
  std::string snapshot = request([](pb::WorkloadRequest& r) { r.mutable_snapshot_sent(); });
  std::string add_no_uid = request([](pb::WorkloadRequest& r) {
    r.mutable_add()->mutable_workload_info()->set_name("nameless");
  });
  std::string bad_hello = [] {
    pb::ZdsHello h;
    h.set_version(pb::NOT_USED);
    return h.SerializeAsString();
  }();
  bool ok = writeSeed(dir, "add", kWithFdOrHello, add) &&
            writeSeed(dir, "add_without_fd", 0, add) &&
            writeSeed(dir, "add_without_uid", kWithFdOrHello, add_no_uid) &&
            writeSeed(dir, "add_truncated", kWithFdOrHello, add.substr(0, add.size() / 2)) &&
            writeSeed(dir, "keep", 0, keep) && writeSeed(dir, "del", 0, del) &&
            writeSeed(dir, "snapshot_sent", 0, snapshot) &&
            writeSeed(dir, "no_payload", 0, "") &&
            writeSeed(dir, "garbage", 0, "\xff\xff\xff\xff\x0f") &&
            writeSeed(dir, "agent_ack_ok", kAgentSide, ztunnel::encodeZdsAck("")) &&
            writeSeed(dir, "agent_ack_error", kAgentSide,
                      ztunnel::encodeZdsAck("add uid-1: no netns fd attached")) &&
            writeSeed(dir, "agent_ack_empty", kAgentSide, "") &&
            writeSeed(dir, "agent_ack_is_a_request", kAgentSide, add) &&
            writeSeed(dir, "agent_ack_garbage", kAgentSide, "\x0a\x05\x0a\xff") &&
            writeSeed(dir, "agent_hello_ok", kAgentSide | kWithFdOrHello, validHello()) &&
            writeSeed(dir, "agent_hello_v0", kAgentSide | kWithFdOrHello, bad_hello) &&
            writeSeed(dir, "agent_hello_garbage", kAgentSide | kWithFdOrHello, "\x08\x80");
  return ok ? 0 : 1;
}
