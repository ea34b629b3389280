// RAII owner of one bpftool-generated skeleton: open (with the pin root, so maps pinned by name
// are shared and re-used), let the caller set `const volatile` knobs, load, destroy on scope
// exit. Destroying the skeleton closes its fds; pinned maps and pinned links stay in the kernel.
#pragma once

#include <bpf/libbpf.h>

#include <cerrno>
#include <memory>
#include <string>

#include "common/error.h"

namespace warren::redirect {

template <class Skel, Skel* (*OpenFn)(const bpf_object_open_opts*), int (*LoadFn)(Skel*),
          void (*DestroyFn)(Skel*)>
class BpfSkeleton {
 public:
  // Opens the object; maps with LIBBPF_PIN_BY_NAME live under `pin_root`.
  static Result<BpfSkeleton> open(const std::string& name, const std::string& pin_root) {
    bpf_object_open_opts opts{};
    opts.sz = sizeof(opts);
    opts.pin_root_path = pin_root.c_str();
    Skel* skel = OpenFn(&opts);
    if (!skel) return fail(WARREN_SYS_ERROR("open BPF object " + name));
    return BpfSkeleton(name, skel);
  }

  // Verifies and loads every program; creates or re-uses the pinned maps.
  Status load() {
    int err = LoadFn(skel_.get());
    if (err) return fail(Error::system(-err, "load BPF object " + name_ + " (see libbpf log)"));
    return ok();
  }

  Skel* operator->() const { return skel_.get(); }
  Skel* get() const { return skel_.get(); }

 private:
  struct Deleter {
    void operator()(Skel* s) const { DestroyFn(s); }
  };
  BpfSkeleton(std::string name, Skel* skel) : name_(std::move(name)), skel_(skel) {}

  std::string name_;
  std::unique_ptr<Skel, Deleter> skel_;
};

}  // namespace warren::redirect
