#include "bpf/loader/pinned_counters.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "bpf/loader/pin_dir.h"
#include "warren_abi.h"

namespace warren::redirect {

namespace {
constexpr uint32_t kKnownNames = sizeof(warren_counter_names) / sizeof(warren_counter_names[0]);
}  // namespace

std::string counterName(uint32_t index) {
  if (index < kKnownNames) return warren_counter_names[index];
  return "counter_" + std::to_string(index);
}

Result<std::vector<NamedCounter>> readPinnedCounters(const std::string& pin_dir) {
  const std::string path = pin_dir + "/" + WARREN_MAP_COUNTERS;
  auto fd = openPin(path);
  if (!fd) return fail(fd.error());
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd->get(), &info, &len) != 0)
    return fail(WARREN_SYS_ERROR("map info of " + path));
  if (info.type != BPF_MAP_TYPE_PERCPU_ARRAY || info.key_size != 4 || info.value_size != 8)
    return fail(Error::invalid(path + " is not a PERCPU_ARRAY of u64 counters (type " +
                               std::to_string(info.type) + ")"));
  const int ncpus = libbpf_num_possible_cpus();
  if (ncpus <= 0) return fail(Error::system(-ncpus, "count possible CPUs"));
  std::vector<uint64_t> per_cpu(static_cast<size_t>(ncpus));
  std::vector<NamedCounter> out;
  out.reserve(info.max_entries);
  for (uint32_t i = 0; i < info.max_entries; ++i) {
    if (bpf_map_lookup_elem(fd->get(), &i, per_cpu.data()) != 0)
      return fail(WARREN_SYS_ERROR("read " + path + "[" + counterName(i) + "]"));
    NamedCounter c{counterName(i), 0};
    for (uint64_t v : per_cpu) c.value += v;
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace warren::redirect
