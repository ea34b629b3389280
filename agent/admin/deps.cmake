# Included by agent/CMakeLists.txt: the admin API (agent/admin) serves with warren_http and
# reads the eBPF pins through warren_redirect (already linked by agent/redirect).
target_link_libraries(warren_agent_lib PUBLIC warren_http)
# /api/v1/version: the project version and the commit the build was configured at.
execute_process(COMMAND git rev-parse --short HEAD WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
  OUTPUT_VARIABLE warren_git_commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
set_property(SOURCE ${CMAKE_CURRENT_SOURCE_DIR}/admin/admin_routes.cc APPEND PROPERTY
  COMPILE_DEFINITIONS WARREN_VERSION="${PROJECT_VERSION}" WARREN_GIT_COMMIT="${warren_git_commit}")
