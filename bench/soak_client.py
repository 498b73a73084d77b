#!/usr/bin/env python3
"""Paced client for bench/soak.sh: cache misses with byte-exact checks, and client aborts.

    soak_client.py --ports P1,P2,P3 --bucket B --seconds S --files DIR [options]

Runs for --seconds against shoald nodes on 127.0.0.1, each operation on a node chosen at random
(so most pages are forwarded to their owner), paced at a fixed rate so that the origin is never
asked for more than the cache would shed (bench/soak.sh runs wrk beside it for the hot hits):

  miss    one page-sized range (sometimes straddling two pages) of a "cold" object; the objects
          are taken in turn from a pool larger than the cluster's memory, so by the time one comes
          round again its pages have been evicted: a steady stream of misses and evictions. The
          body must equal the same bytes of the local copy in --files.
  check   a random range of the hot object, compared byte for byte with the local copy.
  abort   a request the client gives up on, one of: `body` (reads the header and a few KiB of a
          long range, then resets the connection), `header` (sends a full request and resets
          before any answer), `partial` (sends half a request line and closes), `timeout` (like
          curl --max-time 0.05: waits 50 ms for a long range, then closes).

Every connection is new (the fd churn is part of the test). Anything unexpected -- a status other
than 206, a short or wrong body, a refused or reset connection on a request we did not abort, a
5xx to an aborted request whose header we saw -- counts as an error; the first few are printed.
On exit it prints one JSON line on stdout: {"ops": {...}, "errors": N, "examples": [...]}.
"""
import argparse
import json
import os
import random
import socket
import struct
import sys
import threading
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ports", required=True, help="comma-separated client ports of the nodes")
    p.add_argument("--bucket", required=True)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--files", required=True, help="directory with the local copies of the objects")
    p.add_argument("--hot-key", default="hot.bin")
    p.add_argument("--cold-prefix", default="cold/", help="key prefix of the cold pool")
    p.add_argument("--cold-count", type=int, required=True)
    p.add_argument("--page-bytes", type=int, required=True)
    p.add_argument("--miss-rate", type=float, default=16.0, help="misses per second")
    p.add_argument("--check-rate", type=float, default=4.0, help="checked hot reads per second")
    p.add_argument("--abort-rate", type=float, default=8.0, help="aborts per second")
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--timeout", type=float, default=30.0, help="per-request socket timeout, s")
    p.add_argument("--seed", type=int, default=None)
    return p.parse_args()


class Soak:
    def __init__(self, args):
        self.args = args
        self.ports = [int(x) for x in args.ports.split(",")]
        self.lock = threading.Lock()
        self.ops = {}
        self.errors = 0
        self.examples = []
        self.next_cold = 0
        self.files = {}  # key -> bytes (the local copies; a few hundred MiB at most)

    def data(self, key):
        with self.lock:
            if key not in self.files:
                with open(os.path.join(self.args.files, key), "rb") as f:
                    self.files[key] = f.read()
            return self.files[key]

    def count(self, name):
        with self.lock:
            self.ops[name] = self.ops.get(name, 0) + 1

    def error(self, what):
        with self.lock:
            self.errors += 1
            if len(self.examples) < 20:
                self.examples.append(what)
                print(f"soak_client: ERROR {what}", file=sys.stderr, flush=True)

    def cold_key(self):
        with self.lock:
            i = self.next_cold
            self.next_cold += 1
        return f"{self.args.cold_prefix}{i % self.args.cold_count:04d}.bin"

    def connect(self, port):
        s = socket.create_connection(("127.0.0.1", port), timeout=self.args.timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    @staticmethod
    def request_bytes(path, first, last):
        return (f"GET {path} HTTP/1.1\r\nHost: soak\r\nRange: bytes={first}-{last}\r\n"
                f"Connection: close\r\n\r\n").encode()

    def read_header(self, s):
        """Reads up to the end of the header; returns (status, headers dict, body bytes so far)."""
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                raise ConnectionError(f"connection closed after {len(buf)} header bytes")
            buf += chunk
            if len(buf) > 65536:
                raise ConnectionError("header larger than 64 KiB")
        head, body = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        return status, headers, body

    def get_range(self, port, key, first, last):
        """One GET on a new connection; returns (status, body). Raises on socket errors."""
        s = self.connect(port)
        try:
            s.sendall(self.request_bytes(f"/fetch/{self.args.bucket}/{key}", first, last))
            status, headers, body = self.read_header(s)
            length = int(headers.get("content-length", "-1"))
            if length < 0:
                raise ConnectionError(f"status {status} without Content-Length")
            while len(body) < length:
                chunk = s.recv(1 << 20)
                if not chunk:
                    raise ConnectionError(f"body cut at {len(body)} of {length} bytes")
                body += chunk
            return status, body
        finally:
            s.close()

    def checked_get(self, kind, key, first, last):
        port = random.choice(self.ports)
        what = f"{kind} :{port} {key} bytes={first}-{last}"
        try:
            status, body = self.get_range(port, key, first, last)
        except (OSError, ValueError) as e:
            self.error(f"{what}: {type(e).__name__}: {e}")
            return
        if status != 206:
            self.error(f"{what}: status {status}: {body[:200]!r}")
        elif body != self.data(key)[first:last + 1]:
            self.error(f"{what}: body differs from the object ({len(body)} bytes)")
        else:
            self.count(kind)

    def miss(self):
        key = self.cold_key()
        size = len(self.data(key))
        page = self.args.page_bytes
        first = random.randrange(0, size // page) * page
        last = first + page - 1
        if random.random() < 0.25 and first + page < size:  # straddle two pages
            first += page // 2
            last += page // 2
        self.checked_get("miss", key, first, min(last, size - 1))

    def check(self):
        key = self.args.hot_key
        size = len(self.data(key))
        first = random.randrange(0, size)
        last = min(size - 1, first + random.randrange(1, 2 * self.args.page_bytes))
        self.checked_get("check", key, first, last)

    def abort(self):
        kind = random.choice(["body", "header", "partial", "timeout"])
        key = self.args.hot_key if random.random() < 0.5 else self.cold_key()
        size = len(self.data(key))
        port = random.choice(self.ports)
        what = f"abort-{kind} :{port} {key}"
        try:
            s = self.connect(port)
        except OSError as e:
            self.error(f"{what}: connect: {e}")
            return
        try:
            req = self.request_bytes(f"/fetch/{self.args.bucket}/{key}", 0, size - 1)
            if kind == "partial":
                s.sendall(req[: len(req) // 3])
            elif kind == "header":
                s.sendall(req)
                # Reset (SO_LINGER 0) at once, before any answer.
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif kind == "timeout":
                s.sendall(req)
                s.settimeout(0.05)
                try:
                    while s.recv(65536):
                        pass
                except socket.timeout:
                    pass
            else:  # body: the header and a few KiB, then a reset
                s.sendall(req)
                status, _, body = self.read_header(s)
                if status not in (200, 206):
                    self.error(f"{what}: status {status}")
                    return
                while len(body) < 4096:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    body += chunk
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.count(f"abort_{kind}")
        except (OSError, ValueError) as e:
            self.error(f"{what}: {type(e).__name__}: {e}")
        finally:
            s.close()

    def worker(self, deadline, rate, seed):
        rng_state = random.Random(seed)
        actions = [(self.miss, self.args.miss_rate), (self.check, self.args.check_rate),
                   (self.abort, self.args.abort_rate)]
        total = sum(r for _, r in actions)
        interval = self.args.threads / rate if rate > 0 else deadline
        next_at = time.monotonic() + rng_state.random() * interval
        while True:
            now = time.monotonic()
            if now >= deadline:
                return
            if next_at > now:
                time.sleep(min(next_at - now, deadline - now))
                continue
            # Behind schedule (a slow answer): skip ahead rather than burst.
            next_at = max(next_at + interval, now)
            pick = rng_state.random() * total
            for action, r in actions:
                if pick < r:
                    action()
                    break
                pick -= r

    def run(self):
        rate = self.args.miss_rate + self.args.check_rate + self.args.abort_rate
        deadline = time.monotonic() + self.args.seconds
        base = self.args.seed if self.args.seed is not None else random.randrange(1 << 30)
        random.seed(base)
        threads = [threading.Thread(target=self.worker, args=(deadline, rate, base + i))
                   for i in range(self.args.threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(json.dumps({"ops": self.ops, "errors": self.errors, "examples": self.examples}))
        return 0


if __name__ == "__main__":
    sys.exit(Soak(parse_args()).run())
