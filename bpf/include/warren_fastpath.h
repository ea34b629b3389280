/* The sk_msg fast path's decisions, as pure functions compiled into the BPF programs
 * (sockops_fastpath.bpf.c, sk_msg.bpf.c) AND into the C++ table test
 * (tests/bpf/fastpath_decision_test.cc), so the test checks the very code the kernel runs.
 *
 * A connection is eligible only when BOTH of its ends are sockets of this node:
 *   - LOOPBACK: both addresses loopback (127/8, ::1, ::ffff:127/104): the two sockets share a
 *     netns, so the key carries that netns' cookie (each pod netns has its own 127.0.0.1);
 *   - POD: both addresses inside this node's pod CIDR: pod addresses are unique on a node, so
 *     the key carries netns cookie 0 and the two ends may sit in different pod netns.
 * Anything else (other nodes, Service VIPs before DNAT, node addresses, mixed families) is
 * NONE and never touched. So is a connection to or from port 15008 (WARREN_PORT_HBONE): two
 * pods of one node talk HBONE between their ztunnel sockets, TLS records between two ztunnel
 * workers rather than an app <-> ztunnel leg, and a pooled HBONE connection lives far past any
 * redirect budget, after which each of its sends would still pass tcp_bpf_sendmsg (the
 * same-node bulk figure read lower with the fast path on than off: bench/README.md). The scope is
 * symmetric (swapping local and remote gives the same answer), so both ends compute matching keys.
 * Addresses in network byte order, ports in host byte order, as everywhere in warren_abi.h. */
#ifndef WARREN_FASTPATH_H
#define WARREN_FASTPATH_H

#include "warren_abi.h"

#ifdef __BPF__
#define WARREN_FP_FN static __always_inline
#else
#define WARREN_FP_FN static inline
#endif

enum warren_fastpath_scope {
	WARREN_FASTPATH_NONE = 0,
	WARREN_FASTPATH_LOOPBACK = 1,
	WARREN_FASTPATH_POD = 2,
};

/* Network to host byte order for one 32-bit word, without libc or BPF helpers. */
WARREN_FP_FN __u32 warren_fp_ntohl(__u32 v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return __builtin_bswap32(v);
#else
	return v;
#endif
}

WARREN_FP_FN int warren_fp_is_loopback(const struct warren_addr *a)
{
	if (a->family == WARREN_AF_INET)
		return (warren_fp_ntohl(a->addr[0]) >> 24) == 127;
	if (a->family != WARREN_AF_INET6 || a->addr[0] != 0 || a->addr[1] != 0)
		return 0;
	if (a->addr[2] == 0)
		return warren_fp_ntohl(a->addr[3]) == 1;
	return warren_fp_ntohl(a->addr[2]) == 0x0000ffff && (warren_fp_ntohl(a->addr[3]) >> 24) == 127;
}

/* The top `bits` bits (0..32) of a word, as a host-order mask. */
WARREN_FP_FN __u32 warren_fp_mask(__u32 bits)
{
	if (bits == 0)
		return 0;
	if (bits >= 32)
		return 0xffffffffu;
	return 0xffffffffu << (32 - bits);
}

WARREN_FP_FN int warren_fp_in_prefix(const struct warren_addr *a, const struct warren_addr *net,
				     __u32 prefix_len)
{
	__u32 words = a->family == WARREN_AF_INET ? 1 : 4;
	__u32 i;

	if (net->family == 0 || a->family != net->family)
		return 0;
	if (prefix_len > words * 32)
		return 0;
	for (i = 0; i < 4; i++) {
		__u32 covered;
		__u32 mask;

		if (i >= words)
			break;
		covered = prefix_len > i * 32 ? prefix_len - i * 32 : 0;
		mask = warren_fp_mask(covered);
		if ((warren_fp_ntohl(a->addr[i]) & mask) != (warren_fp_ntohl(net->addr[i]) & mask))
			return 0;
	}
	return 1;
}

WARREN_FP_FN enum warren_fastpath_scope
warren_fastpath_scope(const struct warren_addr *local, const struct warren_addr *remote,
		      const struct warren_fastpath_cfg *cfg)
{
	if (local->family != remote->family)
		return WARREN_FASTPATH_NONE;
	if (local->family != WARREN_AF_INET && local->family != WARREN_AF_INET6)
		return WARREN_FASTPATH_NONE;
	if (local->port == WARREN_PORT_HBONE || remote->port == WARREN_PORT_HBONE)
		return WARREN_FASTPATH_NONE;
	if (warren_fp_is_loopback(local) && warren_fp_is_loopback(remote))
		return WARREN_FASTPATH_LOOPBACK;
	if (warren_fp_in_prefix(local, &cfg->pod_net, cfg->pod_prefix_len) &&
	    warren_fp_in_prefix(remote, &cfg->pod_net, cfg->pod_prefix_len))
		return WARREN_FASTPATH_POD;
	return WARREN_FASTPATH_NONE;
}

/* The warren_socks key of the socket whose own addresses are (local, remote). The peer's key
 * is warren_fastpath_key(scope, cookie, remote, local, ...). */
WARREN_FP_FN void warren_fastpath_key(enum warren_fastpath_scope scope, __u64 netns_cookie,
				      const struct warren_addr *local,
				      const struct warren_addr *remote, struct warren_sock_key *key)
{
	key->netns_cookie = scope == WARREN_FASTPATH_LOOPBACK ? netns_cookie : 0;
	key->local = *local;
	key->remote = *remote;
}

/* The sk_msg program's decision for one message of `size` bytes from a socket whose state is
 * `st`, in two steps around the redirect (a redirect the helper set up cannot be taken back):
 *
 * warren_fastpath_may_redirect: 1 = try the peer; 0 = through TCP. A socket that ever sent
 * through TCP never redirects again; a socket whose next message would pass its budget
 * (WARREN_FASTPATH_REDIRECT_BUDGET, warren_abi.h) goes TCP for good, and returns
 * *budget_spent = 1 when it had been redirecting (the moment TCP's flow control takes over).
 *
 * warren_fastpath_redirected: the outcome of the try. Peer found: redirecting, the bytes
 * counted. Not found: an undecided socket goes TCP for good; a redirecting one (its peer
 * closed) passes this message to TCP, which answers as it would have. */
WARREN_FP_FN int warren_fastpath_may_redirect(struct warren_sock_state *st, __u32 size,
					      int *budget_spent)
{
	*budget_spent = 0;
	if (st->mode == WARREN_SOCK_TCP)
		return 0;
	if (st->redirected + size > WARREN_FASTPATH_REDIRECT_BUDGET) {
		*budget_spent = st->mode == WARREN_SOCK_REDIRECT;
		st->mode = WARREN_SOCK_TCP;
		return 0;
	}
	return 1;
}

WARREN_FP_FN void warren_fastpath_redirected(struct warren_sock_state *st, __u32 size,
					     int peer_found)
{
	if (peer_found) {
		st->mode = WARREN_SOCK_REDIRECT;
		st->redirected += size;
	} else if (st->mode == WARREN_SOCK_UNDECIDED) {
		st->mode = WARREN_SOCK_TCP;
	}
}

#endif /* WARREN_FASTPATH_H */
