// Kubernetes objects as read from manifests: the generic envelope every kind shares
// (apiVersion, kind, metadata) plus the parsed YAML for kind-specific decoding. The lab stores
// these as its API server; the agent reads them as its informer. Errors name the file, the
// object and the field: "web.yaml: Pod default/web-1: spec.containers[0].ports[0]: ...".
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace warren::k8s {

using Labels = std::map<std::string, std::string>;

struct ObjectMeta {
  std::string name;
  std::string namespace_;  // empty for cluster-scoped kinds; "default" when omitted otherwise
  std::string uid;
  std::string resource_version;
  std::string generate_name;
  // metadata.generation: bumped by the API server (and the manifest store) on every spec
  // change; status conditions carry it back as observedGeneration. 0 = not tracked.
  int64_t generation = 0;
  std::string creation_timestamp;  // RFC 3339, "2026-11-22T10:00:00Z"; "" when unknown
  Labels labels;
  Labels annotations;
};

// Copies are deep: YAML::Node has reference semantics, and assigning to a node that another
// object shares rewrites both, so copying and assigning an Object clone or rebind its node.
struct Object {
  Object() = default;
  Object(const Object& other);
  Object(Object&& other) noexcept = default;  // the source's node goes with it
  Object& operator=(const Object& other);
  Object& operator=(Object&& other) noexcept;
  ~Object() = default;

  std::string api_version;
  std::string kind;
  ObjectMeta meta;
  YAML::Node node;     // the whole document, for kind-specific decoding
  std::string source;  // where it came from (file path), for error messages

  // "Pod/default/web-1"; "Namespace//demo" for cluster-scoped kinds. Unique per object.
  std::string key() const;
  // "Pod default/web-1", "Namespace demo": how errors name the object.
  std::string describe() const;
  // An error about one field: "<source>: <describe>: <field>: <what>".
  Error fieldError(std::string_view field, std::string_view what) const;
};

bool isClusterScoped(std::string_view kind);

// DNS-1123 subdomain (lowercase alphanumerics, '-', '.'; starts and ends alphanumeric; <= 253).
bool isValidName(std::string_view name);

// A kind as Kubernetes accepts one: a letter, then letters, digits or '-' (not last), <= 63
// (the lower-cased kind is a DNS-1035 label).
bool isValidKind(std::string_view kind);

// Every document of a multi-document YAML text (empty documents skipped, `kind: List` items
// flattened). Any error rejects the whole text, so a caller applies all of it or none.
Result<std::vector<Object>> parseManifests(std::string_view text, const std::string& source);
Result<std::vector<Object>> loadManifestFile(const std::string& path);

// The object's document as YAML text (metadata reflected from `meta`).
std::string toYaml(const Object& obj);

// The object's document as JSON (metadata reflected from `meta`), as the Kubernetes API takes
// it. Scalars that were quoted (tag "!": every JSON string, e.g. what came from the API server
// or from fromJson) stay strings; plain ones become null, true/false (lower case only, so a
// condition's "True" stays a string), integers, numbers, else strings.
nlohmann::json toJson(const Object& obj);
// A JSON document as an Object (validated like a manifest): build objects this way so their
// strings keep their type on the way back to JSON.
Result<Object> fromJson(const nlohmann::json& doc, const std::string& source);
// A YAML subtree as JSON, with the scalar rules of toJson.
nlohmann::json yamlToJson(const YAML::Node& node);

// Field readers over a YAML node with a dotted path for errors. They accept a missing field
// (returning the default) but reject one of the wrong type.
class Fields {
 public:
  Fields(const Object& obj, YAML::Node node, std::string path)
      : obj_(&obj), node_(std::move(node)), path_(std::move(path)) {}

  bool has(const std::string& key) const;
  Fields child(const std::string& key) const;  // map member (may be missing)
  Fields item(size_t index) const;             // sequence element
  size_t size() const;                         // sequence length (0 if missing)
  bool isSequence() const { return node_.IsSequence(); }
  bool isMap() const { return node_.IsMap(); }
  bool missing() const { return !node_.IsDefined() || node_.IsNull(); }

  Result<std::string> str(const std::string& key, std::string def = "") const;
  Result<int64_t> integer(const std::string& key, int64_t def, int64_t min, int64_t max) const;
  Result<bool> boolean(const std::string& key, bool def) const;
  Result<Labels> stringMap(const std::string& key) const;
  Result<std::vector<std::string>> stringList(const std::string& key) const;
  // Requires the node itself to be a map/sequence (or missing), naming the path otherwise.
  Status expectMap() const;
  Status expectSequence() const;

  const YAML::Node& node() const { return node_; }
  const std::string& path() const { return path_; }
  std::string pathOf(const std::string& key) const {
    return path_.empty() ? key : path_ + "." + key;
  }
  Error error(const std::string& key, std::string_view what) const;

 private:
  const Object* obj_;
  YAML::Node node_;
  std::string path_;
};

}  // namespace warren::k8s
