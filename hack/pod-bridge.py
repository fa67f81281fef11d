#!/usr/bin/env python3
"""hack/pod-bridge.py — stands a real Apache Kafka broker behind every kwok pod that
ballast runs as a Kafka member, so the operator's health gates read real metrics.

kwok gives pods an IP in 127.x but runs nothing. This bridge watches the pods labelled
app.kubernetes.io/managed-by=ballast (all namespaces, or --namespace) and, for each pod
that is Running with a podIP and is a Kafka member (container image containing "kafka"
or annotation ballast.dev/engine=kafka), runs hack/kafka/broker.sh behind it:

  node.id     = label ballast.dev/ordinal
  broker.rack = the member's zone (env BALLAST_RACK, pod/PVC zone label, node affinity,
                or the node's topology.kubernetes.io/zone label)
  data        = $STATE/<namespace>/<claimName> of the pod's PVC, so a recreated pod
                finds its data again (wiped when a new PVC with the same name appears)
  config      = the member's file from the pod's ConfigMap volume (spec.config of the
                PSC, as ballast renders it), minus the keys the bridge owns
  listeners   = PLAINTEXT on <podIP>:<client port>, metrics on <podIP>:<metrics port>:
                the operator scrapes the pod IP, whatever kwok assigned this time.

The KRaft quorum cannot follow pod IPs (kwok hands out a new IP per pod, and the voters'
endpoints are fixed at format time), so the CONTROLLER listener binds a stable IP instead:
<--controller-net>.<k>.<ordinal+1> (default: the pods' 127.N plus one, so 127.21.<k>.x for
kwok's 127.20.0.0/16), with <k> allocated once per PSC and kept in $STATE. Two bridges on
one machine need distinct pod CIDRs (127.20/16, 127.22/16, ...) or --controller-net. The quorum is dynamic (KIP-853, controller.quorum.bootstrap.servers): every member
runs broker+controller; ordinals below min(--max-voters (3), spec.replicas at first sight)
are formatted as the voters, the others as observers. So a production-like 3-voter quorum
survives scaling down to 3, and every member — voter or observer — exports the
kafka_controller_* metrics the default gates read. Scaling below the voters is not
supported (it would need kafka-metadata-quorum remove-controller).

When the pod goes away (deleted, or a new pod with another uid takes its place) the
broker gets SIGTERM — a controlled shutdown — and SIGKILL after a bounded wait. A broker
that dies on its own is started again with back-off, as a kubelet restarts a container.
The bridge sets nothing in Kubernetes. On SIGINT/SIGTERM it stops its brokers; with
--keep-brokers it leaves them running and adopts them at its next start.

Usage: KUBECONFIG=... hack/pod-bridge.py [--state DIR] [--namespace NS] [--keep-brokers]
                                         [--controller-net 127.21] [--max-voters 3]
One log line per action on stdout. Python 3 standard library only.
"""

import argparse
import base64
import hashlib
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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BROKER = os.path.join(ROOT, "hack", "kafka", "broker.sh")
SELECTOR = "app.kubernetes.io/managed-by=ballast"
ZONE_LABEL = "topology.kubernetes.io/zone"
EPHEMERAL = "ephemeral~"  # member directory prefix of a pod without a PVC
PSC_PATH = "/apis/ballast.dev/v1alpha1/namespaces/{ns}/physicalstatefulclusters/{name}"
# Keys the bridge decides itself: a member file must not move a broker off its pod IP.
OWNED_KEYS = {
    "process.roles", "node.id", "controller.quorum.voters", "controller.quorum.bootstrap.servers",
    "listeners", "advertised.listeners", "controller.listener.names", "inter.broker.listener.name",
    "listener.security.protocol.map", "log.dirs", "log.dir", "metadata.log.dir",
}

_log_lock = threading.Lock()


def log(msg, **kv):
    """One line per action: time, message, key=value pairs."""
    extra = " ".join(f"{k}={v}" for k, v in kv.items())
    with _log_lock:
        print(f"[{time.strftime('%H:%M:%S')}] pod-bridge: {msg}" + (f" {extra}" if extra else ""), flush=True)


class ApiError(Exception):
    def __init__(self, status, body):
        super().__init__(f"HTTP {status}: {body[:300]}")
        self.status = status


class Kube:
    """Minimal client for the API server named by a kubeconfig (client cert or token)."""

    def __init__(self, kubeconfig, workdir):
        cfg = self._load(kubeconfig)
        ctx_name = cfg.get("current-context") or cfg["contexts"][0]["name"]
        ctx = next(c["context"] for c in cfg["contexts"] if c["name"] == ctx_name)
        cluster = next(c["cluster"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])
        user = next((u["user"] for u in cfg.get("users", []) if u["name"] == ctx.get("user")), {})
        url = urllib.parse.urlparse(cluster["server"])
        self.host, self.port = url.hostname, url.port or 443
        self.sslctx = ssl.create_default_context()
        ca = self._file(cluster, "certificate-authority", workdir, "ca.crt")
        if ca:
            self.sslctx.load_verify_locations(cafile=ca)
        if cluster.get("insecure-skip-tls-verify"):
            self.sslctx.check_hostname = False
            self.sslctx.verify_mode = ssl.CERT_NONE
        cert = self._file(user, "client-certificate", workdir, "client.crt")
        key = self._file(user, "client-key", workdir, "client.key")
        if cert and key:
            self.sslctx.load_cert_chain(cert, key)
        self.token = user.get("token")

    @staticmethod
    def _load(path):
        # The kubeconfig is YAML; kubectl turns it into JSON for us (stdlib has no YAML).
        kubectl = os.path.expanduser("~/.cache/ballast/bin/kubectl")
        if not os.access(kubectl, os.X_OK):
            kubectl = "kubectl"
        out = subprocess.run([kubectl, "--kubeconfig", path, "config", "view", "--raw", "-o", "json"],
                             check=True, capture_output=True, text=True).stdout
        return json.loads(out)

    @staticmethod
    def _file(obj, key, workdir, name):
        if obj.get(key):
            return obj[key]
        if obj.get(key + "-data"):
            path = os.path.join(workdir, name)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(base64.b64decode(obj[key + "-data"]))
            return path
        return None

    def _conn(self, timeout):
        return http.client.HTTPSConnection(self.host, self.port, context=self.sslctx, timeout=timeout)

    def _headers(self):
        h = {"Accept": "application/json"}
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        return h

    def get(self, path, timeout=10):
        conn = self._conn(timeout)
        try:
            conn.request("GET", path, headers=self._headers())
            resp = conn.getresponse()
            body = resp.read().decode("utf-8", "replace")
            if resp.status != 200:
                raise ApiError(resp.status, body)
            return json.loads(body)
        finally:
            conn.close()

    def get_or_none(self, path):
        try:
            return self.get(path)
        except ApiError as e:
            if e.status in (403, 404):
                return None
            raise

    def watch(self, path, stop):
        """Yields watch events (dicts) until the server ends the stream or stop is set."""
        conn = self._conn(90)
        try:
            conn.request("GET", path, headers=self._headers())
            resp = conn.getresponse()
            if resp.status != 200:
                raise ApiError(resp.status, resp.read().decode("utf-8", "replace"))
            while not stop.is_set():
                line = resp.readline()
                if not line:
                    return
                if line.strip():
                    yield json.loads(line)
        finally:
            conn.close()


def kafka_uuid(seed):
    """A Kafka Uuid string (base64url of 16 bytes) derived from seed; never starting with
    '-', as Kafka's own ids never do (the tools would read it as a flag)."""
    while True:
        u = base64.urlsafe_b64encode(hashlib.md5(seed.encode()).digest()).decode().rstrip("=")
        if not u.startswith("-"):
            return u
        seed += "'"


def ordinal_of(pod):
    try:
        return int((pod["metadata"].get("labels") or {}).get("ballast.dev/ordinal", ""))
    except ValueError:
        return -1


def pod_key(pod):
    md = pod["metadata"]
    return f"{md['namespace']}/{md['name']}"


def is_kafka(pod):
    md = pod["metadata"]
    if (md.get("annotations") or {}).get("ballast.dev/engine") == "kafka":
        return True
    return any("kafka" in (c.get("image") or "").lower() for c in pod["spec"].get("containers", []))


def claim_of(pod):
    vols = pod["spec"].get("volumes") or []
    pvcs = [v for v in vols if v.get("persistentVolumeClaim")]
    data = [v for v in pvcs if v.get("name") == "data"] or pvcs
    return data[0]["persistentVolumeClaim"]["claimName"] if data else None


def engine_container(pod):
    ctrs = pod["spec"].get("containers") or [{}]
    return next((c for c in ctrs if "kafka" in (c.get("image") or "").lower()), ctrs[0])


def ports_of(pod):
    """(client, metrics) ports from the engine container: 'metrics' by name, else 9404."""
    client, metrics = None, 9404
    for p in engine_container(pod).get("ports") or []:
        if p.get("name") == "metrics":
            metrics = p["containerPort"]
        elif client is None:
            client = p["containerPort"]
    return client or 9092, metrics


def env_of(pod, name):
    for e in engine_container(pod).get("env") or []:
        if e.get("name") == name and "value" in e:
            return e["value"]
    return None


def affinity_zone(pod):
    terms = (((pod["spec"].get("affinity") or {}).get("nodeAffinity") or {})
             .get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or []
    for t in terms:
        for e in t.get("matchExpressions") or []:
            if e.get("key") == ZONE_LABEL and e.get("operator") == "In" and len(e.get("values") or []) == 1:
                return e["values"][0]
    return None


def parse_properties(text):
    """Java .properties subset ballast renders: key=value lines, backslash escapes."""
    out = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        key, val, i, esc = [], None, 0, False
        cur = key
        while i < len(line):
            ch = line[i]
            if esc:
                cur.append({"n": "\n", "t": "\t"}.get(ch, ch))
                esc = False
            elif ch == "\\":
                esc = True
            elif val is None and ch in "=:":
                val = []
                cur = val
            else:
                cur.append(ch)
            i += 1
        out.append(("".join(key).strip(), "".join(val or []).strip()))
    return out


class Member:
    """One broker: keyed by namespace/claim (its volume); serves one pod at a time."""

    def __init__(self, key, dir_):
        self.key = key
        self.dir = dir_
        self.busy = False          # an action thread owns this member
        self.pod_uid = None        # the pod the running broker serves
        self.ip = None
        self.failures = 0
        self.next_try = 0.0
        self.started_at = 0.0
        self.desired = None        # last desired spec (dict), None = should not run
        self._load()

    def _load(self):
        try:
            with open(os.path.join(self.dir, "bridge.json")) as f:
                st = json.load(f)
            self.pod_uid, self.ip = st.get("pod_uid"), st.get("ip")
        except (OSError, ValueError):
            pass

    def save(self):
        os.makedirs(self.dir, exist_ok=True)
        with open(os.path.join(self.dir, "bridge.json.tmp"), "w") as f:
            json.dump({"pod_uid": self.pod_uid, "ip": self.ip}, f)
        os.replace(os.path.join(self.dir, "bridge.json.tmp"), os.path.join(self.dir, "bridge.json"))

    def running(self):
        """The pid in broker.pid is alive (not a zombie) and is this member's broker."""
        try:
            with open(os.path.join(self.dir, "broker.pid")) as f:
                pid = int(f.read().strip())
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return False
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                return os.path.join(self.dir, "server.properties").encode() in f.read()
        except (OSError, ValueError, IndexError):
            return False


class Bridge:
    def __init__(self, kube, state, namespace, keep, cnet, max_voters):
        self.kube, self.state, self.namespace, self.keep, self.cnet = kube, state, namespace, keep, cnet
        self.max_voters = max_voters
        self.pods = {}                 # ns/name -> pod
        self.members = {}              # ns/claim -> Member
        self.lock = threading.Lock()   # guards pods, members, clusters files
        self.wake = threading.Event()
        self.stop = threading.Event()
        self.node_zone = {}

    # ---- per-PSC quorum identity -------------------------------------------------
    def cluster_info(self, ns, psc, replicas_hint):
        """{cluster_id, voters, net}: fixed at first sight of the PSC, kept in $STATE."""
        path = os.path.join(self.state, "clusters.json")
        with self.lock:
            try:
                with open(path) as f:
                    all_ = json.load(f)
            except (OSError, ValueError):
                all_ = {}
            key = f"{ns}/{psc}"
            obj = self.kube.get_or_none(PSC_PATH.format(ns=ns, name=psc))
            uid = obj["metadata"]["uid"] if obj else "no-psc"
            info = all_.get(key)
            if info is None or info.get("psc_uid") != uid:
                replicas = (obj or {}).get("spec", {}).get("replicas") or replicas_hint or self.max_voters
                used = {v["net"] for k, v in all_.items() if k != key}
                net = next(n for n in range(1, 255) if n not in used)
                cid = kafka_uuid(f"{key}/{uid}")
                info = {"psc_uid": uid, "cluster_id": cid, "voters": min(self.max_voters, int(replicas)), "net": net}
                all_[key] = info
                tmp = path + ".tmp"
                with open(tmp, "w") as f:
                    json.dump(all_, f, indent=1)
                os.replace(tmp, path)
                log("new cluster", psc=key, cluster_id=cid, voters=info["voters"], controller_net_index=net)
            return info

    def zone_of(self, pod):
        z = env_of(pod, "BALLAST_RACK") or (pod["metadata"].get("labels") or {}).get(ZONE_LABEL) \
            or affinity_zone(pod)
        node = pod["spec"].get("nodeName")
        if not z and node:
            if node not in self.node_zone:
                n = self.kube.get_or_none(f"/api/v1/nodes/{node}")
                self.node_zone[node] = ((n or {}).get("metadata", {}).get("labels") or {}).get(ZONE_LABEL)
            z = self.node_zone[node]
        return z

    # ---- desired state -----------------------------------------------------------
    def desired(self):
        """ns/claim -> pod for every pod that should have a broker now."""
        want = {}
        with self.lock:
            pods = list(self.pods.values())
        for pod in pods:
            md, st = pod["metadata"], pod.get("status") or {}
            if md.get("deletionTimestamp") or st.get("phase") != "Running" or not st.get("podIP"):
                continue
            if not is_kafka(pod):
                continue
            labels = md.get("labels") or {}
            if "ballast.dev/ordinal" not in labels:
                continue
            # no PVC: data lives and dies with the pod ('~' is in no Kubernetes name)
            claim = claim_of(pod) or f"{EPHEMERAL}{md['name']}-{md['uid']}"
            want[f"{md['namespace']}/{claim}"] = pod
        return want

    def reconcile(self):
        want = self.desired()
        with self.lock:
            for key in want:
                if key not in self.members:
                    self.members[key] = Member(key, os.path.join(self.state, key))
            members = list(self.members.values())
        now = time.time()
        for m in members:
            pod = want.get(m.key)
            with self.lock:
                if m.busy:
                    continue
                m.desired = pod
                action = None
                if pod is None:
                    if m.pod_uid is not None:
                        action = "stop"
                elif m.pod_uid is not None and (m.pod_uid != pod["metadata"]["uid"] or
                                                m.ip != pod["status"]["podIP"]):
                    action = "replace"  # never delayed: the old broker must go
                elif now < m.next_try:
                    continue  # back-off after a failure, or the next liveness check
                else:
                    action = "start" if m.pod_uid is None else "check"
                if action is None:
                    continue
                m.busy = True
            threading.Thread(target=self._act, args=(m, action, pod), daemon=True).start()

    def _act(self, m, action, pod):
        try:
            if action in ("stop", "replace"):
                self._stop(m, "pod gone" if action == "stop" else "pod replaced")
            if action in ("start", "replace"):
                self._start(m, pod)
            elif action == "check":
                if m.running():
                    if time.time() - m.started_at > 60:
                        m.failures = 0  # up a minute: the next crash starts the back-off anew
                else:
                    m.failures += 1
                    log("broker exited on its own: restarting", member=m.key, failures=m.failures,
                        log=os.path.join(m.dir, "logs", "server.log"))
                    self._start(m, pod)
            if action != "check":
                m.failures = 0
            if action == "stop":
                m.next_try = 0.0  # a replacement pod may start its broker at once
            else:
                # next liveness check; a crashing broker is retried after 5 s, 10 s, 20 s ...
                # up to a minute, as a kubelet would
                m.next_try = time.time() + min(60, 5 * 2 ** max(0, m.failures - 1))
        except Exception as e:  # one member's failure must not stop the others
            m.failures += 1
            m.next_try = time.time() + min(60, 2 ** m.failures)
            log("action failed", member=m.key, action=action, error=str(e).strip().replace("\n", " | ")[-400:],
                retry_in=f"{m.next_try - time.time():.0f}s")
        finally:
            with self.lock:
                m.busy = False
            self.wake.set()

    def _stop(self, m, why, timeout=30):
        log(f"stopping broker ({why})", member=m.key, ip=m.ip)
        t0 = time.time()
        subprocess.run(["bash", BROKER, "stop", m.dir, "--timeout", str(timeout)],
                       capture_output=True, text=True, check=True)
        log("broker stopped", member=m.key, took=f"{time.time() - t0:.1f}s")
        m.pod_uid, m.ip = None, None
        if os.path.basename(m.dir).startswith(EPHEMERAL) and why != "bridge exiting":
            subprocess.run(["rm", "-rf", m.dir], check=True)
            with self.lock:
                self.members.pop(m.key, None)
            log("deleted ephemeral data", member=m.key)
        else:
            m.save()

    def _ip_busy(self, ip, me):
        with self.lock:
            return any(o is not me and o.ip == ip for o in self.members.values())

    def _start(self, m, pod):
        md, ns = pod["metadata"], pod["metadata"]["namespace"]
        labels = md.get("labels") or {}
        ip, ordinal = pod["status"]["podIP"], ordinal_of(pod)
        if not 0 <= ordinal < 254:
            raise ValueError(f"label ballast.dev/ordinal={labels.get('ballast.dev/ordinal')!r} is not an ordinal 0..253")
        psc = labels.get("app.kubernetes.io/instance") or md["name"].rsplit("-", 1)[0]
        # kwok may give a fresh pod the IP of one whose broker is still shutting down
        deadline = time.time() + 60
        while self._ip_busy(ip, m):
            if time.time() > deadline:
                raise RuntimeError(f"IP {ip} still held by another broker after 60s")
            time.sleep(0.5)
        with self.lock:  # without a PSC object: as many members as the highest ordinal says
            hint = 1 + max((ordinal_of(p) for p in self.pods.values() if p["metadata"]["namespace"] == ns and
                            (p["metadata"].get("labels") or {}).get("app.kubernetes.io/instance") == psc),
                           default=-1)
        info = self.cluster_info(ns, psc, hint)
        net, nv = info["net"], info["voters"]
        cid = info["cluster_id"]
        cnet = self.cnet or "127.%d" % (int(ip.split(".")[1]) + 1)
        initial = ",".join(f"{i}@{cnet}.{net}.{i + 1}:9093:{kafka_uuid(f'dir-{cid}-{i}')}" for i in range(nv))
        role = "voter" if ordinal < nv else "observer"
        client, metrics = ports_of(pod)
        self._check_volume(m, ns, claim_of(pod))
        args = ["bash", BROKER, "start", m.dir, "--id", str(ordinal), "--ip", ip,
                "--controller-ip", f"{cnet}.{net}.{ordinal + 1}", "--initial-controllers", initial,
                "--cluster-id", cid]
        zone = self.zone_of(pod)
        if zone:
            args += ["--rack", zone]
        for k, v in self.member_config(pod):
            args += ["--set", f"{k}={v}"]
        env = dict(os.environ, KAFKA_PORT=str(client), METRICS_PORT=str(metrics))
        log("starting broker", member=m.key, pod=pod_key(pod), ip=ip, node_id=ordinal, quorum=role,
            rack=zone or "-", ports=f"{client}/{metrics}")
        t0 = time.time()
        with self.lock:
            m.pod_uid, m.ip = md["uid"], ip   # claim the IP before the process binds it
        m.save()
        r = subprocess.run(args, capture_output=True, text=True, env=env)
        if r.returncode != 0:
            with self.lock:
                m.pod_uid, m.ip = None, None
            m.save()
            raise RuntimeError(f"broker.sh start failed: {r.stderr.strip()}")
        m.started_at = time.time()
        log("broker launched", member=m.key, pod=pod_key(pod), took=f"{time.time() - t0:.1f}s",
            log=os.path.join(m.dir, "logs", "server.log"))

    def _check_volume(self, m, ns, claim):
        """A new PVC under an old name is a new, empty volume: wipe the old data."""
        if not claim:
            return
        pvc = self.kube.get_or_none(f"/api/v1/namespaces/{ns}/persistentvolumeclaims/{claim}")
        if pvc is None:
            return
        uid = pvc["metadata"]["uid"]
        path = os.path.join(m.dir, "pvc-uid")
        try:
            old = open(path).read().strip()
        except OSError:
            old = None
        if old and old != uid:
            log("new PVC under an old name: wiping its data", member=m.key, old_uid=old, new_uid=uid)
            subprocess.run(["rm", "-rf", os.path.join(m.dir, "data")], check=True)
        os.makedirs(m.dir, exist_ok=True)
        with open(path, "w") as f:
            f.write(uid + "\n")

    def member_config(self, pod):
        """Keys of the member's file in the pod's ConfigMap volume (what ballast renders)."""
        cm = next((v["configMap"]["name"] for v in pod["spec"].get("volumes") or [] if v.get("configMap")), None)
        if not cm:
            return []
        obj = self.kube.get_or_none(f"/api/v1/namespaces/{pod['metadata']['namespace']}/configmaps/{cm}")
        data = (obj or {}).get("data") or {}
        want = os.path.basename(env_of(pod, "BALLAST_CONFIG_FILE") or "")
        text = data.get(want)
        if text is None:
            ordinal = (pod["metadata"].get("labels") or {}).get("ballast.dev/ordinal")
            text = data.get(f"member-{ordinal}.properties")
        if text is None:  # ballast's per-revision ConfigMap: the shared file
            text = data.get("server.properties")
        if text is None:
            return []
        return [(k, v) for k, v in parse_properties(text) if k and k not in OWNED_KEYS]

    # ---- informer ------------------------------------------------------------------
    def _pods_path(self):
        base = f"/api/v1/namespaces/{self.namespace}/pods" if self.namespace else "/api/v1/pods"
        return base + "?labelSelector=" + urllib.parse.quote(SELECTOR)

    def watch_loop(self):
        while not self.stop.is_set():
            try:
                lst = self.kube.get(self._pods_path(), timeout=30)
                with self.lock:
                    self.pods = {pod_key(p): p for p in lst.get("items", [])}
                rv = lst["metadata"]["resourceVersion"]
                self.wake.set()
                while not self.stop.is_set():
                    path = self._pods_path() + f"&watch=1&allowWatchBookmarks=true&timeoutSeconds=60" \
                        f"&resourceVersion={rv}"
                    for ev in self.kube.watch(path, self.stop):
                        typ, obj = ev.get("type"), ev.get("object") or {}
                        if typ == "ERROR":
                            raise ApiError(obj.get("code", 500), obj.get("message", ""))
                        rv = obj.get("metadata", {}).get("resourceVersion", rv)
                        if typ == "BOOKMARK":
                            continue
                        with self.lock:
                            if typ == "DELETED":
                                self.pods.pop(pod_key(obj), None)
                            else:
                                self.pods[pod_key(obj)] = obj
                        self.wake.set()
            except ApiError as e:
                if e.status != 410:
                    log("watch error, listing again", error=str(e))
                    self.stop.wait(1)
            except (OSError, http.client.HTTPException, ValueError) as e:
                log("API server unreachable, retrying", error=str(e))
                self.stop.wait(1)

    def run(self):
        # adopt brokers a previous run left behind (--keep-brokers)
        for ns in sorted(os.listdir(self.state)) if os.path.isdir(self.state) else []:
            d = os.path.join(self.state, ns)
            if not os.path.isdir(d):
                continue
            for claim in sorted(os.listdir(d)):
                m = Member(f"{ns}/{claim}", os.path.join(d, claim))
                if m.pod_uid is not None and not m.running():
                    m.pod_uid, m.ip = None, None
                if m.pod_uid is not None:
                    log("adopted running broker", member=m.key, ip=m.ip)
                    self.members[m.key] = m
        threading.Thread(target=self.watch_loop, daemon=True).start()
        log("watching pods", selector=SELECTOR, namespace=self.namespace or "<all>", state=self.state)
        while not self.stop.is_set():
            self.wake.wait(5)
            self.wake.clear()
            if not self.stop.is_set():
                self.reconcile()
        self.shutdown()

    def shutdown(self):
        deadline = time.time() + 40
        while any(m.busy for m in list(self.members.values())) and time.time() < deadline:
            time.sleep(0.2)
        running = [m for m in self.members.values() if m.pod_uid is not None]
        if self.keep:
            log("exiting, brokers left running", count=len(running))
            return
        log("exiting: stopping brokers", count=len(running))
        threads = [threading.Thread(target=self._stop, args=(m, "bridge exiting", 5)) for m in running]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cluster_dir = os.environ.get("BALLAST_CLUSTER_DIR", os.path.join(ROOT, "build", "cluster"))
    ap.add_argument("--state", default=os.path.join(cluster_dir, "pod-bridge"),
                    help="brokers' data and the bridge's state (default $BALLAST_CLUSTER_DIR/pod-bridge)")
    ap.add_argument("--namespace", default="", help="watch one namespace (default: all)")
    ap.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG", ""))
    ap.add_argument("--controller-net", default=os.environ.get("BALLAST_CONTROLLER_NET", ""),
                    help="first two octets of the controllers' stable IPs (default: the pods' "
                         "127.N + 1, i.e. 127.21 for kwok's 127.20.0.0/16)")
    ap.add_argument("--max-voters", type=int, default=int(os.environ.get("BALLAST_MAX_VOTERS", "3")),
                    help="KRaft voters per PSC: ordinals below min(this, replicas) (default 3)")
    ap.add_argument("--keep-brokers", action="store_true", help="leave brokers running on exit")
    a = ap.parse_args()
    if not a.kubeconfig:
        ap.error("set KUBECONFIG or --kubeconfig")
    state = os.path.realpath(a.state)  # as broker.sh sees it (its pid check compares paths)
    os.makedirs(state, exist_ok=True)
    creds = tempfile.mkdtemp(prefix="pod-bridge-creds.")
    try:
        kube = Kube(a.kubeconfig, creds)
        bridge = Bridge(kube, state, a.namespace, a.keep_brokers, a.controller_net, a.max_voters)

        def on_signal(signum, _frame):
            log("signal received", signal=signal.Signals(signum).name)
            bridge.stop.set()
            bridge.wake.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        bridge.run()
    finally:
        subprocess.run(["rm", "-rf", creds])
    return 0


if __name__ == "__main__":
    sys.exit(main())
