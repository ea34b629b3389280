/* sk_lookup, attached to each enrolled pod's netns: a TCP connection arriving on a
 * non-loopback interface, to any port but 15008, is handed to ztunnel's 15006 listener in that
 * netns (registered in warren_inbound under the destination address). The link exists only
 * while the netns is enrolled, so the program itself needs no enrolment check. The accepted socket keeps the
 * original destination as its local address (getsockname). Sources in warren_exempt_src (the
 * node's own addresses: kubelet probes) and connections from the pod's own address to itself
 * (ztunnel reaching the app) are left alone. No listener = fail closed: the lookup
 * is dropped and the client gets a reset, never the application in plaintext. */
#include "warren_common.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* ifindex of "lo": the kernel registers it first in every netns. */
#define WARREN_LOOPBACK_IFINDEX 1

static __always_inline void warren_remote_addr(struct bpf_sk_lookup *ctx, struct warren_addr *a)
{
	if (ctx->family == WARREN_AF_INET) {
		a->family = WARREN_AF_INET;
		a->addr[0] = ctx->remote_ip4;
	} else {
		a->family = WARREN_AF_INET6;
		a->addr[0] = ctx->remote_ip6[0];
		a->addr[1] = ctx->remote_ip6[1];
		a->addr[2] = ctx->remote_ip6[2];
		a->addr[3] = ctx->remote_ip6[3];
	}
}

static __always_inline void warren_local_addr(struct bpf_sk_lookup *ctx, struct warren_addr *a)
{
	if (ctx->family == WARREN_AF_INET) {
		a->family = WARREN_AF_INET;
		a->addr[0] = ctx->local_ip4;
	} else {
		a->family = WARREN_AF_INET6;
		a->addr[0] = ctx->local_ip6[0];
		a->addr[1] = ctx->local_ip6[1];
		a->addr[2] = ctx->local_ip6[2];
		a->addr[3] = ctx->local_ip6[3];
	}
}

static __always_inline int warren_steer_inbound(struct bpf_sk_lookup *ctx)
{
	struct warren_addr addr = {};
	struct bpf_sock *listener;
	long err;

	if (ctx->protocol != WARREN_IPPROTO_TCP)
		return SK_PASS;
	if (ctx->ingress_ifindex == WARREN_LOOPBACK_IFINDEX) {
		warren_count(WARREN_CNT_LOOKUP_SKIP_LOOPBACK);
		return SK_PASS;
	}
	/* Local to local (source = destination address): ztunnel's own connection to the app
	 * after it accepted on 15008/15006, or the pod calling itself. It never left the netns, so
	 * there is nothing to capture; and the route of a local address reports the interface
	 * holding it (eth0), not "lo", so the check above does not catch it. */
	if (ctx->family == WARREN_AF_INET ? ctx->remote_ip4 == ctx->local_ip4
					  : (ctx->remote_ip6[0] == ctx->local_ip6[0] &&
					     ctx->remote_ip6[1] == ctx->local_ip6[1] &&
					     ctx->remote_ip6[2] == ctx->local_ip6[2] &&
					     ctx->remote_ip6[3] == ctx->local_ip6[3])) {
		warren_count(WARREN_CNT_LOOKUP_SKIP_LOOPBACK);
		return SK_PASS;
	}
	if (ctx->local_port == WARREN_PORT_HBONE) {
		warren_count(WARREN_CNT_LOOKUP_SKIP_HBONE);
		return SK_PASS;
	}
	warren_remote_addr(ctx, &addr);
	if (bpf_map_lookup_elem(&warren_exempt_src, &addr)) {
		warren_count(WARREN_CNT_LOOKUP_SKIP_EXEMPT);
		return SK_PASS;
	}
	__builtin_memset(&addr, 0, sizeof(addr));
	warren_local_addr(ctx, &addr);
	listener = bpf_map_lookup_elem(&warren_inbound, &addr);
	if (!listener) {
		warren_count(WARREN_CNT_LOOKUP_NO_LISTENER);
		return SK_DROP;
	}
	err = bpf_sk_assign(ctx, listener, 0);
	bpf_sk_release(listener);
	if (err) {
		warren_count(WARREN_CNT_ERRORS);
		return SK_DROP;
	}
	warren_count(WARREN_CNT_LOOKUP_STEERED);
	return SK_PASS;
}

SEC("sk_lookup")
int warren_sk_lookup(struct bpf_sk_lookup *ctx)
{
	return warren_steer_inbound(ctx);
}
