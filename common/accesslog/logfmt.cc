#include "common/accesslog/logfmt.h"

#include <spdlog/spdlog.h>

#include <cctype>
#include <mutex>

namespace warren::accesslog {

namespace {

bool needsEscape(char c) { return c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20; }

void appendEscaped(std::string& out, std::string_view v) {
  out.push_back('"');
  // Runs of plain characters (nearly every value) go in whole, not a byte at a time.
  size_t i = 0;
  while (i < v.size()) {
    size_t run = i;
    while (run < v.size() && !needsEscape(v[run])) ++run;
    out.append(v.data() + i, run - i);
    if (run == v.size()) break;
    const char c = v[run];
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      const auto u = static_cast<unsigned char>(c);
      out += "\\x";
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xf]);
    }
    i = run + 1;
  }
  out.push_back('"');
}

}  // namespace

std::string quoteValue(std::string_view v) {
  std::string out;
  appendEscaped(out, v);
  return out;
}

void appendQuoted(std::string& line, std::string_view key, std::string_view value) {
  if (value.empty()) return;
  line += ' ';
  line += key;
  line += '=';
  appendEscaped(line, value);
}

void appendBare(std::string& line, std::string_view key, std::string_view value) {
  if (value.empty()) return;
  for (char c : value) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == ':' || c == '[' ||
          c == ']' || c == '-')) {
      appendQuoted(line, key, value);
      return;
    }
  }
  line += ' ';
  line += key;
  line += '=';
  line += value;
}

const std::shared_ptr<spdlog::logger>& accessLogger() {
  static std::once_flag once;
  static std::shared_ptr<spdlog::logger> logger;
  std::call_once(once, [] {
    if ((logger = spdlog::get("access"))) return;
    auto def = spdlog::default_logger();
    logger = std::make_shared<spdlog::logger>("access", def->sinks().begin(), def->sinks().end());
    logger->set_level(spdlog::get_level());
    // Registered, so spdlog::set_level (the admin API's PUT /log) reaches it too.
    spdlog::register_logger(logger);
  });
  return logger;
}

}  // namespace warren::accesslog
