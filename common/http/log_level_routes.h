// GET/PUT /api/v1/log for a component's own log level (the admin API contract in
// warrenctl/README.md): {"component": "...", "level": "..."}.
#pragma once

#include <string>

#include "common/http/router.h"

namespace warren::http {

// GET answers the current level; PUT ?level=L sets it (400 naming the bad level otherwise).
// A ?component= other than `component` gets 404: a process that forwards other components'
// levels (the agent, for ztunnel) wraps this handler and routes those itself.
HttpResponse handleLogLevel(const HttpRequest& request, const std::string& component);

// Registers handleLogLevel for GET and PUT on /api/v1/log.
void addLogLevelRoutes(Router& router, const std::string& component);

}  // namespace warren::http
