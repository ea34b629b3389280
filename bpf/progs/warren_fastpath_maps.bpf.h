/* Maps of the sk_msg fast path, declared only by the two objects that use them
 * (sockops_fastpath, sk_msg): with the fast path off neither object is loaded, so these maps
 * are never created or pinned. Same pin-by-name sharing as warren_maps.bpf.h, plus the
 * read-only knob the agent sets before load. */
#ifndef WARREN_FASTPATH_MAPS_BPF_H
#define WARREN_FASTPATH_MAPS_BPF_H

#include "warren_common.bpf.h"
#include "warren_fastpath.h"

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, WARREN_MAX_SOCKS);
	__type(key, struct warren_sock_key);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} warren_socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct warren_sock_state);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} warren_socks_state SEC(".maps");

/* This node's pod CIDR (set by the agent from --pod-cidr before load). */
const volatile struct warren_fastpath_cfg warren_fastpath_cfg = {};

/* A plain copy of the knob. Read field by field through the volatile object: a non-volatile
 * access would let the compiler fold in the all-zero initializer. */
static __always_inline void warren_fastpath_cfg_load(struct warren_fastpath_cfg *cfg)
{
	cfg->pod_net.addr[0] = warren_fastpath_cfg.pod_net.addr[0];
	cfg->pod_net.addr[1] = warren_fastpath_cfg.pod_net.addr[1];
	cfg->pod_net.addr[2] = warren_fastpath_cfg.pod_net.addr[2];
	cfg->pod_net.addr[3] = warren_fastpath_cfg.pod_net.addr[3];
	cfg->pod_net.port = 0;
	cfg->pod_net.family = warren_fastpath_cfg.pod_net.family;
	cfg->pod_prefix_len = warren_fastpath_cfg.pod_prefix_len;
	cfg->reserved = 0;
}

#endif /* WARREN_FASTPATH_MAPS_BPF_H */
