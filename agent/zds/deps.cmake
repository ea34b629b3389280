# Included by agent/CMakeLists.txt: the ZDS server speaks the transport in common/zds.
target_link_libraries(warren_agent_lib PUBLIC warren_zds)
