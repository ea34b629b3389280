"""Table tests of bench/harness/perf_profile.py: symbols grouped by what the data path spends
the time on, samples of `perf script` parsed, a neutral leaf (a lock's irq-restore point)
grouped by its caller, and the summary."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.environ.get("WARREN_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..")),
                                "bench", "harness"))
import perf_profile  # noqa: E402

K = "[kernel.kallsyms]"


def sample(*frames):
    return "\n".join(f"\t{0xffffffff81000000 + i:x} {sym} ({dso})" for i, (sym, dso) in enumerate(frames)) + "\n\n"


# `perf script -F ip,sym,dso` of a recording with -g: one block of frames per sample, leaf first.
SCRIPT = (
    sample(("__memmove_avx_unaligned_erms", "/usr/lib/x86_64-linux-gnu/libc.so.6"),
           ("warren::relay::Relay::onRead(unsigned long)", "/work/build/bin/warren-ztunnel")) * 3
    + sample(("[unknown]", "/usr/lib/x86_64-linux-gnu/libcrypto.so.3")) * 2
    + sample(("_raw_spin_unlock_irqrestore", K), ("try_to_wake_up", K), ("tcp_data_ready", K)) * 2
    + sample(("_raw_spin_unlock_irqrestore", K), ("__x86_indirect_thunk_rax", K), ("[unknown]", "[unknown]"))
    + sample(("tcp_sendmsg_locked", K), ("io_send", K))
    + sample(("nghttp2_session_mem_send2", "/usr/lib/x86_64-linux-gnu/libnghttp2.so.14")))


class GroupTest(unittest.TestCase):
    def test_rules(self):
        cases = [
            ("libc.so.6", "__memmove_avx_unaligned_erms", "memmove/copies"),
            (K, "copy_user_enhanced_fast_string", "memmove/copies"),
            (K, "skb_copy_datagram_iter", "memmove/copies"),
            ("libcrypto.so.3", "[unknown]", "crypto"),
            ("libssl.so.3", "ssl3_write_bytes", "crypto"),
            ("warren-ztunnel", "aesni_gcm_encrypt", "crypto"),
            ("libnghttp2.so.14", "nghttp2_session_mem_recv", "HTTP/2"),
            ("warren-ztunnel", "nghttp2_frame_pack_data", "HTTP/2"),
            (K, "finish_task_switch.isra.0", "scheduler/wake-ups"),
            (K, "try_to_wake_up", "scheduler/wake-ups"),
            (K, "io_cqring_wait", "scheduler/wake-ups"),
            (K, "io_submit_sqes", "syscalls/io_uring"),
            (K, "entry_SYSCALL_64", "syscalls/io_uring"),
            ("liburing.so.2", "io_uring_submit", "syscalls/io_uring"),
            (K, "tcp_sendmsg_locked", "kernel TCP/IP"),
            (K, "__netif_receive_skb_core", "kernel TCP/IP"),
            (K, "veth_xmit", "kernel TCP/IP"),
            ("libc.so.6", "_int_malloc", "memory: allocator, page faults"),
            (K, "clear_page_erms", "memory: allocator, page faults"),
            ("warren-ztunnel", "warren::relay::Relay::onRead(unsigned long)", "ours (warren binary)"),
            ("warren-ztunnel", "std::vector<char>::_M_realloc_insert", "ours (warren binary)"),
            (K, "_raw_spin_unlock_irqrestore", "other kernel"),
            (K, "mas_walk", "other kernel"),
            ("libfoo.so", "something", "other"),
        ]
        for dso, sym, want in cases:
            self.assertEqual(perf_profile.group_of(dso, sym), want, f"{dso} {sym}")

    def test_every_group_is_in_the_order(self):
        for g, _, _ in perf_profile.GROUPS:
            self.assertIn(g, perf_profile.ORDER)

    def test_neutral_leaf_goes_to_its_first_telling_caller(self):
        self.assertEqual(perf_profile.sample_group([("_raw_spin_unlock_irqrestore", K), ("try_to_wake_up", K)]),
                         "scheduler/wake-ups")
        self.assertEqual(perf_profile.sample_group([("_raw_spin_unlock_irqrestore", K), ("[unknown]", "[unknown]")]),
                         "other kernel")  # nothing telling: the leaf's own group
        self.assertEqual(perf_profile.sample_group([("tcp_sendmsg_locked", K), ("io_send", K)]), "kernel TCP/IP")
        # A PVM guest's irq-enable point, reached through a callee-save thunk.
        self.assertEqual(perf_profile.sample_group([("pvm_irq_enable", K), ("__raw_callee_save_pvm_irq_enable", K),
                                                    ("finish_task_switch.isra.0", K)]), "scheduler/wake-ups")


class SummaryTest(unittest.TestCase):
    def test_parse(self):
        samples = perf_profile.parse_script(SCRIPT)
        self.assertEqual(len(samples), 10)
        self.assertEqual(samples[0], [("__memmove_avx_unaligned_erms", "libc.so.6"),
                                      ("warren::relay::Relay::onRead(unsigned long)", "warren-ztunnel")])

    def test_summary(self):
        s = perf_profile.summarize(perf_profile.parse_script(SCRIPT), top=3)
        self.assertEqual(s["samples"], 10)
        self.assertEqual(s["groups"], {"crypto": 20.0, "memmove/copies": 30.0, "kernel TCP/IP": 10.0,
                                       "scheduler/wake-ups": 20.0, "HTTP/2": 10.0, "other kernel": 10.0})
        self.assertEqual(list(s["groups"])[:2], ["crypto", "memmove/copies"])  # the fixed order
        self.assertEqual([(t["symbol"], t["percent"], t["group"]) for t in s["top"]],
                         [("__memmove_avx_unaligned_erms", 30.0, "memmove/copies"),
                          ("_raw_spin_unlock_irqrestore", 30.0, "(by caller)"),
                          ("(libcrypto.so.3, no symbols)", 20.0, "crypto")])

    def test_no_samples_is_an_error(self):
        with self.assertRaises(ValueError):
            perf_profile.summarize(perf_profile.parse_script(""))

    def test_record_is_bounded(self):
        argv = perf_profile.record_argv("cpu-clock", 42, "/tmp/x.data", 5)
        self.assertEqual(argv[argv.index("-p") + 1], "42")
        self.assertEqual(argv[-3:], ["--", "sleep", "5"])
        self.assertIn("-g", argv)


if __name__ == "__main__":
    unittest.main()
