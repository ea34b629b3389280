#include "warrenctl/table_renderer.h"

#include <gtest/gtest.h>

#include "warrenctl/resource_tables.h"

namespace warren::ctl {
namespace {

TEST(TableRenderer, AlignsAndTrims) {
  Table t{{"A", "LONGER", "C"}, {{"xx", "y", ""}, {"é", "", "zz"}, {"short"}}};
  EXPECT_EQ(renderTable(t),
            "A       LONGER   C\n"
            "xx      y\n"
            "é                zz\n"
            "short\n");
  EXPECT_EQ(renderTable(Table{{"A"}, {}}, "No things found."), "No things found.\n");
  EXPECT_EQ(renderTable(Table{{"A"}, {}}), "A\n");
  EXPECT_EQ(renderTable(Table{{"A", "B"}, {{"x\ny", "\x1b[31m"}}}), "A     B\nx y    [31m\n");
}

TEST(TableRenderer, FormatAge) {
  EXPECT_EQ(formatAge(0), "0s");
  EXPECT_EQ(formatAge(59.9), "59s");
  EXPECT_EQ(formatAge(185.4), "3m5s");
  EXPECT_EQ(formatAge(7200), "2h0m");
  EXPECT_EQ(formatAge(90000), "1d1h");
  EXPECT_EQ(formatAge(-1), "-");
}

TEST(ResourceTables, ToleratesWrongShapes) {
  // Whatever an agent sends, the table renders (with "-") instead of throwing.
  for (const char* doc : {"null", "[]", "{}", R"({"items": 5})", R"({"items": [1, "x", null]})",
                          R"({"items": [{"name": 5, "addresses": {"a": 1}, "ports": 3}]})",
                          R"({"items": [{"source": "x", "destination": [1], "policy": 2}]})",
                          R"({"counters": [], "programs": {}, "links": "x"})"}) {
    auto j = nlohmann::json::parse(doc);
    for (ResourceKind k :
         {ResourceKind::kWorkloads, ResourceKind::kServices, ResourceKind::kPolicies,
          ResourceKind::kCertificates, ResourceKind::kConnections, ResourceKind::kRedirection,
          ResourceKind::kXdsSubscribers, ResourceKind::kConfigDump, ResourceKind::kLog,
          ResourceKind::kVersion})
      EXPECT_NO_THROW(renderResourceTable(k, j)) << doc << " " << resourceName(k);
  }
}

}  // namespace
}  // namespace warren::ctl
