# agent/model: RE2 checks the regular expressions of HTTPRoute/GRPCRoute matches (Gateway API
# leaves their syntax to the implementation; the waypoint compiles them with RE2 too).
pkg_check_modules(RE2 REQUIRED IMPORTED_TARGET re2)
target_link_libraries(warren_agent_lib PUBLIC PkgConfig::RE2)
