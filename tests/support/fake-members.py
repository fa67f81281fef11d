#!/usr/bin/env python3
"""fake-members.py — a TEST DOUBLE FOR THE MEMBERS' METRICS ENDPOINT ONLY.

kwok pods run no process, so nothing serves Prometheus metrics on a pod's IP and no
health gate could ever hold. This stands an HTTP server on <podIP>:<port> for every
pod of one namespace that carries app.kubernetes.io/managed-by=ballast and has an IP
(pod IPs are 127.20.x.y on loopback, so binding them works), and answers every GET
with a Prometheus text file the test controls:

  DIR/<pod-name>.prom   when it exists (one member's readings), else
  DIR/default.prom      (every member's readings)

A missing file answers 404, so a test can also make a member unreadable. Files are
re-read on every request: a test changes a reading by rewriting a file. Everything
else (scheduling, volumes, the operator) is the real thing. Pods are followed with
`kubectl get pods --watch`; a pod that goes away, is being deleted or changes IP gets
its server closed (and a new one on the new IP). One log line per change on stdout.

Usage: fake-members.py --namespace NS --port PORT --dir DIR [--interval 0.1]
Runs until SIGTERM/SIGINT. Python 3 standard library only.
"""

import argparse
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time

SELECTOR = "app.kubernetes.io/managed-by=ballast"
MAX_REQUEST = 64 * 1024  # a request head larger than this is dropped


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] fake-members: {msg}", flush=True)


def response(directory, pod_name, head):
    """The HTTP/1.0 answer to one request head (bytes up to the blank line)."""
    method = head.split(b" ", 1)[0]
    if method != b"GET":
        return b"HTTP/1.0 501 Not Implemented\r\nContent-Length: 0\r\n\r\n"
    for name in (f"{pod_name}.prom", "default.prom"):
        try:
            with open(os.path.join(directory, name), "rb") as f:
                body = f.read()
        except FileNotFoundError:
            continue
        return (b"HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body)) + body
    msg = f"no metrics file for {pod_name}\n".encode()
    return b"HTTP/1.0 404 Not Found\r\nContent-Length: %d\r\n\r\n" % len(msg) + msg


class Servers:
    """Every member's listener and every open connection on one selector, served by the
    main loop: one thread whatever the number of pods (a thread per pod, each polling,
    cost more CPU than the operator it stands beside at a few thousand pods)."""

    def __init__(self, port, directory):
        self.port, self.directory = port, directory
        self.sel = selectors.DefaultSelector()
        self.members = {}  # pod name -> (ip, listening socket)

    def ip(self, name):
        return self.members[name][0] if name in self.members else None

    def names(self):
        return list(self.members)

    def open(self, name, ip):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((ip, self.port))
            sock.listen(128)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self.sel.register(sock, selectors.EVENT_READ, ("listen", name))
        self.members[name] = (ip, sock)

    def close(self, name):
        _, sock = self.members.pop(name)
        self.sel.unregister(sock)
        sock.close()

    def close_all(self):
        for key in list(self.sel.get_map().values()):
            self.sel.unregister(key.fileobj)
            key.fileobj.close()
        self.members.clear()

    def _drop(self, conn):
        self.sel.unregister(conn)
        conn.close()

    def poll(self, timeout):
        for key, _ in self.sel.select(timeout):
            kind, state = key.data
            sock = key.fileobj
            if kind == "listen":
                while True:
                    try:
                        conn, _ = sock.accept()
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:
                        break
                    conn.setblocking(False)
                    self.sel.register(conn, selectors.EVENT_READ, ("read", [state, b""]))
            elif kind == "read":
                try:
                    data = sock.recv(4096)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if not data:
                    self._drop(sock)
                    continue
                state[1] += data
                end = state[1].find(b"\r\n\r\n")
                if end < 0:
                    if len(state[1]) > MAX_REQUEST:
                        self._drop(sock)
                    continue
                out = response(self.directory, state[0], state[1][:end])
                self.sel.modify(sock, selectors.EVENT_WRITE, ("write", [out]))
            else:  # write what is left of the answer, then close (HTTP/1.0)
                try:
                    sent = sock.send(state[0])
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    self._drop(sock)
                    continue
                state[0] = state[0][sent:]
                if not state[0]:
                    self._drop(sock)


def watch_pods(ns, events, stop):
    """Feeds (name, podIP or None) into events for the managed pods of ns, from a
    `kubectl get pods --watch` stream (restarted when it ends); None = gone/deleting."""
    while not stop.is_set():
        proc = subprocess.Popen(
            ["kubectl", "-n", ns, "get", "pods", "-l", SELECTOR, "--watch",
             "--output-watch-events", "-o", "json"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        dec, buf = json.JSONDecoder(), ""
        for line in proc.stdout:
            buf += line
            while True:
                buf = buf.lstrip()
                try:
                    ev, end = dec.raw_decode(buf)
                except ValueError:
                    break
                buf = buf[end:]
                obj = ev.get("object") or {}
                name = (obj.get("metadata") or {}).get("name")
                ip = (obj.get("status") or {}).get("podIP")
                if not name:
                    continue
                if ev.get("type") == "DELETED" or obj["metadata"].get("deletionTimestamp"):
                    ip = None
                events.append((name, ip or None))
            if stop.is_set():
                break
        proc.kill()
        proc.wait()
        if not stop.is_set():
            log("pod watch ended; watching again")
            stop.wait(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--namespace", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--interval", type=float, default=0.1)
    a = ap.parse_args()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    servers = Servers(a.port, a.dir)
    wanted = {}  # pod name -> podIP, as the watch last said
    events = []
    threading.Thread(target=watch_pods, args=(a.namespace, events, stop), daemon=True).start()
    log(f"serving {a.dir} on <podIP>:{a.port} for pods of namespace {a.namespace}")
    dirty, retry_at = False, 0.0
    while not stop.is_set():
        if events:
            batch = events[:]
            del events[: len(batch)]
            for name, ip in batch:
                if ip is None:
                    wanted.pop(name, None)
                else:
                    wanted[name] = ip
            dirty = True
        if dirty or (retry_at and time.monotonic() >= retry_at):
            dirty, retry_at = False, 0.0
            for name in servers.names():
                if wanted.get(name) != servers.ip(name):
                    log(f"stop {name} on {servers.ip(name)}:{a.port}")
                    servers.close(name)
            for name, ip in sorted(wanted.items()):
                if servers.ip(name) is not None:
                    continue
                try:
                    servers.open(name, ip)
                    log(f"serve {name} on {ip}:{a.port}")
                except OSError as ex:  # e.g. an IP another member still holds: retry soon
                    log(f"cannot bind {ip}:{a.port} for {name}: {ex}")
                    retry_at = time.monotonic() + a.interval
        servers.poll(a.interval)
    servers.close_all()
    log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
