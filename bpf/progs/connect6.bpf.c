/* cgroup/connect6: the IPv6 twin of connect4.bpf.c (same decision: warren_connect.bpf.h).
 * An IPv6 destination goes to [::1]:15001. An IPv4-mapped one (::ffff:a.b.c.d, dialled by a
 * dual-stack socket: gRPC, Java) is the IPv4 destination a.b.c.d: recorded as AF_INET and sent
 * to ::ffff:127.0.0.1:15001, i.e. ztunnel's IPv4 listener, so it is enrolled, routed and
 * answered by getsockopt(SOL_IP, SO_ORIGINAL_DST) exactly as connect4's captures are. */
#include "warren_connect.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("cgroup/connect6")
int warren_connect6(struct bpf_sock_addr *ctx)
{
	struct warren_addr orig;
	enum warren_connect_verdict verdict;
	__u32 dst[4], target[4];

	/* Context fields are read one by one (no pointer into the context). */
	dst[0] = ctx->user_ip6[0];
	dst[1] = ctx->user_ip6[1];
	dst[2] = ctx->user_ip6[2];
	dst[3] = ctx->user_ip6[3];
	warren_addr_from_sock(&orig, WARREN_AF_INET6, 0, dst, bpf_ntohs((__u16)ctx->user_port));
	verdict = warren_capture_connect(ctx, &orig);
	if (verdict != WARREN_CONNECT_REDIRECT)
		return verdict;
	warren_outbound_target6(&orig, target);
	ctx->user_ip6[0] = target[0];
	ctx->user_ip6[1] = target[1];
	ctx->user_ip6[2] = target[2];
	ctx->user_ip6[3] = target[3];
	ctx->user_port = bpf_htons(WARREN_PORT_OUTBOUND);
	return 1;
}
