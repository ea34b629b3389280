#include "waypoint/request/header_map.h"

#include <algorithm>

namespace warren::waypoint {
namespace {

char lowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// `stored` is already lower-case; `name` may not be.
bool nameIs(const std::string& stored, std::string_view name) {
  if (stored.size() != name.size()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (stored[i] != lowerAscii(name[i])) return false;
  }
  return true;
}

}  // namespace

std::string toLowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lowerAscii(c);
  return out;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lowerAscii(a[i]) != lowerAscii(b[i])) return false;
  }
  return true;
}

HeaderMap::HeaderMap(std::initializer_list<std::pair<std::string_view, std::string_view>> entries) {
  for (const auto& [name, value] : entries) add(name, value);
}

void HeaderMap::add(std::string_view name, std::string_view value) {
  addLowered(toLowerAscii(name), value);
}

void HeaderMap::addLowered(std::string lowered_name, std::string_view value) {
  entries_.push_back(Entry{std::move(lowered_name), std::string(value)});
}

void HeaderMap::set(std::string_view name, std::string_view value) {
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [&](const Entry& e) { return nameIs(e.name, name); });
  if (it == entries_.end()) {
    add(name, value);
    return;
  }
  it->value.assign(value);
  // Drop later duplicates, keeping the first entry's position.
  entries_.erase(std::remove_if(std::next(it), entries_.end(),
                                [&](const Entry& e) { return nameIs(e.name, name); }),
                 entries_.end());
}

size_t HeaderMap::remove(std::string_view name) {
  auto before = entries_.size();
  entries_.erase(std::remove_if(entries_.begin(), entries_.end(),
                                [&](const Entry& e) { return nameIs(e.name, name); }),
                 entries_.end());
  return before - entries_.size();
}

const std::string* HeaderMap::first(std::string_view name) const {
  for (const auto& e : entries_) {
    if (nameIs(e.name, name)) return &e.value;
  }
  return nullptr;
}

std::optional<std::string> HeaderMap::joined(std::string_view name) const {
  std::optional<std::string> out;
  for (const auto& e : entries_) {
    if (!nameIs(e.name, name)) continue;
    if (out) {
      out->push_back(',');
      out->append(e.value);
    } else {
      out = e.value;
    }
  }
  return out;
}

std::optional<std::string_view> HeaderMap::joinedView(std::string_view name,
                                                      std::string& scratch) const {
  const Entry* only = nullptr;
  for (const auto& e : entries_) {
    if (!nameIs(e.name, name)) continue;
    if (only) {
      scratch = *joined(name);
      return std::string_view(scratch);
    }
    only = &e;
  }
  if (!only) return std::nullopt;
  return std::string_view(only->value);
}

bool connectionSpecific(std::string_view lower) {
  return lower == "connection" || lower == "keep-alive" || lower == "proxy-connection" ||
         lower == "transfer-encoding" || lower == "upgrade" || lower == "te";
}

}  // namespace warren::waypoint
