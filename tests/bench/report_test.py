"""Table tests of bench/harness/report.py: medians and min–max, ratios to plain and to the
best peer (direction-aware), paired added latency, unavailable paths, the goals, and that the
markdown and SVG output name every measured path."""
import os
import sys
import unittest
import xml.dom.minidom

sys.path.insert(0, os.path.join(os.environ.get("WARREN_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..")),
                                "bench", "harness"))
import report  # noqa: E402


def run_(**figs):
    d = dict(figs)
    d["_errors"] = []
    return d


class ReportTest(unittest.TestCase):
    def setUp(self):
        self.runs = {
            "plain": [run_(iperf_1stream_gbps=10, rr_p50_us=20), run_(iperf_1stream_gbps=12, rr_p50_us=22),
                      run_(iperf_1stream_gbps=8, rr_p50_us=30)],
            "stunnel": [run_(iperf_1stream_gbps=3, rr_p50_us=100, **{"http_vcpu_per_1k_rps.client": 0.2}),
                        run_(iperf_1stream_gbps=4, rr_p50_us=110, **{"http_vcpu_per_1k_rps.client": 0.3}),
                        run_(iperf_1stream_gbps=5, rr_p50_us=90, **{"http_vcpu_per_1k_rps.client": 0.1})],
            "haproxy": [run_(iperf_1stream_gbps=6, rr_p50_us=60, **{"http_vcpu_per_1k_rps.client": 0.05})],
            "warren-cross": [run_(iperf_1stream_gbps=6, rr_p50_us=35, **{"http_vcpu_per_1k_rps.client": 0.02,
                                                                         "http_vcpu_per_1k_rps.server": 0.04,
                                                                         "http_rss_growth_mb.client": 4,
                                                                         "http_rss_growth_mb.server": 9})],
        }
        self.status = {p: "ok" for p in self.runs}
        self.status["warren-same"] = "unavailable: pre-check failed"
        self.sc = report.aggregate(self.runs, self.status)

    def test_median_min_max(self):
        v = self.sc["plain"]["iperf_1stream_gbps"]
        self.assertEqual((v["median"], v["min"], v["max"], v["n"]), (10, 8, 12, 3))

    def test_ratios_follow_the_direction_of_the_figure(self):
        w = self.sc["warren-cross"]
        self.assertAlmostEqual(w["iperf_1stream_gbps"]["ratio_to_plain"], 0.6)
        self.assertAlmostEqual(w["iperf_1stream_gbps"]["ratio_to_best_peer"], 1.0)  # best = haproxy 6
        self.assertAlmostEqual(w["rr_p50_us"]["best_peer"], 60)  # lower is better
        self.assertAlmostEqual(self.sc["stunnel"]["http_vcpu_per_1k_rps.client"]["best_peer"], 0.05)
        self.assertNotIn("ratio_to_plain", self.sc["stunnel"]["http_vcpu_per_1k_rps.client"])

    def test_added_latency_is_paired_per_repeat(self):
        a = self.sc["stunnel"]["rr_added_p50_us"]
        self.assertEqual(sorted(a["samples"]), [60, 80, 88])
        self.assertEqual(self.sc["warren-cross"]["rr_added_p50_us"]["median"], 15)
        self.assertTrue(self.sc["plain"]["rr_added_p50_us"].startswith("n/a"))

    def test_unavailable_and_na(self):
        for v in self.sc["warren-same"].values():
            self.assertEqual(v, "unavailable: pre-check failed")
        self.assertTrue(self.sc["plain"]["http_cpu_s.client"].startswith("n/a"))
        self.assertTrue(self.sc["haproxy"]["wrk_rps"].startswith("unavailable: "))
        self.assertEqual(self.sc["warren-same-skmsg"]["rr_p50_us"], "unavailable: not run")

    def test_goals(self):
        g = {x["goal"]: x for x in report.goals(self.sc)}
        self.assertEqual(g["cross-node 1 stream vs plain"]["status"], "met")
        self.assertEqual(g["cross-node 4 streams vs best peer"]["status"], "unavailable: not measured")
        self.assertEqual(g["added 64 B RTT p50 (cross-node)"]["status"], "met")
        self.assertEqual(g["ztunnel (client node) vCPU per 1000 req/s"]["status"], "met")
        self.assertEqual(g["ztunnel (server node) vCPU per 1000 req/s"]["status"], "not met")
        self.assertEqual(g["ztunnel (client node) RSS growth at 1000 req/s"]["status"], "met")
        self.assertEqual(g["ztunnel (server node) RSS growth at 1000 req/s"]["status"], "not met")
        self.assertEqual(g["cross-node 1 stream vs best peer"]["status"], "not met")  # level with haproxy
        self.assertEqual(g["added 64 B RTT p50 vs best peer"]["value"], 15 / 40)
        self.assertEqual(g["added 64 B RTT p50 vs best peer"]["status"], "met")
        self.assertEqual(g["same-node 1 stream, sk_msg on, vs plain"]["status"], "unavailable: not run")
        self.assertEqual(g["new connections/s (cross-node) vs best peer"]["status"], "unavailable: not measured")

    def test_same_node_connection_and_idle_goals(self):
        runs = {"plain": [run_(connrate_cps=5000)], "plain-same": [run_(iperf_1stream_gbps=10)],
                "warren-same": [run_(iperf_1stream_gbps=3)], "warren-same-skmsg": [run_(iperf_1stream_gbps=6)],
                "stunnel": [run_(connrate_cps=100, **{"idle_kib_per_conn.client": 80, "idle_kib_per_conn.server": 100})],
                "haproxy": [run_(connrate_cps=130, **{"idle_kib_per_conn.client": 30, "idle_kib_per_conn.server": 20})],
                "warren-cross": [run_(connrate_cps=400, **{"idle_kib_per_conn.client": 7, "idle_kib_per_conn.server": 25})]}
        g = {x["goal"]: x for x in report.goals(report.aggregate(runs, {p: "ok" for p in runs}))}
        same = g["same-node 1 stream, sk_msg on, vs plain"]
        self.assertEqual((same["value"], same["status"], same["note"]), (0.6, "met", "sk_msg off: 0.30x"))
        self.assertEqual(g["new connections/s (cross-node) vs best peer"]["value"], 400 / 130)
        self.assertEqual(g["idle KiB per connection (client node) vs best peer"]["status"], "met")  # 7 < 30
        self.assertEqual(g["idle KiB per connection (server node) vs best peer"]["status"], "not met")  # 25 > 20

    def test_the_floor_is_no_peer_and_its_figures_annotate_the_per_request_goals(self):
        runs = dict(self.runs)
        runs["haproxy-notls"] = [run_(iperf_1stream_gbps=9, rr_p50_us=30, **{"http_vcpu_per_1k_rps.client": 0.015,
                                                                            "http_vcpu_per_1k_rps.server": 0.025})]
        sc = report.aggregate(runs, {p: "ok" for p in runs})
        w = sc["warren-cross"]
        # Faster and leaner than every peer, yet never the "best peer": nothing is encrypted.
        self.assertAlmostEqual(w["iperf_1stream_gbps"]["best_peer"], 6)
        self.assertAlmostEqual(w["rr_p50_us"]["best_peer"], 60)
        self.assertAlmostEqual(sc["haproxy-notls"]["iperf_1stream_gbps"]["ratio_to_plain"], 0.9)
        self.assertEqual(sc["haproxy-notls"]["rr_added_p50_us"]["median"], 10)
        g = {x["goal"]: x for x in report.goals(sc)}
        self.assertEqual(g["added 64 B RTT p50 (cross-node)"]["note"], "floor (haproxy-notls, no TLS): 10.0 µs")
        self.assertEqual(g["ztunnel (server node) vCPU per 1000 req/s"]["note"],
                         "floor (haproxy-notls, no TLS): 0.025")
        self.assertTrue(g["waypoint vCPU per 1000 req/s (issue #13)"]["note"].endswith(
            "floor (haproxy-notls, no TLS): 0.015 per proxy"))
        # Without the floor the note says why there is no figure.
        self.assertEqual(report.goals(self.sc)[3]["note"], "floor (haproxy-notls): unavailable: not run")

    def test_the_machine_floor_annotates_the_per_request_goals_and_heads_the_report(self):
        floor = {"tool": "floor", "syscall_ns": 95.5,
                 "same_cpu": {"wake": {"round_trips": 9, "p50_us": 2.3, "p99_us": 4, "cpu_us": 2.6},
                              "tcp_rr": {"round_trips": 9, "p50_us": 6, "p99_us": 20, "cpu_us": 7}},
                 "across_cpus": {"wake": {"round_trips": 9, "p50_us": 63, "p99_us": 110, "cpu_us": 42},
                                 "tcp_rr": {"round_trips": 9, "p50_us": 73, "p99_us": 130, "cpu_us": 52}}}
        g = {x["goal"]: x for x in report.goals(self.sc, floor)}
        self.assertEqual(g["added 64 B RTT p50 (cross-node)"]["note"],
                         "floor (haproxy-notls): unavailable: not run; four hops: 12.0 µs on one CPU, 146 µs across two")
        self.assertTrue(g["ztunnel (client node) vCPU per 1000 req/s"]["note"].endswith(
            "; a proxy's two hops per request: 0.007 on one CPU, 0.052 across two"), g)
        self.assertTrue(g["waypoint vCPU per 1000 req/s (issue #13)"]["note"].endswith("0.052 across two"))
        one_cpu = dict(floor, across_cpus=None)
        self.assertTrue(report.goals(self.sc, one_cpu)[5]["note"].endswith("0.007 on one CPU"))
        # No floor measured (or it failed): the notes are the haproxy-notls floor's alone.
        self.assertEqual(report.goals(self.sc, "unavailable: boom")[3]["note"],
                         "floor (haproxy-notls): unavailable: not run")
        md = report.machine_floor_markdown({"floor_start": floor, "floor_end": "unavailable: exit 3"})
        self.assertIn("| start | 95.5 ns | 2.30 µs p50, 2.60 µs CPU | 63.0 µs p50, 42.0 µs CPU | "
                      "6.00 µs p50, 7.00 µs CPU | 73.0 µs p50, 52.0 µs CPU |", md)
        self.assertIn("| end | unavailable: exit 3 | | | | |", md)
        self.assertEqual(report.machine_floor_markdown({}), [])
        # The goals read the start's figures, else the end's.
        self.assertIs(report.machine_floor_of({"floor_start": floor, "floor_end": "x"}), floor)
        self.assertIs(report.machine_floor_of({"floor_start": "unavailable: exit 3", "floor_end": floor}), floor)
        self.assertIsNone(report.machine_floor_of({"floor_start": "unavailable: exit 3"}))

    def test_l7_paths_compare_with_the_l7_peers_on_the_proxy(self):
        runs = {"plain": [run_(http_p50_us=100)],
                "nginx-http": [run_(http_p50_us=300, **{"http_vcpu_per_1k_rps.proxy": 0.05})],
                "haproxy-http": [run_(http_p50_us=250, **{"http_vcpu_per_1k_rps.proxy": 0.08})],
                "haproxy": [run_(http_p50_us=200, **{"http_vcpu_per_1k_rps.client": 0.01})],
                "warren-waypoint": [run_(http_p50_us=600, **{"http_vcpu_per_1k_rps.proxy": 0.12,
                                                             "http_vcpu_per_1k_rps.client": 0.03})]}
        sc = report.aggregate(runs, {p: "ok" for p in runs})
        w = sc["warren-waypoint"]
        self.assertAlmostEqual(w["http_vcpu_per_1k_rps.proxy"]["ratio_to_best_peer"], 0.12 / 0.05)  # nginx
        self.assertAlmostEqual(w["http_added_p50_us"]["median"], 500)
        self.assertAlmostEqual(w["http_added_p50_us"]["ratio_to_best_peer"], 500 / 150)  # haproxy-http +150
        self.assertNotIn("ratio_to_best_peer", w["http_vcpu_per_1k_rps.client"])  # the mTLS peers have no proxy side
        runs["haproxy-http"][0]["http_p50_us"] = 90  # under plain: added -10, no ratio against it
        noisy = report.aggregate(runs, {p: "ok" for p in runs})["warren-waypoint"]["http_added_p50_us"]
        self.assertNotIn("ratio_to_best_peer", noisy)
        self.assertTrue(noisy["no_ratio"].startswith("unavailable: " + report.NOISY_PEER), noisy)
        self.assertTrue(w["iperf_1stream_gbps"].startswith("n/a: an L7 proxy path"))
        self.assertTrue(sc["nginx-http"]["http_cpu_s.client"].startswith("n/a: one HTTP proxy"))
        self.assertTrue(sc["haproxy"]["http_cpu_s.proxy"].startswith("n/a: no L7 proxy"))
        g = {x["goal"]: x for x in report.goals(sc)}
        self.assertEqual(g["waypoint vCPU per 1000 req/s (issue #13)"]["status"], "not met")
        self.assertEqual(g["waypoint vCPU per 1000 req/s (issue #13)"]["value"], 0.12)

    def test_markdown_and_svg(self):
        result = {"date": "d", "commit": "c", "machine": {"cpu": "cpu", "cpus": 2, "mem_gib": 1, "kernel": "k"},
                  "config": {"repeat": 3, "quick": False}, "paths": dict(self.status), "scenarios": self.sc,
                  "goals": report.goals(self.sc), "micro": {"x_bench": [{"name": "BM_a", "cpu_time": 5,
                                                                          "time_unit": "ns"}]},
                  "components": {"wb1": {"node-1": {"agent": 11, "ztunnel": 12}, "node-2": {"ztunnel": 22}}},
                  "capture": {
                      "warren-cross": {"kind": "warren", "proof": "p", "windows": [
                          {"window": "pre-check", "connections": 1, "verdict": "ok",
                           "delta": {"connect_redirected": 1, "client_outbound_mtls": 1, "server_inbound_mtls": 1,
                                     "server_inbound_plaintext": 0, "fastpath_redirected": 0,
                                     "client_proxy_cpu_s": 0, "server_proxy_cpu_s": 0.01}},
                          {"window": "repeat 1", "connections": 1234, "verdict": "server_inbound_plaintext +3",
                           "delta": {"server_inbound_plaintext": 3}}]},
                      "stunnel": {"kind": "peer", "proof": "p", "windows": [
                          {"window": "repeat 1", "connections": 20, "verdict": "ok",
                           "delta": {"client_node_accepted": 20, "client_node_opened": 21, "server_node_accepted": 20,
                                     "server_node_opened": 20, "client_proxy_cpu_s": 1.5, "server_proxy_cpu_s": 1.25}}]}},
                  "profile": {"event": "cpu-clock", "seconds": 5, "loads": {
                      "iperf3 1 stream": {s: {"samples": 100, "groups": {"crypto": 40.0, "memmove/copies": 17.5},
                                              "top": [{"percent": 17.5, "symbol": "__memmove_avx_unaligned_erms",
                                                       "dso": "libc.so.6", "kernel": False, "group": "memmove/copies"}]}
                                          for s in ("client", "server")},
                      "64 B request/response": "unavailable: perf report listed no symbols"}}}
        md = report.markdown(result)
        self.assertIn("| warren-cross | pre-check | 1 | +1 | +1 | +1 | +0 | +0 | +0 | +0.01 | ok |", md)
        self.assertIn("| warren-cross | repeat 1 | 1,234 | — | — | — | +3 | — | — | — | server_inbound_plaintext +3 |", md)
        self.assertIn("| stunnel | repeat 1 | 20 | +20 | +21 | +20 | +20 | +1.50 | +1.25 | ok |", md)
        self.assertIn("wb1 node-1 agent 11/ztunnel 12, node-2 ztunnel 22", md)
        self.assertIn("| crypto | 40.0 % | 40.0 % |", md)
        self.assertIn("| memmove/copies | 17.5 % | 17.5 % |", md)
        self.assertIn("`__memmove_avx_unaligned_erms` 17.5 %", md)
        self.assertIn("unavailable: perf report listed no symbols", md)
        self.assertIn("| iperf_1stream_gbps (Gbit/s) | warren-cross | 6.00 | 6.00–6.00 | 0.60× | 1.00× |", md)
        self.assertIn("Not measured (see Paths): plain-same, warren-same, warren-same-skmsg, haproxy-notls.", md)
        self.assertIn("| x_bench | BM_a | 5.00 ns |", md)
        # A goal whose path was not run names that path, whichever others share its reason.
        result["paths"].update({p: "unavailable: not run" for p in ("warren-same-skmsg", "warren-waypoint", "haproxy-http")})
        goal_rows = report.markdown(result)
        self.assertIn("| same-node 1 stream, sk_msg on, vs plain | warren-same-skmsg unavailable (see Paths) |", goal_rows)
        self.assertIn("| waypoint vCPU per 1000 req/s (issue #13) | warren-waypoint unavailable (see Paths) |",
                      goal_rows)
        self.assertTrue(md.startswith("# Warren benchmark d (c)\n"))
        # A commit made while the run went on does not rename it; the header says so.
        result["commit_at_end"] = "e"
        self.assertTrue(report.markdown(result).startswith(
            "# Warren benchmark d (c; the source was at e when it ended)\n"))
        for svg in report.charts(self.sc).values():
            doc = xml.dom.minidom.parseString(svg)
            self.assertEqual(doc.documentElement.tagName, "svg")
            self.assertIn("warren-cross", svg)


if __name__ == "__main__":
    unittest.main()
