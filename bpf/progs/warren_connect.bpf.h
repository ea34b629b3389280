/* The capture decision connect4.bpf.c and connect6.bpf.c share: TCP connects from an enrolled
 * pod netns, not ztunnel's own (mark 0x539 or 0x53a), not to loopback, are captured; the original
 * destination (already normalised by warren_addr_from_sock: a v4-mapped IPv6 destination is
 * the IPv4 one) is remembered under the socket cookie, for sockops to re-key once the
 * client's local address is known. Each hook then only reads its destination and writes its
 * redirect target. */
#ifndef WARREN_CONNECT_BPF_H
#define WARREN_CONNECT_BPF_H

#include "warren_common.bpf.h"
#include "warren_addr.h"

enum warren_connect_verdict {
	WARREN_CONNECT_REFUSE = 0,   /* return 0 from the hook: connect() fails with EPERM */
	WARREN_CONNECT_PASS = 1,     /* leave the destination as it is */
	WARREN_CONNECT_REDIRECT = 2, /* rewrite the destination to ztunnel's 15001 */
};

static __always_inline enum warren_connect_verdict
warren_capture_connect(struct bpf_sock_addr *ctx, const struct warren_addr *orig)
{
	struct warren_pending pending = {};
	struct bpf_sock *sk;
	__u64 netns_cookie, sock_cookie;

	if (ctx->type != WARREN_SOCK_STREAM || ctx->protocol != WARREN_IPPROTO_TCP) {
		warren_count(WARREN_CNT_CONNECT_SKIP_NOT_TCP);
		return WARREN_CONNECT_PASS;
	}
	netns_cookie = bpf_get_netns_cookie(ctx);
	if (!bpf_map_lookup_elem(&warren_enrolled, &netns_cookie)) {
		warren_count(WARREN_CNT_CONNECT_SKIP_NOT_ENROLLED);
		return WARREN_CONNECT_PASS;
	}
	sk = ctx->sk;
	if (!sk)
		return WARREN_CONNECT_PASS;
	if (sk->mark == WARREN_ZTUNNEL_MARK || sk->mark == WARREN_ZTUNNEL_SOURCE_MARK) {
		warren_count(WARREN_CNT_CONNECT_SKIP_MARK);
		return WARREN_CONNECT_PASS;
	}
	if (orig->family == WARREN_AF_INET ? warren_is_loopback4(orig->addr[0])
					   : warren_is_loopback6(orig->addr)) {
		warren_count(WARREN_CNT_CONNECT_SKIP_LOOPBACK);
		return WARREN_CONNECT_PASS;
	}

	pending.orig_dst = *orig;
	pending.netns_cookie = netns_cookie;
	sock_cookie = bpf_get_socket_cookie(ctx);
	if (bpf_map_update_elem(&warren_pending, &sock_cookie, &pending, BPF_ANY)) {
		/* Without a record ztunnel could not route it; refuse rather than leak plaintext.
		 */
		warren_count(WARREN_CNT_ERRORS);
		return WARREN_CONNECT_REFUSE;
	}
	warren_count(WARREN_CNT_CONNECT_REDIRECTED);
	return WARREN_CONNECT_REDIRECT;
}

#endif /* WARREN_CONNECT_BPF_H */
