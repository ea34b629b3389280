// gmock double of SessionCallbacks, for tests that assert which events fire and in what order
// (the Recorder in session_pair.h suits bulk tests better).
#pragma once

#include <gmock/gmock.h>

#include "common/http2/session_callbacks.h"

namespace warren::http2::testing {

class MockSessionCallbacks : public SessionCallbacks {
 public:
  MOCK_METHOD(void, onRequest, (StreamId, const HeaderList&), (override));
  MOCK_METHOD(void, onResponse, (StreamId, int, const HeaderList&), (override));
  MOCK_METHOD(void, onData, (StreamId, std::span<const uint8_t>), (override));
  MOCK_METHOD(void, onTrailers, (StreamId, const HeaderList&), (override));
  MOCK_METHOD(void, onEndOfStream, (StreamId), (override));
  MOCK_METHOD(void, onStreamClose, (StreamId, uint32_t), (override));
  MOCK_METHOD(void, onStreamWritable, (StreamId), (override));
  MOCK_METHOD(void, onGoAway, (uint32_t, uint32_t), (override));
};

}  // namespace warren::http2::testing
