// fuzz-link: warren_agent_lib
//
// A manifest file as the agent's manifest-directory informer and the lab's `apply` read it:
// multi-document YAML through common/k8s (parseManifests, every kind's decoder), into the
// agent's ClusterModel (core kinds, EndpointSlice, AuthorizationPolicy, PeerAuthentication,
// Gateway, HTTPRoute), then translation to the xDS resources ztunnel gets, the enrolment
// decision and the admin API's documents. The input is the YAML text itself.
//
// Two applications of the same objects: as a complete state (replace_all) on a fresh model,
// and as changes on top of a small valid cluster (fuzz/fuzz_cluster.h) (where a bad new version of
// an object must leave its last good version in place).
//
// Invariants: no crash, no sanitizer report, no exception escaping (yaml-cpp's and
// nlohmann's are caught at the boundaries); an error names its source; every parsed object
// has a kind and a valid name (or a generateName) and survives toYaml -> parseManifests with the
// same key; applying changes never loses an object of the base cluster; every xDS resource carries
// the type URL it is filed under and a version; the admin documents serialise.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "agent/admin/cluster_documents.h"
#include "agent/model/cluster_model.h"
#include "agent/model/enrolment.h"
#include "agent/translate/xds_resources.h"
#include "common/k8s/object.h"
#include "common/log.h"
#include "fuzz/fuzz_cluster.h"

namespace {

using namespace warren;

void check(bool ok, const char* what) { fuzz::invariant(ok, "k8s_manifest_fuzz", what); }

size_t objectCount(const agent::ClusterSnapshot& s) {
  return s.namespaces.size() + s.pods.size() + s.services.size() + s.service_accounts.size() +
         s.endpoint_slices.size() + s.authorization_policies.size() +
         s.peer_authentications.size() + s.gateways.size() + s.http_routes.size();
}

void useSnapshot(const agent::ClusterSnapshot& snap) {
  agent::TranslationContext ctx;
  agent::XdsBuild build = agent::buildXdsResources(snap, ctx);
  for (const auto& [type_url, resources] : build.resources) {
    for (const auto& [name, r] : resources) {
      check(!name.empty(), "an xDS resource without a name");
      check(!r.version.empty(), "an xDS resource without a version");
      check(r.body->type_url() == type_url, "an xDS resource filed under another type URL");
    }
  }
  for (const auto& [key, pod] : snap.pods)
    (void)agent::enrolledPodsOnNode(snap, pod->spec.node_name);
  nlohmann::json docs = {agent::admin::workloadItems(snap, ctx, {}),
                         agent::admin::serviceItems(snap, ctx),
                         agent::admin::policyItems(snap, ctx)};
  (void)docs.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = [] { return log::setLevel("off").has_value(); }();
  (void)quiet;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto objects = k8s::parseManifests(text, "fuzz.yaml");
  if (!objects) {
    check(objects.error().message().find("fuzz.yaml") != std::string::npos,
          "a parse error that does not name its source");
    return 0;
  }
  for (const auto& obj : *objects) {
    check(!obj.kind.empty(), "an object without a kind");
    check(obj.meta.name.empty() ? !obj.meta.generate_name.empty() : k8s::isValidName(obj.meta.name),
          "an object with an invalid name");
    auto again = k8s::parseManifests(k8s::toYaml(obj), "again.yaml");
    check(again.has_value(), "toYaml output does not parse back");
    check(again->size() == 1 && (*again)[0].key() == obj.key(), "toYaml changed the object");
  }

  {  // The whole state, on a fresh model.
    agent::ClusterModel model;
    agent::ConfigUpdate u;
    u.replace_all = true;
    u.upserts = *objects;
    size_t skipped = model.apply(std::move(u));
    check(skipped <= objects->size(), "more objects skipped than given");
    useSnapshot(*model.snapshot());
  }
  {  // Changes on top of a valid cluster: bad new versions keep the last good ones.
    agent::ClusterModel model;
    fuzz::loadCluster(model);
    const size_t before = objectCount(*model.snapshot());
    agent::ConfigUpdate change;
    change.upserts = std::move(*objects);
    (void)model.apply(std::move(change));
    check(objectCount(*model.snapshot()) >= before, "an update without deletes lost objects");
    useSnapshot(*model.snapshot());
  }
  return 0;
}
