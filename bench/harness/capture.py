"""Proof that a path went where it says: pure functions from counter snapshots to deltas and a
verdict. A Warren path is captured and tunnelled when, over a window in which the harness
opened N connections from the client pod, the client node's eBPF redirected at least N
connects, its ztunnel opened at least N outbound mutual-TLS connections to the destination
workload, the server node's ztunnel accepted at least N inbound mutual-TLS connections for it,
and not one plaintext connection reached it (a connection connect4 did not see arrives at the
destination pod's 15006 in plaintext and is counted there). A peer path went through its
proxies when the client node's netns accepted (client proxy) and opened (to the server
proxy) at least N TCP connections and the server node's netns accepted and opened (to the pod)
at least N: only the peer proxies open or accept TCP connections in the node netns."""
import os
import json

# Per Warren path: counter name -> (metric, labels, where: "client" or "server" node).
# The destination workload labels are filled in per path.
OUTBOUND_MTLS = "client_outbound_mtls"
INBOUND_MTLS = "server_inbound_mtls"
INBOUND_PLAINTEXT = "server_inbound_plaintext"
REDIRECTED = "connect_redirected"
FASTPATH = "fastpath_redirected"


def parse_prometheus(text):
    """Prometheus text exposition -> [(name, {label: value}, float)]. Comments skipped;
    label values may hold escaped quotes, commas and braces."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        labels = {}
        if "{" in line:
            name, rest = line.split("{", 1)
            i = 0
            while i < len(rest) and rest[i] != "}":
                eq = rest.index("=", i)
                key = rest[i:eq].strip().lstrip(",").strip()
                j = eq + 2  # past ="
                val = []
                while rest[j] != '"':
                    if rest[j] == "\\":
                        j += 1
                        val.append({"n": "\n"}.get(rest[j], rest[j]))
                    else:
                        val.append(rest[j])
                    j += 1
                labels[key] = "".join(val)
                i = j + 1
                while i < len(rest) and rest[i] in ", ":
                    i += 1
            value = rest[i + 1:].split()[0]
        else:
            name, value = line.split()[:2]
        out.append((name.strip(), labels, float(value)))
    return out


def total(samples, name, **labels):
    """Sum of the series of `name` whose labels include all of `labels`."""
    return sum(v for n, ls, v in samples if n == name and all(ls.get(k) == x for k, x in labels.items()))


def warren_counters(client_metrics, server_metrics, dest_namespace, dest_workload):
    """The capture counters of one Warren path from the two nodes' ztunnel /metrics texts (the
    same text twice on one node)."""
    c = parse_prometheus(client_metrics)
    s = parse_prometheus(server_metrics)
    opened = "istio_tcp_connections_opened_total"
    dest = {"destination_workload_namespace": dest_namespace, "destination_workload": dest_workload}
    decisions = "warren_redirect_decisions_total"
    return {
        OUTBOUND_MTLS: total(c, opened, reporter="source", connection_security_policy="mutual_tls", **dest),
        INBOUND_MTLS: total(s, opened, reporter="destination", connection_security_policy="mutual_tls", **dest),
        INBOUND_PLAINTEXT: total(s, opened, reporter="destination", connection_security_policy="unknown", **dest),
        REDIRECTED: total(c, decisions, decision="connect_redirected"),
        FASTPATH: total(c, decisions, decision="fastpath_redirected"),
    }


WAYPOINT_OUTBOUND_MTLS = "client_to_waypoint_mtls"
WAYPOINT_REQUESTS = "waypoint_requests"
FROM_WAYPOINT_MTLS = "server_from_waypoint_mtls"
# A gauge, not a counter: inbound connections from the waypoint to the server pod open on the
# server node's ztunnel at the end of the window (its /connections). The waypoint keeps its
# upstream HTTP/1.1 connections alive, so a window may send every request over a connection
# an earlier window opened, and then no new one is counted.
FROM_WAYPOINT_OPEN = "server_from_waypoint_open"
UPSTREAM_OPEN = "client_node_upstream_open"
GAUGES = {FROM_WAYPOINT_OPEN, UPSTREAM_OPEN}


def waypoint_counters(client_metrics, server_metrics, waypoint_metrics, dest_namespace, dest_workload,
                      waypoint_identity, service_host):
    """The counters of the waypoint path from the client node's and server node's ztunnel
    /metrics and the waypoint's own (:15020)."""
    c = parse_prometheus(client_metrics)
    s = parse_prometheus(server_metrics)
    w = parse_prometheus(waypoint_metrics)
    opened = "istio_tcp_connections_opened_total"
    dest = {"destination_workload_namespace": dest_namespace, "destination_workload": dest_workload}
    return {
        REDIRECTED: total(c, "warren_redirect_decisions_total", decision="connect_redirected"),
        WAYPOINT_OUTBOUND_MTLS: total(c, opened, reporter="source", connection_security_policy="mutual_tls",
                                      destination_principal=waypoint_identity),
        WAYPOINT_REQUESTS: total(w, "istio_requests_total", reporter="waypoint", destination_service=service_host,
                                 response_code="200"),
        FROM_WAYPOINT_MTLS: total(s, opened, reporter="destination", connection_security_policy="mutual_tls",
                                  source_principal=waypoint_identity, **dest),
        INBOUND_PLAINTEXT: total(s, opened, reporter="destination", connection_security_policy="unknown", **dest),
    }


def waypoint_open(connections_json, dest_namespace, dest_workload, waypoint_identity):
    """{FROM_WAYPOINT_OPEN: n} from the server node ztunnel's /connections document."""
    try:
        items = json.loads(connections_json or "{}").get("items", [])
    except ValueError:
        items = []
    n = sum(1 for c in items if c.get("direction") == "inbound"
            and c.get("source", {}).get("identity") == waypoint_identity
            and c.get("destination", {}).get("namespace") == dest_namespace
            and c.get("destination", {}).get("workload") == dest_workload)
    return {FROM_WAYPOINT_OPEN: n}


def waypoint_verdict(d, connections, answered, sent):
    """None when the window's deltas prove `connections` connections went through the capture
    and the waypoint and the waypoint handled the `answered` (.. `sent`) requests, else why not."""
    wrong = []
    for key in (REDIRECTED, WAYPOINT_OUTBOUND_MTLS):
        if d.get(key, 0) < connections:
            wrong.append(f"{key} +{d.get(key, 0):g} < {connections} connections opened")
    n = d.get(WAYPOINT_REQUESTS, 0)
    if not answered <= n <= sent:
        wrong.append(f"{WAYPOINT_REQUESTS} +{n:g}, the client got {answered} answers of {sent} requests")
    if d.get(FROM_WAYPOINT_MTLS, 0) < 1 and d.get(FROM_WAYPOINT_OPEN, 0) < 1:
        wrong.append(f"{FROM_WAYPOINT_MTLS} +{d.get(FROM_WAYPOINT_MTLS, 0):g} and {FROM_WAYPOINT_OPEN} "
                     f"{d.get(FROM_WAYPOINT_OPEN, 0):g} (no mTLS connection from the waypoint reached the "
                     "server pod, nor was one open)")
    if d.get(INBOUND_PLAINTEXT, 0) > 0:
        wrong.append(f"{INBOUND_PLAINTEXT} +{d[INBOUND_PLAINTEXT]:g} (connections that reached the server "
                     "pod without the tunnel)")
    return "; ".join(wrong) or None


def l7_peer_verdict(d, connections):
    """An L7 peer in the client node's netns: it accepted the client's connections and opened
    at least one to the server or had one open at the window's end (upstream keep-alive: a
    window right after a repeat reuses the repeat's connections)."""
    wrong = [f"client_node_accepted +{d.get('client_node_accepted', 0)} < {connections} connections opened"
             ] if d.get("client_node_accepted", 0) < connections else []
    if d.get("client_node_opened", 0) < 1 and d.get(UPSTREAM_OPEN, 0) < 1:
        wrong.append(f"client_node_opened +0 and {UPSTREAM_OPEN} {d.get(UPSTREAM_OPEN, 0)} "
                     "(the proxy opened no connection to the server, nor was one open)")
    return "; ".join(wrong) or None


def established_to(tcp_table, server, inodes):
    """ESTABLISHED sockets in a /proc/<pid>/net/tcp table whose remote end is `server`
    ("ip:port", IPv4) and whose inode is in `inodes` (the process's own sockets: the table is
    the whole netns's, and other proxies there reach the same server)."""
    ip, port = server.rsplit(":", 1)
    want = "%08X:%04X" % (int.from_bytes(bytes(int(x) for x in ip.split(".")), "little"), int(port))
    n = 0
    for line in tcp_table.splitlines()[1:]:
        f = line.split()
        if len(f) > 9 and f[2] == want and f[3] == "01" and f[9] in inodes:
            n += 1
    return n


def socket_inodes(pid):
    """The inodes of the sockets process `pid` holds open (its /proc/<pid>/fd links), as strings."""
    out = set()
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            link = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue  # closed in between
        if link.startswith("socket:["):
            out.add(link[len("socket:["):-1])
    return out


def parse_snmp(text):
    """/proc/<pid>/net/snmp -> {"Tcp": {"ActiveOpens": n, ...}, ...} (header and value lines)."""
    out = {}
    lines = text.splitlines()
    for head, vals in zip(lines[::2], lines[1::2]):
        proto, names = head.split(":", 1)
        _, values = vals.split(":", 1)
        out[proto] = dict(zip(names.split(), (int(x) for x in values.split())))
    return out


def peer_counters(client_node_snmp, server_node_snmp):
    """TCP opens in the two node netns (read through a peer proxy's /proc/<pid>/net/snmp)."""
    c = parse_snmp(client_node_snmp)["Tcp"]
    s = parse_snmp(server_node_snmp)["Tcp"]
    return {"client_node_accepted": c["PassiveOpens"], "client_node_opened": c["ActiveOpens"],
            "server_node_accepted": s["PassiveOpens"], "server_node_opened": s["ActiveOpens"]}


def delta(before, after):
    """Counters: how much each rose in the window; gauges (GAUGES): their value at its end."""
    return {k: after[k] if k in GAUGES else after[k] - before[k] for k in after if k in before}


def warren_verdict(d, connections, fast_path=False):
    """None when the window's deltas prove every one of `connections` (>= 1) connections was
    captured and tunnelled, else the reason, naming the counters."""
    wrong = []
    for key in (REDIRECTED, OUTBOUND_MTLS, INBOUND_MTLS):
        if d.get(key, 0) < connections:
            wrong.append(f"{key} +{d.get(key, 0):g} < {connections} connections opened")
    if d.get(INBOUND_PLAINTEXT, 0) > 0:
        wrong.append(f"{INBOUND_PLAINTEXT} +{d[INBOUND_PLAINTEXT]:g} (connections that reached the server "
                     "pod without the tunnel)")
    if fast_path and d.get(FASTPATH, 0) <= 0:
        wrong.append(f"{FASTPATH} +0 (the sk_msg fast path carried nothing)")
    return "; ".join(wrong) or None


def peer_verdict(d, connections):
    wrong = [f"{k} +{d.get(k, 0)} < {connections} connections opened"
             for k in ("client_node_accepted", "client_node_opened", "server_node_accepted", "server_node_opened")
             if d.get(k, 0) < connections]
    return "; ".join(wrong) or None
