#!/usr/bin/python3
"""Each rule of lint.py catches its violation, one mutation of a good manifest per case, and
the good manifests pass (run by ctest as deploy.lint_rules)."""
import copy
import unittest

import lint

GOOD_DS = {
    "apiVersion": "apps/v1", "kind": "DaemonSet",
    "metadata": {"name": "warren-ztunnel", "namespace": "warren-system"},
    "spec": {
        "updateStrategy": {"type": "RollingUpdate",
                           "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
        "template": {"spec": {
            "hostNetwork": True,
            "priorityClassName": "system-node-critical",
            "containers": [{
                "name": "ztunnel", "image": "localhost/warren-node:git-abc",
                "readinessProbe": {"httpGet": {"port": 15021}},
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                              "limits": {"memory": "1Gi"}},
                "securityContext": {"allowPrivilegeEscalation": False,
                                    "capabilities": {"drop": ["ALL"], "add": ["NET_ADMIN"]}},
            }],
        }},
    },
}
GOOD_ROLE = {
    "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
    "metadata": {"name": "warren-agent"},
    "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}],
}


def container(d):
    return d["spec"]["template"]["spec"]["containers"][0]


class LintRules(unittest.TestCase):
    def findings(self, *objs):
        return lint.lint([("t.yaml", o) for o in objs])

    def assertCaught(self, mutate, needle, base=GOOD_DS):
        obj = copy.deepcopy(base)
        mutate(obj)
        out = self.findings(obj)
        self.assertTrue(any(needle in f for f in out), f"'{needle}' not in {out}")

    def test_good_manifests_pass(self):
        self.assertEqual(self.findings(GOOD_DS, GOOD_ROLE), [])

    def test_image(self):
        self.assertCaught(lambda d: container(d).update(image="warren-node"), "image: 'warren-node' has no tag")
        self.assertCaught(lambda d: container(d).update(image="r.io/warren-node:latest"), "uses :latest")

    def test_resources(self):
        self.assertCaught(lambda d: container(d)["resources"].pop("limits"), "resources: limits.memory is not set")
        self.assertCaught(lambda d: container(d)["resources"]["requests"].pop("cpu"), "requests.cpu is not set")

    def test_probes(self):
        self.assertCaught(lambda d: container(d).pop("readinessProbe"), "probes: no readinessProbe")

    def test_capabilities(self):
        self.assertCaught(lambda d: container(d)["securityContext"]["capabilities"].update(drop=[]), "must drop [ALL]")
        self.assertCaught(lambda d: container(d)["securityContext"]["capabilities"].update(add=["SYS_MODULE"]),
                          "'SYS_MODULE' is not an allowed capability")
        self.assertCaught(lambda d: container(d)["securityContext"].update(privileged=True), "privileged: true")
        self.assertCaught(lambda d: container(d)["securityContext"].pop("allowPrivilegeEscalation"),
                          "allowPrivilegeEscalation must be false")
        self.assertCaught(lambda d: d["spec"]["template"]["spec"].update(hostPID=True), "hostPID: true")

    def test_placement_and_node_contract(self):
        self.assertCaught(lambda d: d["metadata"].update(namespace="default"), "not in namespace warren-system")
        self.assertCaught(lambda d: d["spec"]["updateStrategy"]["rollingUpdate"].update(maxSurge=0),
                          "ztunnel must roll with maxSurge 1, maxUnavailable 0")
        self.assertCaught(lambda d: d["spec"]["template"]["spec"].pop("priorityClassName"),
                          "priorityClassName must be system-node-critical")
        self.assertCaught(lambda d: d.update(kind="Deployment"), "hostNetwork outside a DaemonSet")

    def test_rbac(self):
        self.assertCaught(lambda r: r["rules"][0].update(verbs=["*"]), "wildcard in verbs", GOOD_ROLE)
        self.assertCaught(lambda r: r["rules"][0].update(resources=["*"]), "wildcard in resources", GOOD_ROLE)
        self.assertCaught(lambda r: r["rules"][0].update(verbs=["get", "create"]),
                          "warren-agent may only read, has ['create']", GOOD_ROLE)
        self.assertCaught(lambda r: r["rules"][0].update(verbs=["impersonate"]), "verb 'impersonate' is not allowed",
                          GOOD_ROLE)
        self.assertCaught(lambda r: r["rules"][0].update(resources=["secrets"]), "access to secrets", GOOD_ROLE)
        binding = {"kind": "ClusterRoleBinding", "metadata": {"name": "b"},
                   "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"}}
        self.assertTrue(any("bound to cluster-admin" in f for f in self.findings(binding)))


if __name__ == "__main__":
    unittest.main()
