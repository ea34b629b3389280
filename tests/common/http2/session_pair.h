// Test harness: a recording SessionCallbacks and an in-memory wire between two sessions.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/http2/session.h"

namespace warren::http2::testing {

// Deterministic payload byte at offset i (not periodic over short ranges).
inline uint8_t patternByte(uint64_t i) {
  uint64_t x = i * 0x9E3779B97F4A7C15ull;
  return static_cast<uint8_t>((x >> 29) ^ (i >> 8));
}

inline std::vector<uint8_t> patternBytes(uint64_t offset, size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = patternByte(offset + i);
  return v;
}

inline std::span<const uint8_t> asBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Records every event; optionally consumes data at once and answers requests.
class Recorder : public SessionCallbacks {
 public:
  Session* session = nullptr;
  bool auto_consume = true;
  // Store received data (off for bulk transfers, which verify the pattern instead).
  bool keep_data = true;
  // When set, each stream's data is checked against patternByte(offset).
  bool verify_pattern = false;
  // Server: the status to answer every request with (0 = do not answer).
  int auto_status = 0;
  std::function<void(StreamId, const HeaderList&)> on_request;

  std::vector<std::pair<StreamId, HeaderList>> requests;
  std::map<StreamId, int> responses;
  std::map<StreamId, HeaderList> response_headers;
  std::map<StreamId, HeaderList> trailers;
  // Event order per stream: "request", "response", "data", "trailers", "end", "close".
  std::map<StreamId, std::vector<std::string>> order;
  std::map<StreamId, std::string> data;
  std::map<StreamId, uint64_t> received;  // bytes per stream
  uint64_t pattern_mismatches = 0;
  std::set<StreamId> ended;
  std::map<StreamId, uint32_t> closed;
  std::vector<StreamId> writable;
  std::optional<std::pair<uint32_t, uint32_t>> goaway;  // last stream id, error code

  void onRequest(StreamId id, const HeaderList& headers) override {
    requests.emplace_back(id, headers);
    order[id].push_back("request");
    if (on_request) on_request(id, headers);
    if (auto_status != 0) {
      EXPECT_TRUE(session->respond(id, auto_status).has_value());
    }
  }
  void onResponse(StreamId id, int status, const HeaderList& headers) override {
    responses[id] = status;
    response_headers[id] = headers;
    order[id].push_back("response");
  }
  void onTrailers(StreamId id, const HeaderList& fields) override {
    trailers[id] = fields;
    order[id].push_back("trailers");
  }
  void onData(StreamId id, std::span<const uint8_t> bytes) override {
    if (order[id].empty() || order[id].back() != "data") order[id].push_back("data");
    if (verify_pattern) {
      uint64_t off = received[id];
      for (size_t i = 0; i < bytes.size(); ++i) {
        if (bytes[i] != patternByte(off + i)) ++pattern_mismatches;
      }
    }
    received[id] += bytes.size();
    if (keep_data) data[id].append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    if (auto_consume) session->consume(id, bytes.size());
  }
  void onEndOfStream(StreamId id) override {
    ended.insert(id);
    order[id].push_back("end");
  }
  void onStreamClose(StreamId id, uint32_t code) override {
    closed[id] = code;
    order[id].push_back("close");
  }
  void onStreamWritable(StreamId id) override { writable.push_back(id); }
  void onGoAway(uint32_t last, uint32_t code) override { goaway = {last, code}; }
};

// A client and a server session joined by an in-memory wire.
struct SessionPair {
  explicit SessionPair(SessionConfig client_config = {}, SessionConfig server_config = {},
                       TimePoint now = TimePoint{}) {
    auto c = Session::create(Role::kClient, client_config, client_events, now);
    auto s = Session::create(Role::kServer, server_config, server_events, now);
    EXPECT_TRUE(c.has_value());
    EXPECT_TRUE(s.has_value());
    client = std::move(*c);
    server = std::move(*s);
    client_events.session = client.get();
    server_events.session = server.get();
  }

  // Moves bytes both ways until neither side has anything to send, calling `between` before
  // each round (to feed more data). Returns the number of rounds; fails the test on a
  // dispatch error unless errors are expected.
  size_t pump(const std::function<void()>& between = {}, size_t max_rounds = 1'000'000) {
    size_t rounds = 0;
    for (; rounds < max_rounds; ++rounds) {
      if (between) between();
      bool moved = move(*client, *server, server_status) | move(*server, *client, client_status);
      if (!moved) break;
    }
    EXPECT_LT(rounds, max_rounds) << "pump did not settle";
    return rounds;
  }

  Recorder client_events;
  Recorder server_events;
  std::unique_ptr<Session> client;
  std::unique_ptr<Session> server;
  Status client_status;  // last dispatch result on each side
  Status server_status;
  uint64_t client_to_server_bytes = 0;

 private:
  bool move(Session& from, Session& to, Status& status) {
    auto out = from.pendingOutput();
    if (out.empty()) return false;
    if (&from == client.get()) client_to_server_bytes += out.size();
    if (status) status = to.dispatch(out);
    from.drainOutput(out.size());
    return true;
  }
};

// Opens a CONNECT stream and completes it with a 200.
inline StreamId openTunnel(SessionPair& p, const std::string& authority = "10.0.0.2:8080") {
  p.server_events.auto_status = 200;
  auto id = p.client->openStream({{":method", "CONNECT"}, {":authority", authority}});
  EXPECT_TRUE(id.has_value()) << (id ? "" : id.error().message());
  p.pump();
  EXPECT_EQ(p.client_events.responses[*id], 200);
  return *id;
}

}  // namespace warren::http2::testing
