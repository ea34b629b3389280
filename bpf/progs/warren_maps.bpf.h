/* Map definitions shared by every Warren BPF object. Each object declares all maps with
 * LIBBPF_PIN_BY_NAME, and the loader opens every object with pin_root_path = --bpf-pin-dir, so
 * libbpf creates each map once and every later object (and a restarted agent) reuses the pin.
 * Layouts come from warren_abi.h. */
#ifndef WARREN_MAPS_BPF_H
#define WARREN_MAPS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "warren_abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WARREN_MAX_ENROLLED);
	__type(key, __u64);
	__type(value, struct warren_enrolled);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} warren_enrolled SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, WARREN_MAX_PENDING);
	__type(key, __u64);
	__type(value, struct warren_pending);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} warren_pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, WARREN_MAX_ORIG_DST);
	__type(key, struct warren_orig_key);
	__type(value, struct warren_addr);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} warren_orig_dst SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, WARREN_MAX_INBOUND);
	__type(key, struct warren_addr);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} warren_inbound SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WARREN_MAX_EXEMPT_SRC);
	__type(key, struct warren_addr);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} warren_exempt_src SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, WARREN_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} warren_counters SEC(".maps");

#endif /* WARREN_MAPS_BPF_H */
