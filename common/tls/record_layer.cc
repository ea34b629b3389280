#include "common/tls/record_layer.h"

#include <fmt/format.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstdlib>
#include <string_view>
#include <tuple>

#include "common/identity/openssl_errors.h"

namespace warren::tls {
namespace {

// Alert descriptions (RFC 8446 §6).
constexpr uint8_t kCloseNotify = 0;
constexpr uint8_t kUnexpectedMessage = 10;
constexpr uint8_t kBadRecordMac = 20;
constexpr uint8_t kRecordOverflow = 22;
constexpr uint8_t kIllegalParameter = 47;
constexpr uint8_t kDecodeError = 50;

// Handshake message types that may follow the handshake (RFC 8446 §4.6).
constexpr uint8_t kNewSessionTicket = 4;
constexpr uint8_t kKeyUpdate = 24;

const EVP_CIPHER* suiteCipher(uint16_t suite) {
  switch (suite) {
    case 0x1301:
      return EVP_aes_128_gcm();
    case 0x1302:
      return EVP_aes_256_gcm();
    case 0x1303:
      return EVP_chacha20_poly1305();
    default:
      return nullptr;
  }
}

Error protocolError(std::string message) { return Error(ErrorCode::kProtocol, std::move(message)); }

}  // namespace

Result<std::vector<uint8_t>> expandLabel(const EVP_MD* md, std::span<const uint8_t> secret,
                                         std::string_view label, size_t length) {
  std::vector<uint8_t> info{static_cast<uint8_t>(length >> 8), static_cast<uint8_t>(length & 0xff),
                            static_cast<uint8_t>(6 + label.size())};
  for (char c : std::string_view("tls13 ")) info.push_back(static_cast<uint8_t>(c));
  for (char c : label) info.push_back(static_cast<uint8_t>(c));
  info.push_back(0);  // empty context
  std::unique_ptr<EVP_KDF, decltype(&EVP_KDF_free)> kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr),
                                                        &EVP_KDF_free);
  std::unique_ptr<EVP_KDF_CTX, decltype(&EVP_KDF_CTX_free)> kctx(
      kdf ? EVP_KDF_CTX_new(kdf.get()) : nullptr, &EVP_KDF_CTX_free);
  if (!kctx || md == nullptr) return fail(identity::opensslError(ErrorCode::kInternal, "HKDF"));
  int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
                                       const_cast<char*>(EVP_MD_get0_name(md)), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(secret.data()),
                                        secret.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info.data(), info.size()),
      OSSL_PARAM_construct_end()};
  std::vector<uint8_t> out(length);
  if (EVP_KDF_derive(kctx.get(), out.data(), out.size(), params) != 1) {
    return fail(identity::opensslError(ErrorCode::kInternal, "HKDF-Expand-Label"));
  }
  return out;
}

Result<TrafficKeys> trafficKeys(const EVP_MD* md, uint16_t cipher_suite,
                                std::span<const uint8_t> secret) {
  TrafficKeys k;
  auto key = expandLabel(md, secret, "key", keyLength(cipher_suite));
  if (!key) return fail(std::move(key).error());
  auto iv = expandLabel(md, secret, "iv", k.iv.size());
  if (!iv) return fail(std::move(iv).error());
  k.key = std::move(*key);
  std::copy(iv->begin(), iv->end(), k.iv.begin());
  OPENSSL_cleanse(iv->data(), iv->size());
  return k;
}

// ---- RecordCipher ----

namespace {
bool ownAesUsable() {
  static const bool usable = [] {
    const char* forced = std::getenv("WARREN_TLS_AEAD");
    return Aes128Gcm::supported() && !(forced && std::string_view(forced) == "openssl");
  }();
  return usable;
}
}  // namespace

const char* bestAeadCodeName() { return ownAesUsable() ? "vaes-avx512" : "openssl"; }

Result<RecordCipher> RecordCipher::create(uint16_t cipher_suite, const TrafficKeys& keys,
                                          AeadCode code) {
  RecordCipher c;
  c.cipher_ = suiteCipher(cipher_suite);
  if (c.cipher_ == nullptr) {
    return fail(Error::invalid(fmt::format(
        "TLS cipher suite 0x{:04x} is not one of 0x1301, 0x1302, 0x1303", cipher_suite)));
  }
  const bool own = cipher_suite == 0x1301 && code == AeadCode::kBest && ownAesUsable();
  if (!own) {
    c.ctx_.reset(EVP_CIPHER_CTX_new());
    if (!c.ctx_) return fail(identity::opensslError(ErrorCode::kInternal, "EVP_CIPHER_CTX_new"));
  }
  WARREN_TRY(c.setKeys(keys, own));
  return c;
}

RecordCipher::~RecordCipher() { OPENSSL_cleanse(keys_.key.data(), keys_.key.size()); }

Status RecordCipher::rekey(const TrafficKeys& keys) { return setKeys(keys, aes_ != nullptr); }

Status RecordCipher::setKeys(const TrafficKeys& keys, bool own_aes) {
  if (keys.key.size() != static_cast<size_t>(EVP_CIPHER_get_key_length(cipher_))) {
    return fail(Error::invalid(fmt::format("TLS record key of {} bytes, the suite takes {}",
                                           keys.key.size(), EVP_CIPHER_get_key_length(cipher_))));
  }
  // The key schedule once; each record then sets only its nonce. Ours, or OpenSSL's.
  if (own_aes) {
    aes_ = std::make_unique<Aes128Gcm>(std::span<const uint8_t, Aes128Gcm::kKeyBytes>(
        keys.key.data(), Aes128Gcm::kKeyBytes));
  } else if (EVP_CipherInit_ex(ctx_.get(), cipher_, nullptr, keys.key.data(), nullptr, 1) != 1) {
    return fail(identity::opensslError(ErrorCode::kInternal, "TLS record key"));
  }
  OPENSSL_cleanse(keys_.key.data(), keys_.key.size());
  keys_.key = keys.key;
  keys_.iv = keys.iv;
  keys_.seq = keys.seq;
  return ok();
}

std::array<uint8_t, 12> RecordCipher::nonce() const {
  auto n = keys_.iv;
  for (int i = 0; i < 8; ++i) n[11 - i] ^= static_cast<uint8_t>(keys_.seq >> (8 * i));
  return n;
}

Status RecordCipher::seal(uint8_t content_type, std::span<const uint8_t> plaintext,
                          OutputBuffer& out) {
  const std::span<const uint8_t> parts[1] = {plaintext};
  return seal(content_type, parts, out);
}

Status RecordCipher::seal(uint8_t content_type, std::span<const std::span<const uint8_t>> parts,
                          OutputBuffer& out) {
  size_t content = 0;
  for (auto part : parts) content += part.size();
  if (content > kMaxRecordContent) {
    return fail(Error::invalid(
        fmt::format("TLS record of {} bytes: at most {}", content, kMaxRecordContent)));
  }
  const size_t inner = content + 1;
  const size_t body = inner + kRecordTagBytes;
  const uint8_t header[kRecordHeaderBytes] = {kContentApplicationData, 3, 3,
                                              static_cast<uint8_t>(body >> 8),
                                              static_cast<uint8_t>(body & 0xff)};
  out.reserveMore(kRecordHeaderBytes + body);
  out.append(header, sizeof(header));
  // Each part is encrypted out of place, from where it lies into the output: no copy first.
  std::span<uint8_t> p = out.grow(body);
  if (aes_) {
    const uint8_t type[1] = {content_type};
    aes_->seal(nonce(), std::span<const uint8_t>(header, sizeof(header)), parts, p.data(),
               p.subspan(inner).first<kRecordTagBytes>(), type);
    ++keys_.seq;
    return ok();
  }
  auto n = nonce();
  int len = 0;
  if (EVP_CipherInit_ex(ctx_.get(), nullptr, nullptr, nullptr, n.data(), 1) != 1 ||
      EVP_EncryptUpdate(ctx_.get(), nullptr, &len, header, sizeof(header)) != 1) {
    out.shrink(kRecordHeaderBytes + body);
    return fail(identity::opensslError(ErrorCode::kInternal, "TLS record seal"));
  }
  size_t at = 0;
  auto update = [&](const uint8_t* in, size_t size) {
    // GCM and ChaCha20-Poly1305 are stream modes: the ciphertext is as long as the input.
    return size == 0 ||
           (EVP_EncryptUpdate(ctx_.get(), p.data() + at, &len, in, static_cast<int>(size)) == 1 &&
            static_cast<size_t>(len) == size && (at += size, true));
  };
  bool sealed = true;
  for (auto part : parts) sealed = sealed && update(part.data(), part.size());
  sealed = sealed && update(&content_type, 1) &&
           EVP_EncryptFinal_ex(ctx_.get(), p.data() + at, &len) == 1 && len == 0 &&
           EVP_CIPHER_CTX_ctrl(ctx_.get(), EVP_CTRL_AEAD_GET_TAG, static_cast<int>(kRecordTagBytes),
                               p.data() + inner) == 1;
  if (!sealed) {
    out.shrink(kRecordHeaderBytes + body);  // no half record stays in the output
    return fail(identity::opensslError(ErrorCode::kInternal, "TLS record seal"));
  }
  ++keys_.seq;
  return ok();
}

Result<RecordCipher::Opened> RecordCipher::open(std::span<const uint8_t> record,
                                                std::span<uint8_t> out) {
  alert_ = kDecodeError;
  if (record.size() < kRecordHeaderBytes) return fail(protocolError("TLS record: short header"));
  if (record[0] != kContentApplicationData) {
    alert_ = kUnexpectedMessage;
    return fail(protocolError(
        fmt::format("TLS record of type {} after the handshake (TLS 1.3 protects every record "
                    "as application_data)",
                    record[0])));
  }
  if (record[1] != 3 || record[2] != 3) {
    return fail(protocolError(fmt::format(
        "TLS record version 0x{:02x}{:02x}, want 0x0303 (the peer is not speaking TLS 1.3)",
        record[1], record[2])));
  }
  const size_t body = recordBodyLength(record);
  if (body > kMaxRecordBody) {
    alert_ = kRecordOverflow;
    return fail(protocolError(
        fmt::format("TLS record of {} bytes (record_overflow: at most {})", body, kMaxRecordBody)));
  }
  if (body < kRecordTagBytes + 1 || record.size() != kRecordHeaderBytes + body) {
    alert_ = kBadRecordMac;
    return fail(protocolError(fmt::format("TLS record of {} bytes: too short for a tag", body)));
  }
  const size_t sealed = body - kRecordTagBytes;
  if (out.size() < sealed) {
    alert_ = 0;  // the caller's mistake, not the peer's
    return fail(
        Error::invalid(fmt::format("TLS record: {} bytes of room for {}", out.size(), sealed)));
  }
  auto n = nonce();
  int len = 0;
  const uint8_t* tag = record.data() + kRecordHeaderBytes + sealed;
  bool authentic;
  if (aes_) {
    authentic = aes_->open(n, record.first(kRecordHeaderBytes),
                           record.subspan(kRecordHeaderBytes, sealed), out.data(),
                           std::span<const uint8_t, kRecordTagBytes>(tag, kRecordTagBytes));
  } else {
    authentic =
        EVP_CipherInit_ex(ctx_.get(), nullptr, nullptr, nullptr, n.data(), 0) == 1 &&
        EVP_DecryptUpdate(ctx_.get(), nullptr, &len, record.data(), kRecordHeaderBytes) == 1 &&
        EVP_DecryptUpdate(ctx_.get(), out.data(), &len, record.data() + kRecordHeaderBytes,
                          static_cast<int>(sealed)) == 1 &&
        EVP_CIPHER_CTX_ctrl(ctx_.get(), EVP_CTRL_AEAD_SET_TAG, kRecordTagBytes,
                            const_cast<uint8_t*>(tag)) == 1 &&
        EVP_DecryptFinal_ex(ctx_.get(), out.data() + len, &len) == 1;
  }
  if (!authentic) {
    identity::drainOpensslErrors();
    alert_ = kBadRecordMac;
    return fail(protocolError(
        fmt::format("TLS record {} does not authenticate (bad_record_mac)", keys_.seq)));
  }
  ++keys_.seq;
  // The content type is the last non-zero byte; zeros after it are padding (RFC 8446 §5.4).
  size_t end = sealed;
  while (end > 0 && out[end - 1] == 0) --end;
  if (end == 0) {
    alert_ = kUnexpectedMessage;
    return fail(protocolError("TLS record with no content type, all padding"));
  }
  Opened o{out[end - 1], end - 1};
  if (o.length > kMaxRecordContent) {
    alert_ = kRecordOverflow;
    return fail(
        protocolError(fmt::format("TLS record of {} plaintext bytes (record_overflow)", o.length)));
  }
  alert_ = 0;
  return o;
}

// ---- RecordLayer ----

Result<RecordLayer> RecordLayer::create(uint16_t cipher_suite, const EVP_MD* hash,
                                        std::span<const uint8_t> tx_secret, uint64_t tx_seq,
                                        std::span<const uint8_t> rx_secret, uint64_t rx_seq) {
  RecordLayer l;
  l.suite_ = cipher_suite;
  l.hash_ = hash;
  l.tx_secret_.assign(tx_secret.begin(), tx_secret.end());
  l.rx_secret_.assign(rx_secret.begin(), rx_secret.end());
  for (auto [secret, seq, cipher] :
       {std::tuple{&l.tx_secret_, tx_seq, &l.tx_}, std::tuple{&l.rx_secret_, rx_seq, &l.rx_}}) {
    auto keys = trafficKeys(hash, cipher_suite, *secret);
    if (!keys) return fail(std::move(keys).error());
    keys->seq = seq;
    auto c = RecordCipher::create(cipher_suite, *keys);
    OPENSSL_cleanse(keys->key.data(), keys->key.size());
    if (!c) return fail(std::move(c).error());
    cipher->emplace(std::move(*c));
  }
  return l;
}

RecordLayer::~RecordLayer() {
  OPENSSL_cleanse(tx_secret_.data(), tx_secret_.size());
  OPENSSL_cleanse(rx_secret_.data(), rx_secret_.size());
}

Status RecordLayer::seal(std::span<const uint8_t> plaintext, OutputBuffer& out) {
  const std::span<const uint8_t> parts[1] = {plaintext};
  return seal(parts, out);
}

Status RecordLayer::seal(std::span<const std::span<const uint8_t>> parts, OutputBuffer& out) {
  if (closed_) return fail(Error::invalid("TLS write after close_notify was queued"));
  return tx_->seal(kContentApplicationData, parts, out);
}

Error RecordLayer::fatal(uint8_t alert, Error error, OutputBuffer& out) {
  if (alert != 0 && !closed_) {
    const uint8_t body[2] = {2 /* fatal */, alert};
    if (tx_->seal(kContentAlert, body, out)) closed_ = true;
  }
  return error;
}

Result<RecordLayer::Received> RecordLayer::open(std::span<const uint8_t> ciphertext,
                                                std::span<uint8_t> plaintext, OutputBuffer& out) {
  Received r;
  size_t pos = 0;
  while (pos < ciphertext.size() || partial_.size() >= kRecordHeaderBytes) {
    std::span<const uint8_t> rest = ciphertext.subspan(pos);
    std::span<const uint8_t> record;
    if (partial_.empty() && rest.size() >= kRecordHeaderBytes &&
        rest.size() >= kRecordHeaderBytes + recordBodyLength(rest)) {
      record = rest.first(kRecordHeaderBytes + recordBodyLength(rest));  // whole, in place
    } else {
      // Gather the header, then the body it announces (at most 64 KiB: a 16-bit length; one
      // over the limit is refused when opened), from what arrives.
      auto gather = [&](size_t want) {
        size_t take = std::min(want - std::min(want, partial_.size()), ciphertext.size() - pos);
        partial_.insert(partial_.end(), ciphertext.begin() + static_cast<std::ptrdiff_t>(pos),
                        ciphertext.begin() + static_cast<std::ptrdiff_t>(pos + take));
        pos += take;
        return partial_.size() >= want;
      };
      if (!gather(kRecordHeaderBytes) || !gather(kRecordHeaderBytes + recordBodyLength(partial_))) {
        r.consumed = pos;  // all of it: the record waits for its rest
        return r;
      }
      record = partial_;
    }
    const size_t body = record.size() - kRecordHeaderBytes;
    if (body > kRecordTagBytes && body <= kMaxRecordBody &&
        plaintext.size() - r.plaintext < body - kRecordTagBytes) {
      if (r.plaintext == 0) {  // it never will have room: the caller's mistake
        return fail(Error::invalid(
            fmt::format("a plaintext buffer of {} bytes cannot hold a TLS record of {}",
                        plaintext.size(), body - kRecordTagBytes)));
      }
      break;  // no room for this record: the caller comes back with a fresh buffer
    }
    auto opened = rx_->open(record, plaintext.subspan(r.plaintext));
    if (!opened) return fail(fatal(rx_->failureAlert(), std::move(opened).error(), out));
    if (partial_.empty()) {
      pos += record.size();
    } else {
      partial_.clear();
    }
    const auto content = plaintext.subspan(r.plaintext, opened->length);
    switch (opened->content_type) {
      case kContentApplicationData:
        r.plaintext += opened->length;
        break;
      case kContentAlert:
        if (opened->length != 2) {
          return fail(fatal(kDecodeError, protocolError("TLS alert record of a wrong size"), out));
        }
        if (content[1] == kCloseNotify) {
          // Anything after close_notify is ignored (RFC 8446 §6.1).
          r.peer_closed = true;
          r.consumed = ciphertext.size();
          return r;
        }
        return fail(protocolError(fmt::format("TLS alert from the peer: {} ({})",
                                              SSL_alert_desc_string_long(content[1]), content[1])));
      case kContentHandshake:
        handshake_.insert(handshake_.end(), content.begin(), content.end());
        WARREN_TRY(onHandshakeMessages(out));
        break;
      default:
        return fail(fatal(kUnexpectedMessage,
                          protocolError(fmt::format("TLS record of content type {} after the "
                                                    "handshake",
                                                    opened->content_type)),
                          out));
    }
  }
  r.consumed = pos;
  return r;
}

Status RecordLayer::onHandshakeMessages(OutputBuffer& out) {
  while (handshake_.size() >= 4) {
    const size_t length =
        (size_t{handshake_[1]} << 16) | (size_t{handshake_[2]} << 8) | handshake_[3];
    if (length > 64 * 1024) {
      return fail(fatal(kDecodeError,
                        protocolError(fmt::format("TLS handshake message of {} bytes after the "
                                                  "handshake",
                                                  length)),
                        out));
    }
    if (handshake_.size() < 4 + length) return ok();  // the rest comes in the next record
    const uint8_t type = handshake_[0];
    if (type == kNewSessionTicket) {
      // Nothing resumes: the ticket is dropped, as OpenSSL drops it without a session cache.
    } else if (type == kKeyUpdate) {
      if (length != 1 || handshake_[4] > 1) {
        return fail(fatal(kIllegalParameter, protocolError("TLS KeyUpdate malformed"), out));
      }
      // The next record is under the new key, so the message must end its record (§5.1).
      if (handshake_.size() != 5) {
        return fail(fatal(kUnexpectedMessage,
                          protocolError("TLS KeyUpdate not at the end of its record"), out));
      }
      const bool asked = handshake_[4] == 1;
      WARREN_TRY(nextKey(rx_secret_, *rx_));
      if (asked && !closed_) WARREN_TRY(updateKeys(false, out));
    } else {
      return fail(fatal(kUnexpectedMessage,
                        protocolError(fmt::format("TLS handshake message of type {} after the "
                                                  "handshake",
                                                  type)),
                        out));
    }
    handshake_.erase(handshake_.begin(),
                     handshake_.begin() + static_cast<std::ptrdiff_t>(4 + length));
  }
  return ok();
}

Status RecordLayer::closeNotify(OutputBuffer& out) {
  if (closed_) return ok();
  const uint8_t body[2] = {1 /* warning */, kCloseNotify};
  WARREN_TRY(tx_->seal(kContentAlert, body, out));
  closed_ = true;
  return ok();
}

Status RecordLayer::updateKeys(bool ask_peer, OutputBuffer& out) {
  if (closed_) return fail(Error::invalid("TLS KeyUpdate after close_notify was queued"));
  const uint8_t message[5] = {kKeyUpdate, 0, 0, 1, static_cast<uint8_t>(ask_peer ? 1 : 0)};
  WARREN_TRY(tx_->seal(kContentHandshake, message, out));
  return nextKey(tx_secret_, *tx_);
}

Status RecordLayer::nextKey(std::vector<uint8_t>& secret, RecordCipher& cipher) {
  auto next = expandLabel(hash_, secret, "traffic upd", secret.size());
  if (!next) return fail(std::move(next).error());
  OPENSSL_cleanse(secret.data(), secret.size());
  secret = std::move(*next);
  auto keys = trafficKeys(hash_, suite_, secret);
  if (!keys) return fail(std::move(keys).error());
  auto st = cipher.rekey(*keys);
  OPENSSL_cleanse(keys->key.data(), keys->key.size());
  return st;
}

void RecordLayer::releaseIdleMemory() {
  if (partial_.empty()) std::vector<uint8_t>().swap(partial_);
  if (handshake_.empty()) std::vector<uint8_t>().swap(handshake_);
}

RecordState RecordLayer::state() const {
  RecordState s;
  s.cipher_suite = suite_;
  s.tx = tx_->keys();
  s.rx = rx_->keys();
  return s;
}

}  // namespace warren::tls
