// The agent tests' one way to get a ClusterSnapshot: the YAML documents through a real
// ClusterModel, as the informers feed it. `expect_bad`: how many objects it must reject.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "agent/model/cluster_model.h"
#include "common/k8s/object.h"

namespace warren::agent::testing {

inline SnapshotPtr snapshotOf(const std::string& yaml, size_t expect_bad = 0) {
  ClusterModel model;
  ConfigUpdate u;
  u.replace_all = true;
  auto objs = k8s::parseManifests(yaml, "test.yaml");
  EXPECT_TRUE(objs) << objs.error().message();
  if (objs) u.upserts = *objs;
  EXPECT_EQ(model.apply(std::move(u)), expect_bad);
  return model.snapshot();
}

}  // namespace warren::agent::testing
