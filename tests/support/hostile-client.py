#!/usr/bin/env python3
"""hostile-client.py — hostile HTTP clients against a running ballast: requests pipelined in
one write, sent a byte at a time, cut short, oversized, with a bad Content-Length, not HTTP at
all, TLS on the plain port and plain text on the TLS port, a TLS handshake left half done.
Python 3 stdlib only (socket, ssl). Each case runs on connections of its own and must be
answered with a proper status or closed within --timeout seconds (a hang fails it); after each
one, GET /healthz must still answer 200. Prints one "ok: ..." line per case, "FAIL: ..." for
each failure, and exits 1 if any failed.

Pipelining: ballast answers the first request of a connection with "Connection: close" and
closes it (HTTP/1.1 lets a server do that; see operator/server/httpd.c). A pipelining client
then sends what was left unanswered again, on a new connection (RFC 9112 section 9.3.2), which
is what this client does: every request must be answered exactly once, in order, and no answer
may be cut or mixed up with another.

Usage:
  hostile-client.py --http-port P --tls-port T --cafile CERT --review-file REVIEW.json
                    [--host 127.0.0.1] [--max-body BYTES] [--timeout SECS]
REVIEW.json is an AdmissionReview whose request.uid this client replaces per request.
"""
import argparse
import json
import socket
import ssl
import sys
import time

A = None  # the parsed arguments
TLS_CTX = None


class Fail(Exception):
    pass


def dial(tls, timeout=None):
    s = socket.create_connection((A.host, A.tls_port if tls else A.http_port),
                                 timeout=timeout or A.timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if tls:
        s = TLS_CTX.wrap_socket(s, server_hostname=A.host)
    return s


def send(s, data, step=0, pause=0.0):
    if not step:
        s.sendall(data)
        return
    for i in range(0, len(data), step):
        s.sendall(data[i:i + step])
        if pause:
            time.sleep(pause)


def read_until_close(s, limit):
    """Everything the server sends until it closes; Fail when it is still open after limit s."""
    out, deadline = b"", time.monotonic() + limit
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise Fail("connection still open after %.0fs (got %r)" % (limit, out[:200]))
        s.settimeout(left)
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return out  # a reset is a close
        except ssl.SSLError as e:
            if "APPLICATION_DATA_AFTER_CLOSE_NOTIFY" in str(e) or "EOF" in str(e):
                return out
            raise
        if not chunk:
            return out
        out += chunk


def parse_responses(data):
    """Splits what a connection received into complete responses (status, headers, body);
    Fail on a response that is cut or malformed."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            raise Fail("a response cut inside its headers: %r" % data[:200])
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise Fail("not an HTTP status line: %r" % lines[0])
        hdrs = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        if "content-length" not in hdrs:
            raise Fail("a response without Content-Length: %r" % head)
        n = int(hdrs["content-length"])
        if len(rest) < n:
            raise Fail("a response body cut at %d of %d bytes" % (len(rest), n))
        out.append((int(parts[1]), hdrs, rest[:n]))
        data = rest[n:]
    return out


def pipeline(tls, reqs, check):
    """Sends reqs in one write; what is left unanswered when the server closes goes again on a
    new connection. check(i, status, headers, body) judges the answer to reqs[i]. Returns the
    number of connections used."""
    i, conns = 0, 0
    while i < len(reqs):
        conns += 1
        if conns > len(reqs):
            raise Fail("request %d of %d never answered after %d connections" %
                       (i + 1, len(reqs), conns - 1))
        s = dial(tls)
        try:
            send(s, b"".join(reqs[i:]))
            resps = parse_responses(read_until_close(s, A.timeout))
        finally:
            s.close()
        if not resps:
            raise Fail("connection %d closed with no answer to request %d" % (conns, i + 1))
        if len(resps) > len(reqs) - i:
            raise Fail("%d answers to %d requests" % (len(resps), len(reqs) - i))
        for st, h, body in resps:
            check(i, st, h, body)
            i += 1
    return conns


def review(uid, body=None):
    doc = json.loads(A.review) if body is None else body
    doc["request"]["uid"] = uid
    return json.dumps(doc).encode()


def post(path, body, extra=b""):
    return (b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n%s"
            b"Content-Length: %d\r\n\r\n" % (path.encode(), A.host.encode(), extra,
                                             len(body))) + body


def get(path):
    return b"GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (path.encode(), A.host.encode())


def check_review(uids):
    def check(i, st, h, body):
        if st != 200:
            raise Fail("review %d: status %d: %r" % (i + 1, st, body[:200]))
        try:
            doc = json.loads(body)
        except ValueError:
            raise Fail("review %d: answer is not JSON: %r" % (i + 1, body[:200]))
        r = doc.get("response") or {}
        if doc.get("kind") != "AdmissionReview" or r.get("uid") != uids[i] or \
                not isinstance(r.get("allowed"), bool):
            raise Fail("review %d: want an AdmissionReview for uid %s, got %r" %
                       (i + 1, uids[i], doc))
    return check


def expect_status_or_close(tls, data, allowed, step=0, pause=0.0, limit=None):
    """Sends data; the server must answer one of allowed (a set of codes) exactly once, whole,
    and close within --answer-close of the last byte sent, or close without an answer within
    limit. Returns a description of what happened."""
    s = dial(tls)
    try:
        try:
            send(s, data, step, pause)
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed on us while we wrote: a close
        t0 = time.monotonic()  # from the last byte sent
        raw = read_until_close(s, limit or A.timeout)
    finally:
        s.close()
    took = time.monotonic() - t0
    if not raw:
        return "closed without an answer after %.2fs" % took
    resps = parse_responses(raw)
    if len(resps) != 1:
        raise Fail("%d answers to one request: %r" % (len(resps), raw[:400]))
    st = resps[0][0]
    if st not in allowed:
        raise Fail("answered %d, want one of %s: %r" % (st, sorted(allowed), raw[:300]))
    if took > A.answer_close:
        raise Fail("answered %d but closed only after %.2fs" % (st, took))
    return "answered %d then closed after %.2fs" % (st, took)


# ---- the cases ----

def case_reviews_pipelined():
    uids = ["pipelined-1", "pipelined-2"]
    n = pipeline(True, [post("/validate", review(u)) for u in uids], check_review(uids))
    return "both answered in order with their uids (%d connection(s))" % n


def case_gets_pipelined():
    def check(i, st, h, body):
        if st != 200 or body != b"ok\n":
            raise Fail("GET %d: %d %r" % (i + 1, st, body))
    n = pipeline(False, [get("/healthz")] * 2, check)
    return "both answered 200 in order (%d connection(s))" % n


def case_slow_get():
    return expect_status_or_close(False, get("/readyz"), {200}, step=1, pause=0.02,
                                  limit=A.timeout + 2)


def case_slow_review():
    req = post("/validate", review("slow-1"))
    s = dial(True, timeout=A.timeout + len(req) * 0.005)
    try:
        send(s, req, 1, 0.002)
        resps = parse_responses(read_until_close(s, A.timeout))
    finally:
        s.close()
    if len(resps) != 1:
        raise Fail("%d answers to one review sent a byte a write" % len(resps))
    check_review(["slow-1"])(0, *resps[0])
    return "%d bytes, one per TLS record, answered 200 with uid slow-1" % len(req)


def partial(tls, data):
    s = dial(tls)
    send(s, data)
    time.sleep(0.2)
    s.close()
    return "sent %d bytes and closed" % len(data)


def case_partial_header_plain():
    return partial(False, b"GET /healthz HTTP/1.1\r\nHost: 127.0")


def case_partial_header_tls():
    return partial(True, b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Len")


def case_partial_body_tls():
    return partial(True, post("/validate", review("cut"))[:-20])


def case_body_over_cap_no_body():
    cl = 16 * A.max_body
    req = b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % cl
    return "Content-Length %d: " % cl + expect_status_or_close(True, req, {413})


def case_body_over_cap_sent():
    cl = 2 * A.max_body
    req = b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % cl
    return "Content-Length %d, body sent: " % cl + expect_status_or_close(
        True, req + b" " * cl, {413}, step=65536, limit=A.timeout * 2)


CLIENT_ERRORS = set(range(400, 500))  # lws itself answers bytes it cannot parse with 403


def case_garbage_plain():
    return expect_status_or_close(False, b"\x01\x02\x03\xff\xfe\x00 garbage\r\n\r\n" * 3,
                                  CLIENT_ERRORS)


def case_not_http_line_plain():
    return expect_status_or_close(False, b"HELLO THERE\r\n\r\n", CLIENT_ERRORS)


def case_garbage_tls():
    return expect_status_or_close(True, b"\x00\xff\x13 not http at all\r\n\r\n", CLIENT_ERRORS)


def case_cl_negative():
    return expect_status_or_close(
        True, b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\nhello",
        {400, 411})


def case_cl_not_numeric():
    return expect_status_or_close(
        True, b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\nhello",
        {400, 411})


def case_cl_zero_pipelined():
    def check(i, st, h, body):
        if st != 400 or b"empty body" not in body:
            raise Fail("review %d with no body: %d %r" % (i + 1, st, body[:200]))
    req = b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
    n = pipeline(True, [req, req], check)
    return "both answered 400 \"empty body\" in order (%d connection(s))" % n


def case_cl_huge():
    return expect_status_or_close(
        True, b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
        {400, 411, 413})


def case_tls_on_plain_port():
    t0 = time.monotonic()
    s = socket.create_connection((A.host, A.http_port), timeout=A.timeout)
    try:
        TLS_CTX.wrap_socket(s, server_hostname=A.host)
    except (ssl.SSLError, OSError) as e:
        return "handshake refused after %.2fs (%s)" % (time.monotonic() - t0, type(e).__name__)
    finally:
        s.close()
    raise Fail("a TLS handshake on the plain port succeeded")


def case_plain_on_tls_port():
    s = socket.create_connection((A.host, A.tls_port), timeout=A.timeout)
    try:
        s.sendall(post("/validate", review("plain")))
        raw = read_until_close(s, A.timeout)
    finally:
        s.close()
    if b"HTTP/1.1 200" in raw or b"plain" in raw:
        raise Fail("plain HTTP on the TLS port was answered as a review: %r" % raw[:200])
    return "closed, %d bytes back (a TLS alert at most)" % len(raw)


def case_tls_handshake_left_open():
    """A ClientHello cut short and left open: others are served meanwhile, and the server
    gives up on it in bounded time."""
    hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x42" * 16
    s = socket.create_connection((A.host, A.tls_port), timeout=A.timeout)
    t0 = time.monotonic()
    try:
        s.sendall(hello)
        served = serving()  # while the handshake hangs
        uids = ["beside-open-handshake"]
        pipeline(True, [post("/validate", review(uids[0]))], check_review(uids))
        raw = read_until_close(s, A.handshake_limit)
    finally:
        s.close()
    return "%s and a review served meanwhile; server closed it after %.1fs (%d bytes back)" % (
        served, time.monotonic() - t0, len(raw))


def serving():
    """GET /healthz answers 200 on a fresh connection within the timeout."""
    s = dial(False)
    try:
        send(s, get("/healthz"))
        resps = parse_responses(read_until_close(s, A.timeout))
    finally:
        s.close()
    if len(resps) != 1 or resps[0][0] != 200:
        raise Fail("GET /healthz: want one 200, got %r" % resps)
    return "/healthz 200"


CASES = [
    ("two AdmissionReviews pipelined in one write", case_reviews_pipelined),
    ("two GET /healthz pipelined in one write", case_gets_pipelined),
    ("GET /readyz sent one byte at a time", case_slow_get),
    ("an AdmissionReview sent one byte at a time", case_slow_review),
    ("plain port: header cut off, connection closed", case_partial_header_plain),
    ("webhook: header cut off, connection closed", case_partial_header_tls),
    ("webhook: body cut off, connection closed", case_partial_body_tls),
    ("webhook: Content-Length 16x the cap, no body", case_body_over_cap_no_body),
    ("webhook: Content-Length 2x the cap, body sent", case_body_over_cap_sent),
    ("plain port: garbage bytes", case_garbage_plain),
    ("plain port: a line that is not HTTP", case_not_http_line_plain),
    ("webhook: garbage inside TLS", case_garbage_tls),
    ("webhook: Content-Length -5", case_cl_negative),
    ("webhook: Content-Length abc", case_cl_not_numeric),
    ("webhook: Content-Length 99999999999999999999", case_cl_huge),
    ("webhook: two Content-Length 0 reviews pipelined", case_cl_zero_pipelined),
    ("a TLS handshake on the plain port", case_tls_on_plain_port),
    ("plain HTTP on the TLS port", case_plain_on_tls_port),
    ("a TLS handshake left half done and open", case_tls_handshake_left_open),
]


def main():
    global A, TLS_CTX
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--http-port", type=int, required=True)
    p.add_argument("--tls-port", type=int, required=True)
    p.add_argument("--cafile", required=True)
    p.add_argument("--review-file", required=True)
    p.add_argument("--max-body", type=int, default=1024 * 1024)
    p.add_argument("--timeout", type=float, default=5.0)
    p.add_argument("--answer-close", type=float, default=2.0,
                   help="how long an answer followed by the close may take")
    p.add_argument("--handshake-limit", type=float, default=30.0,
                   help="how long the server may keep a half-done TLS handshake open")
    p.add_argument("--only", help="run only the cases whose name contains this")
    A = p.parse_args()
    with open(A.review_file) as f:
        A.review = f.read()
    TLS_CTX = ssl.create_default_context(cafile=A.cafile)
    failed = 0
    for name, fn in CASES:
        if A.only and A.only not in name:
            continue
        try:
            what = fn()
            print("ok: %s: %s; then %s" % (name, what, serving()), flush=True)
        except Exception as e:  # noqa: BLE001 — any error fails this case, not the run
            failed += 1
            print("FAIL: %s: %s: %s" % (name, type(e).__name__, e), flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
