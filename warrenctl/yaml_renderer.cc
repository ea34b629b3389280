#include "warrenctl/yaml_renderer.h"

#include <yaml-cpp/yaml.h>

namespace warren::ctl {
namespace {

void emit(YAML::Emitter& out, const nlohmann::json& j) {
  using nlohmann::json;
  switch (j.type()) {
    case json::value_t::object:
      out << YAML::BeginMap;
      for (const auto& [k, v] : j.items()) {
        out << YAML::Key << k << YAML::Value;
        emit(out, v);
      }
      out << YAML::EndMap;
      break;
    case json::value_t::array:
      out << YAML::BeginSeq;
      for (const auto& v : j) emit(out, v);
      out << YAML::EndSeq;
      break;
    case json::value_t::string:
      // Strings that would read back as another type ("true", "12", "null", "") stay strings.
      out << YAML::DoubleQuoted << j.get<std::string>();
      break;
    case json::value_t::boolean:
      out << j.get<bool>();
      break;
    case json::value_t::number_integer:
      out << j.get<int64_t>();
      break;
    case json::value_t::number_unsigned:
      out << j.get<uint64_t>();
      break;
    case json::value_t::number_float:
      out << j.get<double>();
      break;
    default:
      out << YAML::Null;
  }
}

}  // namespace

std::string renderYaml(const nlohmann::json& doc) {
  YAML::Emitter out;
  out.SetIndent(2);
  emit(out, doc);
  std::string s = out.c_str();
  if (s.empty() || s.back() != '\n') s += '\n';
  return s;
}

}  // namespace warren::ctl
