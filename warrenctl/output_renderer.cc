#include "warrenctl/output_renderer.h"

#include "warrenctl/resource_tables.h"
#include "warrenctl/yaml_renderer.h"

namespace warren::ctl {

std::optional<OutputFormat> parseOutputFormat(const std::string& name) {
  if (name == "table" || name == "wide") return OutputFormat::kTable;
  if (name == "json") return OutputFormat::kJson;
  if (name == "yaml") return OutputFormat::kYaml;
  return std::nullopt;
}

std::string renderOutput(ResourceKind kind, const nlohmann::json& doc, OutputFormat format) {
  switch (format) {
    case OutputFormat::kJson:
      return doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    case OutputFormat::kYaml:
      return renderYaml(doc);
    case OutputFormat::kTable:
      break;
  }
  return renderResourceTable(kind, doc);
}

std::string renderAll(const std::vector<std::pair<ResourceKind, Result<nlohmann::json>>>& docs,
                      OutputFormat format) {
  if (format == OutputFormat::kTable) {
    std::string out;
    for (const auto& [kind, doc] : docs) {
      if (!out.empty()) out += "\n";
      out += std::string("== ") + resourceName(kind) + " ==\n";
      out += doc ? renderResourceTable(kind, *doc) : "error: " + doc.error().message() + "\n";
    }
    return out;
  }
  nlohmann::json all = nlohmann::json::object();
  nlohmann::json errors = nlohmann::json::object();
  for (const auto& [kind, doc] : docs) {
    if (doc)
      all[resourceName(kind)] = *doc;
    else
      errors[resourceName(kind)] = doc.error().message();
  }
  if (!errors.empty()) all["errors"] = errors;
  if (format == OutputFormat::kJson)
    return all.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  return renderYaml(all);
}

}  // namespace warren::ctl
