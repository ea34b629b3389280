// The admin API's cluster documents (warrenctl/README.md "The agent admin API"): pure
// functions from one ClusterSnapshot to the JSON items of /api/v1/workloads, services and
// policies, so every field is table-tested without a server. The shapes are the contract
// warrenctl's golden tests pin; a field the agent does not know is "" / null / [] / {}.
#pragma once

#include <google/protobuf/message.h>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "agent/model/cluster_snapshot.h"
#include "agent/translate/workload_translation.h"

namespace warren::agent::admin {

// {"kind": kind, "node": node, "items": items}: the envelope every list document shares.
nlohmann::json listDocument(const std::string& kind, const std::string& node, nlohmann::json items);

// "ns/name" -> netns cookie of this node's enrolled pods whose netns the agent holds.
using NetnsCookies = std::map<std::string, uint64_t>;

// Every workload the agent serves over xDS (cluster-wide; pods without an IP are not served),
// sorted by namespace/name. netns_cookie from `cookies`, else null.
nlohmann::json workloadItems(const ClusterSnapshot& snapshot, const TranslationContext& ctx,
                             const NetnsCookies& cookies);

// Every service sent over xDS (headless/ExternalName are not), with the workloads backing it.
nlohmann::json serviceItems(const ClusterSnapshot& snapshot, const TranslationContext& ctx);

// AuthorizationPolicies and PeerAuthentications with what they became for ztunnel.
nlohmann::json policyItems(const ClusterSnapshot& snapshot, const TranslationContext& ctx);

// "ns/name" of a waypoint given as an xDS GatewayAddress: a hostname names it directly; an
// address is looked up among the snapshot's service VIPs; "" when there is none.
std::string waypointName(const ClusterSnapshot& snapshot,
                         const istio::workload::GatewayAddress& waypoint);

// A protobuf message as JSON with the proto field names (snake_case, as Istio's own dumps).
nlohmann::json protoJson(const google::protobuf::Message& m);

// Textual form of a 4- or 16-byte address ("" for anything else).
std::string ipText(const std::string& bytes);

}  // namespace warren::agent::admin
