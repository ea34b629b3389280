/* sk_msg, attached to warren_socks (agent --sockmap-fast-path): a message sent on a socket of
 * the map goes straight into the receive queue of its peer socket (found under the reversed
 * key), skipping the TCP/IP stack and loopback or veth/bridge in between. The peer is the very
 * socket TCP would have delivered to; only the path changes.
 *
 * Each socket decides once, on its first message (its record in warren_socks_state):
 *   peer found     -> REDIRECT: this and later messages go to the peer;
 *   peer not found -> TCP: this and every later message go through TCP, so bytes already in
 *                     the TCP stack are never overtaken by redirected ones (the peer's
 *                     reader drains redirected data before its TCP receive queue).
 * A REDIRECT socket whose peer has left the map (it closed) passes too: TCP then answers as it
 * would have. No record (sockops could not create one) = TCP.
 *
 * Budget: a socket redirects at most WARREN_FASTPATH_REDIRECT_BUDGET bytes, then goes TCP for
 * good. Redirection into the peer's ingress queue has no flow control (see warren_abi.h), so
 * without it a fast sender queued without bound and ended in ENOMEM. The decision is the pure
 * warren_fastpath_may_redirect / warren_fastpath_redirected (warren_fastpath.h). */
#include "warren_fastpath_maps.bpf.h"
#include "warren_addr.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* The socket's two addresses, normalised as sockops keyed them (warren_addr.h: a v4-mapped
 * address is the IPv4 one), so the peer key matches what the peer inserted. */
static __always_inline void warren_msg_addrs(struct sk_msg_md *msg, struct warren_addr *local,
					     struct warren_addr *remote)
{
	__u32 ip6[4];

	ip6[0] = msg->local_ip6[0];
	ip6[1] = msg->local_ip6[1];
	ip6[2] = msg->local_ip6[2];
	ip6[3] = msg->local_ip6[3];
	warren_addr_from_sock(local, msg->family, msg->local_ip4, ip6, (__u16)msg->local_port);
	ip6[0] = msg->remote_ip6[0];
	ip6[1] = msg->remote_ip6[1];
	ip6[2] = msg->remote_ip6[2];
	ip6[3] = msg->remote_ip6[3];
	warren_addr_from_sock(remote, msg->family, msg->remote_ip4, ip6,
			      (__u16)bpf_ntohl(msg->remote_port));
}

static __always_inline int warren_msg_fastpath(struct sk_msg_md *msg)
{
	struct warren_addr local = {}, remote = {};
	struct warren_sock_key peer = {};
	struct warren_fastpath_cfg cfg;
	enum warren_fastpath_scope scope;
	struct warren_sock_state *st;
	struct bpf_sock *sk = msg->sk;
	int budget_spent = 0;
	int found;

	if (!sk)
		return SK_PASS;
	st = bpf_sk_storage_get(&warren_socks_state, sk, 0, 0);
	if (!st) {
		warren_count(WARREN_CNT_FASTPATH_MISS);
		return SK_PASS;
	}
	if (!warren_fastpath_may_redirect(st, msg->size, &budget_spent)) {
		if (budget_spent)
			warren_count(WARREN_CNT_FASTPATH_BUDGET_SPENT);
		warren_count(WARREN_CNT_FASTPATH_MISS);
		return SK_PASS;
	}
	warren_msg_addrs(msg, &local, &remote);
	warren_fastpath_cfg_load(&cfg);
	scope = warren_fastpath_scope(&local, &remote, &cfg);
	if (scope == WARREN_FASTPATH_NONE) {
		st->mode = WARREN_SOCK_TCP;
		warren_count(WARREN_CNT_FASTPATH_MISS);
		return SK_PASS;
	}
	warren_fastpath_key(scope, bpf_get_netns_cookie(msg), &remote, &local, &peer);
	/* Not found: SK_PASS without a redirect target sends through TCP. */
	found = bpf_msg_redirect_hash(msg, &warren_socks, &peer, BPF_F_INGRESS) == SK_PASS;
	warren_fastpath_redirected(st, msg->size, found);
	warren_count(found ? WARREN_CNT_FASTPATH_REDIRECTED : WARREN_CNT_FASTPATH_MISS);
	return SK_PASS;
}

SEC("sk_msg")
int warren_sk_msg(struct sk_msg_md *msg)
{
	return warren_msg_fastpath(msg);
}
