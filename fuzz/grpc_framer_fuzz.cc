// Fuzzes gRPC's length-prefixed message framing (common/grpc MessageReader). Input: one flag
// byte, then the DATA bytes of a gRPC stream.
//   bits 0-1: how the input is cut: 0 whole, 1 byte by byte, 2 at a point chosen by the next
//   byte, 3 in pieces of 1..8 bytes chosen by the input itself; bit 2: a 64-byte message
//   limit (else the 4 MiB default); bit 3: compressed messages accepted.
// Properties checked (abort on violation):
//   - streaming is invisible: every cut yields the messages and the error of the input fed whole;
//   - no message exceeds the limit, the reader never holds more than limit + 5 bytes;
//   - without an error, the messages framed again by appendMessage (flags restored) are
//     exactly the input minus the incomplete tail the reader still holds;
//   - finish() fails exactly when a tail is held, and names its size.
// fuzz-link: warren_grpc
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/grpc/message_framer.h"
#include "fuzz/invariant.h"
#include "fuzz/seed_file.h"

namespace {

using namespace warren::grpc;
using warren::fuzz::invariant;

constexpr const char* kTarget = "grpc_framer_fuzz";

struct Outcome {
  std::vector<std::pair<std::vector<uint8_t>, bool>> messages;
  std::optional<std::string> error;
  size_t buffered = 0;
  bool operator==(const Outcome&) const = default;
};

Outcome run(std::span<const uint8_t> data, int mode, size_t limit, bool accept_compressed) {
  MessageReader reader(limit, accept_compressed);
  Outcome out;
  auto sink = [&](std::span<const uint8_t> m, bool compressed) {
    invariant(m.size() <= limit, kTarget, "message over the limit");
    invariant(accept_compressed || !compressed, kTarget, "compressed message delivered");
    out.messages.emplace_back(std::vector<uint8_t>(m.begin(), m.end()), compressed);
  };
  auto feed = [&](std::span<const uint8_t> piece) {
    if (out.error) return;
    auto r = reader.feed(piece, sink);
    invariant(reader.bufferedBytes() <= limit + kMessagePrefixBytes, kTarget,
              "reader holds more than limit + prefix");
    if (!r) out.error = std::to_string(static_cast<int>(r.error().status)) + r.error().message;
  };
  if (mode == 0) {
    feed(data);
  } else if (mode == 1) {
    for (size_t i = 0; i < data.size(); ++i) feed(data.subspan(i, 1));
  } else if (mode == 2) {
    size_t cut = data.empty() ? 0 : data[0] % (data.size() + 1);
    feed(data.first(cut));
    feed(data.subspan(cut));
  } else {
    size_t i = 0;
    while (i < data.size()) {
      size_t n = std::min<size_t>(data.size() - i, 1 + data[i] % 8);
      feed(data.subspan(i, n));
      i += n;
    }
  }
  out.buffered = reader.bufferedBytes();
  auto fin = reader.finish();
  if (!out.error) {
    invariant(fin.has_value() == (out.buffered == 0), kTarget,
              "finish() disagrees with the held tail");
    if (!fin) {
      invariant(fin.error().message.find(std::to_string(out.buffered) + " of") != std::string::npos,
                kTarget, "finish() does not name the held size");
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* raw, size_t size) {
  if (size == 0) return 0;
  uint8_t flags = raw[0];
  std::span<const uint8_t> data(raw + 1, size - 1);
  size_t limit = (flags & 4) != 0 ? 64 : kDefaultMaxMessageBytes;
  bool accept_compressed = (flags & 8) != 0;
  Outcome whole = run(data, 0, limit, accept_compressed);
  Outcome cut = run(data, flags & 3, limit, accept_compressed);
  invariant(cut.messages == whole.messages, kTarget, "a cut changed the messages");
  invariant(cut.error == whole.error, kTarget, "a cut changed the error");
  if (!whole.error) {
    invariant(cut.buffered == whole.buffered, kTarget, "a cut changed the held tail");
    std::vector<uint8_t> again;
    for (const auto& [m, compressed] : whole.messages) {
      size_t at = again.size();
      appendMessage(again, m);
      if (compressed) again[at] = 1;
    }
    invariant(again.size() + whole.buffered == data.size() &&
                  std::equal(again.begin(), again.end(), data.begin()),
              kTarget, "re-framed messages differ from the input");
  }
  return 0;
}

extern "C" int WarrenFuzzMakeSeeds(const char* dir_c) {
  using warren::fuzz::writeSeed;
  std::string dir = dir_c;
  auto framed = [](std::vector<std::string> messages) {
    std::vector<uint8_t> out;
    for (const auto& m : messages) {
      appendMessage(out, std::vector<uint8_t>(m.begin(), m.end()));
    }
    return out;
  };
  struct Seed {
    const char* name;
    uint8_t flags;
    std::vector<uint8_t> bytes;
  };
  // An EchoRequest-like protobuf: field 1 (string) "hello".
  std::string echo = std::string("\x0a\x05hello", 7);
  std::vector<uint8_t> compressed = {1, 0, 0, 0, 3, 'a', 'b', 'c'};
  std::vector<uint8_t> too_large = framed({std::string(65, 'x')});
  std::vector<uint8_t> truncated = framed({"abcdef"});
  truncated.resize(8);
  const Seed seeds[] = {
      {"one_message", 0, framed({echo})},
      {"three_bytewise", 1, framed({echo, "", std::string(40, 'y')})},
      {"cut_at_byte", 2,
       [&] {
         auto v = framed({"first", "second"});
         v.insert(v.begin(), 7);  // first data byte picks the cut
         return v;
       }()},
      {"pieces", 3, framed({std::string(200, 'p'), echo})},
      {"compressed_refused", 0, compressed},
      {"compressed_accepted", 8 | 3, compressed},
      {"reserved_flag", 0, {2, 0, 0, 0, 0}},
      {"too_large_small_limit", 4 | 1, too_large},
      {"truncated", 2, truncated},
      {"empty_message", 0, framed({""})},
  };
  for (const auto& s : seeds) {
    if (!writeSeed(dir, s.name, s.flags, s.bytes)) return 1;
  }
  return 0;
}
