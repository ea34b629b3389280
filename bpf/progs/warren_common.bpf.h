/* Small helpers shared by the programs: counters and address tests. */
#ifndef WARREN_COMMON_BPF_H
#define WARREN_COMMON_BPF_H

#include "warren_maps.bpf.h"
#include <bpf/bpf_endian.h>

#define WARREN_IPPROTO_TCP 6
#define WARREN_SOCK_STREAM 1

static __always_inline void warren_count(__u32 counter)
{
	__u64 *value = bpf_map_lookup_elem(&warren_counters, &counter);

	if (value)
		*value += 1;
}

/* 127.0.0.0/8; the argument is in network byte order. */
static __always_inline bool warren_is_loopback4(__u32 ip4)
{
	return (bpf_ntohl(ip4) >> 24) == 127;
}

/* ::1, or an IPv4-mapped loopback ::ffff:127.0.0.0/104. */
static __always_inline bool warren_is_loopback6(const __u32 ip6[4])
{
	if (ip6[0] != 0 || ip6[1] != 0)
		return false;
	if (ip6[2] == 0 && ip6[3] == bpf_htonl(1))
		return true;
	return ip6[2] == bpf_htonl(0x0000ffff) && warren_is_loopback4(ip6[3]);
}

#endif /* WARREN_COMMON_BPF_H */
