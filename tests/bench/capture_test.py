"""Table tests of bench/harness/capture.py (the proof that a benchmark path went where it says)
and of the `warren-lab ps` parser in bench/harness/lab.py: Prometheus text parsing, the
per-path counters, /proc/net/snmp, and the verdicts, including the uncaptured case the old
harness produced (clients outside the pod cgroup: plaintext to the server pod's 15006)."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.environ.get("WARREN_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..")),
                                "bench", "harness"))
import capture  # noqa: E402
import lab  # noqa: E402


def series(reporter, policy, workload, value, ns="mesh"):
    return (f'istio_tcp_connections_opened_total{{reporter="{reporter}",source_workload="client",'
            f'destination_workload="{workload}",destination_workload_namespace="{ns}",'
            f'destination_principal="spiffe://cluster.local/ns/{ns}/sa/default",response_flags="-",'
            f'connection_security_policy="{policy}"}} {value}')


def node_metrics(redirected, fastpath, *lines):
    return "\n".join([
        "# HELP istio_tcp_connections_opened_total The total number of TCP connections opened",
        "# TYPE istio_tcp_connections_opened_total counter", *lines,
        "# TYPE warren_redirect_decisions_total counter",
        f'warren_redirect_decisions_total{{decision="connect_redirected"}} {redirected}',
        'warren_redirect_decisions_total{decision="connect_skip_not_enrolled"} 77',
        f'warren_redirect_decisions_total{{decision="fastpath_redirected"}} {fastpath}',
        "process_cpu_seconds_total 1.5", ""])


SNMP = """Ip: Forwarding DefaultTTL InReceives
Ip: 1 64 {ip}
Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails
Tcp: 1 200 120000 -1 {active} {passive} 0
"""


class PrometheusTest(unittest.TestCase):
    def test_labels_with_escapes_and_no_labels(self):
        s = capture.parse_prometheus('a{x="q\\"u,o}te",y="b"} 3\nb 4.5\n# c 9\n\nc{z="\\\\"} 1e3\n')
        self.assertEqual(s, [("a", {"x": 'q"u,o}te', "y": "b"}, 3.0), ("b", {}, 4.5), ("c", {"z": "\\"}, 1000.0)])

    def test_total_sums_matching_series_only(self):
        s = capture.parse_prometheus("\n".join([series("source", "mutual_tls", "srv-x", 3),
                                                series("source", "mutual_tls", "srv-x", 4).replace('"-"', '"DENY"'),
                                                series("source", "mutual_tls", "srv-s", 100),
                                                series("source", "unknown", "srv-x", 1000)]))
        self.assertEqual(capture.total(s, "istio_tcp_connections_opened_total", reporter="source",
                                       connection_security_policy="mutual_tls", destination_workload="srv-x"), 7)
        self.assertEqual(capture.total(s, "nope"), 0)


class WarrenCountersTest(unittest.TestCase):
    def test_cross_node_counters_come_from_the_right_node(self):
        client = node_metrics(10, 0, series("source", "mutual_tls", "srv-x", 5),
                              series("destination", "mutual_tls", "srv-x", 999))  # not the server node
        server = node_metrics(999, 0, series("destination", "mutual_tls", "srv-x", 6),
                              series("destination", "unknown", "srv-x", 2), series("destination", "unknown", "srv-s", 50))
        c = capture.warren_counters(client, server, "mesh", "srv-x")
        self.assertEqual(c, {"client_outbound_mtls": 5, "server_inbound_mtls": 6, "server_inbound_plaintext": 2,
                             "connect_redirected": 10, "fastpath_redirected": 0})

    def test_other_namespace_does_not_count(self):
        text = node_metrics(0, 0, series("source", "mutual_tls", "srv-x", 5, ns="bench"))
        self.assertEqual(capture.warren_counters(text, text, "mesh", "srv-x")["client_outbound_mtls"], 0)


class VerdictTest(unittest.TestCase):
    def d(self, **kw):
        base = {"connect_redirected": 20, "client_outbound_mtls": 20, "server_inbound_mtls": 20,
                "server_inbound_plaintext": 0, "fastpath_redirected": 0}
        base.update(kw)
        return base

    def test_captured(self):
        self.assertIsNone(capture.warren_verdict(self.d(), 20))
        self.assertIsNone(capture.warren_verdict(self.d(fastpath_redirected=300), 20, fast_path=True))

    def test_uncaptured_client_outside_the_pod_cgroup(self):
        # What the old harness did: connect4 never saw the connection, it reached the server
        # pod's 15006 in plaintext.
        why = capture.warren_verdict(self.d(connect_redirected=0, client_outbound_mtls=0, server_inbound_mtls=0,
                                            server_inbound_plaintext=20), 20)
        for word in ("connect_redirected +0 < 20", "client_outbound_mtls +0", "server_inbound_mtls +0",
                     "server_inbound_plaintext +20"):
            self.assertIn(word, why)

    def test_partly_captured_is_not_captured(self):
        self.assertIn("client_outbound_mtls +19 < 20", capture.warren_verdict(self.d(client_outbound_mtls=19), 20))
        self.assertIn("server_inbound_plaintext +1", capture.warren_verdict(self.d(server_inbound_plaintext=1), 20))

    def test_fast_path_that_carried_nothing(self):
        self.assertIn("fastpath_redirected +0", capture.warren_verdict(self.d(), 20, fast_path=True))

    def test_delta(self):
        self.assertEqual(capture.delta({"a": 1, "b": 5}, {"a": 4, "b": 5, "c": 9}), {"a": 3, "b": 0})


class PeerTest(unittest.TestCase):
    def test_snmp_and_peer_counters(self):
        c = capture.peer_counters(SNMP.format(ip=1, active=10, passive=11), SNMP.format(ip=2, active=12, passive=13))
        self.assertEqual(c, {"client_node_accepted": 11, "client_node_opened": 10,
                             "server_node_accepted": 13, "server_node_opened": 12})

    def test_peer_verdict(self):
        ok = {"client_node_accepted": 5, "client_node_opened": 5, "server_node_accepted": 5, "server_node_opened": 5}
        self.assertIsNone(capture.peer_verdict(ok, 5))
        self.assertIn("server_node_accepted +0 < 5", capture.peer_verdict(dict(ok, server_node_accepted=0), 5))


class PsTest(unittest.TestCase):
    def test_node_components_only(self):
        text = ("NODE     COMPONENT/POD            STATE    PIDS\n"
                "node-1   agent                    running  101\n"
                "node-1   ztunnel                  running  102\n"
                "node-2   ztunnel                  exited   203\n"
                "node-1   mesh/client              running  301,302\n"
                "node-2   mesh/srv-x               exited   \n")
        self.assertEqual(lab.parse_ps(text), [("node-1", "agent", "running", 101), ("node-1", "ztunnel", "running", 102),
                                              ("node-2", "ztunnel", "exited", 203)])
        self.assertEqual(lab.parse_ps_pods(text), {"mesh/client": ("node-1", [301, 302]), "mesh/srv-x": ("node-2", [])})


WP = "spiffe://cluster.local/ns/mesh/sa/waypoint"
WEB = "web.mesh.svc.cluster.local"


def mtls(reporter, src, dst_principal, workload, value, policy="mutual_tls"):
    return (f'istio_tcp_connections_opened_total{{reporter="{reporter}",source_principal="{src}",'
            f'destination_workload="{workload}",destination_workload_namespace="mesh",'
            f'destination_principal="{dst_principal}",connection_security_policy="{policy}"}} {value}')


def requests(service, code, value):
    return (f'istio_requests_total{{reporter="waypoint",destination_service="{service}",'
            f'destination_workload="srv-x",response_code="{code}",response_flags="-"}} {value}')


class WaypointTest(unittest.TestCase):
    CLIENT = "spiffe://cluster.local/ns/mesh/sa/default"

    def counters(self, to_wp, from_wp, ok, plaintext=0, redirected=10):
        client = node_metrics(redirected, 0, mtls("source", self.CLIENT, WP, "waypoint-abc", to_wp),
                              mtls("source", self.CLIENT, self.CLIENT, "srv-x", 500))  # pod-addressed: not ours
        server = node_metrics(0, 0, mtls("destination", WP, self.CLIENT, "srv-x", from_wp),
                              mtls("destination", self.CLIENT, self.CLIENT, "srv-x", 700),  # skipped the waypoint
                              mtls("destination", "", self.CLIENT, "srv-x", plaintext, policy="unknown"))
        wp = "\n".join([requests(WEB, 200, ok), requests(WEB, 404, 1000), requests("other.mesh.svc.cluster.local",
                                                                                   200, 1000)])
        return capture.waypoint_counters(client, server, wp, "mesh", "srv-x", WP, WEB)

    def test_counters_select_the_waypoint_hops_and_the_service(self):
        self.assertEqual(self.counters(4, 1, 2000), {"connect_redirected": 10, "client_to_waypoint_mtls": 4,
                                                     "waypoint_requests": 2000, "server_from_waypoint_mtls": 1,
                                                     "server_inbound_plaintext": 0})

    def test_verdict(self):
        before = self.counters(0, 0, 0, redirected=0)
        d = capture.delta(before, self.counters(4, 1, 2000, redirected=5))
        self.assertIsNone(capture.waypoint_verdict(d, 4, 2000, 2001))
        # The client got 2000 answers the waypoint never counted: not through the waypoint.
        self.assertIn("waypoint_requests +1990", capture.waypoint_verdict(dict(d, waypoint_requests=1990), 4, 2000, 2000))
        # More counted than sent: another client's traffic in the window.
        self.assertIn("waypoint_requests", capture.waypoint_verdict(dict(d, waypoint_requests=2100), 4, 2000, 2001))
        self.assertIn("client_to_waypoint_mtls +0", capture.waypoint_verdict(dict(d, client_to_waypoint_mtls=0), 4, 2000, 2000))
        self.assertIn("connect_redirected +3", capture.waypoint_verdict(dict(d, connect_redirected=3), 4, 2000, 2000))
        self.assertIn("server_from_waypoint_mtls +0", capture.waypoint_verdict(dict(d, server_from_waypoint_mtls=0), 4, 2000, 2000))
        self.assertIn("server_inbound_plaintext +2", capture.waypoint_verdict(dict(d, server_inbound_plaintext=2), 4, 2000, 2000))
        # No new connection from the waypoint, but one kept alive from an earlier window: proven.
        self.assertIsNone(capture.waypoint_verdict(dict(d, server_from_waypoint_mtls=0, server_from_waypoint_open=1),
                                                   4, 2000, 2001))

    def test_open_connections_from_the_waypoint_are_a_gauge(self):
        doc = json.dumps({"items": [
            {"direction": "inbound", "source": {"identity": WP}, "destination": {"namespace": "mesh", "workload": "srv-x"}},
            {"direction": "inbound", "source": {"identity": self.CLIENT},
             "destination": {"namespace": "mesh", "workload": "srv-x"}},  # not from the waypoint
            {"direction": "outbound", "source": {"identity": WP}, "destination": {"namespace": "mesh", "workload": "srv-x"}},
            {"direction": "inbound", "source": {"identity": WP}, "destination": {"namespace": "mesh", "workload": "other"}},
        ]})
        self.assertEqual(capture.waypoint_open(doc, "mesh", "srv-x", WP), {"server_from_waypoint_open": 1})
        self.assertEqual(capture.waypoint_open("not json", "mesh", "srv-x", WP), {"server_from_waypoint_open": 0})
        # delta keeps a gauge's value at the window's end.
        self.assertEqual(capture.delta({"server_from_waypoint_open": 1, "waypoint_requests": 5},
                                       {"server_from_waypoint_open": 1, "waypoint_requests": 9}),
                         {"server_from_waypoint_open": 1, "waypoint_requests": 4})

    def test_l7_peer_verdict(self):
        self.assertIsNone(capture.l7_peer_verdict({"client_node_accepted": 5, "client_node_opened": 1}, 4))
        self.assertIn("client_node_accepted +3 < 4", capture.l7_peer_verdict({"client_node_accepted": 3,
                                                                              "client_node_opened": 1}, 4))
        self.assertIn("opened no connection", capture.l7_peer_verdict({"client_node_accepted": 5}, 4))
        # upstream keep-alive: a window right after a repeat reuses its connection to the server
        self.assertIsNone(capture.l7_peer_verdict({"client_node_accepted": 1, "client_node_opened": 0,
                                                   capture.UPSTREAM_OPEN: 2}, 1))

    def test_established_to(self):
        table = (
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
            "   0: 0100000A:C350 0200000A:1F90 01 00000000:00000000 00:00000000 00000000     0        0 1\n"
            "   1: 0100000A:C351 0200000A:1F90 06 00000000:00000000 00:00000000 00000000     0        0 2\n"
            "   2: 0100000A:C352 0300000A:1F90 01 00000000:00000000 00:00000000 00000000     0        0 3\n"
            "   3: 0100000A:C353 0200000A:1F91 01 00000000:00000000 00:00000000 00000000     0        0 4\n")
        mine = {"1", "2", "3", "4"}
        self.assertEqual(capture.established_to(table, "10.0.0.2:8080", mine), 1)  # not TIME_WAIT, other host, port
        self.assertEqual(capture.established_to(table, "10.0.0.9:8080", mine), 0)
        self.assertEqual(capture.established_to(table, "10.0.0.2:8080", {"2", "3"}), 0)  # another process's socket


if __name__ == "__main__":
    unittest.main()
