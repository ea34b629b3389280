/* sockops: records the original destination of redirected connects (warren_sockops.bpf.h).
 * The variant loaded when the sk_msg fast path is off: it knows nothing of warren_socks, so
 * that map is never created. */
#include "warren_sockops.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("sockops")
int warren_sockops(struct bpf_sock_ops *skops)
{
	if (skops->op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB)
		warren_record_orig_dst(skops);
	return 1;
}
