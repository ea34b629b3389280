/* cgroup/connect4: TCP connects from an enrolled pod netns go to ztunnel's outbound listener
 * 127.0.0.1:15001 in the same netns; the original destination is remembered by socket cookie
 * (sockops re-keys it by the client's local address once the connection is established).
 * Never touched: ztunnel's own sockets (mark 0x539), loopback destinations, non-TCP. */
#include "warren_common.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline int warren_redirect_connect4(struct bpf_sock_addr *ctx)
{
	struct warren_pending pending = {};
	struct bpf_sock *sk;
	__u64 netns_cookie, sock_cookie;

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
	if (warren_is_loopback4(ctx->user_ip4)) {
		warren_count(WARREN_CNT_CONNECT_SKIP_LOOPBACK);
		return 1;
	}

	pending.orig_dst.addr[0] = ctx->user_ip4;
	pending.orig_dst.port = bpf_ntohs((__u16)ctx->user_port);
	pending.orig_dst.family = WARREN_AF_INET;
	pending.netns_cookie = netns_cookie;
	sock_cookie = bpf_get_socket_cookie(ctx);
	if (bpf_map_update_elem(&warren_pending, &sock_cookie, &pending, BPF_ANY)) {
		/* Without a record ztunnel could not route it; refuse rather than leak plaintext. */
		warren_count(WARREN_CNT_ERRORS);
		return 0;
	}
	ctx->user_ip4 = bpf_htonl(0x7f000001);
	ctx->user_port = bpf_htons(WARREN_PORT_OUTBOUND);
	warren_count(WARREN_CNT_CONNECT_REDIRECTED);
	return 1;
}

SEC("cgroup/connect4")
int warren_connect4(struct bpf_sock_addr *ctx)
{
	return warren_redirect_connect4(ctx);
}
