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
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time

SELECTOR = "app.kubernetes.io/managed-by=ballast"


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] fake-members: {msg}", flush=True)


def make_handler(directory, pod_name):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            body = None
            for name in (f"{pod_name}.prom", "default.prom"):
                try:
                    with open(os.path.join(directory, name), "rb") as f:
                        body = f.read()
                    break
                except FileNotFoundError:
                    continue
            if body is None:
                self.send_error(404, "no metrics file for " + pod_name)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt, *args):  # quiet: the operator scrapes often
            pass

    return Handler


class Member:
    def __init__(self, name, ip, port, directory):
        self.name, self.ip = name, ip
        self.server = http.server.ThreadingHTTPServer((ip, port), make_handler(directory, name))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


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
    members = {}  # pod name -> Member
    wanted = {}  # pod name -> podIP, as the watch last said
    events = []
    threading.Thread(target=watch_pods, args=(a.namespace, events, stop), daemon=True).start()
    log(f"serving {a.dir} on <podIP>:{a.port} for pods of namespace {a.namespace}")
    while not stop.is_set():
        while events:
            name, ip = events.pop(0)
            if ip is None:
                wanted.pop(name, None)
            else:
                wanted[name] = ip
        for name in list(members):
            if wanted.get(name) != members[name].ip:
                log(f"stop {name} on {members[name].ip}:{a.port}")
                members.pop(name).close()
        for name, ip in sorted(wanted.items()):
            if name in members:
                continue
            try:
                members[name] = Member(name, ip, a.port, a.dir)
                log(f"serve {name} on {ip}:{a.port}")
            except OSError as ex:  # e.g. an IP another member still holds: retry next pass
                log(f"cannot bind {ip}:{a.port} for {name}: {ex}")
        stop.wait(a.interval)
    for m in members.values():
        m.close()
    log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
