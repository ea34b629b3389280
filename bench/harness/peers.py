"""The peer mTLS pairs: stunnel4 and haproxy, a client-side proxy in the client's node netns
and a server-side proxy in the server's node netns (where ztunnel sits for the mesh: one
proxy per node, not per pod). TLS 1.3 only, TLS_AES_128_GCM_SHA256, client certificates
required and verified against the lab CA; leaf certificates are issued here from that CA.

Beside them, the floor: `haproxy-notls`, the same haproxy pair in the same places with no TLS
at all (mode tcp, plaintext between the nodes). It is not a peer (nothing is encrypted) and no
ratio is taken against it: it shows what a pair of per-node proxies costs on this machine
before any mesh work, the wake-ups, sends and copies every proxy pays per message."""
import os

from lab import Background, run

# Service index -> (name, server pod port). Each peer proxy listens on base + index.
SERVICES = [("echo", 7000), ("iperf", 5201), ("http", 8080)]
# (client side, server side)
PORT_BASE = {"stunnel": (21000, 22000), "haproxy": (23000, 24000), "haproxy-notls": (27000, 28000)}
CIPHER = "TLS_AES_128_GCM_SHA256"


def issue_certs(ca_dir, out_dir):
    """EC P-256 leaves for 'bench-client' and 'bench-server' signed by the lab CA."""
    os.makedirs(out_dir, exist_ok=True)
    for who in ("client", "server"):
        key, csr, crt = (os.path.join(out_dir, f"{who}.{x}") for x in ("key", "csr", "crt"))
        ext = os.path.join(out_dir, f"{who}.ext")
        with open(ext, "w") as f:
            f.write(f"subjectAltName=DNS:bench-{who}\nextendedKeyUsage={who}Auth\n"
                    "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n")
        run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", key, "-out", csr, "-subj", f"/CN=bench-{who}"], 30)
        run(["openssl", "x509", "-req", "-in", csr, "-CA", os.path.join(ca_dir, "ca.crt"),
             "-CAkey", os.path.join(ca_dir, "ca.key"), "-CAcreateserial", "-days", "2",
             "-extfile", ext, "-out", crt], 30)
        with open(os.path.join(out_dir, f"{who}.pem"), "w") as f:  # haproxy: cert + key
            f.write(open(crt).read() + open(key).read())
    run(["cp", os.path.join(ca_dir, "ca.crt"), os.path.join(out_dir, "ca.crt")], 10)


def _stunnel_conf(side, certs, targets, log):
    client_base, server_base = PORT_BASE["stunnel"]
    lines = ["foreground = yes", "pid =", f"output = {log}", "debug = 3", "",
             "socket = l:TCP_NODELAY=1", "socket = r:TCP_NODELAY=1"]
    for i, (name, _) in enumerate(SERVICES):
        lines += ["", f"[{name}]"]
        if side == "client":
            lines += ["client = yes", f"accept = 0.0.0.0:{client_base + i}",
                      f"connect = {targets['server_node_ip']}:{server_base + i}",
                      f"cert = {certs}/client.crt", f"key = {certs}/client.key"]
        else:
            lines += [f"accept = 0.0.0.0:{server_base + i}",
                      f"connect = {targets['server_pod_ip']}:{SERVICES[i][1]}",
                      f"cert = {certs}/server.crt", f"key = {certs}/server.key"]
        lines += [f"CAfile = {certs}/ca.crt", "verifyChain = yes", "sslVersionMin = TLSv1.3",
                  f"ciphersuites = {CIPHER}"]
    return "\n".join(lines) + "\n"


# haproxy wants 2 fds per connection plus some; the container's hard RLIMIT_NOFILE (20000
# here, not raisable without CAP_SYS_RESOURCE) caps maxconn just under 10,000.
def _haproxy_conf(side, certs, targets, tls=True):
    client_base, server_base = PORT_BASE["haproxy" if tls else "haproxy-notls"]
    lines = ["global", "  maxconn 9950", "  ssl-default-bind-options ssl-min-ver TLSv1.3",
             f"  ssl-default-bind-ciphersuites {CIPHER}",
             "  ssl-default-server-options ssl-min-ver TLSv1.3",
             f"  ssl-default-server-ciphersuites {CIPHER}",
             "defaults", "  mode tcp", "  maxconn 9950", "  timeout connect 5s",
             "  timeout client 1h", "  timeout server 1h"]
    # The client side's upstream and the server side's listener speak mTLS, unless not `tls`.
    mtls = f" ssl crt {certs}/{side}.pem ca-file {certs}/ca.crt verify required" if tls else ""
    for i, (name, port) in enumerate(SERVICES):
        if side == "client":
            bind, to = f"{client_base + i}", f"{targets['server_node_ip']}:{server_base + i}{mtls}"
        else:
            bind, to = f"{server_base + i}{mtls}", f"{targets['server_pod_ip']}:{port}"
        lines += [f"listen {name}", f"  bind 0.0.0.0:{bind}", f"  server s {to}"]
    return "\n".join(lines) + "\n"


def start_pair(kind, lab, work, client_node, server_node, server_node_ip, server_pod_ip):
    """Starts the client-side and server-side proxy of `kind`; returns {side: Background}."""
    certs = os.path.join(work, "certs")
    targets = {"server_node_ip": server_node_ip, "server_pod_ip": server_pod_ip}
    procs = {}
    for side, node in (("client", client_node), ("server", server_node)):
        conf = os.path.join(work, f"{kind}-{side}.conf")
        log = os.path.join(work, f"{kind}-{side}.log")
        if kind == "stunnel":
            text = _stunnel_conf(side, certs, targets, log)
            argv = ["stunnel4", conf]
        else:
            text = _haproxy_conf(side, certs, targets, tls=kind == "haproxy")
            argv = ["haproxy", "-db", "-f", conf]
        with open(conf, "w") as f:
            f.write(text)
        procs[side] = Background(f"{kind}-{side}", lab.in_netns(lab.node_netns(node), argv),
                                 log + ".out", nofile=65536)
    return procs


def client_ports(kind):
    base = PORT_BASE[kind][0]
    return {name: base + i for i, (name, _) in enumerate(SERVICES)}


def server_ports(kind):
    base = PORT_BASE[kind][1]
    return [base + i for i in range(len(SERVICES))]


# The L7 peers of the waypoint: one HTTP reverse proxy in the client node's netns (the client
# pod reaches it at its CNI gateway), kept-alive connections on both sides, no TLS.
HTTP_PROXY_PORTS = {"nginx-http": 25080, "haproxy-http": 25081}

_NGINX_HTTP_CONF = """daemon off;
master_process off;
worker_processes 1;
user root;
pid {work}/nginx-http.pid;
error_log {work}/nginx-http.err warn;
worker_rlimit_nofile 65536;
events {{ worker_connections 16384; }}
http {{
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 300s;
  client_body_temp_path {work}/nginx-http-tmp;
  proxy_temp_path {work}/nginx-http-tmp;
  fastcgi_temp_path {work}/nginx-http-tmp;
  uwsgi_temp_path {work}/nginx-http-tmp;
  scgi_temp_path {work}/nginx-http-tmp;
  upstream server {{
    server {server};
    keepalive 32;
    keepalive_requests 1000000;
  }}
  server {{
    listen {port};
    location / {{
      proxy_pass http://server;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering on;
    }}
  }}
}}
"""

_HAPROXY_HTTP_CONF = """global
  maxconn 9950
defaults
  mode http
  maxconn 9950
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client 1h
  timeout server 1h
  timeout http-keep-alive 300s
listen http
  bind 0.0.0.0:{port}
  server s {server}
"""


def start_http_proxies(lab, work, node, server):
    """nginx (one worker, master off: one process) and haproxy (mode http, default threads)
    in `node`'s netns, each forwarding to `server` (ip:port); returns {path name: Background}."""
    os.makedirs(os.path.join(work, "nginx-http-tmp"), exist_ok=True)
    procs = {}
    for name, port in HTTP_PROXY_PORTS.items():
        conf = os.path.join(work, f"{name}.conf")
        if name == "nginx-http":
            text = _NGINX_HTTP_CONF.format(work=work, server=server, port=port)
            argv = ["nginx", "-c", conf]
        else:
            text = _HAPROXY_HTTP_CONF.format(server=server, port=port)
            argv = ["haproxy", "-db", "-f", conf]
        with open(conf, "w") as f:
            f.write(text)
        procs[name] = Background(name, lab.in_netns(lab.node_netns(node), argv),
                                 os.path.join(work, f"{name}.log"), nofile=65536)
    return procs
