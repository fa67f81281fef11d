#!/usr/bin/env python3
"""faultproxy.py — a TLS-terminating HTTP proxy in front of the real kube-apiserver that injects
the faults the real server will not produce on demand: dropped connections, 500/429 answers,
stalls, a watch ERROR 410, and killing the streams in flight. Python 3 stdlib only.

Each client request is forwarded on a fresh upstream TLS connection with `Connection: close`,
and the answer is relayed byte for byte until the upstream closes (so chunked watch streams
pass unchanged); the proxy then closes the client connection too.

Usage:
  faultproxy.py --cert C --key K --upstream https://127.0.0.1:6443 --upstream-ca CA
                [--upstream-cert UC --upstream-key UK] [--port 0] [--port-file F]
                [--fault MODE:COUNT[:MATCH]]...

Control endpoints (answered by the proxy itself, never forwarded, never counted):
  POST /__fault/add    body {"mode": M, "count": N, "match": "substr", "method": "GET",
                             "retry_after": S, "stall_seconds": S}
       modes: drop (read the request, close without answer), 500, 503, 429 (with Retry-After),
              stall (hold the request stall_seconds, then close), watch410 (a 200 watch stream
              with one ERROR event, code 410)
  POST /__fault/kill   shut down every relayed connection now (drops watches in flight)
  POST /__fault/reset  clear faults and the request log
  GET  /__fault/stats  {"requests": [{"method", "path", "fault"}...], "active": N}
"""
import argparse
import json
import os
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.parse

LOCK = threading.Lock()
FAULTS = []  # dicts: mode, count, match, method, retry_after, stall_seconds
LOG = []  # dicts: method, path, fault
ACTIVE = set()  # raw fds of connections being relayed
MAX_HEAD = 64 * 1024
MAX_BODY = 64 * 1024 * 1024


def read_request(conn, pending):
    """Reads one request; returns (head_bytes, body_bytes, rest) or None on EOF."""
    data = pending
    while b"\r\n\r\n" not in data:
        if len(data) > MAX_HEAD:
            return None
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    if length > MAX_BODY:
        return None
    while len(rest) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        rest += chunk
    return head, rest[:length], rest[length:]


def respond(conn, code, reason, body, extra=()):
    hdrs = [f"HTTP/1.1 {code} {reason}", "Content-Type: application/json",
            f"Content-Length: {len(body)}", "Connection: close"] + list(extra)
    conn.sendall(("\r\n".join(hdrs) + "\r\n\r\n").encode() + body)


def status_body(code, reason, message):
    return json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                       "message": message, "reason": reason, "code": code}).encode()


def take_fault(method, path):
    with LOCK:
        for f in FAULTS:
            if f["count"] <= 0:
                continue
            if f.get("match") and f["match"] not in path:
                continue
            if f.get("method") and f["method"] != method:
                continue
            f["count"] -= 1
            return dict(f)
    return None


def control(conn, method, path, body):
    global FAULTS, LOG
    if path == "/__fault/add" and method == "POST":
        f = json.loads(body or b"{}")
        f.setdefault("count", 1)
        with LOCK:
            FAULTS.append(f)
        respond(conn, 200, "OK", b'{"ok":true}')
    elif path == "/__fault/kill" and method == "POST":
        with LOCK:
            fds = list(ACTIVE)
        for fd in fds:
            kill_fd(fd)
        respond(conn, 200, "OK", json.dumps({"killed": len(fds)}).encode())
    elif path == "/__fault/reset" and method == "POST":
        with LOCK:
            FAULTS, LOG = [], []
        respond(conn, 200, "OK", b'{"ok":true}')
    elif path == "/__fault/stats":
        with LOCK:
            out = {"requests": list(LOG), "active": len(ACTIVE)}
        respond(conn, 200, "OK", json.dumps(out).encode())
    else:
        respond(conn, 404, "Not Found", status_body(404, "NotFound", "no such control endpoint"))


def kill_fd(fd):
    try:
        s = socket.socket(fileno=os.dup(fd))
        s.shutdown(socket.SHUT_RDWR)
        s.close()
    except OSError:
        pass


def forward(args, conn, head, body):
    lines = head.split(b"\r\n")
    out = [lines[0]]
    for line in lines[1:]:
        k = line.partition(b":")[0].strip().lower()
        if k in (b"connection", b"host", b"keep-alive", b"proxy-connection"):
            continue
        out.append(line)
    up = urllib.parse.urlparse(args.upstream)
    out.append(b"Host: " + up.netloc.encode())
    out.append(b"Connection: close")
    ctx = ssl.create_default_context(cafile=args.upstream_ca)
    ctx.set_alpn_protocols(["http/1.1"])
    if args.upstream_cert:
        ctx.load_cert_chain(args.upstream_cert, args.upstream_key)
    raw = socket.create_connection((up.hostname, up.port or 443), timeout=10)
    upc = ctx.wrap_socket(raw, server_hostname=up.hostname)
    upc.settimeout(None)
    with LOCK:
        ACTIVE.add(conn.fileno())
        ACTIVE.add(upc.fileno())
    try:
        upc.sendall(b"\r\n".join(out) + b"\r\n\r\n" + body)
        while True:
            data = upc.recv(65536)
            if not data:
                break
            conn.sendall(data)
    except OSError:
        pass
    finally:
        with LOCK:
            ACTIVE.discard(conn.fileno())
            ACTIVE.discard(upc.fileno())
        try:
            upc.close()
        except OSError:
            pass


def serve_conn(args, sctx, raw):
    try:
        conn = sctx.wrap_socket(raw, server_side=True)
    except (ssl.SSLError, OSError):
        raw.close()
        return
    try:
        req = read_request(conn, b"")
        if req is None:
            return
        head, body, _ = req
        method, path_q = head.split(b"\r\n")[0].decode("latin-1").split(" ")[:2]
        path = path_q.split("?")[0]
        if path.startswith("/__fault/"):
            control(conn, method, path, body)
            return
        f = take_fault(method, path_q)
        with LOCK:
            LOG.append({"method": method, "path": path_q, "fault": f["mode"] if f else None})
        if f is None:
            forward(args, conn, head, body)
        elif f["mode"] == "drop":
            pass  # close without an answer
        elif f["mode"] in ("500", "503"):
            code = int(f["mode"])
            respond(conn, code, "Injected", status_body(code, "InternalError", "injected fault"))
        elif f["mode"] == "429":
            respond(conn, 429, "Too Many Requests",
                    status_body(429, "TooManyRequests", "injected throttle"),
                    [f"Retry-After: {int(f.get('retry_after', 1))}"])
        elif f["mode"] == "stall":
            with LOCK:
                ACTIVE.add(conn.fileno())
            deadline = time.time() + float(f.get("stall_seconds", 30))
            try:
                conn.settimeout(0.2)
                while time.time() < deadline:
                    try:
                        if not conn.recv(1):
                            break
                    except socket.timeout:
                        continue
            except OSError:
                pass
            finally:
                with LOCK:
                    ACTIVE.discard(conn.fileno())
        elif f["mode"] == "watch410":
            ev = json.dumps({"type": "ERROR", "object": {
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "too old resource version: 1 (injected)", "reason": "Expired",
                "code": 410}}).encode() + b"\n"
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
                         f"{len(ev):x}\r\n".encode() + ev + b"\r\n0\r\n\r\n")
    except (OSError, ValueError, ssl.SSLError):
        pass
    finally:
        try:
            conn.close()
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--upstream-ca", required=True)
    ap.add_argument("--upstream-cert")
    ap.add_argument("--upstream-key")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--fault", action="append", default=[], help="MODE:COUNT[:MATCH]")
    args = ap.parse_args()
    for spec in args.fault:
        parts = spec.split(":", 2)
        FAULTS.append({"mode": parts[0], "count": int(parts[1]) if len(parts) > 1 else 1,
                       "match": parts[2] if len(parts) > 2 else ""})
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(args.cert, args.key)
    sctx.set_alpn_protocols(["http/1.1"])
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", args.port))
    ls.listen(128)
    port = ls.getsockname()[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{port}\n")
        os.rename(tmp, args.port_file)  # readers never see a half-written file
    print(f"faultproxy listening on 127.0.0.1:{port} -> {args.upstream}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    while True:
        raw, _ = ls.accept()
        threading.Thread(target=serve_conn, args=(args, sctx, raw), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
