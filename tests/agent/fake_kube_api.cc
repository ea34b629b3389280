#include "fake_kube_api.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>

namespace warren::agent::testing {
namespace {

using json = nlohmann::json;

bool writeAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

std::string chunk(const std::string& data) {
  char len[32];
  std::snprintf(len, sizeof len, "%zx\r\n", data.size());
  return len + data + "\r\n";
}

std::string key(const json& obj) {
  const json& m = obj["metadata"];
  return m.value("namespace", "") + "/" + m.value("name", "");
}

std::map<std::string, std::string> parseQuery(const std::string& q) {
  std::map<std::string, std::string> out;
  size_t pos = 0;
  while (pos <= q.size()) {
    size_t amp = q.find('&', pos);
    std::string kv = q.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    if (auto eq = kv.find('='); eq != std::string::npos) out[kv.substr(0, eq)] = kv.substr(eq + 1);
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
  return out;
}

}  // namespace

FakeKubeApi::FakeKubeApi() {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::listen(listen_fd_, 64);
  socklen_t len = sizeof a;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  acceptor_ = std::thread([this] { acceptLoop(); });
}

FakeKubeApi::~FakeKubeApi() {
  stopping_ = true;
  cv_.notify_all();
  ::shutdown(listen_fd_, SHUT_RDWR);
  acceptor_.join();
  for (auto& t : workers_) t.join();
  ::close(listen_fd_);
}

void FakeKubeApi::acceptLoop() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard lock(mu_);
    workers_.emplace_back([this, fd] {
      serve(fd);
      ::close(fd);
    });
  }
}

void FakeKubeApi::serve(int fd) {
  std::string req;
  char buf[4096];
  while (req.find("\r\n\r\n") == std::string::npos && req.size() < 65536) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 2000) <= 0) return;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return;
    req.append(buf, static_cast<size_t>(n));
  }
  // "GET /api/v1/pods?watch=1&... HTTP/1.1"
  size_t sp1 = req.find(' '), sp2 = req.find(' ', sp1 + 1);
  std::string method = req.substr(0, sp1);
  std::string target = req.substr(sp1 + 1, sp2 - sp1 - 1);
  size_t qm = target.find('?');
  std::string path = target.substr(0, qm);
  auto q = parseQuery(qm == std::string::npos ? "" : target.substr(qm + 1));
  // The body (Content-Length; libcurl sends no chunked bodies here).
  size_t head_end = req.find("\r\n\r\n") + 4;
  size_t length = 0;
  std::string lower = req.substr(0, head_end);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (auto cl = lower.find("content-length:"); cl != std::string::npos)
    length = std::stoul(lower.substr(cl + 15));
  std::string body = req.substr(head_end);
  while (body.size() < length) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 2000) <= 0) return;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return;
    body.append(buf, static_cast<size_t>(n));
  }
  if (q.count("watch")) {
    serveWatch(fd, path, q);
  } else {
    serveObject(fd, method, path, q, body);
  }
}

namespace {

// "/apis/apps/v1/namespaces/shop/deployments/wp/status" -> collection "/apis/apps/v1/deployments",
// namespace, name, status.
struct ApiTarget {
  std::string collection, ns, name;
  bool status = false;
};

ApiTarget parseTarget(const std::string& path) {
  std::vector<std::string> seg;
  for (size_t i = 1; i <= path.size();) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    seg.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  size_t base = seg.size() > 0 && seg[0] == "api" ? 2 : 3;  // api/v1 or apis/group/version
  ApiTarget t;
  std::string prefix;
  for (size_t i = 0; i < base && i < seg.size(); ++i) prefix += "/" + seg[i];
  std::vector<std::string> rest(seg.begin() + static_cast<long>(std::min(base, seg.size())),
                                seg.end());
  if (rest.size() >= 3 && rest[0] == "namespaces") {
    t.ns = rest[1];
    rest.erase(rest.begin(), rest.begin() + 2);
  }
  if (!rest.empty()) t.collection = prefix + "/" + rest[0];
  if (rest.size() > 1) t.name = rest[1];
  t.status = rest.size() > 2 && rest[2] == "status";
  return t;
}

void answer(int fd, int code, const json& body) {
  static const std::map<int, std::string> kText = {
      {200, "OK"}, {201, "Created"}, {404, "Not Found"}, {409, "Conflict"}, {400, "Bad Request"}};
  std::string text = body.dump();
  writeAll(fd, "HTTP/1.1 " + std::to_string(code) + " " + kText.at(code) +
                   "\r\nContent-Type: application/json\r\nContent-Length: " +
                   std::to_string(text.size()) + "\r\nConnection: close\r\n\r\n" + text);
}

json statusDoc(int code, const std::string& reason, const std::string& message) {
  return {{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Failure"},
          {"reason", reason}, {"code", code},       {"message", message}};
}

bool selects(const std::string& selector, const json& obj) {
  if (selector.empty()) return true;
  std::string sel = selector;
  for (size_t p; (p = sel.find("%2C")) != std::string::npos;) sel.replace(p, 3, ",");
  for (size_t p; (p = sel.find("%3D")) != std::string::npos;) sel.replace(p, 3, "=");
  for (size_t p; (p = sel.find("%2F")) != std::string::npos;) sel.replace(p, 3, "/");
  size_t start = 0;
  while (start <= sel.size()) {
    size_t comma = sel.find(',', start);
    std::string kv =
        sel.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    auto eq = kv.find('=');
    const json labels = obj["metadata"].value("labels", json::object());
    if (eq != std::string::npos &&
        labels.value(kv.substr(0, eq), std::string("\x01")) != kv.substr(eq + 1))
      return false;
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return true;
}

}  // namespace

void FakeKubeApi::serveObject(int fd, const std::string& method, const std::string& path,
                              const std::map<std::string, std::string>& q,
                              const std::string& body) {
  ApiTarget t = parseTarget(path);
  if (method == "GET" && t.name.empty() && t.ns.empty() && !q.count("labelSelector")) {
    serveList(fd, path, q);
    return;
  }
  std::unique_lock lock(mu_);
  writes_[method + (t.status ? " /status" : "")]++;
  auto& coll = objects_[t.collection];
  const std::string key = t.ns + "/" + t.name;
  if (method == "GET" && t.name.empty()) {  // a filtered list
    json items = json::array();
    for (const auto& [k, obj] : coll) {
      if (!t.ns.empty() && obj["metadata"].value("namespace", "") != t.ns) continue;
      if (!selects(q.count("labelSelector") ? q.at("labelSelector") : "", obj)) continue;
      json item = obj;
      item.erase("kind");
      item.erase("apiVersion");
      items.push_back(item);
    }
    json doc = {{"kind", "List"},
                {"metadata", {{"resourceVersion", std::to_string(rv_)}}},
                {"items", items}};
    lock.unlock();
    answer(fd, 200, doc);
    return;
  }
  if (method == "GET") {
    auto it = coll.find(key);
    json doc = it == coll.end() ? json() : it->second;
    lock.unlock();
    if (doc.is_null()) return answer(fd, 404, statusDoc(404, "NotFound", t.name + " not found"));
    return answer(fd, 200, doc);
  }
  json in = json::parse(body, nullptr, false);
  if (method == "POST") {
    if (!in.is_object())
      return lock.unlock(), answer(fd, 400, statusDoc(400, "BadRequest", "body"));
    const std::string name = in["metadata"].value("name", "");
    const std::string k = t.ns + "/" + name;
    if (coll.count(k)) {
      lock.unlock();
      return answer(fd, 409, statusDoc(409, "AlreadyExists", name + " already exists"));
    }
    in["metadata"]["namespace"] = t.ns;
    in["metadata"]["uid"] = "uid-" + std::to_string(rv_ + 1) + "-" + name;
    in["metadata"]["creationTimestamp"] = "2026-11-22T10:00:00Z";
    in["metadata"]["generation"] = 1;
    if (in.value("kind", "") == "Service" && !in["spec"].contains("clusterIP"))
      in["spec"]["clusterIP"] = "10.96.0." + std::to_string(next_cluster_ip_++);
    lock.unlock();
    record(t.collection, "ADDED", in, true);
    return answer(fd, 201, object(t.collection, t.ns, name));
  }
  auto it = coll.find(key);
  if (it == coll.end()) {
    lock.unlock();
    return answer(fd, 404, statusDoc(404, "NotFound", t.name + " not found"));
  }
  json stored = it->second;
  if (method == "DELETE") {
    const std::string uid =
        in.is_object() ? in.value("/preconditions/uid"_json_pointer, std::string()) : "";
    if (!uid.empty() && stored["metadata"].value("uid", "") != uid) {
      lock.unlock();
      return answer(fd, 409, statusDoc(409, "Conflict", "uid precondition failed"));
    }
    lock.unlock();
    record(t.collection, "DELETED", stored, true);
    return answer(fd, 200, statusDoc(200, "", "deleted"));
  }
  if (method == "PUT") {
    if (!in.is_object() || in["metadata"].value("resourceVersion", "") !=
                               stored["metadata"].value("resourceVersion", "")) {
      lock.unlock();
      return answer(fd, 409,
                    statusDoc(409, "Conflict",
                              "the object has been modified; please apply your changes "
                              "to the latest version and try again"));
    }
    json next = stored;
    if (t.status) {
      next["status"] = in.value("status", json::object());
    } else {
      next = in;
      next["metadata"]["uid"] = stored["metadata"]["uid"];
      next["metadata"]["creationTimestamp"] = stored["metadata"]["creationTimestamp"];
      if (stored.contains("status"))
        next["status"] = stored["status"];
      else
        next.erase("status");
      int64_t gen = stored["metadata"].value("generation", 1);
      if (in.value("spec", json()) != stored.value("spec", json())) ++gen;
      next["metadata"]["generation"] = gen;
    }
    lock.unlock();
    record(t.collection, "MODIFIED", next, true);
    return answer(fd, 200, object(t.collection, t.ns, t.name));
  }
  lock.unlock();
  answer(fd, 400, statusDoc(400, "BadRequest", "method " + method));
}

json FakeKubeApi::object(const std::string& path, const std::string& ns,
                         const std::string& name) const {
  std::lock_guard lock(mu_);
  auto c = objects_.find(path);
  if (c == objects_.end()) return json();
  auto it = c->second.find(ns + "/" + name);
  return it == c->second.end() ? json() : it->second;
}

int FakeKubeApi::writes(const std::string& method) const {
  std::lock_guard lock(mu_);
  auto it = writes_.find(method);
  return it == writes_.end() ? 0 : it->second;
}

void FakeKubeApi::serveList(int fd, const std::string& path,
                            const std::map<std::string, std::string>& q) {
  lists_++;
  if (fail_lists_ > 0) {
    fail_lists_--;
    writeAll(fd,
             "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\nConnection: "
             "close\r\n\r\noops\n");
    return;
  }
  json doc;
  {
    std::lock_guard lock(mu_);
    size_t limit = q.count("limit") ? std::stoul(q.at("limit")) : 1000000;
    size_t start = q.count("continue") ? std::stoul(q.at("continue")) : 0;
    json items = json::array();
    size_t i = 0;
    for (const auto& [k, obj] : objects_[path]) {
      if (i >= start && items.size() < limit) {
        json item = obj;
        item.erase("kind");  // list items carry no kind/apiVersion, like the real server
        item.erase("apiVersion");
        items.push_back(item);
      }
      ++i;
    }
    doc["kind"] = "List";
    doc["metadata"]["resourceVersion"] = std::to_string(rv_);
    if (start + items.size() < objects_[path].size())
      doc["metadata"]["continue"] = std::to_string(start + items.size());
    doc["items"] = items;
  }
  std::string body = doc.dump();
  writeAll(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                   std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
}

void FakeKubeApi::serveWatch(int fd, const std::string& path,
                             const std::map<std::string, std::string>& q) {
  int64_t from = q.count("resourceVersion") && !q.at("resourceVersion").empty()
                     ? std::stoll(q.at("resourceVersion"))
                     : 0;
  int timeout = q.count("timeoutSeconds") ? std::stoi(q.at("timeoutSeconds")) : 300;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout);
  if (!writeAll(fd,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: "
                "chunked\r\n\r\n"))
    return;
  auto gone = [&] {
    json ev = {{"type", "ERROR"},
               {"object",
                {{"kind", "Status"},
                 {"apiVersion", "v1"},
                 {"status", "Failure"},
                 {"reason", "Expired"},
                 {"code", 410},
                 {"message", "too old resource version"}}}};
    writeAll(fd, chunk(ev.dump() + "\n") + chunk(""));
  };
  Watch w{fd};
  std::unique_lock lock(mu_);
  watch_rvs_.push_back(std::to_string(from));
  if (from < compacted_) {
    watches_++;
    lock.unlock();
    gone();
    return;
  }
  // Counted once it is open: a test that saw watches() rise may send bookmarks or drop
  // connections, and this watch must be among those it reaches (make tsan found the window).
  open_watches_.push_back(&w);
  watches_++;
  int64_t sent = from;
  for (;;) {
    std::string out;
    for (const Event& e : events_) {
      if (e.path != path || e.rv <= sent) continue;
      out += chunk(json{{"type", e.type}, {"object", e.object}}.dump() + "\n");
    }
    sent = rv_;
    if (w.bookmark) {
      w.bookmark = false;
      json bm = {
          {"type", "BOOKMARK"},
          {"object", {{"kind", "Pod"}, {"metadata", {{"resourceVersion", std::to_string(rv_)}}}}}};
      out += chunk(bm.dump() + "\n");
    }
    bool expire = w.expire, drop = w.drop;
    if (!out.empty() || expire || drop) {
      lock.unlock();
      bool okw = out.empty() || writeAll(fd, out);
      if (expire && okw) gone();
      if (drop) ::shutdown(fd, SHUT_RDWR);
      lock.lock();
      if (!okw || expire || drop) break;
    }
    if (stopping_ || std::chrono::steady_clock::now() >= deadline) {
      lock.unlock();
      writeAll(fd, chunk(""));
      lock.lock();
      break;
    }
    cv_.wait_for(lock, std::chrono::milliseconds(20));
  }
  open_watches_.erase(std::find(open_watches_.begin(), open_watches_.end(), &w));
}

void FakeKubeApi::record(const std::string& path, const std::string& type, json obj, bool visible) {
  {
    std::lock_guard lock(mu_);
    ++rv_;
    obj["metadata"]["resourceVersion"] = std::to_string(rv_);
    if (type == "DELETED") {
      objects_[path].erase(key(obj));
    } else {
      objects_[path][key(obj)] = obj;
    }
    if (visible) events_.push_back({rv_, path, type, obj});
  }
  cv_.notify_all();
}

void FakeKubeApi::upsert(const std::string& path, json obj) {
  bool exists;
  {
    std::lock_guard lock(mu_);
    exists = objects_[path].count(key(obj)) > 0;
  }
  record(path, exists ? "MODIFIED" : "ADDED", std::move(obj), true);
}

void FakeKubeApi::remove(const std::string& path, const std::string& ns, const std::string& name) {
  json obj;
  {
    std::lock_guard lock(mu_);
    obj = objects_[path].at(ns + "/" + name);
  }
  record(path, "DELETED", obj, true);
}

void FakeKubeApi::removeSilently(const std::string& path, const std::string& ns,
                                 const std::string& name) {
  json obj;
  {
    std::lock_guard lock(mu_);
    obj = objects_[path].at(ns + "/" + name);
  }
  record(path, "DELETED", obj, false);
}

void FakeKubeApi::expireWatches() {
  {
    std::lock_guard lock(mu_);
    compacted_ = rv_;  // a fresh list (at rv_) can watch again; older versions are gone
    for (Watch* w : open_watches_) w->expire = true;
  }
  cv_.notify_all();
}

void FakeKubeApi::sendBookmarks() {
  {
    std::lock_guard lock(mu_);
    ++rv_;  // bookmarks move the resourceVersion past events of other kinds
    for (Watch* w : open_watches_) w->bookmark = true;
  }
  cv_.notify_all();
}

void FakeKubeApi::dropConnections() {
  {
    std::lock_guard lock(mu_);
    for (Watch* w : open_watches_) w->drop = true;
  }
  cv_.notify_all();
}

std::vector<std::string> FakeKubeApi::watchResourceVersions() const {
  std::lock_guard lock(mu_);
  return watch_rvs_;
}

int64_t FakeKubeApi::resourceVersion() const {
  std::lock_guard lock(mu_);
  return rv_;
}

}  // namespace warren::agent::testing
