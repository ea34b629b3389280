#include "common/tls/kernel_tls.h"

#include <fmt/format.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "common/log.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

namespace warren::tls {
namespace {

std::atomic<bool> g_auto{true};
std::atomic<bool> g_refused{false};
std::once_flag g_checked;
std::atomic<uint64_t> g_installed{0}, g_unavailable{0}, g_failed{0};

// One direction's crypto_info for an AEAD with a 4-byte salt + 8-byte explicit iv (AES-GCM) or
// a 12-byte iv and no salt (ChaCha20-Poly1305).
template <typename Info>
std::vector<uint8_t> pack(uint16_t cipher_type, const TrafficKeys& keys, size_t salt_size) {
  Info info{};
  info.info.version = TLS_1_3_VERSION;
  info.info.cipher_type = cipher_type;
  std::memcpy(info.key, keys.key.data(), sizeof(info.key));
  if (salt_size > 0) std::memcpy(info.salt, keys.iv.data(), salt_size);
  std::memcpy(info.iv, keys.iv.data() + salt_size, sizeof(info.iv));
  for (size_t i = 0; i < 8; ++i) {
    info.rec_seq[i] = static_cast<unsigned char>(keys.seq >> (56 - 8 * i));
  }
  std::vector<uint8_t> out(sizeof(info));
  std::memcpy(out.data(), &info, sizeof(info));
  OPENSSL_cleanse(&info, sizeof(info));
  return out;
}

}  // namespace

Result<KernelTlsMode> parseKernelTlsMode(std::string_view text) {
  if (text == "auto") return KernelTlsMode::kAuto;
  if (text == "off") return KernelTlsMode::kOff;
  return fail(Error::invalid(fmt::format("--kernel-tls '{}': want auto or off", text)));
}

void setKernelTlsMode(KernelTlsMode mode) {
  g_auto = mode == KernelTlsMode::kAuto;
  (void)kernelTlsWanted();  // the kernel check, at start-up rather than at the first connection
}

Result<bool> kernelHasTlsUlp() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(WARREN_SYS_ERROR("socket() for the TLS ULP check"));
  int rc = ::setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof("tls"));
  int err = errno;
  ::close(fd);
  // The kernel finds (or, with CAP_NET_ADMIN, loads) the ULP before the ULP looks at the socket,
  // and kTLS takes established sockets only: an error other than ENOENT here (ENOTCONN on recent
  // kernels). ENOENT: no such ULP registered.
  if (rc != 0 && err == ENOENT) return false;
  return true;
}

namespace testing {
void forgetKernelTlsRefusal() {
  (void)kernelTlsWanted();  // the check has run: it does not come back
  g_refused = false;
}
}  // namespace testing

bool kernelTlsWanted() {
  if (!g_auto.load(std::memory_order_relaxed)) return false;
  std::call_once(g_checked, [] {
    auto has = kernelHasTlsUlp();
    if (!has) {
      spdlog::warn("kernel TLS: {}; each connection will try", has.error().message());
    } else if (!*has) {
      g_refused = true;
      spdlog::info(
          "kernel TLS unavailable (no TLS ULP: CONFIG_TLS off, or the tls module not loaded and "
          "no CAP_NET_ADMIN to load it): HBONE records stay in user space");
    }
  });
  return !g_refused.load();
}

Result<std::vector<uint8_t>> kernelCryptoInfo(uint16_t cipher_suite, const TrafficKeys& keys) {
  size_t want = keyLength(cipher_suite);
  if (keys.key.size() != want) {
    return fail(Error::invalid(fmt::format("cipher suite {:#06x} needs a {}-byte key, not {}",
                                           cipher_suite, want, keys.key.size())));
  }
  switch (cipher_suite) {
    case 0x1301:
      return pack<tls12_crypto_info_aes_gcm_128>(TLS_CIPHER_AES_GCM_128, keys,
                                                 TLS_CIPHER_AES_GCM_128_SALT_SIZE);
    case 0x1302:
      return pack<tls12_crypto_info_aes_gcm_256>(TLS_CIPHER_AES_GCM_256, keys,
                                                 TLS_CIPHER_AES_GCM_256_SALT_SIZE);
    case 0x1303:
      return pack<tls12_crypto_info_chacha20_poly1305>(TLS_CIPHER_CHACHA20_POLY1305, keys, 0);
    default:
      return fail(
          Error(ErrorCode::kUnavailable,
                fmt::format("cipher suite {:#06x} has no kernel TLS cipher", cipher_suite)));
  }
}

Status installKernelTls(int fd, const RecordState& state) {
  auto unavailable = [](std::string why) {
    ++g_unavailable;
    return fail(Error(ErrorCode::kUnavailable, std::move(why)));
  };
  auto tx = kernelCryptoInfo(state.cipher_suite, state.tx);
  if (!tx) return unavailable(tx.error().message());
  auto rx = kernelCryptoInfo(state.cipher_suite, state.rx);
  if (!rx) {
    OPENSSL_cleanse(tx->data(), tx->size());
    return unavailable(rx.error().message());
  }
  struct Cleanse {
    std::vector<uint8_t>& a;
    std::vector<uint8_t>& b;
    ~Cleanse() {
      OPENSSL_cleanse(a.data(), a.size());
      OPENSSL_cleanse(b.data(), b.size());
    }
  } cleanse{*tx, *rx};
  if (::setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof("tls")) != 0) {
    int err = errno;
    // No module (ENOENT), or one this socket type refuses: the same for every later connection.
    // EEXIST (this socket already has a ULP) says nothing about the others.
    if (err != EEXIST) g_refused = true;
    return unavailable(
        fmt::format("setsockopt(TCP_ULP, \"tls\"): {}{}", std::strerror(err),
                    err == ENOENT ? " (this kernel has no TLS ULP: CONFIG_TLS)" : ""));
  }
  // With the ULP attached and no direction configured the socket is still plain TCP.
  // The kernel refusing a direction (an older one without TLS 1.3 or this cipher: EINVAL)
  // refuses it for every connection: stop offering.
  if (::setsockopt(fd, SOL_TLS, TLS_TX, tx->data(), static_cast<socklen_t>(tx->size())) != 0) {
    g_refused = true;
    return unavailable(fmt::format("setsockopt(TLS_TX): {}", std::strerror(errno)));
  }
  if (::setsockopt(fd, SOL_TLS, TLS_RX, rx->data(), static_cast<socklen_t>(rx->size())) != 0) {
    g_refused = true;
    ++g_failed;
    return fail(Error(ErrorCode::kInternal,
                      fmt::format("setsockopt(TLS_RX): {} (TLS_TX was installed: the connection "
                                  "cannot continue)",
                                  std::strerror(errno))));
  }
  ++g_installed;
  return ok();
}

KernelTlsCounts kernelTlsCounts() {
  return {g_installed.load(), g_unavailable.load(), g_failed.load()};
}

}  // namespace warren::tls
