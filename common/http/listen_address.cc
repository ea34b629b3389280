#include "common/http/listen_address.h"

#include <sys/un.h>

namespace warren::http {

Result<ListenAddress> ListenAddress::parse(const std::string& text) {
  if (text.empty()) return fail(Error::invalid("empty listen address"));
  std::string path;
  if (text.starts_with("unix:"))
    path = text.substr(5);
  else if (text.front() == '/')
    path = text;
  if (!path.empty() || text.starts_with("unix:")) {
    if (path.empty()) return fail(Error::invalid("listen address '" + text + "': empty path"));
    if (path.size() >= sizeof(sockaddr_un::sun_path))
      return fail(Error::invalid("listen address '" + text + "': unix socket path longer than " +
                                 std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes"));
    return unixSocket(path);
  }
  auto address = net::SocketAddress::parse(text);
  if (!address) {
    return fail(address.error().wrap("listen address '" + text +
                                     "' (expected unix:PATH, /PATH or IP:PORT)"));
  }
  return tcp(*address);
}

std::string ListenAddress::toString() const {
  if (kind == Kind::kUnix) return "unix:" + path;
  return socket_address.toString();
}

}  // namespace warren::http
