// Character classes of RFC 9110 §5.6 / RFC 9112, shared by the parser and the serializer so
// both sides agree on what may appear where.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace warren::http1::syntax {

namespace detail {
constexpr std::array<bool, 256> tokenTable() {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<uint8_t>(c)] = true;
  return t;
}
inline constexpr std::array<bool, 256> kToken = tokenTable();
}  // namespace detail

// tchar: the bytes of a method, a field name, a transfer coding.
constexpr bool isTokenChar(unsigned char c) { return detail::kToken[c]; }
constexpr bool isToken(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (!isTokenChar(c)) return false;
  return true;
}
// VCHAR: visible US-ASCII.
constexpr bool isVisible(unsigned char c) { return c >= 0x21 && c <= 0x7e; }
constexpr bool isWhitespace(unsigned char c) { return c == ' ' || c == '\t'; }  // SP / HTAB
// field-vchar / SP / HTAB, obs-text (0x80-0xFF) included: no NUL, CR, LF or other control.
constexpr bool isFieldValueChar(unsigned char c) {
  return isVisible(c) || isWhitespace(c) || c >= 0x80;
}
constexpr bool isDigit(unsigned char c) { return c >= '0' && c <= '9'; }
constexpr int hexValue(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// ASCII case-insensitive equality (field names, codings, connection options).
constexpr bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    unsigned char x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
    if (x >= 'A' && x <= 'Z') x = static_cast<unsigned char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<unsigned char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

// Without leading and trailing SP/HTAB (OWS).
constexpr std::string_view trimWhitespace(std::string_view s) {
  while (!s.empty() && isWhitespace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && isWhitespace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Calls fn(element) for each non-empty element of a comma-separated list (RFC 9110 §5.6.1),
// trimmed of OWS.
template <class Fn>
constexpr void forEachListElement(std::string_view list, Fn&& fn) {
  while (true) {
    size_t comma = list.find(',');
    std::string_view item = trimWhitespace(list.substr(0, comma));
    if (!item.empty()) fn(item);
    if (comma == std::string_view::npos) return;
    list.remove_prefix(comma + 1);
  }
}

}  // namespace warren::http1::syntax
