// bench-link: warren_agent_lib
// The agent's cost of one model change: buildXdsResources over a whole snapshot from scratch,
// and with the cache of the previous build after a change to one pod (bench/README "Scale").
// The snapshot is make scale's synthetic model: 500 Running pods per namespace, each selected
// by one of the namespace's 100 Services, plus selector AuthorizationPolicies in each
// namespace. Args: workloads, services, policies per namespace.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>

#include "agent/model/cluster_model.h"
#include "agent/translate/xds_resources.h"
#include "common/k8s/object.h"

namespace warren::agent {
namespace {

constexpr int kPodsPerNamespace = 500;
constexpr int kServicesPerNamespace = 100;

std::string syntheticModel(int workloads, int services, int policies) {
  std::string y;
  const int namespaces = (workloads + kPodsPerNamespace - 1) / kPodsPerNamespace;
  for (int k = 0; k < namespaces; ++k) {
    std::string ns = "synth-" + std::to_string(k);
    y += "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + ns +
         "\n  labels:\n    warren.dev/dataplane-mode: ambient\n---\n";
    for (int p = 0; p < policies; ++p) {
      y +=
          "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: allow-" +
          std::to_string(p) + "\n  namespace: " + ns +
          "\nspec:\n  selector:\n    matchLabels:\n      app: s-" + std::to_string(k) + "-" +
          std::to_string(p % kServicesPerNamespace) +
          "\n  action: ALLOW\n  rules:\n  - from:\n    - source:\n        namespaces: [\"" + ns +
          "\"]\n---\n";
    }
  }
  for (int i = 0; i < workloads; ++i) {
    const int k = i / kPodsPerNamespace;
    const std::string ip = "10.200." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1);
    y += "apiVersion: v1\nkind: Pod\nmetadata:\n  name: w-" + std::to_string(i) +
         "\n  namespace: synth-" + std::to_string(k) + "\n  uid: synthetic-" + std::to_string(i) +
         "\n  labels:\n    app: s-" + std::to_string(k) + "-" +
         std::to_string(i % kPodsPerNamespace % kServicesPerNamespace) +
         "\nspec:\n  nodeName: virtual-" + std::to_string(i % 10 + 1) +
         "\n  serviceAccountName: sa-" + std::to_string(i % 10) +
         "\n  containers:\n  - name: app\n    ports:\n    - containerPort: 8080\nstatus:\n  "
         "phase: Running\n  podIP: " +
         ip + "\n  podIPs:\n  - ip: " + ip + "\n  hostIP: 192.168.200.1\n---\n";
  }
  for (int j = 0; j < services; ++j) {
    const int k = j / kServicesPerNamespace, m = j % kServicesPerNamespace;
    const int h = 32768 + j + 1;
    const std::string ip = "10.96." + std::to_string(h >> 8) + "." + std::to_string(h & 255);
    y += "apiVersion: v1\nkind: Service\nmetadata:\n  name: s-" + std::to_string(k) + "-" +
         std::to_string(m) + "\n  namespace: synth-" + std::to_string(k) +
         "\nspec:\n  selector:\n    app: s-" + std::to_string(k) + "-" + std::to_string(m) +
         "\n  clusterIP: " + ip +
         "\n  ports:\n  - name: http\n    port: 80\n    targetPort: "
         "8080\n---\n";
  }
  return y;
}

// The synthetic model in a ClusterModel, and one of its pods whose labels each step() flips: one
// upsert, after which the model publishes a copy of the previous snapshot with that pod
// replaced (what a pod change costs the model).
class FlippingPod {
 public:
  FlippingPod(int workloads, int services, int policies) {
    auto objs =
        k8s::parseManifests(syntheticModel(workloads, services, policies), "synthetic.yaml");
    if (!objs) std::abort();
    for (const k8s::Object& o : *objs)
      if (o.kind == "Pod") pod_ = o;
    ConfigUpdate all;
    all.replace_all = true;
    all.upserts = std::move(*objs);
    if (model_.apply(std::move(all)) != 0) std::abort();
  }
  void step() {
    k8s::Object changed = pod_;
    changed.meta.labels["flip"] = std::to_string(flip_++ & 1);
    ConfigUpdate u;
    u.upserts.push_back(std::move(changed));
    if (model_.apply(std::move(u)) != 0) std::abort();
  }
  SnapshotPtr snapshot() const { return model_.snapshot(); }

 private:
  ClusterModel model_;
  k8s::Object pod_;
  int flip_ = 0;
};

SnapshotPtr snapshot(int workloads, int services, int policies) {
  return FlippingPod(workloads, services, policies).snapshot();
}

void BM_BuildXdsResources(benchmark::State& state) {
  const int workloads = static_cast<int>(state.range(0));
  const int services = static_cast<int>(state.range(1));
  SnapshotPtr snap = snapshot(workloads, services, static_cast<int>(state.range(2)));
  TranslationContext ctx;
  size_t resources = 0;
  for (auto _ : state) {
    XdsBuild b = buildXdsResources(*snap, ctx);
    resources = 0;
    for (const auto& [type, m] : b.resources) resources += m.size();
    benchmark::DoNotOptimize(resources);
  }
  state.counters["resources"] = static_cast<double>(resources);
}
// The model's part of one change: a pod's labels flip (one upsert) and the model publishes a
// new snapshot (a copy of the previous one with the pod replaced).
void BM_ModelApplyOneChange(benchmark::State& state) {
  FlippingPod model(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)), 1);
  for (auto _ : state) model.step();
}
BENCHMARK(BM_ModelApplyOneChange)->Args({10000, 2000})->Unit(benchmark::kMillisecond);

// The agent's translation of that change as its xDS store makes it: with the cache of the
// previous build, the changed pod is translated again and every other resource is taken from
// the cache (XdsTranslationCache); against BM_BuildXdsResources, everything from scratch.
void BM_BuildXdsResourcesOnePodChanged(benchmark::State& state) {
  FlippingPod model(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)),
                    static_cast<int>(state.range(2)));
  TranslationContext ctx;
  XdsTranslationCache cache;
  (void)buildXdsResources(*model.snapshot(), ctx, &cache);
  for (auto _ : state) {
    state.PauseTiming();
    model.step();
    SnapshotPtr snap = model.snapshot();
    state.ResumeTiming();
    XdsBuild b = buildXdsResources(*snap, ctx, &cache);
    benchmark::DoNotOptimize(b);
  }
  state.counters["pods_translated"] = static_cast<double>(cache.podsTranslated());
}
BENCHMARK(BM_BuildXdsResourcesOnePodChanged)
    ->Args({10000, 2000, 1})
    ->Args({10000, 2000, 50})
    ->Unit(benchmark::kMillisecond);

BENCHMARK(BM_BuildXdsResources)
    ->Args({1000, 200, 1})
    ->Args({10000, 2000, 1})
    ->Args({10000, 2000, 50})
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace warren::agent
