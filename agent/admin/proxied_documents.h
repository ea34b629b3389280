// Documents the agent builds from someone else's state: ztunnel's admin endpoint (certificates
// from its /config_dump, connections from its /connections) and the xDS server's per-subscriber
// bookkeeping. Pure: each takes what was fetched (or the fetch error) and returns the status and
// body the admin API answers, so unreachable / old / broken ztunnels are table-tested.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agent/xds/delta_xds_service.h"
#include "common/error.h"
#include "common/http/http_message.h"

namespace warren::agent::admin {

struct AdminAnswer {
  int status = 200;
  nlohmann::json body;
};

// {"error": message}.
AdminAnswer errorAnswer(int status, const std::string& message);

// GET /api/v1/certificates from ztunnel's GET /config_dump ("certificates" already has the
// documented item shape; missing fields are filled with "" / []). Unreachable: 503 naming
// `ztunnel_admin` and why; another status or a body that is not a dump: 502.
AdminAnswer certificatesAnswer(const std::string& node, const std::string& ztunnel_admin,
                               const Result<http::HttpResponse>& dump);

// GET /api/v1/connections from ztunnel's GET /connections ({"items": [...]} in the documented
// shape). Unreachable: 503; 404 (a ztunnel without a data path): 200 with no items; another
// status or bad JSON: 502.
AdminAnswer connectionsAnswer(const std::string& node, const std::string& ztunnel_admin,
                              const Result<http::HttpResponse>& connections);

// GET/PUT /api/v1/log?component=ztunnel, forwarded: ztunnel's own answer (status and body)
// when it answered with JSON, 503 when unreachable.
AdminAnswer forwardedLogAnswer(const std::string& ztunnel_admin,
                               const Result<http::HttpResponse>& answer);

// GET /api/v1/xds/subscribers items: one per xDS stream, one subscription per type URL.
nlohmann::json xdsSubscriberItems(const std::string& node,
                                  const std::vector<XdsSubscriberInfo>& subscribers);

}  // namespace warren::agent::admin
