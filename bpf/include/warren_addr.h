/* How the programs turn what a socket hook sees into a struct warren_addr, and where a captured
 * connect goes: pure functions compiled into the BPF programs (connect4/6, sockops, getsockopt,
 * sk_msg) AND into the C++ table test (tests/bpf/addr_decision_test.cc), so the test checks
 * the very code the kernel runs.
 *
 * One rule for every map key and record: an IPv4-mapped IPv6 address (::ffff:a.b.c.d) IS the
 * IPv4 address a.b.c.d, and is stored as AF_INET. A dual-stack AF_INET6 socket connecting to
 * ::ffff:a.b.c.d (gRPC and Java clients do this for IPv4 destinations) talks IPv4 on the wire:
 * the kernel runs the IPv4 TCP code for it, its peer is an AF_INET socket that sees an IPv4
 * address, so the records written for one side must carry the same family as the lookups made
 * by the other. Addresses in network byte order, ports in host byte order (warren_abi.h). */
#ifndef WARREN_ADDR_H
#define WARREN_ADDR_H

#include "warren_abi.h"

#ifdef __BPF__
#define WARREN_ADDR_FN static __always_inline
#else
#define WARREN_ADDR_FN static inline
#endif

/* ::ffff:0:0/96, network byte order; the helper is independent of the host's endianness. */
WARREN_ADDR_FN int warren_ip6_is_v4mapped(const __u32 ip6[4])
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	const __u32 ffff = 0xffff0000u;
#else
	const __u32 ffff = 0x0000ffffu;
#endif
	return ip6[0] == 0 && ip6[1] == 0 && ip6[2] == ffff;
}

/* *a = (family, address, port) as a socket hook reports it: `ip4` for AF_INET, `ip6` for
 * AF_INET6, whose IPv4-mapped form becomes AF_INET. Any other family leaves family 0. */
WARREN_ADDR_FN void warren_addr_from_sock(struct warren_addr *a, __u32 family, __u32 ip4,
					  const __u32 ip6[4], __u16 port)
{
	a->addr[0] = 0;
	a->addr[1] = 0;
	a->addr[2] = 0;
	a->addr[3] = 0;
	a->port = port;
	a->family = 0;
	if (family == WARREN_AF_INET) {
		a->family = WARREN_AF_INET;
		a->addr[0] = ip4;
	} else if (family == WARREN_AF_INET6 && warren_ip6_is_v4mapped(ip6)) {
		a->family = WARREN_AF_INET;
		a->addr[0] = ip6[3];
	} else if (family == WARREN_AF_INET6) {
		a->family = WARREN_AF_INET6;
		a->addr[0] = ip6[0];
		a->addr[1] = ip6[1];
		a->addr[2] = ip6[2];
		a->addr[3] = ip6[3];
	}
}

/* Where connect6 sends an AF_INET6 socket whose original destination is `orig` (already
 * normalised by warren_addr_from_sock): an IPv6 destination to [::1]:15001; an IPv4 one (the
 * socket dialled ::ffff:a.b.c.d) to ::ffff:127.0.0.1:15001, so it reaches ztunnel's IPv4
 * listener (127.0.0.1:15001) the way its connection really travels. *out in network order. */
WARREN_ADDR_FN void warren_outbound_target6(const struct warren_addr *orig, __u32 out[4])
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	const __u32 ffff = 0xffff0000u, loop4 = 0x0100007fu, one = 0x01000000u;
#else
	const __u32 ffff = 0x0000ffffu, loop4 = 0x7f000001u, one = 0x00000001u;
#endif
	out[0] = 0;
	out[1] = 0;
	if (orig->family == WARREN_AF_INET) {
		out[2] = ffff;
		out[3] = loop4;
	} else {
		out[2] = 0;
		out[3] = one;
	}
}

#endif /* WARREN_ADDR_H */
