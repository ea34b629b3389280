// Every output form of every resource against a golden file, plus round trips: the JSON and
// YAML forms parse back to exactly the fixture the agent sent (so no field is ever dropped).
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "test_support.h"
#include "warrenctl/output_renderer.h"

namespace warren::ctl {
namespace {

using testing::fixture;
using testing::golden;

const ResourceKind kKinds[] = {
    ResourceKind::kWorkloads,      ResourceKind::kServices,    ResourceKind::kPolicies,
    ResourceKind::kCertificates,   ResourceKind::kConnections, ResourceKind::kRedirection,
    ResourceKind::kXdsSubscribers, ResourceKind::kConfigDump,  ResourceKind::kLog,
    ResourceKind::kVersion,        ResourceKind::kWaypoints,   ResourceKind::kRoutes};

// YAML back to JSON: quoted scalars (tag "!") are strings, plain ones are typed.
nlohmann::json yamlToJson(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::json o = nlohmann::json::object();
      for (const auto& kv : n) o[kv.first.as<std::string>()] = yamlToJson(kv.second);
      return o;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json a = nlohmann::json::array();
      for (const auto& e : n) a.push_back(yamlToJson(e));
      return a;
    }
    case YAML::NodeType::Scalar: {
      if (n.Tag() == "!") return n.as<std::string>();
      const std::string& s = n.Scalar();
      if (s == "true" || s == "false") return s == "true";
      auto parsed = nlohmann::json::parse(s, nullptr, false);
      if (!parsed.is_discarded() && parsed.is_number()) return parsed;
      return s;
    }
    default:
      return nullptr;
  }
}

TEST(RendererGolden, TableJsonYamlForEveryResource) {
  for (ResourceKind kind : kKinds) {
    std::string name = resourceName(kind);
    auto doc = fixture(name);
    for (auto [format, ext] :
         {std::pair{OutputFormat::kTable, "table"}, std::pair{OutputFormat::kJson, "json"},
          std::pair{OutputFormat::kYaml, "yaml"}}) {
      std::string out = renderOutput(kind, doc, format);
      EXPECT_EQ(out, golden(name + "." + ext, out)) << name << " -o " << ext;
    }
  }
}

TEST(RendererGolden, JsonAndYamlCarryEveryField) {
  for (ResourceKind kind : kKinds) {
    std::string name = resourceName(kind);
    auto doc = fixture(name);
    auto from_json = nlohmann::json::parse(renderOutput(kind, doc, OutputFormat::kJson));
    EXPECT_EQ(from_json, doc) << name;
    auto from_yaml = yamlToJson(YAML::Load(renderOutput(kind, doc, OutputFormat::kYaml)));
    EXPECT_EQ(from_yaml, doc) << name;
  }
}

TEST(RendererGolden, AllSections) {
  std::vector<std::pair<ResourceKind, Result<nlohmann::json>>> docs;
  docs.emplace_back(ResourceKind::kWorkloads, fixture("workloads"));
  docs.emplace_back(ResourceKind::kServices, fail(Error(ErrorCode::kNotFound,
                                                        "agent answered GET /api/v1/services with "
                                                        "HTTP 404: no handler")));
  std::string table = renderAll(docs, OutputFormat::kTable);
  EXPECT_EQ(table, golden("all.table", table));
  auto j = nlohmann::json::parse(renderAll(docs, OutputFormat::kJson));
  EXPECT_EQ(j["workloads"], fixture("workloads"));
  EXPECT_EQ(j["errors"]["services"],
            "agent answered GET /api/v1/services with HTTP 404: no handler");
  auto y = yamlToJson(YAML::Load(renderAll(docs, OutputFormat::kYaml)));
  EXPECT_EQ(y, j);
}

TEST(RendererGolden, StringsThatLookLikeOtherTypesStayStrings) {
  nlohmann::json doc = {{"a", "true"}, {"b", "12"},   {"c", ""},
                        {"d", "null"}, {"e", "x: y"}, {"f", "multi\nline"},
                        {"g", 12},     {"h", false},  {"i", 1.5}};
  EXPECT_EQ(
      yamlToJson(YAML::Load(renderOutput(ResourceKind::kConfigDump, doc, OutputFormat::kYaml))),
      doc);
}

}  // namespace
}  // namespace warren::ctl
