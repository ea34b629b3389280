/* cgroup/connect4: TCP connects from an enrolled pod netns go to ztunnel's outbound listener
 * 127.0.0.1:15001 in the same netns; the original destination is remembered by socket cookie
 * (sockops re-keys it by the client's local address once the connection is established).
 * Never touched: ztunnel's own sockets (mark 0x539, 0x53a), loopback destinations, non-TCP
 * (warren_connect.bpf.h). */
#include "warren_connect.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("cgroup/connect4")
int warren_connect4(struct bpf_sock_addr *ctx)
{
	struct warren_addr orig;
	enum warren_connect_verdict verdict;

	warren_addr_from_sock(&orig, WARREN_AF_INET, ctx->user_ip4, NULL,
			      bpf_ntohs((__u16)ctx->user_port));
	verdict = warren_capture_connect(ctx, &orig);
	if (verdict != WARREN_CONNECT_REDIRECT)
		return verdict;
	ctx->user_ip4 = bpf_htonl(0x7f000001);
	ctx->user_port = bpf_htons(WARREN_PORT_OUTBOUND);
	return 1;
}
