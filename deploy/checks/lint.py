#!/usr/bin/python3
"""Warren's invariants on rendered manifests (deploy/README.md "Checks"), beyond the schemas:

  image        every image has a tag or digest, and the tag is not `latest`
  resources    every container requests cpu and memory and limits memory
  probes       every long-running container has a readinessProbe (pause containers aside)
  capabilities every container drops ALL and adds only named capabilities from the allowed
               list; nothing privileged, no privilege escalation, no host PID/IPC
  rbac         no wildcards, only the verbs in ALLOWED_VERBS, no Secrets, no nonResourceURLs,
               nothing bound to cluster-admin/admin/edit; the node agent's role only reads
  placement    namespaced Warren objects live in warren-system; hostNetwork only for DaemonSets
  node         the node DaemonSets keep the contract the lab relies on (ztunnel surges:
               maxSurge 1, maxUnavailable 0; system-node-critical)

Usage: lint.py FILE...   (exit 0 clean, 1 with one line per finding: "FILE: KIND NS/NAME: rule: ...")
Runs with Debian's /usr/bin/python3 (python3-yaml).
"""
import sys

import yaml

ALLOWED_CAPS = {"BPF", "PERFMON", "NET_ADMIN", "SYS_ADMIN", "SYS_RESOURCE", "SYS_PTRACE"}
ALLOWED_VERBS = {"get", "list", "watch", "create", "update", "patch", "delete"}
READ_VERBS = {"get", "list", "watch"}
# Roles that may write, and what: anything else may only read.
WRITERS = {"warren-controller", "warren-controller-leader-election"}
FORBIDDEN_ROLES = {"cluster-admin", "admin", "edit"}
NAMESPACE = "warren-system"
PAUSE_IMAGES = ("registry.k8s.io/pause:",)
WORKLOADS = {"DaemonSet", "Deployment", "StatefulSet", "Job", "Pod"}


def pod_spec(obj):
    if obj["kind"] == "Pod":
        return obj.get("spec") or {}
    return ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}


def lint_container(c, init, where, out):
    name = f"{where}: container {c.get('name')}"
    image = c.get("image", "")
    last = image.rsplit("/", 1)[-1]
    if "@" not in image and ":" not in last:
        out.append(f"{name}: image: '{image}' has no tag or digest")
    elif ":" in last and last.rsplit(":", 1)[1] == "latest":
        out.append(f"{name}: image: '{image}' uses :latest")
    res = c.get("resources") or {}
    for section, key in (("requests", "cpu"), ("requests", "memory"), ("limits", "memory")):
        if not (res.get(section) or {}).get(key):
            out.append(f"{name}: resources: {section}.{key} is not set")
    if not init and not image.startswith(PAUSE_IMAGES) and not c.get("readinessProbe"):
        out.append(f"{name}: probes: no readinessProbe")
    sc = c.get("securityContext") or {}
    caps = sc.get("capabilities") or {}
    if caps.get("drop") != ["ALL"]:
        out.append(f"{name}: capabilities: must drop [ALL], drops {caps.get('drop')}")
    for cap in caps.get("add") or []:
        if cap not in ALLOWED_CAPS:
            out.append(f"{name}: capabilities: '{cap}' is not an allowed capability "
                       f"({', '.join(sorted(ALLOWED_CAPS))})")
    if sc.get("privileged"):
        out.append(f"{name}: capabilities: privileged: true")
    if sc.get("allowPrivilegeEscalation") is not False:
        out.append(f"{name}: capabilities: allowPrivilegeEscalation must be false")


def lint_workload(obj, where, out):
    spec = pod_spec(obj)
    for key in ("hostPID", "hostIPC"):
        if spec.get(key):
            out.append(f"{where}: capabilities: {key}: true")
    if spec.get("hostNetwork") and obj["kind"] != "DaemonSet":
        out.append(f"{where}: placement: hostNetwork outside a DaemonSet")
    for c in spec.get("initContainers") or []:
        lint_container(c, True, where, out)
    for c in spec.get("containers") or []:
        lint_container(c, False, where, out)
    name = obj["metadata"]["name"]
    if obj["kind"] == "DaemonSet" and name in ("warren-agent", "warren-ztunnel"):
        if spec.get("priorityClassName") != "system-node-critical":
            out.append(f"{where}: node: priorityClassName must be system-node-critical")
        if name == "warren-ztunnel":
            ru = ((obj["spec"].get("updateStrategy") or {}).get("rollingUpdate")) or {}
            if ru.get("maxSurge") != 1 or ru.get("maxUnavailable") != 0:
                out.append(f"{where}: node: ztunnel must roll with maxSurge 1, maxUnavailable 0 "
                           f"(a new ztunnel beside the old), has {ru}")


def lint_rules(obj, where, out):
    name = obj["metadata"]["name"]
    for i, rule in enumerate(obj.get("rules") or []):
        at = f"{where}: rbac: rules[{i}]"
        if rule.get("nonResourceURLs"):
            out.append(f"{at}: nonResourceURLs")
        for field in ("apiGroups", "resources", "verbs"):
            if "*" in (rule.get(field) or []):
                out.append(f"{at}: wildcard in {field}")
        verbs = set(rule.get("verbs") or [])
        for v in sorted(verbs - ALLOWED_VERBS - {"*"}):
            out.append(f"{at}: verb '{v}' is not allowed ({', '.join(sorted(ALLOWED_VERBS))})")
        if name not in WRITERS and verbs - READ_VERBS:
            out.append(f"{at}: {name} may only read, has {sorted(verbs - READ_VERBS)}")
        if "secrets" in (rule.get("resources") or []):
            out.append(f"{at}: access to secrets")


def lint(docs):
    out = []
    for file, obj in docs:
        kind = obj.get("kind")
        meta = obj.get("metadata") or {}
        where = f"{file}: {kind} {meta.get('namespace', '')}/{meta.get('name')}".replace(" /", " ")
        cluster_scoped = kind in {"Namespace", "CustomResourceDefinition", "ClusterRole",
                                  "ClusterRoleBinding", "PriorityClass"}
        if not cluster_scoped and meta.get("namespace") != NAMESPACE:
            out.append(f"{where}: placement: not in namespace {NAMESPACE}")
        if kind in WORKLOADS:
            lint_workload(obj, where, out)
        if kind in ("Role", "ClusterRole"):
            lint_rules(obj, where, out)
        if kind in ("RoleBinding", "ClusterRoleBinding"):
            if (obj.get("roleRef") or {}).get("name") in FORBIDDEN_ROLES:
                out.append(f"{where}: rbac: bound to {obj['roleRef']['name']}")
    return out


def load(files):
    docs = []
    for f in files:
        with open(f) as fh:
            for obj in yaml.safe_load_all(fh):
                if obj:
                    docs.append((f, obj))
    return docs


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    docs = load(argv[1:])
    findings = lint(docs)
    for f in findings:
        print(f)
    print(f"lint: {len(docs)} objects, {len(findings)} findings")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
