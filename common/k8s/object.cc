#include "common/k8s/object.h"

#include <fstream>
#include <memory>
#include <set>
#include <sstream>

namespace warren::k8s {
namespace {

const std::set<std::string_view>& clusterScopedKinds() {
  static const std::set<std::string_view> kinds = {"Namespace",          "Node",
                                                   "GatewayClass",       "ClusterRole",
                                                   "ClusterRoleBinding", "CustomResourceDefinition",
                                                   "PersistentVolume",   "StorageClass"};
  return kinds;
}

// A lookup on a const node never inserts (yaml-cpp's non-const operator[] does).
YAML::Node lookup(const YAML::Node& n, const std::string& key) {
  if (!n.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  const YAML::Node& c = n;
  YAML::Node v = c[key];
  // A missing key yields a "zombie" node that throws on Type(); hand back a valid Undefined.
  if (!v.IsDefined()) return YAML::Node(YAML::NodeType::Undefined);
  return v;
}

std::string typeName(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Null:
      return "null";
    default:
      return "undefined";
  }
}

Result<Object> envelope(const YAML::Node& doc, const std::string& source, size_t index) {
  Object obj;
  obj.source = source;
  obj.node = doc;
  std::string where = source + ": document " + std::to_string(index + 1);
  if (!doc.IsMap()) return fail(Error::invalid(where + ": expected a map, got " + typeName(doc)));
  auto scalar = [&](const char* key) -> Result<std::string> {
    YAML::Node v = lookup(doc, key);
    if (!v.IsDefined() || v.IsNull()) return fail(Error::invalid(where + ": missing " + key));
    if (!v.IsScalar()) return fail(Error::invalid(where + ": " + key + ": expected a string"));
    return v.Scalar();
  };
  auto api = scalar("apiVersion");
  if (!api) return fail(api.error());
  auto kind = scalar("kind");
  if (!kind) return fail(kind.error());
  // A kind is a type name: Kubernetes checks the lower-cased kind as a DNS-1035 label (CRD
  // names.kind). Anything else (control bytes, bytes that are not UTF-8) would not survive
  // toYaml and back as the same object (found by k8s_manifest_fuzz).
  if (!isValidKind(*kind))
    return fail(Error::invalid(where + ": kind: '" + *kind +
                               "' is not a Kubernetes kind (a letter, then letters, digits or "
                               "'-', at most 63)"));
  obj.api_version = *api;
  obj.kind = *kind;

  Fields meta(obj, lookup(doc, "metadata"), "metadata");
  if (meta.missing()) return fail(Error::invalid(where + ": " + obj.kind + ": missing metadata"));
  if (auto s = meta.expectMap(); !s) return fail(s.error());
  auto name = meta.str("name");
  if (!name) return fail(name.error());
  auto ns = meta.str("namespace");
  if (!ns) return fail(ns.error());
  auto gen = meta.str("generateName");
  if (!gen) return fail(gen.error());
  obj.meta.name = *name;
  obj.meta.generate_name = *gen;
  if (obj.meta.name.empty() && obj.meta.generate_name.empty())
    return fail(Error::invalid(where + ": " + obj.kind + ": metadata.name: missing"));
  if (!obj.meta.name.empty() && !isValidName(obj.meta.name))
    return fail(Error::invalid(where + ": " + obj.kind + " " + obj.meta.name +
                               ": metadata.name: not a valid DNS-1123 name"));
  if (isClusterScoped(obj.kind)) {
    obj.meta.namespace_.clear();
  } else {
    obj.meta.namespace_ = ns->empty() ? "default" : *ns;
    if (!isValidName(obj.meta.namespace_))
      return fail(obj.fieldError("metadata.namespace", "not a valid DNS-1123 name"));
  }
  auto uid = meta.str("uid");
  if (!uid) return fail(uid.error());
  obj.meta.uid = *uid;
  auto rv = meta.str("resourceVersion");
  if (!rv) return fail(rv.error());
  obj.meta.resource_version = *rv;
  auto generation = meta.integer("generation", 0, 0, INT64_MAX);
  if (!generation) return fail(generation.error());
  obj.meta.generation = *generation;
  auto created = meta.str("creationTimestamp");
  if (!created) return fail(created.error());
  obj.meta.creation_timestamp = *created;
  auto labels = meta.stringMap("labels");
  if (!labels) return fail(labels.error());
  obj.meta.labels = std::move(*labels);
  auto ann = meta.stringMap("annotations");
  if (!ann) return fail(ann.error());
  obj.meta.annotations = std::move(*ann);
  return obj;
}

}  // namespace

Object::Object(const Object& other)
    : api_version(other.api_version),
      kind(other.kind),
      meta(other.meta),
      node(YAML::Clone(other.node)),
      source(other.source) {}

Object& Object::operator=(const Object& other) {
  if (this != &other) *this = Object(other);
  return *this;
}

Object& Object::operator=(Object&& other) noexcept {
  api_version = std::move(other.api_version);
  kind = std::move(other.kind);
  meta = std::move(other.meta);
  // Rebind rather than assign: YAML::Node::operator= would write through to every node
  // sharing ours.
  std::destroy_at(&node);
  std::construct_at(&node, other.node);
  source = std::move(other.source);
  return *this;
}

std::string Object::key() const { return kind + "/" + meta.namespace_ + "/" + meta.name; }

std::string Object::describe() const {
  std::string name = meta.name.empty() ? meta.generate_name + "*" : meta.name;
  return meta.namespace_.empty() ? kind + " " + name : kind + " " + meta.namespace_ + "/" + name;
}

Error Object::fieldError(std::string_view field, std::string_view what) const {
  std::string s = source.empty() ? "" : source + ": ";
  return Error::invalid(s + describe() + ": " + std::string(field) + ": " + std::string(what));
}

bool isClusterScoped(std::string_view kind) { return clusterScopedKinds().contains(kind); }

bool isValidName(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(name.front()) || !alnum(name.back())) return false;
  for (char c : name)
    if (!alnum(c) && c != '-' && c != '.') return false;
  return true;
}

bool isValidKind(std::string_view kind) {
  if (kind.empty() || kind.size() > 63) return false;
  auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (!letter(kind.front()) || kind.back() == '-') return false;
  for (char c : kind)
    if (!letter(c) && !digit(c) && c != '-') return false;
  return true;
}

Result<std::vector<Object>> parseManifests(std::string_view text, const std::string& source) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& e) {
    return fail(Error::invalid(source + ": line " + std::to_string(e.mark.line + 1) + ", column " +
                               std::to_string(e.mark.column + 1) + ": " + e.msg));
  }
  std::vector<Object> out;
  size_t index = 0;
  for (const YAML::Node& doc : docs) {
    size_t this_index = index++;
    if (!doc.IsDefined() || doc.IsNull()) continue;
    YAML::Node kind = lookup(doc, "kind");
    if (doc.IsMap() && kind.IsScalar() && kind.Scalar() == "List") {
      YAML::Node items = lookup(doc, "items");
      if (!items.IsSequence())
        return fail(Error::invalid(source + ": document " + std::to_string(this_index + 1) +
                                   ": List: items: expected a list"));
      for (const YAML::Node& item : items) {
        auto obj = envelope(item, source, this_index);
        if (!obj) return fail(obj.error());
        out.push_back(std::move(*obj));
      }
      continue;
    }
    auto obj = envelope(doc, source, this_index);
    if (!obj) return fail(obj.error());
    out.push_back(std::move(*obj));
  }
  return out;
}

Result<std::vector<Object>> loadManifestFile(const std::string& path) {
  std::ifstream f(path);
  if (!f) return fail(WARREN_SYS_ERROR("open manifest " + path));
  std::stringstream ss;
  ss << f.rdbuf();
  return parseManifests(ss.str(), path);
}

std::string toYaml(const Object& obj) {
  YAML::Node doc = YAML::Clone(obj.node);
  doc["apiVersion"] = obj.api_version;
  doc["kind"] = obj.kind;
  YAML::Node meta = doc["metadata"];
  meta["name"] = obj.meta.name;
  if (!obj.meta.namespace_.empty()) meta["namespace"] = obj.meta.namespace_;
  if (!obj.meta.uid.empty()) meta["uid"] = obj.meta.uid;
  if (!obj.meta.resource_version.empty()) meta["resourceVersion"] = obj.meta.resource_version;
  if (obj.meta.generation > 0) meta["generation"] = obj.meta.generation;
  if (!obj.meta.creation_timestamp.empty()) meta["creationTimestamp"] = obj.meta.creation_timestamp;
  if (obj.meta.labels.empty()) {
    meta.remove("labels");
  } else {
    YAML::Node labels(YAML::NodeType::Map);
    for (const auto& [k, v] : obj.meta.labels) labels[k] = v;
    meta["labels"] = labels;
  }
  if (!obj.meta.annotations.empty()) {
    YAML::Node ann(YAML::NodeType::Map);
    for (const auto& [k, v] : obj.meta.annotations) ann[k] = v;
    meta["annotations"] = ann;
  }
  YAML::Emitter emitter;
  emitter << doc;
  return std::string(emitter.c_str()) + "\n";
}

nlohmann::json yamlToJson(const YAML::Node& n) {
  using nlohmann::json;
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& kv : n) out[kv.first.Scalar()] = yamlToJson(kv.second);
      return out;
    }
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const auto& item : n) out.push_back(yamlToJson(item));
      return out;
    }
    case YAML::NodeType::Scalar: {
      const std::string& v = n.Scalar();
      if (n.Tag() == "!") return v;  // quoted: a string whatever it looks like
      if (v == "null" || v == "~") return nullptr;
      if (v == "true") return true;
      if (v == "false") return false;
      if (!v.empty() && v.find_first_not_of("-0123456789") == std::string::npos &&
          v.find('-', 1) == std::string::npos && v != "-") {
        try {
          size_t used = 0;
          long long i = std::stoll(v, &used);
          if (used == v.size()) return i;
        } catch (const std::exception&) {
        }
      }
      return v;
    }
    default:
      return nullptr;
  }
}

nlohmann::json toJson(const Object& obj) {
  nlohmann::json doc = obj.node.IsMap() ? yamlToJson(obj.node) : nlohmann::json::object();
  doc["apiVersion"] = obj.api_version;
  doc["kind"] = obj.kind;
  nlohmann::json& meta = doc["metadata"];
  if (!meta.is_object()) meta = nlohmann::json::object();
  meta["name"] = obj.meta.name;
  if (!obj.meta.namespace_.empty()) meta["namespace"] = obj.meta.namespace_;
  if (!obj.meta.uid.empty()) meta["uid"] = obj.meta.uid;
  if (!obj.meta.resource_version.empty())
    meta["resourceVersion"] = obj.meta.resource_version;
  else
    meta.erase("resourceVersion");
  if (obj.meta.generation > 0) meta["generation"] = obj.meta.generation;
  if (!obj.meta.creation_timestamp.empty()) meta["creationTimestamp"] = obj.meta.creation_timestamp;
  if (obj.meta.labels.empty())
    meta.erase("labels");
  else
    meta["labels"] = obj.meta.labels;
  if (obj.meta.annotations.empty())
    meta.erase("annotations");
  else
    meta["annotations"] = obj.meta.annotations;
  return doc;
}

Result<Object> fromJson(const nlohmann::json& doc, const std::string& source) {
  auto objs = parseManifests(doc.dump(), source);
  if (!objs) return fail(objs.error());
  if (objs->size() != 1)
    return fail(
        Error::invalid(source + ": expected one object, got " + std::to_string(objs->size())));
  return std::move(objs->front());
}

// ---- Fields ----

bool Fields::has(const std::string& key) const {
  YAML::Node v = lookup(node_, key);
  return v.IsDefined() && !v.IsNull();
}

Fields Fields::child(const std::string& key) const {
  return Fields(*obj_, lookup(node_, key), pathOf(key));
}

Fields Fields::item(size_t index) const {
  YAML::Node v(YAML::NodeType::Undefined);
  if (node_.IsSequence() && index < node_.size()) {
    const YAML::Node& c = node_;
    v = c[index];
  }
  return Fields(*obj_, v, path_ + "[" + std::to_string(index) + "]");
}

size_t Fields::size() const { return node_.IsSequence() ? node_.size() : 0; }

Error Fields::error(const std::string& key, std::string_view what) const {
  return obj_->fieldError(key.empty() ? path_ : pathOf(key), what);
}

Status Fields::expectMap() const {
  if (missing() || node_.IsMap()) return ok();
  return fail(obj_->fieldError(path_, "expected a map, got " + typeName(node_)));
}

Status Fields::expectSequence() const {
  if (missing() || node_.IsSequence()) return ok();
  return fail(obj_->fieldError(path_, "expected a list, got " + typeName(node_)));
}

Result<std::string> Fields::str(const std::string& key, std::string def) const {
  if (!missing() && !node_.IsMap()) return fail(obj_->fieldError(path_, "expected a map"));
  YAML::Node v = lookup(node_, key);
  if (!v.IsDefined() || v.IsNull()) return def;
  if (!v.IsScalar()) return fail(error(key, "expected a string, got " + typeName(v)));
  return v.Scalar();
}

Result<int64_t> Fields::integer(const std::string& key, int64_t def, int64_t min,
                                int64_t max) const {
  auto s = str(key);
  if (!s) return fail(s.error());
  if (s->empty() && !has(key)) return def;
  int64_t value = 0;
  size_t used = 0;
  try {
    value = std::stoll(*s, &used, 10);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != s->size())
    return fail(error(key, "expected an integer, got '" + *s + "'"));
  if (value < min || value > max)
    return fail(error(key, std::to_string(value) + " is out of range [" + std::to_string(min) +
                               ", " + std::to_string(max) + "]"));
  return value;
}

Result<bool> Fields::boolean(const std::string& key, bool def) const {
  auto s = str(key);
  if (!s) return fail(s.error());
  if (!has(key)) return def;
  if (*s == "true") return true;
  if (*s == "false") return false;
  return fail(error(key, "expected true or false, got '" + *s + "'"));
}

Result<Labels> Fields::stringMap(const std::string& key) const {
  Labels out;
  YAML::Node v = lookup(node_, key);
  if (!v.IsDefined() || v.IsNull()) return out;
  if (!v.IsMap()) return fail(error(key, "expected a map of strings, got " + typeName(v)));
  for (const auto& kv : v) {
    if (!kv.first.IsScalar() || !(kv.second.IsScalar() || kv.second.IsNull()))
      return fail(error(key, "expected a map of strings"));
    out[kv.first.Scalar()] = kv.second.IsNull() ? "" : kv.second.Scalar();
  }
  return out;
}

Result<std::vector<std::string>> Fields::stringList(const std::string& key) const {
  std::vector<std::string> out;
  YAML::Node v = lookup(node_, key);
  if (!v.IsDefined() || v.IsNull()) return out;
  if (!v.IsSequence()) return fail(error(key, "expected a list of strings, got " + typeName(v)));
  size_t i = 0;
  for (const auto& item : v) {
    if (!item.IsScalar())
      return fail(error(key + "[" + std::to_string(i) + "]", "expected a string"));
    out.push_back(item.Scalar());
    ++i;
  }
  return out;
}

}  // namespace warren::k8s
