"""Where a proxy's time goes: `perf record -g` of one process during a load, then its samples
(`perf script`) by leaf symbol (self time, as `perf report --no-children`) and grouped into
what the data path spends the time on. The grouping is a pure, ordered table of rules (the
first that matches wins)."""
import re
import shutil
import subprocess

# (group, DSO pattern or None, symbol pattern or None); a rule matches when every pattern given
# matches. Order matters: copies before crypto (OpenSSL has memcpy callers, not memcpy itself),
# the scheduler before syscalls (io_cqring_wait is a sleep).
GROUPS = [
    ("memmove/copies", None, r"memmove|memcpy|copy_user|_copy_to_iter|_copy_from_iter|copy_page|"
                             r"rep_movs|skb_copy_datagram|copyout|copyin"),
    ("crypto", r"libcrypto|libssl", None),
    ("crypto", None, r"^(aes|gcm|ghash|sha\d|EVP_|ossl_|ecp_nistz|bn_|CRYPTO_|OPENSSL_|tls1_|ssl3_|SSL_)|"
                     r"_(aesni|gcm|ghash)_"),
    ("HTTP/2", r"nghttp2", None),
    ("HTTP/2", None, r"^nghttp2_"),
    ("scheduler/wake-ups", r"kernel", r"schedule|finish_task_switch|try_to_wake_up|ttwu|wake_up|__wake|"
                                      r"pick_next|enqueue_|dequeue_|update_curr|update_load|select_task_rq|"
                                      r"psi_|__switch_to|switch_mm|futex|do_idle|cpuidle|default_idle|"
                                      r"safe_halt|io_cqring_wait|hrtimer|set_next_entity|put_prev|"
                                      r"native_sched_clock|sched_"),
    ("syscalls/io_uring", r"liburing", None),
    ("syscalls/io_uring", r"kernel", r"io_uring|^io_|^__io_|entry_SYSCALL|do_syscall|syscall_|__x64_sys|"
                                     r"__sys_|fdget|fput|__fget|exit_to_user|syscall_exit|"
                                     r"restore_regs|error_entry|irqentry|ret_from"),
    ("kernel TCP/IP", r"kernel", r"tcp|inet|^ip_|ipv4|^__ip|_ip_|dev_|netif|veth|^br_|nf_|skb|^sk_|^__sk_|"
                                 r"sock|napi|net_rx|eth_|loopback|csum|qdisc|neigh|fib_|bpf|"
                                 r"__cgroup_bpf|dst_|udp|^raw_|lock_sock|release_sock"),
    ("memory: allocator, page faults", None, r"malloc|^free|_int_free|cfree|tcache|operator new|operator delete|"
                                             r"kmem_cache|kmalloc|kfree|alloc_pages|alloc_frozen_pages|folio|"
                                             r"page_frag|mmap|munmap|brk|page_fault|clear_page|handle_mm_fault|"
                                             r"get_page_from_freelist|anon_page|memcg"),
    ("ours (warren binary)", r"warren-", None),
    ("ours (warren binary)", None, r"warren::"),
    ("other kernel", r"kernel", None),
]
ORDER = ["crypto", "memmove/copies", "syscalls/io_uring", "kernel TCP/IP", "scheduler/wake-ups", "HTTP/2",
         "ours (warren binary)", "memory: allocator, page faults", "other kernel", "other"]
# Frames that say nothing about what the time was for: lock and irq-restore points (with the
# cpu-clock timer, time spent with interrupts off is sampled where they come back on, e.g. in
# _raw_spin_unlock_irqrestore after a wake-up; on a PVM guest in pvm_irq_enable, reached through
# __raw_callee_save_pvm_irq_enable from finish_task_switch or an irqrestore), retpoline thunks,
# unresolved frames of no DSO.
# A sample whose leaf is one of these is grouped by the first caller that is not.
NEUTRAL = re.compile(r"^_?_?raw_spin|spin_unlock|irqrestore|^__x86_indirect_thunk|^__x86_return_thunk|^srso_|"
                     r"^local_bh_enable|^__local_bh_enable|irq_enable$|^__raw_callee_save_")
_COMPILED = [(g, re.compile(d) if d else None, re.compile(s) if s else None) for g, d, s in GROUPS]
_FRAME = re.compile(r"^\s*([0-9a-f]+)\s+(.*?)\s+\((.*)\)\s*$")


def group_of(dso, symbol):
    for g, d, s in _COMPILED:
        if (d is None or d.search(dso)) and (s is None or s.search(symbol)):
            return g
    return "other"


def _neutral(dso, symbol):
    return bool(NEUTRAL.search(symbol)) or (symbol == "[unknown]" and dso == "[unknown]")


def parse_script(text):
    """`perf script -F ip,sym,dso` (recorded with -g) -> one list of (symbol, dso) frames per
    sample, leaf first; samples are separated by blank lines."""
    samples, frames = [], []
    for line in text.splitlines():
        m = _FRAME.match(line)
        if m:
            frames.append((m.group(2), m.group(3).rsplit("/", 1)[-1]))
        elif not line.strip() and frames:
            samples.append(frames)
            frames = []
    if frames:
        samples.append(frames)
    return samples


def sample_group(frames):
    """The group of one sample: its leaf's, or, when the leaf is NEUTRAL, the first caller's
    that is not."""
    for sym, dso in frames:
        if not _neutral(dso, sym):
            return group_of(dso, sym)
    return group_of(frames[0][1], frames[0][0])


def summarize(samples, top=12):
    """Samples (parse_script) -> their count, self time per group (percent, in ORDER, zero
    groups left out) and the top leaf symbols by self time (as `perf report --no-children`)."""
    if not samples:
        raise ValueError("perf recorded no samples")
    groups, leaves = {}, {}
    for frames in samples:
        g = sample_group(frames)
        groups[g] = groups.get(g, 0) + 1
        leaf = frames[0]
        leaves[leaf] = leaves.get(leaf, 0) + 1
    n = len(samples)
    top_syms = sorted(leaves.items(), key=lambda kv: -kv[1])[:top]
    return {"samples": n,
            "groups": {g: round(100.0 * groups[g] / n, 2) for g in ORDER if groups.get(g)},
            "top": [{"percent": round(100.0 * c / n, 2), "dso": dso,
                     "symbol": f"({dso}, no symbols)" if sym == "[unknown]" else sym[:120],
                     "group": "(by caller)" if _neutral(dso, sym) else group_of(dso, sym)}
                    for (sym, dso), c in top_syms]}


def usable_event():
    """'cycles' where the CPU's PMU is visible, else the 'cpu-clock' software timer (VMs often
    have no PMU: `perf stat -e instructions true` says <not supported>); or 'unavailable: ...'."""
    if not shutil.which("perf"):
        return "unavailable: perf is not installed (linux-perf, scripts/deps.sh)"
    last = "?"
    for event in ("cycles", "cpu-clock"):
        p = subprocess.run(["perf", "stat", "-x,", "-e", event, "true"], capture_output=True, text=True, timeout=30)
        if p.returncode == 0 and "<not supported>" not in p.stderr and "<not counted>" not in p.stderr:
            return event
        last = (p.stderr.strip().splitlines() or ["?"])[-1]
    return f"unavailable: perf stat -e cpu-clock true: {last}"


def record_argv(event, pid, out, seconds):
    """Samples `pid` (all threads) with call graphs for `seconds`, then exits by itself."""
    return ["perf", "record", "-e", event, "-F", "999", "-g", "-p", str(pid), "-o", out, "--", "sleep", str(seconds)]


def script_argv(data):
    return ["perf", "script", "-i", data, "-F", "ip,sym,dso"]
