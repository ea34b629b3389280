/* The part of the sockops program both variants share (sockops.bpf.c, and
 * sockops_fastpath.bpf.c when the sk_msg fast path is on): when a redirected client connection
 * is established, its local address is known; re-key the original destination by (netns
 * cookie, client local address), which is exactly what ztunnel's accepted socket sees as its
 * peer. ACTIVE_ESTABLISHED runs in tcp_finish_connect before the final ACK leaves, so the
 * record exists before the server side can accept. */
#ifndef WARREN_SOCKOPS_BPF_H
#define WARREN_SOCKOPS_BPF_H

#include "warren_common.bpf.h"
#include "warren_addr.h"

/* The socket's own address as ztunnel's accepted socket sees its peer: a dual-stack socket
 * connected through IPv4 (::ffff:127.0.0.1, connect6 sent it to ztunnel's IPv4 listener) is
 * keyed as the IPv4 address it is (warren_addr.h). */
static __always_inline void warren_sockops_local(struct bpf_sock_ops *skops, struct warren_addr *a)
{
	__u32 ip6[4];

	ip6[0] = skops->local_ip6[0];
	ip6[1] = skops->local_ip6[1];
	ip6[2] = skops->local_ip6[2];
	ip6[3] = skops->local_ip6[3];
	warren_addr_from_sock(a, skops->family, skops->local_ip4, ip6, (__u16)skops->local_port);
}

/* The peer's address, the same way (remote_port is in network order in the upper half). */
static __always_inline void warren_sockops_remote(struct bpf_sock_ops *skops, struct warren_addr *a)
{
	__u32 ip6[4];

	ip6[0] = skops->remote_ip6[0];
	ip6[1] = skops->remote_ip6[1];
	ip6[2] = skops->remote_ip6[2];
	ip6[3] = skops->remote_ip6[3];
	warren_addr_from_sock(a, skops->family, skops->remote_ip4, ip6,
			      (__u16)bpf_ntohl(skops->remote_port));
}

static __always_inline void warren_record_orig_dst(struct bpf_sock_ops *skops)
{
	struct warren_orig_key key = {};
	struct warren_pending *pending;
	__u64 sock_cookie = bpf_get_socket_cookie(skops);

	pending = bpf_map_lookup_elem(&warren_pending, &sock_cookie);
	if (!pending)
		return;
	key.netns_cookie = pending->netns_cookie;
	warren_sockops_local(skops, &key.client);
	if (bpf_map_update_elem(&warren_orig_dst, &key, &pending->orig_dst, BPF_ANY))
		warren_count(WARREN_CNT_ERRORS);
	else
		warren_count(WARREN_CNT_SOCKOPS_RECORDED);
	bpf_map_delete_elem(&warren_pending, &sock_cookie);
}

#endif /* WARREN_SOCKOPS_BPF_H */
