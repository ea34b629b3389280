#include "common/tls/tls_engine.h"

#include <fmt/format.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/kdf.h>

#include <cstring>
#include <mutex>

#include "common/hex.h"
#include "common/identity/certificate_info.h"
#include "common/identity/chain_verification.h"
#include "common/identity/openssl_errors.h"
#include "common/tls/handshake_hooks.h"
#include "common/tls/output_buffer.h"
#include "common/tls/record_layer.h"

namespace warren::tls {

using identity::IdentityPolicy;
using identity::SpiffeId;

struct TlsEngine::Impl {
  ossl::Ssl ssl;
  TlsRole role = TlsRole::kClient;
  TlsEngineOptions options;
  IdentityPolicy policy;

  // Ciphertext the caller lent to feed(); the BIO reads it in place.
  std::span<const uint8_t> in;
  size_t in_pos = 0;
  OutputBuffer out;
  // Plaintext not yet encrypted (a partial record, or anything written before the handshake).
  std::vector<uint8_t> staged;

  bool handshake_done = false;
  bool peer_closed = false;
  bool shutdown_sent = false;
  bool flush_after_handshake = false;
  std::optional<SpiffeId> peer;
  // Why our own verification refused the peer (set by the verify callback).
  std::optional<Error> verify_failure;
  std::optional<Error> error;

  // The record layer's state per direction (exportRecordState): the current application
  // traffic secret and the records sent under it since it took effect.
  struct Direction {
    std::vector<uint8_t> secret;
    uint64_t records = 0;
    bool counting = false;  // past this direction's Finished
  };
  Direction tx, rx;
  // Why the state cannot be exported (a KeyUpdate whose secret could not be derived).
  std::optional<Error> state_lost;
  bool handed_over = false;  // the kernel carries the records: bytes pass through
  // useOwnRecordLayer(): records are sealed and opened here, OpenSSL only did the handshake.
  std::optional<RecordLayer> own;

  ~Impl() {
    OPENSSL_cleanse(tx.secret.data(), tx.secret.size());
    OPENSSL_cleanse(rx.secret.data(), rx.secret.size());
  }

  Status failWith(Error e) {
    if (!error) error = std::move(e);
    return fail(*error);
  }
  Error sslError(int rc, const char* what);
  Status onHandshakeDone();
  // One record of at most kMaxRecordPlaintext: OpenSSL's, or the own record layer's.
  Status writeRecord(const uint8_t* p, size_t n);
  Status encryptStaged(bool all);
  Status encrypt(std::span<const uint8_t> p, Flush mode);
  // writeMessage() with the own record layer, after the handshake.
  Status encryptMessage(std::span<const std::span<const uint8_t>> parts, size_t total);
  Status flush();
  // Where another record layer can carry on: `all_sent` for one that does not share our output
  // (the kernel, an export), which must find every record OpenSSL sealed already sent.
  Status cleanBoundary(bool all_sent = true) const;
  Status switchToOwnRecords();
  // feed() once the own record layer carries the records; `r` so far.
  Result<FeedResult> openOwn(std::span<const uint8_t> ciphertext, std::span<uint8_t> plaintext,
                             FeedResult r) {
    auto got = own->open(ciphertext, plaintext, out);
    if (!got) return fail(failWith(std::move(got).error().wrap("TLS read")).error());
    r.consumed = got->consumed;
    r.plaintext = got->plaintext;
    r.peer_closed = peer_closed = got->peer_closed;
    return r;
  }
  uint16_t cipherSuite() const {
    return static_cast<uint16_t>(SSL_CIPHER_get_protocol_id(SSL_get_current_cipher(ssl.get())) &
                                 0xffff);
  }
};

namespace {

// ---- The memory transport BIO: reads the span lent to feed(), appends writes to `out`. ----

int bioWrite(BIO* bio, const char* data, size_t len, size_t* written) {
  auto* impl = static_cast<TlsEngine::Impl*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  impl->out.append(reinterpret_cast<const uint8_t*>(data), len);
  *written = len;
  return 1;
}

int bioRead(BIO* bio, char* data, size_t len, size_t* read_bytes) {
  auto* impl = static_cast<TlsEngine::Impl*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  size_t left = impl->in.size() - impl->in_pos;
  if (left == 0) {
    // No more ciphertext for now: OpenSSL reports SSL_ERROR_WANT_READ.
    BIO_set_retry_read(bio);
    *read_bytes = 0;
    return 0;
  }
  size_t n = std::min(len, left);
  std::memcpy(data, impl->in.data() + impl->in_pos, n);
  impl->in_pos += n;
  *read_bytes = n;
  return 1;
}

long bioCtrl(BIO* bio, int cmd, long, void*) {
  auto* impl = static_cast<TlsEngine::Impl*>(BIO_get_data(bio));
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;  // writes are already in `out`
    case BIO_CTRL_PENDING:
      return impl ? static_cast<long>(impl->in.size() - impl->in_pos) : 0;
    case BIO_CTRL_WPENDING:
      return 0;
    default:
      return 0;
  }
}

int bioCreate(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

int bioDestroy(BIO*) { return 1; }

struct BioMethodDeleter {
  void operator()(BIO_METHOD* m) const { BIO_meth_free(m); }
};

// One method table for the process, built on first use (thread-safe static init).
const BIO_METHOD* transportMethod() {
  static const std::unique_ptr<BIO_METHOD, BioMethodDeleter> method = [] {
    BIO_METHOD* m =
        BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "warren memory transport");
    if (m != nullptr) {
      BIO_meth_set_write_ex(m, bioWrite);
      BIO_meth_set_read_ex(m, bioRead);
      BIO_meth_set_ctrl(m, bioCtrl);
      BIO_meth_set_create(m, bioCreate);
      BIO_meth_set_destroy(m, bioDestroy);
    }
    return std::unique_ptr<BIO_METHOD, BioMethodDeleter>(m);
  }();
  return method.get();
}

TlsEngine::Impl* implOf(SSL* ssl) { return static_cast<TlsEngine::Impl*>(SSL_get_app_data(ssl)); }

std::string_view selectedAlpn(const SSL* ssl) {
  const unsigned char* p = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(ssl, &p, &len);
  return p == nullptr ? std::string_view()
                      : std::string_view(reinterpret_cast<const char*>(p), len);
}

const EVP_MD* suiteHash(const SSL* ssl) {
  const SSL_CIPHER* c = SSL_get_current_cipher(ssl);
  return c == nullptr ? nullptr : SSL_CIPHER_get_handshake_digest(c);
}

}  // namespace

// ---- Handshake hooks (declared in handshake_hooks.h) ----

namespace detail {

int verifyPeerChain(X509_STORE_CTX* store_ctx, void*) {
  auto* ssl = static_cast<SSL*>(
      X509_STORE_CTX_get_ex_data(store_ctx, SSL_get_ex_data_X509_STORE_CTX_idx()));
  TlsEngine::Impl* impl = ssl ? implOf(ssl) : nullptr;
  if (impl == nullptr) return 0;
  if (X509_verify_cert(store_ctx) != 1) {
    int err = X509_STORE_CTX_get_error(store_ctx);
    impl->verify_failure = Error(
        ErrorCode::kPermissionDenied,
        fmt::format("peer certificate chain does not verify against the mesh roots: {} (depth {})",
                    X509_verify_cert_error_string(err), X509_STORE_CTX_get_error_depth(store_ctx)));
    return 0;  // OpenSSL sends the alert matching the X.509 error
  }
  auto ids = identity::spiffeIdsOf(X509_STORE_CTX_get0_cert(store_ctx));
  auto matched = identity::checkIdentity(ids, impl->policy);
  if (!matched) {
    impl->verify_failure = std::move(matched).error();
    X509_STORE_CTX_set_error(store_ctx, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
  }
  // ALPN is settled by now in both roles (TLS 1.3 EncryptedExtensions precede the server's
  // Certificate; the server chose before asking for the client's), so refusing here gets the
  // peer an alert instead of a silent close.
  if (selectedAlpn(ssl) != TlsContext::kAlpnH2) {
    impl->verify_failure = Error(ErrorCode::kProtocol, "peer did not negotiate ALPN \"h2\"");
    X509_STORE_CTX_set_error(store_ctx, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
  }
  impl->peer = std::move(*matched);
  return 1;
}

int selectAlpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void*) {
  static constexpr unsigned char kOurs[] = {2, 'h', '2'};
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kOurs, sizeof(kOurs), in, inlen) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_ALERT_FATAL;  // no_application_protocol
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

void keepTrafficSecret(const SSL* ssl, const char* line) {
  TlsEngine::Impl* impl = implOf(const_cast<SSL*>(ssl));
  if (impl == nullptr || line == nullptr) return;
  // "<LABEL> <client random, hex> <secret, hex>"
  std::string_view text(line);
  size_t a = text.find(' ');
  size_t b = a == std::string_view::npos ? a : text.find(' ', a + 1);
  if (b == std::string_view::npos) return;
  std::string_view label = text.substr(0, a);
  bool client = label == "CLIENT_TRAFFIC_SECRET_0";
  if (!client && label != "SERVER_TRAFFIC_SECRET_0") return;
  std::string_view hex = text.substr(b + 1);
  std::vector<uint8_t> secret(hex.size() / 2);
  if (!decodeHex(hex, secret)) return;
  // What the client sends is the client's secret.
  bool ours = client == (impl->role == TlsRole::kClient);
  (ours ? impl->tx : impl->rx).secret = std::move(secret);
}

void countRecord(int write_p, int, int content_type, const void* buf, size_t len, SSL* ssl, void*) {
  TlsEngine::Impl* impl = ssl ? implOf(ssl) : nullptr;
  if (impl == nullptr) return;
  TlsEngine::Impl::Direction& d = write_p ? impl->tx : impl->rx;
  if (content_type == SSL3_RT_HEADER) {
    // Each record's header is reported before the handshake message it carries, so the
    // record of a Finished or KeyUpdate counts under the old key.
    if (d.counting) ++d.records;
    return;
  }
  if (content_type != SSL3_RT_HANDSHAKE || len == 0) return;
  uint8_t type = *static_cast<const uint8_t*>(buf);
  if (type == SSL3_MT_FINISHED && !d.counting) {
    d.counting = true;  // this direction's application key takes effect after its Finished
    d.records = 0;
  } else if (type == SSL3_MT_KEY_UPDATE && d.counting) {
    auto next = expandLabel(suiteHash(ssl), d.secret, "traffic upd", d.secret.size());
    if (!next) {
      impl->state_lost = std::move(next).error().wrap("following a KeyUpdate");
      return;
    }
    OPENSSL_cleanse(d.secret.data(), d.secret.size());
    d.secret = std::move(*next);
    d.records = 0;
  }
}

}  // namespace detail

// ---- Impl ----

Error TlsEngine::Impl::sslError(int rc, const char* what) {
  int code = SSL_get_error(ssl.get(), rc);
  if (verify_failure) {
    identity::drainOpensslErrors();
    Error e = *verify_failure;
    return std::move(e).wrap(what);
  }
  std::string detail = identity::drainOpensslErrors();
  if (detail.empty()) {
    detail = code == SSL_ERROR_SYSCALL ? "unexpected transport error"
                                       : fmt::format("SSL error {}", code);
  }
  // Hints for the failures operators meet most, in OpenSSL's words plus ours.
  if (detail.find("unsupported protocol") != std::string::npos) {
    detail += " (the peer does not offer TLS 1.3; mesh TLS is 1.3 only)";
  } else if (detail.find("http request") != std::string::npos ||
             detail.find("wrong version number") != std::string::npos ||
             detail.find("packet length too long") != std::string::npos) {
    detail += " (the peer is not speaking TLS: plaintext or another protocol)";
  }
  return Error(ErrorCode::kProtocol, fmt::format("{}: {}", what, detail));
}

Status TlsEngine::Impl::onHandshakeDone() {
  handshake_done = true;
  if (selectedAlpn(ssl.get()) != TlsContext::kAlpnH2) {
    return failWith(
        Error(ErrorCode::kProtocol, "TLS handshake: peer did not negotiate ALPN \"h2\""));
  }
  if (!peer) {
    return failWith(Error(ErrorCode::kPermissionDenied,
                          "TLS handshake: peer presented no verified certificate"));
  }
  // Staged early writes: full records now, the tail too if a kNow write or flush() asked.
  if (!staged.empty()) return encryptStaged(flush_after_handshake);
  return ok();
}

Status TlsEngine::Impl::writeRecord(const uint8_t* p, size_t n) {
  if (own) {
    if (auto st = own->seal({p, n}, out); !st) return failWith(std::move(st).error());
    return ok();
  }
  ERR_clear_error();
  size_t written = 0;
  int rc = SSL_write_ex(ssl.get(), p, n, &written);
  // The transport BIO never refuses a write, so a record is always written whole.
  if (rc != 1 || written != n) return failWith(sslError(rc, "TLS write"));
  return ok();
}

Status TlsEngine::Impl::encryptStaged(bool all) {
  size_t off = 0;
  while (staged.size() - off >= kMaxRecordPlaintext) {
    WARREN_TRY(writeRecord(staged.data() + off, kMaxRecordPlaintext));
    off += kMaxRecordPlaintext;
  }
  if (all && off < staged.size()) {
    WARREN_TRY(writeRecord(staged.data() + off, staged.size() - off));
    off = staged.size();
  }
  staged.erase(staged.begin(), staged.begin() + static_cast<std::ptrdiff_t>(off));
  return ok();
}

Status TlsEngine::Impl::encrypt(std::span<const uint8_t> p, Flush mode) {
  if (staged.size() >= kMaxRecordPlaintext) WARREN_TRY(encryptStaged(false));
  while (!p.empty()) {
    if (staged.empty() && (p.size() >= kMaxRecordPlaintext || mode == Flush::kNow)) {
      // Straight from the caller's memory: a full record, or the short tail of a kNow write.
      size_t n = std::min(p.size(), kMaxRecordPlaintext);
      WARREN_TRY(writeRecord(p.data(), n));
      p = p.subspan(n);
      continue;
    }
    size_t take = std::min(kMaxRecordPlaintext - staged.size(), p.size());
    if (staged.capacity() < kMaxRecordPlaintext) staged.reserve(kMaxRecordPlaintext);
    staged.insert(staged.end(), p.begin(), p.begin() + static_cast<std::ptrdiff_t>(take));
    p = p.subspan(take);
    if (staged.size() == kMaxRecordPlaintext) {
      WARREN_TRY(writeRecord(staged.data(), staged.size()));
      staged.clear();
    }
  }
  return ok();
}

Status TlsEngine::Impl::encryptMessage(std::span<const std::span<const uint8_t>> parts,
                                       size_t total) {
  // A message that fits in a record is not cut across two: the staged record ends first.
  if (!staged.empty() && staged.size() + total > kMaxRecordPlaintext) {
    WARREN_TRY(encryptStaged(true));
  }
  // Full records gathered from the pieces, each encrypted from where its bytes lie. (A message
  // of more pieces than a record gathers goes through the staging buffer instead.)
  constexpr size_t kMaxPieces = 8;
  size_t part = 0, off = 0;
  if (staged.empty() && parts.size() <= kMaxPieces) {
    std::span<const uint8_t> record[kMaxPieces];
    for (size_t left = total; left >= kMaxRecordPlaintext; left -= kMaxRecordPlaintext) {
      size_t n = 0;
      for (size_t want = kMaxRecordPlaintext; want > 0;) {
        size_t take = std::min(want, parts[part].size() - off);
        if (take > 0) record[n++] = parts[part].subspan(off, take);
        want -= take;
        off += take;
        if (off == parts[part].size()) {
          ++part;
          off = 0;
        }
      }
      if (auto st = own->seal({record, n}, out); !st) return failWith(std::move(st).error());
    }
  }
  // The rest joins the staged record (copied; at most one record's worth waits there).
  if (staged.capacity() < kMaxRecordPlaintext) staged.reserve(kMaxRecordPlaintext);
  for (; part < parts.size(); ++part, off = 0) {
    staged.insert(staged.end(), parts[part].begin() + static_cast<std::ptrdiff_t>(off),
                  parts[part].end());
  }
  if (staged.size() >= kMaxRecordPlaintext) WARREN_TRY(encryptStaged(false));
  return ok();
}

void cleanse(RecordState& state) {
  for (TrafficKeys* k : {&state.tx, &state.rx}) {
    OPENSSL_cleanse(k->key.data(), k->key.size());
    OPENSSL_cleanse(k->iv.data(), k->iv.size());
  }
}

Status TlsEngine::Impl::cleanBoundary(bool all_sent) const {
  if (error) return fail(*error);
  if (!handshake_done) return fail(Error::invalid("the TLS handshake has not finished"));
  if (handed_over) return fail(Error::invalid("the record layer was already handed over"));
  if (shutdown_sent || peer_closed) {
    return fail(Error::invalid("the connection is closing (close_notify sent or received)"));
  }
  // Without `all_sent` (the own record layer, which appends its records to the same output and
  // seals what is staged) only what OpenSSL holds of its own matters.
  if (all_sent && !staged.empty()) {
    return fail(Error::invalid(
        fmt::format("{} bytes of plaintext are staged, not yet in a record", staged.size())));
  }
  if (all_sent && out.size() != 0) {
    return fail(Error::invalid(fmt::format("{} bytes of ciphertext are not sent yet", out.size())));
  }
  if (own) {
    if (own->holdsInput()) {
      return fail(
          Error::invalid("received bytes are held in the record layer (a partial record "
                         "or handshake message)"));
    }
    return ok();
  }
  // SSL_has_pending() misses a record whose header alone arrived (its 5 bytes already left the
  // unprocessed count, nothing is decrypted yet): "RB" is OpenSSL reading a record's body.
  if (SSL_has_pending(ssl.get()) != 0 || std::strcmp(SSL_rstate_string(ssl.get()), "RB") == 0) {
    return fail(
        Error::invalid("received bytes are held in the engine (a partial record or "
                       "undelivered plaintext)"));
  }
  if (state_lost) return fail(*state_lost);
  if (SSL_get_key_update_type(ssl.get()) != SSL_KEY_UPDATE_NONE) {
    return fail(
        Error::invalid("a KeyUpdate of ours is due (the peer asked for it) and not sent yet"));
  }
  if (!tx.counting || !rx.counting || tx.secret.empty() || rx.secret.empty()) {
    return fail(Error(ErrorCode::kInternal, "the traffic secrets were not captured"));
  }
  return ok();
}

Status TlsEngine::Impl::flush() {
  if (handed_over) return ok();
  if (error) return fail(*error);
  if (!handshake_done) {
    flush_after_handshake = true;
    return ok();
  }
  return encryptStaged(true);
}

// ---- TlsEngine ----

namespace {

Result<std::unique_ptr<TlsEngine::Impl>> newImpl(const TlsContext& ctx, TlsEngineOptions options) {
  auto impl = std::make_unique<TlsEngine::Impl>();
  impl->role = ctx.role();
  impl->options = options;
  impl->ssl.reset(SSL_new(ctx.raw()));
  if (!impl->ssl) return fail(identity::opensslError(ErrorCode::kInternal, "SSL_new"));
  const BIO_METHOD* method = transportMethod();
  if (method == nullptr) {
    return fail(identity::opensslError(ErrorCode::kInternal, "creating the transport BIO method"));
  }
  BIO* bio = BIO_new(method);
  if (bio == nullptr) return fail(identity::opensslError(ErrorCode::kInternal, "BIO_new"));
  BIO_set_data(bio, impl.get());
  SSL_set_bio(impl->ssl.get(), bio, bio);  // one reference, owned by the SSL
  SSL_set_app_data(impl->ssl.get(), impl.get());
  return impl;
}

}  // namespace

TlsEngine::TlsEngine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TlsEngine::TlsEngine(TlsEngine&&) noexcept = default;
TlsEngine& TlsEngine::operator=(TlsEngine&&) noexcept = default;
TlsEngine::~TlsEngine() = default;

Result<TlsEngine> TlsEngine::client(const TlsContext& ctx,
                                    std::vector<SpiffeId> expected_server_ids,
                                    TlsEngineOptions options) {
  if (ctx.role() != TlsRole::kClient) {
    return fail(Error::invalid("TlsEngine::client needs a client TlsContext"));
  }
  if (expected_server_ids.empty()) {
    return fail(Error::invalid("TlsEngine::client needs at least one expected server identity"));
  }
  auto impl = newImpl(ctx, options);
  if (!impl) return fail(std::move(impl).error());
  (*impl)->policy.expected = std::move(expected_server_ids);
  SSL_set_connect_state((*impl)->ssl.get());
  // No SNI: the destination is an IP and already known (INTEROP §2).
  ERR_clear_error();
  int rc = SSL_do_handshake((*impl)->ssl.get());
  if (rc != 1 && SSL_get_error((*impl)->ssl.get(), rc) != SSL_ERROR_WANT_READ) {
    return fail((*impl)->sslError(rc, "TLS ClientHello"));
  }
  return TlsEngine(std::move(*impl));
}

Result<TlsEngine> TlsEngine::server(const TlsContext& ctx, TlsEngineOptions options) {
  if (ctx.role() != TlsRole::kServer) {
    return fail(Error::invalid("TlsEngine::server needs a server TlsContext"));
  }
  auto impl = newImpl(ctx, options);
  if (!impl) return fail(std::move(impl).error());
  (*impl)->policy.trust_domain = ctx.localIdentity().trustDomain();
  SSL_set_accept_state((*impl)->ssl.get());
  return TlsEngine(std::move(*impl));
}

Result<FeedResult> TlsEngine::feed(std::span<const uint8_t> ciphertext,
                                   std::span<uint8_t> plaintext) {
  Impl& s = *impl_;
  if (s.error) return fail(*s.error);
  FeedResult r;
  if (s.handed_over) {  // the kernel decrypted: plaintext arrives as it is
    r.consumed = r.plaintext = std::min(ciphertext.size(), plaintext.size());
    if (r.plaintext > 0) std::memcpy(plaintext.data(), ciphertext.data(), r.plaintext);
    return r;
  }
  if (s.peer_closed) {
    // Anything after close_notify is ignored (RFC 8446 §6.1).
    r.consumed = ciphertext.size();
    return r;
  }
  if (s.own) return s.openOwn(ciphertext, plaintext, r);
  s.in = ciphertext;
  s.in_pos = 0;
  struct LoanEnd {  // the span is only borrowed for this call
    Impl& s;
    ~LoanEnd() { s.in = {}; }
  } loan_end{s};

  if (!s.handshake_done) {
    ERR_clear_error();
    int rc = SSL_do_handshake(s.ssl.get());
    if (rc == 1) {
      r.handshake_completed = true;
      if (auto st = s.onHandshakeDone(); !st) return fail(std::move(st).error());
      // OpenSSL reads no further than the record that finished the handshake, so this is a
      // record boundary on the receive side even when more ciphertext follows in this call.
      if (s.options.own_records_at_handshake && s.switchToOwnRecords()) {
        size_t used = s.in_pos;
        auto rest = s.openOwn(ciphertext.subspan(used), plaintext, r);
        if (rest) rest->consumed += used;
        return rest;
      }
    } else if (SSL_get_error(s.ssl.get(), rc) == SSL_ERROR_WANT_READ) {
      r.consumed = s.in_pos;
      return r;
    } else {
      return fail(s.failWith(s.sslError(rc, "TLS handshake")).error());
    }
  }

  while (r.plaintext < plaintext.size()) {
    ERR_clear_error();
    size_t n = 0;
    int rc = SSL_read_ex(s.ssl.get(), plaintext.data() + r.plaintext,
                         plaintext.size() - r.plaintext, &n);
    if (rc == 1) {
      r.plaintext += n;
      continue;
    }
    int code = SSL_get_error(s.ssl.get(), rc);
    if (code == SSL_ERROR_WANT_READ) break;
    if (code == SSL_ERROR_ZERO_RETURN) {
      s.peer_closed = true;
      r.peer_closed = true;
      s.in_pos = s.in.size();
      break;
    }
    return fail(s.failWith(s.sslError(rc, "TLS read")).error());
  }
  r.consumed = s.in_pos;
  return r;
}

Result<size_t> TlsEngine::write(std::span<const uint8_t> plaintext, Flush flush_mode) {
  Impl& s = *impl_;
  if (s.error) return fail(*s.error);
  if (s.shutdown_sent) return fail(Error::invalid("TLS write after close_notify was queued"));
  size_t n = std::min(plaintext.size(), writable());
  if (n < plaintext.size() && flush_mode == Flush::kLater && s.handshake_done && !s.handed_over) {
    // Cut by the output limit: whole records only (after completing a staged one). A tail taken
    // here would be staged, and every record after it would be copied through the staging
    // buffer: the caller's next write no longer starts on a record boundary.
    size_t fill =
        (kMaxRecordPlaintext - s.staged.size() % kMaxRecordPlaintext) % kMaxRecordPlaintext;
    if (n > fill) n = fill + (n - fill) / kMaxRecordPlaintext * kMaxRecordPlaintext;
  }
  auto accepted = plaintext.first(n);
  if (s.handed_over) {  // the kernel encrypts
    s.out.append(accepted.data(), accepted.size());
    return n;
  }
  if (!s.handshake_done) {
    s.staged.insert(s.staged.end(), accepted.begin(), accepted.end());
    if (flush_mode == Flush::kNow) s.flush_after_handshake = true;
    return n;
  }
  WARREN_TRY(s.encrypt(accepted, flush_mode));
  if (flush_mode == Flush::kNow && !s.staged.empty()) WARREN_TRY(s.encryptStaged(true));
  return n;
}

Result<bool> TlsEngine::writeMessage(std::span<const std::span<const uint8_t>> parts) {
  Impl& s = *impl_;
  if (s.error) return fail(*s.error);
  if (s.shutdown_sent) return fail(Error::invalid("TLS write after close_notify was queued"));
  size_t total = 0;
  for (auto part : parts) total += part.size();
  bool idle = s.out.empty() && s.staged.empty();
  if (total > writable() && !idle) return false;
  if (s.handshake_done && !s.handed_over && s.own) {
    WARREN_TRY(s.encryptMessage(parts, total));
    return true;
  }
  // Before the handshake (staged), through the kernel (passed on) or OpenSSL's records: piece
  // by piece, as write() does with each (the check above made room for all of them).
  for (auto part : parts) {
    if (s.handed_over) {
      s.out.append(part.data(), part.size());
    } else if (!s.handshake_done) {
      s.staged.insert(s.staged.end(), part.begin(), part.end());
    } else {
      WARREN_TRY(s.encrypt(part, Flush::kLater));
    }
  }
  return true;
}

Status TlsEngine::flush() { return impl_->flush(); }

Status TlsEngine::shutdown() {
  Impl& s = *impl_;
  if (s.error) return fail(*s.error);
  if (s.shutdown_sent) return ok();
  if (!s.handshake_done) {
    return fail(Error::invalid("TLS shutdown before the handshake finished: close the transport"));
  }
  if (s.handed_over) {  // no close_notify: the TCP close ends the connection
    s.shutdown_sent = true;
    return ok();
  }
  WARREN_TRY(s.encryptStaged(true));
  if (s.own) {
    if (auto st = s.own->closeNotify(s.out); !st) return s.failWith(std::move(st).error());
    s.shutdown_sent = true;
    return ok();
  }
  ERR_clear_error();
  int rc = SSL_shutdown(s.ssl.get());
  if (rc < 0) return s.failWith(s.sslError(rc, "TLS shutdown"));
  s.shutdown_sent = true;
  return ok();
}

size_t TlsEngine::writable() const {
  const Impl& s = *impl_;
  if (s.error || s.shutdown_sent) return 0;
  size_t used = s.out.size() + s.staged.size();
  return used >= s.options.output_limit ? 0 : s.options.output_limit - used;
}

std::span<const uint8_t> TlsEngine::pendingOutput() const { return impl_->out.data(); }
void TlsEngine::consumeOutput(size_t n) { impl_->out.consume(n); }
size_t TlsEngine::takeOutput(std::span<uint8_t> out) { return impl_->out.copyOut(out); }
std::vector<char> TlsEngine::takeOutput(std::vector<char> spare) {
  return impl_->out.takeAll(std::move(spare));
}

size_t TlsEngine::releaseIdleMemory() {
  Impl& s = *impl_;
  s.out.releaseIfEmpty();
  if (s.staged.empty()) std::vector<uint8_t>().swap(s.staged);
  if (s.own) s.own->releaseIdleMemory();
  return bufferCapacity();
}

size_t TlsEngine::bufferCapacity() const {
  return impl_->out.capacity() + impl_->staged.capacity() +
         (impl_->own ? impl_->own->bufferCapacity() : 0);
}

Status TlsEngine::updateKeys(bool ask_peer) {
  Impl& s = *impl_;
  if (s.error) return fail(*s.error);
  if (!s.handshake_done || s.handed_over || s.shutdown_sent) {
    return fail(
        Error::invalid("KeyUpdate needs an open connection whose records this engine writes"));
  }
  WARREN_TRY(s.encryptStaged(true));  // staged bytes belong to the old key's records
  if (s.own) {
    if (auto st = s.own->updateKeys(ask_peer, s.out); !st) return s.failWith(std::move(st).error());
    return ok();
  }
  ERR_clear_error();
  if (SSL_key_update(s.ssl.get(),
                     ask_peer ? SSL_KEY_UPDATE_REQUESTED : SSL_KEY_UPDATE_NOT_REQUESTED) != 1) {
    return s.failWith(s.sslError(0, "TLS KeyUpdate"));
  }
  int rc = SSL_do_handshake(s.ssl.get());  // writes the KeyUpdate now
  if (rc != 1) return s.failWith(s.sslError(rc, "TLS KeyUpdate"));
  return ok();
}

Result<RecordState> TlsEngine::exportRecordState() const {
  const Impl& s = *impl_;
  WARREN_TRY(s.cleanBoundary());
  if (s.own) return s.own->state();
  RecordState st;
  st.cipher_suite = s.cipherSuite();
  const EVP_MD* md = suiteHash(s.ssl.get());
  for (auto [from, to] : {std::pair{&s.tx, &st.tx}, std::pair{&s.rx, &st.rx}}) {
    auto keys = trafficKeys(md, st.cipher_suite, from->secret);
    if (!keys) return fail(std::move(keys).error());
    *to = std::move(*keys);
    to->seq = from->records;
  }
  return st;
}

Status TlsEngine::Impl::switchToOwnRecords() {
  if (own) return fail(Error::invalid("the engine already carries its own records"));
  WARREN_TRY(cleanBoundary(/*all_sent=*/false));
  auto layer = RecordLayer::create(cipherSuite(), suiteHash(ssl.get()), tx.secret, tx.records,
                                   rx.secret, rx.records);
  if (!layer) return fail(std::move(layer).error());
  own.emplace(std::move(*layer));
  // OpenSSL reads and writes no record from now on: its record buffers (~33 KiB) go.
  SSL_free_buffers(ssl.get());
  return ok();
}

Status TlsEngine::useOwnRecordLayer() { return impl_->switchToOwnRecords(); }

bool TlsEngine::ownRecordLayer() const { return impl_->own.has_value(); }

Status TlsEngine::handOverRecordLayer() {
  WARREN_TRY(impl_->cleanBoundary());
  impl_->handed_over = true;
  return ok();
}

bool TlsEngine::recordLayerHandedOver() const { return impl_->handed_over; }

bool TlsEngine::handshakeDone() const { return impl_->handshake_done && !impl_->error; }
bool TlsEngine::peerClosed() const { return impl_->peer_closed; }
bool TlsEngine::shutdownSent() const { return impl_->shutdown_sent; }
bool TlsEngine::failed() const { return impl_->error.has_value(); }
const Error* TlsEngine::error() const { return impl_->error ? &*impl_->error : nullptr; }
bool TlsEngine::hasBufferedPlaintext() const {
  return !impl_->own && SSL_pending(impl_->ssl.get()) > 0;
}

const std::optional<SpiffeId>& TlsEngine::peerIdentity() const { return impl_->peer; }
std::string_view TlsEngine::alpn() const { return selectedAlpn(impl_->ssl.get()); }
std::string_view TlsEngine::cipherName() const {
  const SSL_CIPHER* c = SSL_get_current_cipher(impl_->ssl.get());
  return c == nullptr ? std::string_view() : SSL_CIPHER_get_name(c);
}

}  // namespace warren::tls
