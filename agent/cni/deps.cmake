# Included by agent/CMakeLists.txt: the warren-cni plugin binary (its main is one level deeper
# so the agent library glob does not pick it up).
add_executable(warren-cni ${CMAKE_CURRENT_LIST_DIR}/plugin/main.cc)
target_link_libraries(warren-cni PRIVATE warren_agent_lib warren_warnings)
