// kTLS: the crypto_info the kernel is given, and a real hand-off attempt on a real TCP
// connection. On a kernel with the TLS ULP the kernel seals what the client writes in plaintext
// and the server's user-space engine opens it; on one without (this lab's: CONFIG_TLS off) the
// attempt says so, changes nothing, and the connection carries on in user space.
#include "common/tls/kernel_tls.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <set>
#include <string>

#include "common/unique_fd.h"
#include "tests/common/tls/tls_fixture.h"

namespace warren::tls::testing {
namespace {

TrafficKeys sampleKeys(size_t key_size) {
  TrafficKeys k;
  for (size_t i = 0; i < key_size; ++i) k.key.push_back(static_cast<uint8_t>(i));
  for (size_t i = 0; i < 12; ++i) k.iv[i] = static_cast<uint8_t>(0xa0 + i);
  k.seq = 0x0102030405060708ull;
  return k;
}

TEST(KernelTls, CryptoInfoLaysOutKeySaltIvAndSequence) {
  auto info = kernelCryptoInfo(0x1301, sampleKeys(16));
  ASSERT_TRUE(info) << info.error().message();
  ASSERT_EQ(info->size(), sizeof(tls12_crypto_info_aes_gcm_128));
  tls12_crypto_info_aes_gcm_128 gcm;
  std::memcpy(&gcm, info->data(), sizeof(gcm));
  EXPECT_EQ(gcm.info.version, TLS_1_3_VERSION);
  EXPECT_EQ(gcm.info.cipher_type, TLS_CIPHER_AES_GCM_128);
  EXPECT_EQ(gcm.key[0], 0);
  EXPECT_EQ(gcm.key[15], 15);
  // The 12-byte TLS 1.3 IV: the first 4 bytes are the salt, the other 8 the iv.
  EXPECT_EQ(gcm.salt[0], 0xa0);
  EXPECT_EQ(gcm.salt[3], 0xa3);
  EXPECT_EQ(gcm.iv[0], 0xa4);
  EXPECT_EQ(gcm.iv[7], 0xab);
  EXPECT_EQ(gcm.rec_seq[0], 0x01);  // big-endian
  EXPECT_EQ(gcm.rec_seq[7], 0x08);

  auto wide = kernelCryptoInfo(0x1302, sampleKeys(32));
  ASSERT_TRUE(wide);
  tls12_crypto_info_aes_gcm_256 gcm256;
  ASSERT_EQ(wide->size(), sizeof(gcm256));
  std::memcpy(&gcm256, wide->data(), sizeof(gcm256));
  EXPECT_EQ(gcm256.info.cipher_type, TLS_CIPHER_AES_GCM_256);
  EXPECT_EQ(gcm256.key[31], 31);

  auto chacha = kernelCryptoInfo(0x1303, sampleKeys(32));
  ASSERT_TRUE(chacha);
  tls12_crypto_info_chacha20_poly1305 cp;
  ASSERT_EQ(chacha->size(), sizeof(cp));
  std::memcpy(&cp, chacha->data(), sizeof(cp));
  EXPECT_EQ(cp.info.cipher_type, TLS_CIPHER_CHACHA20_POLY1305);
  EXPECT_EQ(cp.iv[0], 0xa0);  // no salt: the whole 12-byte IV
  EXPECT_EQ(cp.iv[11], 0xab);

  auto short_key = kernelCryptoInfo(0x1302, sampleKeys(16));
  ASSERT_FALSE(short_key);
  EXPECT_NE(short_key.error().message().find("needs a 32-byte key, not 16"), std::string::npos);
  auto unknown = kernelCryptoInfo(0x1304, sampleKeys(32));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(unknown.error().message().find("0x1304"), std::string::npos);
}

TEST(KernelTls, ModeFlag) {
  EXPECT_EQ(*parseKernelTlsMode("auto"), KernelTlsMode::kAuto);
  EXPECT_EQ(*parseKernelTlsMode("off"), KernelTlsMode::kOff);
  auto bad = parseKernelTlsMode("on");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "--kernel-tls 'on': want auto or off");
}

// The start-up check's answer is the kernel's own: where the ULP exists the check loaded it, so
// it is listed; where the check says none (this lab's kernel), it is not, and no connection
// offers its records.
TEST(KernelTls, UlpCheckAgreesWithTheKernelsList) {
  auto has = kernelHasTlsUlp();
  ASSERT_TRUE(has) << has.error().message();
  std::ifstream in("/proc/sys/net/ipv4/tcp_available_ulp");
  ASSERT_TRUE(in) << "no /proc/sys/net/ipv4/tcp_available_ulp";
  std::set<std::string> listed{std::istream_iterator<std::string>(in), {}};
  EXPECT_EQ(*has, listed.count("tls") == 1) << "tcp_available_ulp lists " << listed.size();
  if (!*has) {
    setKernelTlsMode(KernelTlsMode::kAuto);
    EXPECT_FALSE(kernelTlsWanted());
  }
}

class KernelTlsHandOff : public PairedTlsFixture {};

// send() until done; recv() once into `out` (blocking sockets).
void sendAllFd(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    ASSERT_GT(n, 0) << std::strerror(errno);
    data.remove_prefix(static_cast<size_t>(n));
  }
}
std::string recvSome(int fd) {
  char buf[65536];
  ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

// Moves one engine's pending output over its socket and feeds what arrives to the other.
void hop(TlsEngine& from, int from_fd, TlsEngine& to, int to_fd, std::string* received) {
  auto out = from.pendingOutput();
  if (out.empty()) return;
  size_t n = out.size();
  sendAllFd(from_fd, {reinterpret_cast<const char*>(out.data()), n});
  from.consumeOutput(n);
  std::string wire;
  std::vector<uint8_t> plain(64 * 1024);
  while (wire.size() < n) {
    std::string got = recvSome(to_fd);
    ASSERT_FALSE(got.empty());
    wire += got;
  }
  auto r = to.feed({reinterpret_cast<const uint8_t*>(wire.data()), wire.size()}, plain);
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->consumed, wire.size());
  if (received) received->append(reinterpret_cast<const char*>(plain.data()), r->plaintext);
}

TEST_F(KernelTlsHandOff, OnARealConnectionTheKernelTakesOverOrNothingChanges) {
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(::listen(listener.get(), 1), 0);
  ASSERT_EQ(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&a), &len), 0);
  UniqueFd client_fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_EQ(::connect(client_fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  UniqueFd server_fd(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(server_fd);

  auto c = clientEngine(client_ctx_);
  auto s = serverEngine(server_ctx_);
  std::string at_server, at_client;
  for (int i = 0; i < 4 && !(c.handshakeDone() && s.handshakeDone()); ++i) {
    hop(c, client_fd.get(), s, server_fd.get(), &at_server);
    hop(s, server_fd.get(), c, client_fd.get(), &at_client);
  }
  ASSERT_TRUE(c.handshakeDone() && s.handshakeDone());
  ASSERT_TRUE(c.write(bytes("before")));
  hop(c, client_fd.get(), s, server_fd.get(), &at_server);
  ASSERT_EQ(at_server, "before");

  auto st = c.exportRecordState();
  ASSERT_TRUE(st) << st.error().message();
  auto before = kernelTlsCounts();
  auto installed = installKernelTls(client_fd.get(), *st);
  auto after = kernelTlsCounts();
  if (installed) {
    // The kernel's record layer: plaintext in, a record the server's OpenSSL opens out.
    EXPECT_EQ(after.installed, before.installed + 1);
    ASSERT_TRUE(c.handOverRecordLayer());
    sendAllFd(client_fd.get(), "sealed by the kernel");
    std::string wire = recvSome(server_fd.get());
    EXPECT_EQ(wire.find("sealed"), std::string::npos) << "no plaintext on the wire";
    std::vector<uint8_t> plain(1024);
    auto r = s.feed({reinterpret_cast<const uint8_t*>(wire.data()), wire.size()}, plain);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(std::string(reinterpret_cast<char*>(plain.data()), r->plaintext),
              "sealed by the kernel");
    return;
  }
  // This kernel: refused before anything changed, remembered, and the connection carries on.
  EXPECT_EQ(installed.error().code(), ErrorCode::kUnavailable) << installed.error().message();
  EXPECT_EQ(after.unavailable, before.unavailable + 1);
  EXPECT_EQ(after.installed, before.installed);
  if (installed.error().message().find("CONFIG_TLS") != std::string::npos) {
    EXPECT_FALSE(kernelTlsWanted()) << "no later connection tries again";
    auto again = installKernelTls(client_fd.get(), *st);
    ASSERT_FALSE(again);
    EXPECT_NE(again.error().message().find("no TLS ULP"), std::string::npos);
  }
  ASSERT_TRUE(c.write(bytes("after the attempt")));
  hop(c, client_fd.get(), s, server_fd.get(), &at_server);
  EXPECT_EQ(at_server, "beforeafter the attempt");
  ASSERT_TRUE(s.write(bytes("and back")));
  hop(s, server_fd.get(), c, client_fd.get(), &at_client);
  EXPECT_EQ(at_client, "and back");
}

}  // namespace
}  // namespace warren::tls::testing
