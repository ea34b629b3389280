"""warren-bench-floor as a process: it measures (every figure a positive number from round trips
that happened; the same-CPU placement on one CPU and, on a machine with two, the across-CPU one
on two distinct CPUs, each thread checked by the tool to run where it was pinned) and refuses
bad flags with exit 2 naming the flag. No timing is judged."""
import json
import os
import subprocess
import sys
import unittest

TOOL = os.path.join(os.environ.get("WARREN_BIN_DIR", "build/bin"), "warren-bench-floor")


class FloorToolTest(unittest.TestCase):
    def test_measures_both_placements(self):
        p = subprocess.run([TOOL, "--duration", "0.1"], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        j = json.loads(p.stdout)
        self.assertEqual(j["tool"], "floor")
        self.assertGreater(j["syscall_ns"], 0)
        placements = ["same_cpu"] + (["across_cpus"] if len(os.sched_getaffinity(0)) > 1 else [])
        if len(placements) == 1:
            self.assertIsNone(j["across_cpus"])
        for where in placements:
            for what in ("wake", "tcp_rr"):
                x = j[where][what]
                a, b = x["cpus"]
                self.assertEqual(a == b, where == "same_cpu", (where, what, x["cpus"]))
                self.assertIn(a, os.sched_getaffinity(0))
                self.assertIn(b, os.sched_getaffinity(0))
                self.assertGreater(x["round_trips"], 10, (where, what))
                self.assertGreater(x["p50_us"], 0, (where, what))
                self.assertGreaterEqual(x["p99_us"], x["p50_us"], (where, what))
                self.assertGreater(x["cpu_us"], 0, (where, what))

    def test_bad_flags_exit_2_naming_the_flag(self):
        for args in (["--duration", "0"], ["--duration", "11"], ["--nope"]):
            p = subprocess.run([TOOL] + args, capture_output=True, text=True, timeout=10)
            self.assertEqual(p.returncode, 2, args)
            self.assertIn(args[0], p.stderr, args)
            self.assertEqual(p.stdout, "", args)


if __name__ == "__main__":
    sys.exit(unittest.main())
