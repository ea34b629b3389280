# What goes into each container image (`make images`, scripts/images.sh): one install()
# component per image, installed with `cmake --install <build> --component <image>`. Only the
# binaries: scripts/images.sh adds the shared libraries they load (ldd) and nothing else.
#   node        warren-node: the node DaemonSets' binaries
#   controller  warren-controller: the waypoint controller role (warren-agent, warrenctl)
#   waypoint    warren-waypoint: the L7 proxy the controller's waypoint Deployments run
foreach(bin warren-agent warren-ztunnel warren-cni warrenctl warren-waypoint)
  # `<binary> --version` prints it: how `podman run IMAGE --version` shows an image starts.
  if(TARGET ${bin})
    target_compile_definitions(${bin} PRIVATE WARREN_BUILD_VERSION="${PROJECT_VERSION}")
  endif()
endforeach()
foreach(bin warren-agent warren-ztunnel warren-cni warrenctl)
  if(TARGET ${bin})
    install(TARGETS ${bin} RUNTIME DESTINATION bin COMPONENT node EXCLUDE_FROM_ALL)
  endif()
endforeach()
foreach(bin warren-agent warrenctl)  # warrenctl: the controller's readiness probe
  if(TARGET ${bin})
    install(TARGETS ${bin} RUNTIME DESTINATION bin COMPONENT controller EXCLUDE_FROM_ALL)
  endif()
endforeach()
if(TARGET warren-waypoint)
  install(TARGETS warren-waypoint RUNTIME DESTINATION bin COMPONENT waypoint EXCLUDE_FROM_ALL)
endif()
