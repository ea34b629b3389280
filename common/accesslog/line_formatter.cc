#include "common/accesslog/line_formatter.h"

#include <spdlog/details/log_msg.h>

#include <chrono>
#include <ctime>

namespace warren::accesslog {
namespace {

void digits(char* at, unsigned value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    at[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

void append(spdlog::memory_buf_t& dest, spdlog::string_view_t s) {
  dest.append(s.data(), s.data() + s.size());
}

}  // namespace

void LineFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  using namespace std::chrono;
  const auto since = msg.time.time_since_epoch();
  const int64_t second = duration_cast<seconds>(since).count();
  if (second != second_) {
    std::time_t t = static_cast<std::time_t>(second);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    digits(&stamp_[0], static_cast<unsigned>(tm.tm_year + 1900), 4);
    stamp_[4] = '-';
    digits(&stamp_[5], static_cast<unsigned>(tm.tm_mon + 1), 2);
    stamp_[7] = '-';
    digits(&stamp_[8], static_cast<unsigned>(tm.tm_mday), 2);
    stamp_[10] = 'T';
    digits(&stamp_[11], static_cast<unsigned>(tm.tm_hour), 2);
    stamp_[13] = ':';
    digits(&stamp_[14], static_cast<unsigned>(tm.tm_min), 2);
    stamp_[16] = ':';
    digits(&stamp_[17], static_cast<unsigned>(tm.tm_sec), 2);
    stamp_[19] = '.';
    second_ = second;
  }
  dest.append(stamp_.data(), stamp_.data() + stamp_.size());
  char micros[8];
  digits(micros, static_cast<unsigned>(duration_cast<microseconds>(since).count() % 1'000'000), 6);
  micros[6] = 'Z';
  micros[7] = ' ';
  dest.append(micros, micros + sizeof micros);
  append(dest, spdlog::level::to_string_view(msg.level));
  dest.push_back(' ');
  append(dest, msg.logger_name);
  dest.push_back(':');
  dest.push_back(' ');
  append(dest, msg.payload);
  dest.push_back('\n');
}

std::unique_ptr<spdlog::formatter> LineFormatter::clone() const {
  return std::make_unique<LineFormatter>();
}

}  // namespace warren::accesslog
