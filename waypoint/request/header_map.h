// Request or response headers as a case-insensitive multimap, in arrival order. Names are
// stored lower-case (HTTP/2 requires it, RFC 9113 §8.2.2; HTTP/1.1 names are case-insensitive,
// RFC 9110 §5.1), so every lookup and edit is a plain comparison. Pseudo-headers (":path"...)
// are not kept here: HttpRequest carries them as typed fields.
//
// A repeated header is several entries; `joined` folds them with "," as RFC 9110 §5.3 allows
// and as Envoy's header matchers see them (so matching is the same for "a: 1" + "a: 2" and
// "a: 1,2"). A typical request has a dozen headers, so a vector with a linear scan beats any
// hash map here.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace warren::waypoint {

class HeaderMap {
 public:
  struct Entry {
    std::string name;  // lower-case
    std::string value;
    friend bool operator==(const Entry&, const Entry&) = default;
  };

  HeaderMap() = default;
  HeaderMap(std::initializer_list<std::pair<std::string_view, std::string_view>> entries);

  // Appends one more entry (Gateway API "add": existing values stay, RFC 9110 §5.3).
  void add(std::string_view name, std::string_view value);
  // The same for a name already in lower case (toLowerAscii), taken as it is: a front end that
  // lowered a field's name to check it hands it over instead of lowering a copy again.
  void addLowered(std::string lowered_name, std::string_view value);
  void reserve(size_t n) { entries_.reserve(n); }
  // Replaces every entry of `name` by one (Gateway API "set"); appends when absent.
  void set(std::string_view name, std::string_view value);
  // Removes every entry of `name`; returns how many there were.
  size_t remove(std::string_view name);

  // The first value, or nullptr.
  const std::string* first(std::string_view name) const;
  // All values joined with ",", or nullopt when the header is absent.
  std::optional<std::string> joined(std::string_view name) const;
  // The same without copying in the common case: a view of the only value, or of `scratch`
  // holding the joined values when the header is repeated.
  std::optional<std::string_view> joinedView(std::string_view name, std::string& scratch) const;
  bool contains(std::string_view name) const { return first(name) != nullptr; }

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  auto begin() const { return entries_.begin(); }
  auto end() const { return entries_.end(); }

  friend bool operator==(const HeaderMap&, const HeaderMap&) = default;

 private:
  std::vector<Entry> entries_;
};

// A connection-specific field (RFC 9110 §7.6.1, RFC 9113 §8.2.2): connection, keep-alive,
// proxy-connection, transfer-encoding, upgrade, te. Never forwarded as it came: each front end
// adds what its protocol frames itself (HTTP/1.1: content-length, trailer, expect; HTTP/2:
// host, and `te: trailers` is kept).
bool connectionSpecific(std::string_view lower);

// ASCII lower-casing and case-insensitive comparison (header names, hosts, schemes).
std::string toLowerAscii(std::string_view s);
bool equalsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace warren::waypoint
