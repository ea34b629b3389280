// fuzz-link: warren_tls
//
// Fuzz target: what a peer sends after the handshake, opened by the engine's own record layer
// (common/tls/record_layer.h, the records of every HBONE connection the kernel does not take).
// Random bytes never authenticate, so the input describes records and this target seals them
// with the peer's key (production RecordCipher) before the layer opens them: that reaches the
// content types, alerts and post-handshake messages (KeyUpdate, NewSessionTicket) behind the
// AEAD. Raw bytes after the described records reach the framing and header checks.
//
// Input: byte 0 = the chunk size the stream is fed in (0 = whole). Then records, each
//   [type][len_hi][len_lo][len bytes of plaintext]   (type 0xff: the rest of the input is raw)
// sealed with RecordCipher(type, plaintext) unless the plaintext is over 16,384 bytes.
// Invariants: no crash, hang or leak; open() either fails (and the layer stays failed: the
// caller closes) or consumes only what it was given and delivers at most the room it had;
// every application-data byte sealed before the first failure or close arrives in order.
#include <cstdint>
#include <string>
#include <vector>

#include "common/tls/record_layer.h"
#include "fuzz/invariant.h"
#include "fuzz/seed_file.h"

namespace {

using warren::tls::OutputBuffer;
using warren::tls::RecordCipher;
using warren::tls::RecordLayer;
using warren::tls::TrafficKeys;

const uint8_t kSecret[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                             17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

void check(bool ok, const char* what) { warren::fuzz::invariant(ok, "tls_records", what); }

// The peer's sealing cipher: the keys the layer derives for its receive side.
RecordCipher peerCipher() {
  auto keys = warren::tls::trafficKeys(EVP_sha256(), 0x1301, kSecret);
  check(keys.has_value(), "traffic keys derive");
  auto c = RecordCipher::create(0x1301, *keys);
  check(c.has_value(), "peer cipher");
  return std::move(*c);
}

std::string inputOf(std::span<const uint8_t> data) {
  return {reinterpret_cast<const char*>(data.data()), data.size()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  auto layer = RecordLayer::create(0x1301, EVP_sha256(), kSecret, 0, kSecret, 0);
  check(layer.has_value(), "record layer");
  RecordCipher peer = peerCipher();
  OutputBuffer wire;
  std::string expected;  // application data sealed, in order
  size_t chunk = data[0];
  size_t pos = 1;
  while (pos + 3 <= size && data[pos] != 0xff) {
    uint8_t type = data[pos];
    size_t len = (size_t{data[pos + 1]} << 8) | data[pos + 2];
    pos += 3;
    len = std::min(len, size - pos);
    std::span<const uint8_t> plain(data + pos, len);
    pos += len;
    if (len > warren::tls::kMaxRecordContent) continue;
    check(peer.seal(type, plain, wire).has_value(), "seal");
    // What the layer reads: the last non-zero byte of plaintext + type is the content type,
    // zeros after it padding (a type byte 0 makes the plaintext's tail the padding).
    std::string inner = inputOf(plain) + static_cast<char>(type);
    while (!inner.empty() && inner.back() == 0) inner.pop_back();
    if (!inner.empty() &&
        static_cast<uint8_t>(inner.back()) == warren::tls::kContentApplicationData) {
      expected += inner.substr(0, inner.size() - 1);
    }
  }
  if (pos < size && data[pos] == 0xff) {  // raw bytes
    ++pos;
    wire.append(data + pos, size - pos);
  }

  std::span<const uint8_t> rest = wire.data();
  if (chunk == 0) chunk = rest.size();
  std::vector<uint8_t> plain(20000);
  OutputBuffer out;
  std::string got;
  std::string pending;
  size_t fed = 0;
  for (int turns = 0; turns < 100000 && (fed < rest.size() || !pending.empty()); ++turns) {
    size_t n = std::min(chunk, rest.size() - fed);
    pending.append(reinterpret_cast<const char*>(rest.data()) + fed, n);
    fed += n;
    std::span<const uint8_t> in(reinterpret_cast<const uint8_t*>(pending.data()), pending.size());
    auto r = layer->open(in, plain, out);
    if (!r) break;  // the connection ends here
    check(r->consumed <= in.size(), "consumed at most what it was given");
    check(r->plaintext <= plain.size(), "delivered at most its room");
    got.append(reinterpret_cast<const char*>(plain.data()), r->plaintext);
    pending.erase(0, r->consumed);
    if (r->peer_closed) break;
    if (n == 0 && r->consumed == 0 && r->plaintext == 0) break;
  }
  check(expected.compare(0, got.size(), got) == 0, "application data arrives in order, as sealed");
  return 0;
}

// --make-seeds DIR: records a peer sends after the handshake, each a seed; byte 0 the chunk.
extern "C" int WarrenFuzzMakeSeeds(const char* dir_arg) {
  const std::string dir = dir_arg;
  auto record = [](uint8_t type, std::string_view plain) {
    std::string r = {static_cast<char>(type), static_cast<char>(plain.size() >> 8),
                     static_cast<char>(plain.size() & 0xff)};
    return r + std::string(plain);
  };
  const std::string data = record(23, "hello over HBONE");
  const std::string big = record(23, std::string(16384, 'x'));
  const std::string key_update_asked = record(22, std::string("\x18\x00\x00\x01\x01", 5));
  const std::string key_update = record(22, std::string("\x18\x00\x00\x01\x00", 5));
  const std::string ticket = record(22, std::string("\x04\x00\x00\x08ticket!!", 12));
  const std::string close_notify = record(21, std::string("\x01\x00", 2));
  const std::string fatal = record(21, std::string("\x02\x28", 2));
  const std::string padded = record(0, std::string("pad\x17\0\0\0", 7));  // type 0: padding
  const std::string raw = std::string(1, '\xff') + std::string("\x17\x03\x03\x41\x01", 5);
  bool ok = warren::fuzz::writeSeed(dir, "data", 0, data + big) &&
            warren::fuzz::writeSeed(dir, "data_chunks_7", 7, data + big + data) &&
            warren::fuzz::writeSeed(dir, "key_update_asked", 0, data + key_update_asked + data) &&
            warren::fuzz::writeSeed(dir, "key_update", 3, key_update + data) &&
            warren::fuzz::writeSeed(dir, "ticket", 0, ticket + data) &&
            warren::fuzz::writeSeed(dir, "close_notify", 0, data + close_notify + data) &&
            warren::fuzz::writeSeed(dir, "fatal_alert", 0, fatal) &&
            warren::fuzz::writeSeed(dir, "inner_padding", 0, padded) &&
            warren::fuzz::writeSeed(dir, "overlong_raw", 0, data + raw);
  return ok ? 0 : 1;
}
