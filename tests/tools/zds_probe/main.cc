// warren-zds-probe: the ztunnel side of ZDS, for e2e tests of capture before ztunnel exists.
// It connects to <run-dir>/zds.sock, and for each AddWorkload enters the pod netns (fd from
// SCM_RIGHTS), binds 127.0.0.1:15001 (+ [::1]:15001) and 127.0.0.1:15006, registers the
// 15006 listener for sk_lookup (bpf/loader/inbound_registration.h), then acks. Every accepted
// connection is echoed back and reported, one line each, to stdout and --out:
//   accept pod=<uid> port=15001 orig=<SO_ORIGINAL_DST> peer=<ip:port>
//   accept pod=<uid> port=15006 local=<getsockname> peer=<ip:port>
// DelWorkload closes that pod's listeners. --cgroup DIR moves the probe into DIR first (the
// getsockopt program is attached to the node cgroup; ztunnel runs below it).
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/zds/zds_socket.h"
#include "bpf/loader/inbound_registration.h"
#include "common/netns.h"
#include "warren_abi.h"
#include "zds.pb.h"

namespace {

namespace pb = ::istio::workload::zds;
using namespace std::chrono_literals;

std::mutex out_mu;
std::ofstream out_file;

void report(const std::string& line) {
  std::lock_guard lock(out_mu);
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
  if (out_file) {
    out_file << line << std::endl;
  }
}

std::string addrText(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    ::inet_ntop(AF_INET, &a->sin_addr, buf, sizeof(buf));
    return std::string(buf) + ":" + std::to_string(ntohs(a->sin_port));
  }
  auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
  ::inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof(buf));
  return "[" + std::string(buf) + "]:" + std::to_string(ntohs(a->sin6_port));
}

warren::UniqueFd listenOn(int family, const char* ip, uint16_t port) {
  warren::UniqueFd s(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int one = 1;
  ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    ::inet_pton(AF_INET, ip, &a->sin_addr);
    len = sizeof(*a);
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    ::inet_pton(AF_INET6, ip, &a->sin6_addr);
    len = sizeof(*a);
  }
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(s.get(), 128) != 0)
    return warren::UniqueFd();
  return s;
}

struct PodListeners {
  std::string uid;
  std::vector<std::pair<uint16_t, warren::UniqueFd>> listeners;
  std::atomic<bool> stop{false};
  std::thread thread;
};

void echo(warren::UniqueFd conn) {
  char buf[16384];
  while (true) {
    pollfd p{conn.get(), POLLIN, 0};
    if (::poll(&p, 1, 120000) <= 0) return;  // idle bound
    ssize_t n = ::recv(conn.get(), buf, sizeof(buf), 0);
    if (n <= 0) return;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::send(conn.get(), buf + off, static_cast<size_t>(n - off), MSG_NOSIGNAL);
      if (w <= 0) return;
      off += w;
    }
  }
}

void acceptLoop(PodListeners* pod) {
  while (!pod->stop) {
    std::vector<pollfd> fds;
    for (auto& [port, fd] : pod->listeners) fds.push_back({fd.get(), POLLIN, 0});
    if (::poll(fds.data(), fds.size(), 200) <= 0) continue;
    for (size_t i = 0; i < fds.size(); ++i) {
      if (!(fds[i].revents & POLLIN)) continue;
      const uint16_t port = pod->listeners[i].first;
      warren::UniqueFd conn(::accept4(fds[i].fd, nullptr, nullptr, SOCK_CLOEXEC));
      if (!conn) continue;
      sockaddr_storage peer{}, local{};
      socklen_t len = sizeof(peer);
      ::getpeername(conn.get(), reinterpret_cast<sockaddr*>(&peer), &len);
      len = sizeof(local);
      ::getsockname(conn.get(), reinterpret_cast<sockaddr*>(&local), &len);
      std::string line = "accept pod=" + pod->uid + " port=" + std::to_string(port);
      if (port == WARREN_PORT_OUTBOUND) {
        sockaddr_storage orig{};
        len = local.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
        int level = local.ss_family == AF_INET ? WARREN_SOL_IP : WARREN_SOL_IPV6;
        if (::getsockopt(conn.get(), level, WARREN_SO_ORIGINAL_DST, &orig, &len) == 0)
          line += " orig=" + addrText(orig);
        else
          line += " orig=none";
      } else {
        line += " local=" + addrText(local);
      }
      line += " peer=" + addrText(peer);
      report(line);
      std::thread(echo, std::move(conn)).detach();
    }
  }
}

std::string bindPod(PodListeners& pod, int netns_fd, const std::string& pin_dir) {
  std::string error;
  std::thread t([&] {
    auto guard = warren::NetnsGuard::enter(netns_fd);
    if (!guard) {
      error = guard.error().message();
      return;
    }
    // CNI ADD may run before anything brought "lo" up (no loopback plugin in the chain).
    (void)warren::bringLoopbackUp();
    auto l4 = listenOn(AF_INET, "127.0.0.1", WARREN_PORT_OUTBOUND);
    auto in4 = listenOn(AF_INET, "127.0.0.1", WARREN_PORT_INBOUND_PLAIN);
    if (!l4 || !in4) {
      error = std::string("cannot bind 15001/15006 in the pod netns: ") + std::strerror(errno);
      return;
    }
    auto addrs = warren::redirect::localAddresses();
    if (!addrs) {
      error = addrs.error().message();
      return;
    }
    if (!pin_dir.empty()) {
      if (auto s = warren::redirect::registerInboundListener(pin_dir, in4.get(), *addrs); !s) {
        error = s.error().message();
        return;
      }
    }
    pod.listeners.emplace_back(WARREN_PORT_OUTBOUND, std::move(l4));
    if (auto l6 = listenOn(AF_INET6, "::1", WARREN_PORT_OUTBOUND))
      pod.listeners.emplace_back(WARREN_PORT_OUTBOUND, std::move(l6));
    pod.listeners.emplace_back(WARREN_PORT_INBOUND_PLAIN, std::move(in4));
  });
  t.join();
  return error;
}

int usage() {
  std::fprintf(stderr,
               "usage: warren-zds-probe --run-dir DIR [--out FILE] [--cgroup DIR] "
               "[--bpf-pin-dir DIR]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string run_dir, out, cgroup, pin_dir_flag;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) return usage();
    if (a == "--run-dir")
      run_dir = argv[++i];
    else if (a == "--out")
      out = argv[++i];
    else if (a == "--cgroup")
      cgroup = argv[++i];
    else if (a == "--bpf-pin-dir")
      pin_dir_flag = argv[++i];
    else
      return usage();
  }
  if (run_dir.empty()) return usage();
  if (!out.empty()) out_file.open(out, std::ios::app);
  if (!cgroup.empty()) {
    ::mkdir(cgroup.c_str(), 0755);
    std::ofstream procs(cgroup + "/cgroup.procs");
    procs << ::getpid() << std::endl;
    if (!procs) {
      std::fprintf(stderr, "warren-zds-probe: cannot join cgroup %s\n", cgroup.c_str());
      return 1;
    }
  }
  // <run-dir>/bpf_pin_dir names the pins as the agent sees them (its container's view, in the
  // lab /sys/fs/bpf/warren); run outside that view, the probe is told where they really are.
  std::string pin_dir = pin_dir_flag;
  if (!pin_dir.empty()) {
    // given
  } else if (auto p = warren::redirect::readPinDirFile(run_dir)) {
    pin_dir = *p;
  } else {
    std::fprintf(stderr, "warren-zds-probe: %s (sk_lookup registration off)\n",
                 p.error().message().c_str());
  }

  // Like ztunnel, keep every pod's listeners when the agent goes away, reconnect, take the
  // replay (an add for a netns we already serve keeps its listeners) and drop what the
  // snapshot no longer has. Bounded: gives up after ~10 minutes without an agent.
  std::map<std::string, std::unique_ptr<PodListeners>> pods;
  std::map<std::string, std::pair<dev_t, ino_t>> pod_netns;
  auto dropPod = [&](const std::string& uid) {
    if (auto it = pods.find(uid); it != pods.end()) {
      it->second->stop = true;
      it->second->thread.join();
      pods.erase(it);
    }
    pod_netns.erase(uid);
  };
  int failures = 0;
  while (failures < 3000) {
    auto conn = warren::zds::connectSocket(run_dir + "/zds.sock");
    if (!conn) {
      ++failures;
      std::this_thread::sleep_for(200ms);
      continue;
    }
    failures = 0;
    warren::UniqueFd sock = std::move(*conn);
    pb::ZdsHello hello;
    hello.set_version(pb::V1);
    if (!warren::zds::sendMessage(sock.get(), hello.SerializeAsString())) continue;
    report("connected");
    std::set<std::string> in_snapshot;
    bool snapshot_done = false;
    while (true) {
      auto packet = warren::zds::receiveMessage(sock.get(), 3600s);
      if (!packet) {
        report("disconnected: " + packet.error().message());
        break;
      }
      pb::WorkloadRequest req;
      std::string ack_error;
      if (!req.ParseFromString(packet->bytes)) {
        ack_error = "cannot parse WorkloadRequest";
      } else if (req.has_add()) {
        const std::string uid = req.add().uid();
        struct stat st {};
        if (!packet->fd || ::fstat(packet->fd.get(), &st) != 0) {
          ack_error = "add without a netns fd";
        } else if (pod_netns.contains(uid) &&
                   pod_netns[uid] == std::make_pair(st.st_dev, st.st_ino)) {
          report("keep pod=" + uid);  // same netns: the listeners stay
        } else {
          dropPod(uid);
          auto pod = std::make_unique<PodListeners>();
          pod->uid = uid;
          ack_error = bindPod(*pod, packet->fd.get(), pin_dir);
          if (ack_error.empty()) {
            pod->thread = std::thread(acceptLoop, pod.get());
            report("add pod=" + uid + " name=" + req.add().workload_info().namespace_() + "/" +
                   req.add().workload_info().name());
            pods[uid] = std::move(pod);
            pod_netns[uid] = {st.st_dev, st.st_ino};
          }
        }
        if (!snapshot_done) in_snapshot.insert(uid);
      } else if (req.has_del()) {
        dropPod(req.del().uid());
        report("del pod=" + req.del().uid());
      } else if (req.has_snapshot_sent()) {
        snapshot_done = true;
        std::vector<std::string> stale;
        for (const auto& [uid, pod] : pods)
          if (!in_snapshot.contains(uid)) stale.push_back(uid);
        for (const auto& uid : stale) dropPod(uid);
        report("snapshot-sent");
      }
      pb::WorkloadResponse resp;
      resp.mutable_ack()->set_error(ack_error);
      if (!warren::zds::sendMessage(sock.get(), resp.SerializeAsString())) break;
    }
  }
  for (auto& [uid, pod] : pods) {
    pod->stop = true;
    pod->thread.join();
  }
  return 0;
}
