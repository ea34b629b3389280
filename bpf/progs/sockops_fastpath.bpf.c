/* sockops with the sk_msg fast path on (agent --sockmap-fast-path): everything sockops.bpf.c
 * does, plus: an established TCP socket whose two ends are both on this node (loopback pair,
 * or both addresses in the node's pod CIDR: warren_fastpath.h) goes into warren_socks, where
 * the sk_msg program finds it as the peer of the other end.
 *
 * Both ends insert themselves: the client on ACTIVE_ESTABLISHED (tcp_finish_connect, before
 * connect() returns), the server's child socket on PASSIVE_ESTABLISHED (before accept()), so
 * neither can have sent a byte through TCP before the sk_msg program sees its first message.
 * A socket that already moved data (TCP Fast Open data in the SYN, or data completing the
 * handshake) is left out: its bytes are in the TCP stack and must not be overtaken. */
#include "warren_sockops.bpf.h"
#include "warren_fastpath_maps.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline void warren_fastpath_insert(struct bpf_sock_ops *skops, bool active)
{
	struct warren_addr local = {}, remote = {};
	struct warren_sock_key key = {};
	struct warren_fastpath_cfg cfg;
	enum warren_fastpath_scope scope;
	struct bpf_sock *sk;
	struct warren_sock_state *st;

	/* Data already in flight through TCP (see the header comment). */
	if (active ? skops->data_segs_out != 0 : skops->data_segs_in != 0)
		return;
	warren_sockops_local(skops, &local);
	warren_sockops_remote(skops, &remote);
	warren_fastpath_cfg_load(&cfg);
	scope = warren_fastpath_scope(&local, &remote, &cfg);
	if (scope == WARREN_FASTPATH_NONE)
		return;
	sk = skops->sk;
	if (!sk)
		return;
	/* The decision record must exist before the socket can run the sk_msg program: without
	 * it the socket is never redirected (sk_msg passes sockets it has no record for). */
	st = bpf_sk_storage_get(&warren_socks_state, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!st) {
		warren_count(WARREN_CNT_ERRORS);
		return;
	}
	st->mode = WARREN_SOCK_UNDECIDED;
	st->redirected = 0;
	warren_fastpath_key(scope, bpf_get_netns_cookie(skops), &local, &remote, &key);
	/* NOEXIST: a duplicate key means two sockets claim the same pair; the first keeps it. */
	if (bpf_sock_hash_update(skops, &warren_socks, &key, BPF_NOEXIST)) {
		warren_count(WARREN_CNT_ERRORS);
		return;
	}
	warren_count(WARREN_CNT_FASTPATH_INSERTED);
}

SEC("sockops")
int warren_sockops_fastpath(struct bpf_sock_ops *skops)
{
	switch (skops->op) {
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		warren_record_orig_dst(skops);
		warren_fastpath_insert(skops, true);
		break;
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		warren_fastpath_insert(skops, false);
		break;
	default:
		break;
	}
	return 1;
}
