#!/usr/bin/env python3
"""member-watch.py — the roll tests' witness: how many members were down at once.

Follows the pods of one namespace (label app.kubernetes.io/managed-by=ballast) with a
list, then a watch from the list's resourceVersion (bookmarks on; on 410 Gone or a
broken stream it lists again and says so), so it sees every change of every pod the
API server records, not samples of them. For the members named on the command line it
keeps each one's state — missing, being deleted, not Ready, or Ready — and at every
change prints one timeline line:

  +12.345s 08:31:02.123 down=1 roll-0=Ready roll-1=missing roll-2=Ready  (roll-1 DELETED)

On SIGTERM/SIGINT it prints a summary line and exits 1 when at some moment more than
--max-down members were down at once (0 otherwise; 2 when it could never list the pods):

  member-watch: SUMMARY verdict=ok max_down=1 changes=17 relists=0 restarts=roll-0:1,...

`restarts` counts, per member, the pods (uids) that replaced the one seen first.
--leaving names members a scale-down removes: one of them that is missing has left
the cluster and is not counted as down (while it is being deleted, it is).
--ready-file is created once the first list is in, so a test starts changing things
only after the witness watches.

--catchup-dir DIR --catchup-secs S --catchup-file F plays a restarted member's catch-up
for tests/support/fake-members.py (whose DIR/<pod>.prom files it writes): the moment a
member goes down, every other member reports the readings in F (e.g. under-replicated
partitions 1), until S seconds after the member's new pod is Ready. The files are
written on the watch event of the member going down, before its new pod can exist, so
no scrape of the new pod can miss them. Deleting any member inside such a window means the gates were not read
again after a restart: counted as gate_violations, and the verdict is FAIL.
Python 3 standard library only.

Usage: member-watch.py --kubeconfig K --namespace NS --members a-0,a-1,a-2
                       [--max-down 1] [--ready-file FILE] [--leaving a-2]
                       [--catchup-dir DIR --catchup-secs S --catchup-file F]
"""

import argparse
import base64
import datetime
import http.client
import json
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

SELECTOR = "app.kubernetes.io/managed-by=ballast"


class ApiError(Exception):
    def __init__(self, status, body):
        super().__init__(f"HTTP {status}: {body[:300]}")
        self.status = status


class Kube:
    """The API server a kubeconfig names; client certificates or a bearer token."""

    def __init__(self, kubeconfig):
        kubectl = os.path.expanduser("~/.cache/ballast/bin/kubectl")
        if not os.access(kubectl, os.X_OK):
            kubectl = "kubectl"
        # The kubeconfig is YAML and the stdlib has none: kubectl flattens it to JSON.
        cfg = json.loads(subprocess.run(
            [kubectl, "--kubeconfig", kubeconfig, "config", "view", "--raw", "--minify",
             "--flatten", "-o", "json"], check=True, capture_output=True, text=True).stdout)
        cluster = cfg["clusters"][0]["cluster"]
        user = (cfg.get("users") or [{"user": {}}])[0]["user"]
        url = urllib.parse.urlparse(cluster["server"])
        self.host, self.port = url.hostname, url.port or 443
        self.ctx = ssl.create_default_context()
        self._tmp = []
        ca = self._pem(cluster.get("certificate-authority-data"))
        if ca:
            self.ctx.load_verify_locations(cafile=ca)
        if cluster.get("insecure-skip-tls-verify"):
            self.ctx.check_hostname = False
            self.ctx.verify_mode = ssl.CERT_NONE
        cert = self._pem(user.get("client-certificate-data"))
        key = self._pem(user.get("client-key-data"))
        if cert and key:
            self.ctx.load_cert_chain(cert, key)
        for f in self._tmp:  # loaded into the SSL context: the files are no longer needed
            os.unlink(f)
        self.token = user.get("token")

    def _pem(self, b64):
        if not b64:
            return None
        fd, path = tempfile.mkstemp(prefix="member-watch-", suffix=".pem")
        with os.fdopen(fd, "wb") as f:
            f.write(base64.b64decode(b64))
        self._tmp.append(path)
        return path

    def _request(self, path, timeout):
        conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=timeout)
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        if resp.status != 200:
            body = resp.read().decode("utf-8", "replace")
            conn.close()
            raise ApiError(resp.status, body)
        return conn, resp

    def get(self, path):
        conn, resp = self._request(path, 15)
        try:
            return json.loads(resp.read())
        finally:
            conn.close()

    def watch(self, path, stop):
        # The server ends the stream after timeoutSeconds; the socket timeout is longer.
        conn, resp = self._request(path, 90)
        try:
            while not stop.is_set():
                line = resp.readline()
                if not line:
                    return
                if line.strip():
                    yield json.loads(line)
        finally:
            conn.close()


def member_state(pod):
    """(uid, word) for a pod: word is Ready, Deleting, or NotReady(<phase>)."""
    md, st = pod.get("metadata") or {}, pod.get("status") or {}
    if md.get("deletionTimestamp"):
        return md.get("uid"), "Deleting"
    for c in st.get("conditions") or []:
        if c.get("type") == "Ready" and c.get("status") == "True":
            return md.get("uid"), "Ready"
    return md.get("uid"), f"NotReady({st.get('phase') or 'NoPhase'})"


class Catchup:
    """While one member is down and for `secs` after its new pod is Ready, the others
    report the readings of `text` (files DIR/<pod>.prom, removed at the end)."""

    def __init__(self, directory, secs, text):
        self.dir, self.secs, self.text = directory, secs, text
        self.member = None  # the member whose restart the peers are catching up on
        self.uid = None  # its pod's uid when it went down
        self.epoch = 0
        self.ending = False  # its new pod is Ready; the timer runs

    def _write(self, name, text):
        tmp = os.path.join(self.dir, f".{name}.prom.tmp")
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, os.path.join(self.dir, f"{name}.prom"))

    def begin(self, member, uid, members):
        self.epoch += 1
        self.member, self.uid, self.ending = member, uid, False
        for m in members:
            if m != member:
                self._write(m, self.text)

    def clear(self, members):
        self.member, self.uid, self.ending = None, None, False
        for m in members:
            try:
                os.unlink(os.path.join(self.dir, f"{m}.prom"))
            except FileNotFoundError:
                pass


class Timeline:
    def __init__(self, members, max_down, catchup=None):
        self.members, self.max_down = members, max_down
        self.catchup = catchup
        self.violations = 0
        self.state = {m: None for m in members}  # name -> (uid, word) or None = missing
        self.leaving = set()  # members a scale-down removes: missing = gone, not down
        self.uids = {m: [] for m in members}  # every uid seen, in order
        self.lock = threading.Lock()
        self.t0 = time.monotonic()
        self.changes = 0
        self.relists = 0
        self.worst = -1
        self.worst_line = ""
        self.started = False

    def down(self):
        return sum(
            1
            for m, s in self.state.items()
            if (s is None and m not in self.leaving) or (s is not None and s[1] != "Ready")
        )

    def set(self, name, st, why):
        """Record one member's new state; prints a timeline line when it changed."""
        if name not in self.state:
            return
        with self.lock:
            if self.state[name] == st and self.started:
                return
            old = self.state[name]
            self.state[name] = st
            if st is not None and st[0] and (not self.uids[name] or self.uids[name][-1] != st[0]):
                self.uids[name].append(st[0])
            self.changes += 1
            self._emit(why)
            if self.catchup is not None:
                self._catchup(name, old, st)

    def _catchup(self, name, old, st):
        c = self.catchup
        was_up = old is not None and old[1] == "Ready"
        is_up = st is not None and st[1] == "Ready"
        going = st is None or st[1] == "Deleting"
        if going and (old is not None and old[1] != "Deleting") and c.member is not None and c.member != name:
            self.violations += 1
            print(f"# GATE VIOLATION: {name} is being deleted while the peers still report the "
                  f"catch-up readings after {c.member}'s restart", flush=True)
        if was_up and not is_up and c.member is None:
            c.begin(name, old[0], self.members)
            print(f"# catch-up: {name} went down; the other members report the catch-up "
                  f"readings until {c.secs:g}s after its new pod is Ready", flush=True)
        elif is_up and name == c.member and st[0] != c.uid and not c.ending:
            c.ending = True
            epoch = c.epoch
            t = threading.Timer(c.secs, self._catchup_end, args=(epoch,))
            t.daemon = True
            t.start()

    def _catchup_end(self, epoch):
        with self.lock:
            c = self.catchup
            if c.epoch != epoch or c.member is None:
                return
            member = c.member
            c.clear(self.members)
            print(f"# catch-up after {member}'s restart is over: every member reports its own "
                  f"readings again", flush=True)

    def snapshot(self, pods, why):
        """Replace every member's state by a fresh list (first list, or after a gap)."""
        with self.lock:
            for name in self.members:
                st = pods.get(name)
                self.state[name] = st
                if st is not None and st[0] and (not self.uids[name] or self.uids[name][-1] != st[0]):
                    self.uids[name].append(st[0])
            self.started = True
            self.changes += 1
            self._emit(why)

    def _emit(self, why):
        d = self.down()
        now = datetime.datetime.now().strftime("%H:%M:%S.%f")[:-3]
        parts = " ".join(f"{m}={'missing' if s is None else s[1]}" for m, s in self.state.items())
        line = f"+{time.monotonic() - self.t0:8.3f}s {now} down={d} {parts}  ({why})"
        if d > self.worst:
            self.worst, self.worst_line = d, line.strip()
        print(line + ("  <-- more than %d down" % self.max_down if d > self.max_down else ""),
              flush=True)

    def summary(self):
        with self.lock:
            restarts = ",".join(f"{m}:{max(len(u) - 1, 0)}" for m, u in self.uids.items())
            verdict = "ok" if self.worst <= self.max_down and self.violations == 0 else "FAIL"
            return (verdict, f"member-watch: SUMMARY verdict={verdict} max_down={self.worst} "
                    f"changes={self.changes} relists={self.relists} restarts={restarts} "
                    f"gate_violations={self.violations} "
                    f"seconds={time.monotonic() - self.t0:.1f} worst=[{self.worst_line}]")


def follow(kube, ns, tl, ready_file, stop, failed):
    base = f"/api/v1/namespaces/{ns}/pods?labelSelector={urllib.parse.quote(SELECTOR)}"
    first = True
    while not stop.is_set():
        try:
            lst = kube.get(base)
            rv = lst["metadata"]["resourceVersion"]
            pods = {}
            for p in lst.get("items") or []:
                pods[p["metadata"]["name"]] = member_state(p)
            if first:
                tl.snapshot(pods, "initial list")
                if ready_file:
                    open(ready_file, "w").close()
                first = False
            else:
                tl.relists += 1
                tl.snapshot(pods, "list again after a broken watch: changes in the gap are unseen")
            while not stop.is_set():
                path = f"{base}&watch=1&allowWatchBookmarks=true&timeoutSeconds=60&resourceVersion={rv}"
                gone = False
                for ev in kube.watch(path, stop):
                    typ, obj = ev.get("type"), ev.get("object") or {}
                    if typ == "ERROR":
                        if obj.get("code") == 410:
                            gone = True
                            break
                        raise ApiError(obj.get("code", 0), json.dumps(obj))
                    rv = (obj.get("metadata") or {}).get("resourceVersion", rv)
                    if typ == "BOOKMARK":
                        continue
                    name = (obj.get("metadata") or {}).get("name")
                    if typ == "DELETED":
                        tl.set(name, None, f"{name} DELETED")
                    else:
                        st = member_state(obj)
                        tl.set(name, st, f"{name} {typ} uid {str(st[0])[:8]}")
                if gone:
                    print(f"# watch: 410 Gone at resourceVersion {rv}; listing again", flush=True)
                    break
        except (ApiError, OSError, ValueError, http.client.HTTPException) as ex:
            if first:
                failed.append(str(ex))
            print(f"# watch error: {ex}; listing again", flush=True)
            stop.wait(0.5)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"))
    ap.add_argument("--namespace", required=True)
    ap.add_argument("--members", required=True, help="comma-separated pod names")
    ap.add_argument("--max-down", type=int, default=1)
    ap.add_argument("--ready-file")
    ap.add_argument("--leaving", default="", help="comma-separated members being removed")
    ap.add_argument("--catchup-dir")
    ap.add_argument("--catchup-secs", type=float, default=3.0)
    ap.add_argument("--catchup-file")
    a = ap.parse_args()
    if not a.kubeconfig:
        print("member-watch: --kubeconfig or KUBECONFIG is required", file=sys.stderr)
        return 2
    members = [m for m in a.members.split(",") if m]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    catchup = None
    if a.catchup_dir:
        if not a.catchup_file:
            print("member-watch: --catchup-dir needs --catchup-file", file=sys.stderr)
            return 2
        with open(a.catchup_file) as f:
            catchup = Catchup(a.catchup_dir, a.catchup_secs, f.read())
    tl = Timeline(members, a.max_down, catchup)
    tl.leaving = {m for m in a.leaving.split(",") if m}
    if not tl.leaving <= set(members):
        print("member-watch: --leaving names a member --members does not", file=sys.stderr)
        return 2
    failed = []
    kube = Kube(a.kubeconfig)
    threading.Thread(target=follow, args=(kube, a.namespace, tl, a.ready_file, stop, failed),
                     daemon=True).start()
    while not stop.wait(0.2):
        pass
    if not tl.started:
        print(f"member-watch: SUMMARY verdict=FAIL never listed the pods: {failed[-1:] or '?'}",
              flush=True)
        return 2
    verdict, line = tl.summary()
    if catchup is not None:
        with tl.lock:
            catchup.clear(members)
    print(line, flush=True)
    return 0 if verdict == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
