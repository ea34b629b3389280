/* cgroup/connect6: the IPv6 twin of connect4.bpf.c; redirects to [::1]:15001. */
#include "warren_common.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline int warren_redirect_connect6(struct bpf_sock_addr *ctx)
{
	struct warren_pending pending = {};
	struct bpf_sock *sk;
	__u64 netns_cookie, sock_cookie;
	__u32 dst[4];

	if (ctx->type != WARREN_SOCK_STREAM || ctx->protocol != WARREN_IPPROTO_TCP) {
		warren_count(WARREN_CNT_CONNECT_SKIP_NOT_TCP);
		return 1;
	}
	netns_cookie = bpf_get_netns_cookie(ctx);
	if (!bpf_map_lookup_elem(&warren_enrolled, &netns_cookie)) {
		warren_count(WARREN_CNT_CONNECT_SKIP_NOT_ENROLLED);
		return 1;
	}
	sk = ctx->sk;
	if (!sk)
		return 1;
	if (sk->mark == WARREN_ZTUNNEL_MARK) {
		warren_count(WARREN_CNT_CONNECT_SKIP_MARK);
		return 1;
	}
	dst[0] = ctx->user_ip6[0];
	dst[1] = ctx->user_ip6[1];
	dst[2] = ctx->user_ip6[2];
	dst[3] = ctx->user_ip6[3];
	if (warren_is_loopback6(dst)) {
		warren_count(WARREN_CNT_CONNECT_SKIP_LOOPBACK);
		return 1;
	}

	__builtin_memcpy(pending.orig_dst.addr, dst, sizeof(dst));
	pending.orig_dst.port = bpf_ntohs((__u16)ctx->user_port);
	pending.orig_dst.family = WARREN_AF_INET6;
	pending.netns_cookie = netns_cookie;
	sock_cookie = bpf_get_socket_cookie(ctx);
	if (bpf_map_update_elem(&warren_pending, &sock_cookie, &pending, BPF_ANY)) {
		warren_count(WARREN_CNT_ERRORS);
		return 0;
	}
	ctx->user_ip6[0] = 0;
	ctx->user_ip6[1] = 0;
	ctx->user_ip6[2] = 0;
	ctx->user_ip6[3] = bpf_htonl(1);
	ctx->user_port = bpf_htons(WARREN_PORT_OUTBOUND);
	warren_count(WARREN_CNT_CONNECT_REDIRECTED);
	return 1;
}

SEC("cgroup/connect6")
int warren_connect6(struct bpf_sock_addr *ctx)
{
	return warren_redirect_connect6(ctx);
}
