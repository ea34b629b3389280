/* The part of the sockops program both variants share (sockops.bpf.c, and
 * sockops_fastpath.bpf.c when the sk_msg fast path is on): when a redirected client connection
 * is established, its local address is known; re-key the original destination by (netns
 * cookie, client local address), which is exactly what ztunnel's accepted socket sees as its
 * peer. ACTIVE_ESTABLISHED runs in tcp_finish_connect before the final ACK leaves, so the
 * record exists before the server side can accept. */
#ifndef WARREN_SOCKOPS_BPF_H
#define WARREN_SOCKOPS_BPF_H

#include "warren_common.bpf.h"

static __always_inline void warren_record_orig_dst(struct bpf_sock_ops *skops)
{
	struct warren_orig_key key = {};
	struct warren_pending *pending;
	__u64 sock_cookie = bpf_get_socket_cookie(skops);

	pending = bpf_map_lookup_elem(&warren_pending, &sock_cookie);
	if (!pending)
		return;
	key.netns_cookie = pending->netns_cookie;
	key.client.port = (__u16)skops->local_port;
	if (skops->family == WARREN_AF_INET) {
		key.client.family = WARREN_AF_INET;
		key.client.addr[0] = skops->local_ip4;
	} else {
		key.client.family = WARREN_AF_INET6;
		key.client.addr[0] = skops->local_ip6[0];
		key.client.addr[1] = skops->local_ip6[1];
		key.client.addr[2] = skops->local_ip6[2];
		key.client.addr[3] = skops->local_ip6[3];
	}
	if (bpf_map_update_elem(&warren_orig_dst, &key, &pending->orig_dst, BPF_ANY))
		warren_count(WARREN_CNT_ERRORS);
	else
		warren_count(WARREN_CNT_SOCKOPS_RECORDED);
	bpf_map_delete_elem(&warren_pending, &sock_cookie);
}

#endif /* WARREN_SOCKOPS_BPF_H */
