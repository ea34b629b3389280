// Bulk integrity through a paired client and server: 64 MiB each way, sha256 compared.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "tests/common/tls/tls_fixture.h"

namespace warren::tls::testing {
namespace {

std::string payload(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  std::mt19937 rng(seed);
  for (size_t i = 0; i + 4 <= n; i += 4) {
    uint32_t v = rng();
    std::memcpy(&s[i], &v, 4);
  }
  return s;
}

class TlsTransferTest : public PairedTlsFixture {};

TEST_F(TlsTransferTest, SixtyFourMiBEachWayIntact) {
  auto c = clientEngine(client_ctx_);
  auto s = serverEngine(server_ctx_);
  pump(c, s);
  ASSERT_TRUE(c.handshakeDone() && s.handshakeDone());

  const size_t n = 64u << 20;
  std::string up = payload(n, 1);
  std::string at_server;
  at_server.reserve(n);
  sendAll(c, s, up, &at_server, true);
  ASSERT_EQ(at_server.size(), n);
  EXPECT_EQ(sha256Hex(at_server), sha256Hex(up));

  std::string down = payload(n + 12345, 2);  // not a multiple of the record size
  std::string at_client;
  at_client.reserve(down.size());
  sendAll(s, c, down, &at_client, false);
  ASSERT_EQ(at_client.size(), down.size());
  EXPECT_EQ(sha256Hex(at_client), sha256Hex(down));
}

TEST_F(TlsTransferTest, ManySmallWritesBatchedWithFlushLater) {
  auto c = clientEngine(client_ctx_);
  auto s = serverEngine(server_ctx_);
  pump(c, s);
  std::string sent;
  size_t records_bytes = 0;
  for (int i = 0; i < 1000; ++i) {
    std::string frame = "frame-" + std::to_string(i) + ";";
    sent += frame;
    auto w = c.write(bytes(frame), Flush::kLater);
    ASSERT_TRUE(w);
    ASSERT_EQ(*w, frame.size());
  }
  ASSERT_TRUE(c.flush());
  records_bytes = c.pendingOutput().size();
  // One record instead of 1000: overhead is 22 bytes per 16 KiB, not per frame.
  EXPECT_EQ(records_bytes, sent.size() + TlsEngine::kRecordOverhead);
  std::string at_server;
  pump(c, s, nullptr, &at_server);
  EXPECT_EQ(at_server, sent);
}

}  // namespace
}  // namespace warren::tls::testing
