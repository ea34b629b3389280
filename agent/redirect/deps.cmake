# Included by agent/CMakeLists.txt: the eBPF redirect loader (bpf/) for agent/redirect.
target_link_libraries(warren_agent_lib PUBLIC warren_redirect)
