#include "common/metrics/istio_labels.h"

namespace warren::metrics {
namespace {

std::string orUnknown(const std::string& s) { return s.empty() ? std::string("unknown") : s; }

void appendSideNames(std::vector<std::string>& out, const std::string& side) {
  for (const char* n : {"workload", "canonical_service", "canonical_revision", "workload_namespace",
                        "principal", "app", "version", "cluster"})
    out.push_back(side + "_" + n);
}

void appendSideValues(std::vector<std::string>& out, const WorkloadLabels& w) {
  for (const std::string* v : {&w.workload, &w.canonical_service, &w.canonical_revision,
                               &w.workload_namespace, &w.principal, &w.app, &w.version, &w.cluster})
    out.push_back(orUnknown(*v));
}

// Everything up to and including request_protocol; the caller appends the rest.
std::vector<std::string> leadingNames() {
  std::vector<std::string> names = {"reporter"};
  appendSideNames(names, "source");
  names.insert(names.end(), {"destination_service", "destination_service_namespace",
                             "destination_service_name"});
  appendSideNames(names, "destination");
  names.push_back("request_protocol");
  return names;
}

std::vector<std::string> leadingValues(const TrafficLabels& l, size_t extra) {
  std::vector<std::string> v;
  v.reserve(23 + extra);
  v.push_back(orUnknown(l.reporter));
  appendSideValues(v, l.source);
  v.push_back(orUnknown(l.destination_service.host));
  v.push_back(orUnknown(l.destination_service.namespace_));
  v.push_back(orUnknown(l.destination_service.name));
  appendSideValues(v, l.destination);
  v.push_back(orUnknown(l.request_protocol));
  return v;
}

}  // namespace

const std::vector<std::string>& trafficLabelNames() {
  static const std::vector<std::string> kNames = [] {
    auto names = leadingNames();
    names.insert(names.end(), {"response_flags", "connection_security_policy"});
    return names;
  }();
  return kNames;
}

std::vector<std::string> trafficLabelValues(const TrafficLabels& l) {
  auto v = leadingValues(l, 0);
  v.push_back(orUnknown(l.response_flags));
  v.push_back(orUnknown(l.connection_security_policy));
  return v;
}

const std::vector<std::string>& requestLabelNames() {
  static const std::vector<std::string> kNames = [] {
    auto names = leadingNames();
    names.insert(names.end(), {"response_code", "grpc_response_status", "response_flags",
                               "connection_security_policy"});
    return names;
  }();
  return kNames;
}

std::vector<std::string> requestLabelValues(const TrafficLabels& l,
                                            const std::string& response_code,
                                            const std::string& grpc_status) {
  auto v = leadingValues(l, 2);
  v.push_back(orUnknown(response_code));
  v.push_back(grpc_status);  // Istio: "" on non-gRPC requests, never "unknown"
  v.push_back(orUnknown(l.response_flags));
  v.push_back(orUnknown(l.connection_security_policy));
  return v;
}

}  // namespace warren::metrics
