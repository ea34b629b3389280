// warren-ztunnel: the node proxy: control clients (xDS, CA, ZDS), admin/metrics/readiness, and
// the data path's workers, until SIGTERM/SIGINT, then a drain; see ztunnel/README.md.
#include "mesh/proxy_main.h"
#include "ztunnel/control/ztunnel_daemon.h"

int main(int argc, char** argv) {
  using namespace warren::ztunnel;
  return warren::mesh::runProxyMain<ZtunnelDaemon, ZtunnelOptions>(
      "warren-ztunnel", "ztunnel", argc, argv, ztunnelUsage(), parseZtunnelOptions);
}
