#include "warrenctl/admin_socket_locator.h"

namespace warren::ctl {

SocketLocation locateAdminSocket(const SocketFlags& flags,
                                 const std::optional<std::string>& env_lab_dir) {
  if (flags.socket) return {*flags.socket, "from --socket", ""};
  if (flags.run_dir) return {*flags.run_dir + "/admin.sock", "from --run-dir", ""};
  if (flags.node) {
    std::string lab = flags.lab_dir ? *flags.lab_dir
                      : env_lab_dir ? *env_lab_dir
                                    : std::string(kDefaultLabDir);
    std::string how = flags.lab_dir ? "from --node in --lab-dir"
                      : env_lab_dir ? "from --node in $WARREN_LAB_DIR"
                                    : "from --node in the default lab dir";
    std::string node_dir = lab + "/nodes/" + *flags.node;
    return {node_dir + "/run/admin.sock", how, node_dir + "/logs/agent.log"};
  }
  return {std::string(kDefaultRunDir) + "/admin.sock", "the default run dir", ""};
}

}  // namespace warren::ctl
