#include "common/http/listen_address.h"

#include <arpa/inet.h>
#include <sys/un.h>

#include <charconv>

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
  size_t colon = text.rfind(':');
  if (colon == std::string::npos)
    return fail(
        Error::invalid("listen address '" + text + "': expected unix:PATH, /PATH or HOST:PORT"));
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  std::string port_text = text.substr(colon + 1);
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc{} || ptr != port_text.data() + port_text.size() || port > 65535 ||
      port_text.empty())
    return fail(Error::invalid("listen address '" + text + "': bad port '" + port_text + "'"));
  in6_addr a6{};
  in_addr a4{};
  if (inet_pton(AF_INET, host.c_str(), &a4) != 1 && inet_pton(AF_INET6, host.c_str(), &a6) != 1)
    return fail(Error::invalid("listen address '" + text + "': host '" + host +
                               "' is not a numeric IPv4 or IPv6 address"));
  return tcp(host, static_cast<uint16_t>(port));
}

std::string ListenAddress::toString() const {
  if (kind == Kind::kUnix) return "unix:" + path;
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

}  // namespace warren::http
