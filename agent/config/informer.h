// The informer interface: one source of Kubernetes objects (a manifest directory, the
// Kubernetes API) feeding the cluster model. An informer runs on its own thread and hands
// batches of changes to one callback; each batch is applied atomically by the receiver.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/k8s/object.h"

namespace warren::agent {

struct ConfigUpdate {
  // True for the initial list and every re-list: `upserts` is then the complete state of the
  // kinds this informer serves and every object not in it is gone.
  bool replace_all = false;
  std::vector<k8s::Object> upserts;
  std::vector<std::string> deletes;  // Object::key() of removed objects
  // A source-level problem (file that does not parse, watch error) to log; objects from the
  // failing file are neither upserted nor deleted, so the last good state is kept.
  std::vector<Error> errors;

  bool empty() const { return !replace_all && upserts.empty() && deletes.empty(); }
};

using UpdateCallback = std::function<void(ConfigUpdate)>;

class Informer {
 public:
  virtual ~Informer() = default;
  // Starts delivering updates to `cb` from a thread of the informer's own; the first update
  // has replace_all set. Fails when the source cannot be opened at all.
  virtual Status start(UpdateCallback cb) = 0;
  // Stops the thread; no callback runs after stop() returns. Idempotent.
  virtual void stop() = 0;
  virtual std::string describe() const = 0;
};

}  // namespace warren::agent
