/* The one ABI shared by Warren's BPF programs (C, clang -target bpf) and the agent (C++).
 *
 * Everything both sides must agree on lives here: map names (pinned by name under the agent's
 * --bpf-pin-dir), key and value layouts, marks, ports, counter indices and link pin names.
 * The C++ side static_asserts every struct size (bpf/loader/abi_asserts.cc), so a layout change
 * that forgets one side fails the build.
 *
 * Byte order: addresses are kept in network byte order exactly as the kernel hands them over
 * (struct bpf_sock_addr user_ip4/user_ip6, bpf_sock src_ip4...); ports are kept in HOST byte
 * order (converted once at the edge) so that tools and logs read them naturally.
 */
#ifndef WARREN_ABI_H
#define WARREN_ABI_H

#ifdef __BPF__
/* vmlinux.h already defines the fixed-width kernel types. */
#else
#include <linux/types.h>
#endif

/* SO_MARK of ztunnel's own sockets (Istio's DEFAULT_INPOD_MARK 1337): never redirected. */
#define WARREN_ZTUNNEL_MARK 0x539
/* SO_MARK of ztunnel's inbound sockets that connect to the app from the client's address
 * (IP_TRANSPARENT; the pod netns routes this mark back to ztunnel): never redirected either. */
#define WARREN_ZTUNNEL_SOURCE_MARK 0x53a

#define WARREN_PORT_OUTBOUND 15001 /* ztunnel outbound capture, bound in each pod netns */
#define WARREN_PORT_INBOUND_PLAIN 15006 /* inbound plaintext capture, found by sk_lookup */
#define WARREN_PORT_HBONE 15008 /* never steered: mesh traffic arrives here directly */

/* getsockopt(SOL_IP, SO_ORIGINAL_DST) / getsockopt(SOL_IPV6, IP6T_SO_ORIGINAL_DST). */
#define WARREN_SOL_IP 0
#define WARREN_SOL_IPV6 41
#define WARREN_SO_ORIGINAL_DST 80

#define WARREN_AF_INET 2
#define WARREN_AF_INET6 10

/* ---- Maps (names are the pin names: <pin-dir>/<name>) ---------------------------------- */

/* Enrolment. HASH, key = netns cookie (__u64, SO_NETNS_COOKIE / bpf_get_netns_cookie),
 * value = struct warren_enrolled. Written only by the agent's reconciler. */
#define WARREN_MAP_ENROLLED "warren_enrolled"
#define WARREN_MAX_ENROLLED 4096

struct warren_enrolled {
	__u32 flags; /* reserved, 0 */
	__u32 reserved;
};

/* An IPv4 or IPv6 socket address. IPv4 uses addr[0]; the rest is zero. */
struct warren_addr {
	__u32 addr[4]; /* network byte order */
	__u16 port; /* host byte order */
	__u16 family; /* WARREN_AF_INET or WARREN_AF_INET6 */
};

/* Original destination of a redirected connect, keyed by the client socket's cookie
 * (bpf_get_socket_cookie). Written by connect4/6; moved to WARREN_MAP_ORIG_DST by sockops
 * once the client's local port is known. LRU: a connect that never completes ages out. */
#define WARREN_MAP_PENDING "warren_pending"
#define WARREN_MAX_PENDING 65536

struct warren_pending {
	struct warren_addr orig_dst;
	__u64 netns_cookie;
};

/* Original destination as ztunnel's getsockopt sees it: keyed by the netns cookie (each pod
 * netns has its own 127.0.0.1, so the cookie keeps them apart) and the CLIENT's local address
 * (= the peer address of ztunnel's accepted socket). LRU HASH. */
#define WARREN_MAP_ORIG_DST "warren_orig_dst"
#define WARREN_MAX_ORIG_DST 65536

struct warren_orig_key {
	__u64 netns_cookie;
	struct warren_addr client;
};

/* Inbound plaintext listeners. SOCKHASH, key = struct warren_addr of a pod address (the
 * destination the client dialled: pod IP, port 0), value = the 15006 listening socket that
 * ztunnel bound in that pod's netns. Keyed by address, not netns cookie, because sk_lookup
 * programs cannot call bpf_get_netns_cookie (checked on 6.18); pod addresses are unique on a
 * node. Whoever owns the listener (ztunnel, or the test probe) inserts it after bind+listen,
 * once per non-loopback address of the pod netns: open the pinned map
 * (<pin-dir>/warren_inbound) and bpf_map_update_elem(key, &listener_fd). The kernel drops the
 * entry when the socket closes. See bpf/loader/inbound_registration.h. */
#define WARREN_MAP_INBOUND "warren_inbound"
#define WARREN_MAX_INBOUND 4096

/* Sources exempt from inbound capture (kubelet probes come from the node's own addresses).
 * HASH, key = struct warren_addr with port 0, value = __u8 1. Filled by the agent. */
#define WARREN_MAP_EXEMPT_SRC "warren_exempt_src"
#define WARREN_MAX_EXEMPT_SRC 64

/* sk_msg fast path (agent --sockmap-fast-path, off by default; see bpf/README.md). SOCKHASH of
 * established TCP sockets whose two ends are both on this node, keyed by struct warren_sock_key
 * (the socket's own local and remote address). The sk_msg program attached to it hands each
 * sendmsg straight to the peer socket found under the reversed key. netns_cookie is the
 * socket's netns cookie for loopback pairs (every netns has its own 127.0.0.1) and 0 for pod
 * pairs (pod addresses are unique on a node). Created only while the fast path is on. */
#define WARREN_MAP_SOCKS "warren_socks"
#define WARREN_MAX_SOCKS 65536

struct warren_sock_key {
	__u64 netns_cookie;
	struct warren_addr local;
	struct warren_addr remote;
};

/* Per-socket fast-path state. SK_STORAGE (freed with the socket), value = struct
 * warren_sock_state. sockops creates it (UNDECIDED) before inserting the socket; the sk_msg
 * program decides on the socket's first message and never changes its mind towards
 * redirecting: a socket that once sent through TCP keeps doing so, so bytes still travelling
 * through the TCP stack are never overtaken by redirected ones. Pinned, so the decision
 * survives an agent restart that swaps the programs.
 *
 * Redirect budget: a message redirected to the peer's ingress queue is charged to the peer
 * with no flow control at all (the kernel's bpf_tcp_ingress only asks the protocol's global
 * memory limits; the sender never waits for the reader). A sender faster than its reader
 * therefore queues without bound until tcp_mem's hard limit, and then every redirected send
 * fails with ENOMEM (what iperf3 hit) while the whole host's TCP is under memory pressure. So
 * a socket redirects at most WARREN_FASTPATH_REDIRECT_BUDGET bytes in its life; the message
 * that would pass it goes through TCP, and so does everything after it (TCP's own flow
 * control takes over). The peer reads its ingress queue before its TCP receive queue, and
 * every redirected byte was sent before the first TCP one, so order is kept. At most the
 * budget is ever queued by redirection per socket: the same order as a TCP socket buffer
 * (tcp_wmem's default maximum is 4 MiB). */
#define WARREN_MAP_SOCKS_STATE "warren_socks_state"
#define WARREN_FASTPATH_REDIRECT_BUDGET (4ull << 20)

enum warren_sock_mode {
	WARREN_SOCK_UNDECIDED = 0,
	WARREN_SOCK_REDIRECT = 1,
	WARREN_SOCK_TCP = 2,
};

struct warren_sock_state {
	__u32 mode; /* enum warren_sock_mode */
	__u32 reserved;
	__u64 redirected; /* bytes this socket handed to its peer's ingress queue */
};

/* Read-only knob of the fast-path programs (set by the agent before load): this node's pod
 * CIDR (--pod-cidr). family 0 = no pod CIDR: only loopback pairs are eligible. */
struct warren_fastpath_cfg {
	struct warren_addr pod_net; /* network address, port 0 */
	__u32 pod_prefix_len;
	__u32 reserved;
};

/* Per-CPU decision counters. PERCPU_ARRAY, index = enum warren_counter, value = __u64. */
#define WARREN_MAP_COUNTERS "warren_counters"

enum warren_counter {
	WARREN_CNT_CONNECT_REDIRECTED = 0,
	WARREN_CNT_CONNECT_SKIP_NOT_ENROLLED,
	WARREN_CNT_CONNECT_SKIP_MARK,
	WARREN_CNT_CONNECT_SKIP_LOOPBACK,
	WARREN_CNT_CONNECT_SKIP_NOT_TCP,
	WARREN_CNT_SOCKOPS_RECORDED,
	WARREN_CNT_GETSOCKOPT_ANSWERED,
	WARREN_CNT_GETSOCKOPT_MISS,
	WARREN_CNT_LOOKUP_STEERED,
	WARREN_CNT_LOOKUP_SKIP_LOOPBACK,
	WARREN_CNT_LOOKUP_SKIP_HBONE,
	WARREN_CNT_LOOKUP_SKIP_EXEMPT,
	WARREN_CNT_LOOKUP_NO_LISTENER, /* fail closed: dropped (the client sees a reset) */
	WARREN_CNT_ERRORS,
	WARREN_CNT_FASTPATH_INSERTED, /* sockops put an established local socket in warren_socks */
	WARREN_CNT_FASTPATH_REDIRECTED, /* sk_msg handed a message to the peer socket */
	WARREN_CNT_FASTPATH_MISS, /* sk_msg let a message go through TCP (no peer, or pinned to TCP) */
	WARREN_CNT_FASTPATH_BUDGET_SPENT, /* a redirecting socket spent its budget: TCP from now on */
	WARREN_CNT_MAX,
};

#ifndef __BPF__
/* Counter names, indexed by enum warren_counter (user space only). Readers (the agent's admin
 * API, ztunnel's /metrics: bpf/loader/pinned_counters.h) walk this table generically, so a new
 * counter needs its enum entry and its name here and nothing else; abi_asserts.cc checks there
 * is exactly one name per counter. */
static const char *const warren_counter_names[] __attribute__((unused)) = {
	"connect_redirected",
	"connect_skip_not_enrolled",
	"connect_skip_mark",
	"connect_skip_loopback",
	"connect_skip_not_tcp",
	"sockops_recorded",
	"getsockopt_answered",
	"getsockopt_miss",
	"lookup_steered",
	"lookup_skip_loopback",
	"lookup_skip_hbone",
	"lookup_skip_exempt",
	"lookup_no_listener",
	"errors",
	"fastpath_inserted",
	"fastpath_redirected",
	"fastpath_miss",
	"fastpath_budget_spent",
};
#endif

/* ---- Programs and links ---------------------------------------------------------------- */

/* Cgroup links pinned at <pin-dir>/<name>, attached to the agent's --cgroup. */
#define WARREN_LINK_CONNECT4 "link_connect4"
#define WARREN_LINK_CONNECT6 "link_connect6"
#define WARREN_LINK_SOCKOPS "link_sockops"
#define WARREN_LINK_GETSOCKOPT "link_getsockopt"
/* sk_lookup netns links: <pin-dir>/netns/<netns cookie, decimal>. */
#define WARREN_NETNS_LINK_DIR "netns"
/* sk_msg link (fast path on only): <pin-dir>/link_sk_msg, a BPF_LINK_TYPE_SOCKMAP link of the
 * sk_msg program on warren_socks (BPF_LINK_CREATE for sk_msg needs Linux >= 6.10). */
#define WARREN_LINK_SK_MSG "link_sk_msg"

#endif /* WARREN_ABI_H */
