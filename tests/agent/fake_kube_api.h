// A small Kubernetes API server for testing the agent's Kubernetes informer (no real API
// server can run here). It implements the list/watch semantics the informer relies on,
// faithfully at the HTTP level: paginated lists (limit/continue) with a collection
// resourceVersion; watches from a resourceVersion over a chunked HTTP/1.1 stream of
// newline-delimited JSON events (ADDED/MODIFIED/DELETED/BOOKMARK/ERROR); a compaction point
// below which a watch gets an ERROR event with code 410 (Gone); and test controls to expire
// open watches mid-stream, send bookmarks, drop connections and fail lists with 500.
// Writes, as the API server does them for the waypoint controller: GET of one object, lists
// filtered by namespace and labelSelector, POST (409 AlreadyExists; uid, creationTimestamp,
// generation and a Service's clusterIP filled in), PUT conditional on metadata.resourceVersion
// (409 Conflict), PUT on /status (only the status changes), DELETE with a uid precondition;
// every write is an event for open watches.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace warren::agent::testing {

class FakeKubeApi {
 public:
  FakeKubeApi();
  ~FakeKubeApi();

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Mutations record a watch event (ADDED/MODIFIED or DELETED) at a new resourceVersion.
  void upsert(const std::string& path, nlohmann::json obj);
  void remove(const std::string& path, const std::string& ns, const std::string& name);
  // A deletion no open watch will ever see (as if the event was compacted away).
  void removeSilently(const std::string& path, const std::string& ns, const std::string& name);

  // Compacts history and ends every open watch with ERROR 410 (mid-stream expiry).
  void expireWatches();
  void sendBookmarks();
  // Closes every open watch connection without a terminating chunk.
  void dropConnections();
  void failNextLists(int n) { fail_lists_ = n; }

  // The stored object, or null.
  nlohmann::json object(const std::string& path, const std::string& ns,
                        const std::string& name) const;
  // Requests by method ("POST", "PUT", "DELETE", "PUT /status"), for assertions.
  int writes(const std::string& method) const;

  int lists() const { return lists_; }
  int watches() const { return watches_; }
  // The resourceVersion every watch asked for, in arrival order.
  std::vector<std::string> watchResourceVersions() const;
  int64_t resourceVersion() const;

 private:
  struct Event {
    int64_t rv;
    std::string path;
    std::string type;
    nlohmann::json object;
  };
  struct Watch {
    int fd;
    bool drop = false;
    bool expire = false;
    bool bookmark = false;
  };

  void acceptLoop();
  void serve(int fd);
  void serveList(int fd, const std::string& path, const std::map<std::string, std::string>& q);
  void serveWatch(int fd, const std::string& path, const std::map<std::string, std::string>& q);
  void serveObject(int fd, const std::string& method, const std::string& path,
                   const std::map<std::string, std::string>& q, const std::string& body);
  void record(const std::string& path, const std::string& type, nlohmann::json obj, bool visible);

  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::vector<std::thread> workers_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int64_t rv_ = 100;
  int64_t compacted_ = 0;
  std::map<std::string, std::map<std::string, nlohmann::json>> objects_;  // path -> ns/name -> obj
  std::vector<Event> events_;
  std::vector<Watch*> open_watches_;
  std::atomic<int> lists_{0}, watches_{0}, fail_lists_{0};
  std::vector<std::string> watch_rvs_;
  std::map<std::string, int> writes_;
  int next_cluster_ip_ = 100;
};

}  // namespace warren::agent::testing
