"""Table tests of bench/harness/scale_model.py, the scale run's pure half: the synthetic model it
writes (sizes per stage, namespaces once, services selecting workloads of their own namespace,
addresses outside the lab's), the transitions it times from the probe's attempts, and the check
that every measurement was observed."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.environ.get("WARREN_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..")),
                                "bench", "harness"))
import scale_model as m  # noqa: E402


def objects(files):
    return [o for _, objs in files for o in objs]


class SynthTest(unittest.TestCase):
    def test_stages_add_up_to_the_model(self):
        first = m.synth_files(0, 1000, 0, 1000, 10)
        second = m.synth_files(1000, 10000, 1000, 2000, 10)
        allobj = objects(first) + objects(second)
        kinds = lambda k: [o for o in allobj if o["kind"] == k]  # noqa: E731
        self.assertEqual(len(kinds("Pod")), 10000)
        self.assertEqual(len(kinds("Service")), 2000)
        ns = [o["metadata"]["name"] for o in kinds("Namespace")]
        self.assertEqual(len(ns), len(set(ns)))  # each namespace written once
        self.assertEqual(sorted(ns), sorted(f"synth-{k}" for k in range(20)))
        # Unique names, IPs and ClusterIPs; every object's namespace exists.
        self.assertEqual(len({(o["metadata"]["namespace"], o["metadata"]["name"]) for o in kinds("Pod")}), 10000)
        self.assertEqual(len({o["status"]["podIP"] for o in kinds("Pod")}), 10000)
        self.assertEqual(len({o["spec"]["clusterIP"] for o in kinds("Service")}), 2000)
        for o in kinds("Pod") + kinds("Service"):
            self.assertIn(o["metadata"]["namespace"], ns)
        for f, objs in first + second:
            self.assertTrue(f.startswith("Synthetic_"))
            self.assertLessEqual(len(objs), m.OBJECTS_PER_FILE)

    def test_every_full_service_selects_five_workloads_of_its_namespace(self):
        allobj = objects(m.synth_files(0, 10000, 0, 2000, 10))
        selected = {}
        for p in (o for o in allobj if o["kind"] == "Pod"):
            key = (p["metadata"]["namespace"], p["metadata"]["labels"]["app"])
            selected[key] = selected.get(key, 0) + 1
        for s in (o for o in allobj if o["kind"] == "Service"):
            self.assertEqual(selected.get((s["metadata"]["namespace"], s["spec"]["selector"]["app"])), 5, s)

    def test_synthetic_pods_are_not_the_labs(self):
        p = m.synth_pod(9999, 10)
        self.assertEqual(p["spec"]["nodeName"], "virtual-10")  # lab/scheduler.h runByLab: false
        self.assertEqual(p["status"]["phase"], "Running")
        self.assertTrue(p["status"]["podIP"].startswith("10.200."))
        self.assertTrue(m.synth_service_ip(1999).startswith("10.96."))
        self.assertGreaterEqual(int(m.synth_service_ip(0).split(".")[2]), 128)  # upper half

    def test_dump_is_one_json_document_each(self):
        text = m.dump([{"a": 1}, {"b": [2]}])
        docs = [d for d in text.split("---\n") if d.strip()]
        self.assertEqual([json.loads(d) for d in docs], [{"a": 1}, {"b": [2]}])

    def test_stages_parse_and_must_grow(self):
        self.assertEqual(m.parse_stages("1000:1000,10000:2000"), [(1000, 1000), (10000, 2000)])
        for bad in ("10:5,5:5", "x", "1:-1", "10:5,10:4"):
            with self.assertRaises(ValueError, msg=bad):
                m.parse_stages(bad)

    def test_real_pods_in_namespaces_of_at_most_100(self):
        objs, per_ns = m.real_pods(250, 10)
        self.assertEqual(per_ns, {"scale-0": 100, "scale-1": 100, "scale-2": 50})
        deps = [o for o in objs if o["kind"] == "Deployment"]
        self.assertEqual(sum(d["spec"]["replicas"] for d in deps), 250)
        for d in deps:  # pause pods: no command
            self.assertNotIn("command", d["spec"]["template"]["spec"]["containers"][0])


def attempts(*spec):
    """(t, kind) with kind 'd' direct, 'x' tunnelled, 'f' failed."""
    out = []
    for t, k in spec:
        out.append({"t": t, "ok": k != "f", "peer": {"d": "10.0.0.1:1", "x": "10.0.0.2:1"}.get(k)})
    return out


direct = lambda a: a["ok"] and a["peer"].startswith("10.0.0.1")  # noqa: E731
tunnel = lambda a: a["ok"] and a["peer"].startswith("10.0.0.2")  # noqa: E731


class TransitionTest(unittest.TestCase):
    def test_table(self):
        cases = [
            # (attempts, t0, want seconds, want between counts (before, failed))
            ([(9, "d"), (10.1, "d"), (10.2, "f"), (10.5, "x")] + [(11 + i, "x") for i in range(6)], 10.0, 0.5, (1, 1)),
            # a tunnelled attempt that does not hold is not the transition
            ([(10.1, "x"), (10.2, "d")] + [(11 + i, "x") for i in range(6)], 10.0, 1.0, (1, 0)),
            # nothing stable
            ([(10.1, "d"), (10.2, "x"), (10.3, "d")], 10.0, None, None),
            # attempts before t0 do not count
            ([(9.5, "x")] + [(10 + i, "d") for i in range(3)], 10.0, None, None),
        ]
        for spec, t0, want, between in cases:
            r = m.transition(attempts(*spec), t0, direct, tunnel)
            if want is None:
                self.assertFalse(r["observed"], spec)
                continue
            self.assertTrue(r["observed"], spec)
            self.assertAlmostEqual(r["seconds"], want, msg=spec)
            self.assertEqual((r["still_before_between"], r["failed_between"]), between, spec)
            self.assertEqual(r["not_after_later"], 0)


class LabelCountersTest(unittest.TestCase):
    def test_plaintext_while_xds_lags_is_accounted_for(self):
        d = {"connect_redirected": 6, "client_outbound_mtls": 6, "client_outbound_plain": 0,
             "server_inbound_mtls": 7}
        self.assertTrue(m.label_counters_prove(d, 6))
        # The first two went out in plaintext (the client's xDS lagged the capture): still six
        # through ztunnel, mutual TLS after that (the smoke test's flake).
        self.assertTrue(m.label_counters_prove(dict(d, client_outbound_mtls=4, client_outbound_plain=2), 6))
        self.assertFalse(m.label_counters_prove(dict(d, client_outbound_mtls=4), 6), "one not opened at all")
        self.assertFalse(m.label_counters_prove(dict(d, client_outbound_mtls=0, client_outbound_plain=6), 6),
                         "never mutual TLS")
        self.assertFalse(m.label_counters_prove(dict(d, server_inbound_mtls=0), 6), "nothing on the server")
        self.assertFalse(m.label_counters_prove(dict(d, connect_redirected=5), 6), "not captured")
        self.assertFalse(m.label_counters_prove(d, 0), "no attempt")


class MissingTest(unittest.TestCase):
    def full(self):
        stage = {"name": "1:1", "push": {"all_applied_s": 0.5, "missing": []},
                 "rss_kib": {"ztunnel": {"node-1": 100}, "agent": {"node-1": 200}}}
        enf = {"observed": True, "counters_prove": True, "counters": {}}
        return {"stages": [stage], "incremental_push": [{"all_applied_s": 0.1}],
                "ztunnel_kib_per_workload": {"median": 1.0}, "label_to_enforcement": dict(enf),
                "policy_to_enforcement": dict(enf)}

    def test_complete_run_misses_nothing(self):
        self.assertEqual(m.missing_measurements(self.full()), [])

    def test_each_gap_is_named(self):
        cases = [
            (lambda r: r["stages"][0]["push"].update(all_applied_s=None, missing=["node-2"]), "push not applied"),
            (lambda r: r["stages"][0]["rss_kib"]["agent"].update({"node-1": None}), "agent RSS missing"),
            (lambda r: r.update(incremental_push=[]), "incremental push"),
            (lambda r: r.update(ztunnel_kib_per_workload=None), "KiB per workload"),
            (lambda r: r["label_to_enforcement"].update(observed=False), "label_to_enforcement: not observed"),
            (lambda r: r["policy_to_enforcement"].update(counters_prove=False), "policy_to_enforcement: counters"),
        ]
        for mutate, want in cases:
            r = self.full()
            mutate(r)
            got = m.missing_measurements(r)
            self.assertEqual(len(got), 1, got)
            self.assertIn(want, got[0])

    def test_push_figures(self):
        f = m.push_figures({"node-1": 0.2, "node-2": 0.4}, ["node-1", "node-2"])
        self.assertEqual((f["all_applied_s"], f["median_s"], f["missing"]), (0.4, 0.30000000000000004, []))
        f = m.push_figures({"node-1": 0.2}, ["node-1", "node-2"])
        self.assertEqual((f["all_applied_s"], f["missing"]), (None, ["node-2"]))


if __name__ == "__main__":
    unittest.main()
