/* cgroup/getsockopt: ztunnel's accepted outbound socket (local port 15001) answers
 * getsockopt(SOL_IP, SO_ORIGINAL_DST) with a struct sockaddr_in, and
 * getsockopt(SOL_IPV6, IP6T_SO_ORIGINAL_DST) with a struct sockaddr_in6, exactly as netfilter
 * would; the proxy code stays the same as with iptables. Runs after the kernel's own
 * getsockopt, so it overrides whatever conntrack (if loaded) said. */
#include "warren_common.bpf.h"
#include "warren_addr.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline int warren_answer_orig_dst(struct bpf_sockopt *ctx)
{
	struct warren_orig_key key = {};
	struct warren_addr *orig;
	struct bpf_sock *sk = ctx->sk;
	void *optval = ctx->optval;
	void *optval_end = ctx->optval_end;
	__u32 ip6[4];

	if (!sk || sk->src_port != WARREN_PORT_OUTBOUND)
		return 1;
	key.netns_cookie = bpf_get_netns_cookie(ctx);
	ip6[0] = sk->dst_ip6[0];
	ip6[1] = sk->dst_ip6[1];
	ip6[2] = sk->dst_ip6[2];
	ip6[3] = sk->dst_ip6[3];
	/* Keyed as sockops keyed it: a dual-stack listener's v4-mapped peer is the IPv4 one. */
	warren_addr_from_sock(&key.client, sk->family, sk->dst_ip4, ip6,
			      bpf_ntohs((__u16)sk->dst_port));
	orig = bpf_map_lookup_elem(&warren_orig_dst, &key);
	if (!orig) {
		warren_count(WARREN_CNT_GETSOCKOPT_MISS);
		return 1;
	}

	if (ctx->level == WARREN_SOL_IP && orig->family == WARREN_AF_INET) {
		struct sockaddr_in *sin = optval;

		if ((void *)(sin + 1) > optval_end)
			return 1;
		sin->sin_family = WARREN_AF_INET;
		sin->sin_port = bpf_htons(orig->port);
		sin->sin_addr.s_addr = orig->addr[0];
		__builtin_memset(sin->__pad, 0, sizeof(sin->__pad));
		ctx->optlen = sizeof(*sin);
	} else if (ctx->level == WARREN_SOL_IPV6 && orig->family == WARREN_AF_INET6) {
		struct sockaddr_in6 *sin6 = optval;

		if ((void *)(sin6 + 1) > optval_end)
			return 1;
		sin6->sin6_family = WARREN_AF_INET6;
		sin6->sin6_port = bpf_htons(orig->port);
		sin6->sin6_flowinfo = 0;
		sin6->sin6_addr.in6_u.u6_addr32[0] = orig->addr[0];
		sin6->sin6_addr.in6_u.u6_addr32[1] = orig->addr[1];
		sin6->sin6_addr.in6_u.u6_addr32[2] = orig->addr[2];
		sin6->sin6_addr.in6_u.u6_addr32[3] = orig->addr[3];
		sin6->sin6_scope_id = 0;
		ctx->optlen = sizeof(*sin6);
	} else {
		return 1;
	}
	ctx->retval = 0;
	warren_count(WARREN_CNT_GETSOCKOPT_ANSWERED);
	return 1;
}

SEC("cgroup/getsockopt")
int warren_getsockopt(struct bpf_sockopt *ctx)
{
	if (ctx->optname != WARREN_SO_ORIGINAL_DST ||
	    (ctx->level != WARREN_SOL_IP && ctx->level != WARREN_SOL_IPV6))
		return 1;
	return warren_answer_orig_dst(ctx);
}
