#include "lab/lab_names.h"

#include <charconv>

namespace warren::lab {
namespace {

// Strictly digits, no sign, no leading zero: "node-01" is not node 1.
std::optional<int> parseIndex(std::string_view s) {
  if (s.empty() || s.size() > 4 || (s.size() > 1 && s.front() == '0')) return std::nullopt;
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 1) return std::nullopt;
  return v;
}

}  // namespace

Status validateLabName(std::string_view name) {
  auto bad = [&](const std::string& why) {
    return fail(Error::invalid("lab name '" + std::string(name) + "': " + why));
  };
  if (name.empty() || name.size() > 24) return bad("must be 1 to 24 characters");
  if (name.front() < 'a' || name.front() > 'z') return bad("must start with a lowercase letter");
  if (name.back() == '-') return bad("must not end with '-'");
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
      return bad("only lowercase letters, digits and '-' are allowed");
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('-', start);
    if (end == std::string_view::npos) end = name.size();
    std::string_view seg = name.substr(start, end - start);
    if (seg.empty()) return bad("empty segment between '-'");
    if (seg == "node" || seg == "pod" || seg == "ul")
      return bad("the segment '" + std::string(seg) + "' is reserved");
    start = end + 1;
  }
  return ok();
}

std::string LabNames::podNetns(std::string_view ns, std::string_view pod) const {
  // '_' never appears in namespace or pod names (DNS-1123), so the split is unambiguous.
  return name_ + "-pod-" + std::string(ns) + "_" + std::string(pod);
}

std::optional<LabNames::NetnsKind> LabNames::classifyNetns(std::string_view netns) const {
  if (!netns.starts_with(name_ + "-")) return std::nullopt;
  std::string_view rest = netns.substr(name_.size() + 1);
  if (rest == "ul") return NetnsKind::kUnderlay;
  if (rest.starts_with("node-") && parseIndex(rest.substr(5))) return NetnsKind::kNode;
  if (rest.starts_with("pod-") && rest.find('_') != std::string_view::npos)
    return NetnsKind::kPod;
  return std::nullopt;
}

std::optional<int> LabNames::parseNodeName(std::string_view node) {
  if (!node.starts_with("node-")) return std::nullopt;
  auto i = parseIndex(node.substr(5));
  if (!i || *i > kMaxNodes) return std::nullopt;
  return i;
}

std::string LabNames::podCgroup(int node, std::string_view ns, std::string_view pod) const {
  return nodeCgroup(node) + "/pod-" + std::string(ns) + "-" + std::string(pod);
}

std::string LabNames::componentCgroup(int node, std::string_view component) const {
  return nodeCgroup(node) + "/system-" + std::string(component);
}

std::string LabNames::pinDir(int node) const {
  std::string base(kPinBase);
  if (name_ == kDefaultName) return base + "/node-" + std::to_string(node);
  return base + "/" + name_ + "-node-" + std::to_string(node);
}

bool LabNames::isOwnPinDir(std::string_view entry) const {
  std::string prefix = name_ == kDefaultName ? "node-" : name_ + "-node-";
  return entry.starts_with(prefix) && parseIndex(entry.substr(prefix.size())).has_value();
}

}  // namespace warren::lab
