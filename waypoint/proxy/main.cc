// warren-waypoint: the L7 proxy a warren-waypoint Gateway deploys; see waypoint/README.md.
#include "mesh/proxy_main.h"
#include "waypoint/proxy/waypoint_daemon.h"

int main(int argc, char** argv) {
  using namespace warren::waypoint;
  return warren::mesh::runProxyMain<WaypointDaemon, WaypointOptions>(
      "warren-waypoint", "waypoint", argc, argv, waypointUsage(), parseWaypointOptions);
}
