#!/usr/bin/python3
"""A fault-injecting HTTP/1.1 reverse proxy for Shoal's integration tests (standard library only).

    fault_proxy.py --upstream HOST:PORT --listen HOST:PORT [--seed N]
                   [--first-byte-ms MS] [--bytes-per-second N]

Forwards every request (method, target, headers but hop-by-hop ones, body; Host untouched) to the
upstream (s3rver), one keep-alive upstream connection per client connection, and streams the
response back. Prints "ready" once listening. Records every request. When the upstream cannot be
reached or fails mid-response, the client connection is reset, as a dead origin's would be.

Shaping, to look like S3 rather than a loopback server (Durner et al., VLDB 2023: tens of ms to
the first byte, 25-95 MiB/s per connection): --first-byte-ms delays every forwarded request's
answer; --bytes-per-second paces every response body on its connection (0: unpaced). Both also
settable at run time with POST /__proxy/shape. Rules apply on top.

Control API (JSON), not recorded:
  GET    /__proxy/stats   {"requests": [{"method", "path", "range", "if_match", "status",
                           "aborted", "action", "error"}...], "counts": {"GET": n, ...}}
  POST   /__proxy/reset   forget recorded requests and counts (rules stay)
  POST   /__proxy/rules   append one rule (400 with {"error": ...} if it is invalid)
  GET    /__proxy/rules   the rules, with "fired" counts
  DELETE /__proxy/rules   remove every rule
  POST   /__proxy/shape   {"first_byte_ms": M, "bytes_per_second": N} (either optional)
Rule: {"match": {"method": "GET", "path_contains": "/b/k%20x"},   (both optional; raw target)
       "action": "delay_first_byte", "ms": M          sleep M ms, then forward
               | "stall_mid_body", "after_bytes": N, "ms": M   N body bytes, pause M ms, rest
               | "status", "status": S[, "code": C]   S3 XML error S, upstream not asked
               | "reset"[, "after_bytes": N]          RST (SO_LINGER 0) at once or after N bytes
               | "truncate", "after_bytes": N         full headers, N body bytes, then FIN
               | "wrong_content_range"                Content-Range "bytes a-b/n" -> "a+1-b/n"
       "probability": P (0..1, default 1; drawn from a generator seeded by --seed),
       "times": T (the rule expires after firing T times)}
Rules are tried in order; the first that matches and whose probability draw succeeds fires.
"""
import argparse
import http.client
import http.server
import json
import random
import re
import select
import socket
import struct
import threading
import time
from xml.sax.saxutils import escape

CHUNK = 64 * 1024
# Hop-by-hop headers, plus the ones the proxy sets itself (framing, Expect).
NOT_FORWARDED = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
                 "trailer", "transfer-encoding", "upgrade", "expect", "content-length"}
# action -> (required parameters, optional parameters)
ACTIONS = {"delay_first_byte": ({"ms"}, set()), "stall_mid_body": ({"after_bytes", "ms"}, set()),
           "status": ({"status"}, {"code"}), "reset": (set(), {"after_bytes"}),
           "truncate": ({"after_bytes"}, set()), "wrong_content_range": (set(), set())}
DEFAULT_CODES = {403: "AccessDenied", 404: "NoSuchKey", 500: "InternalError", 503: "SlowDown"}
MESSAGES = {"AccessDenied": "Access Denied", "NoSuchKey": "The specified key does not exist.",
            "InternalError": "We encountered an internal error. Please try again.",
            "SlowDown": "Please reduce your request rate.",
            "ServiceUnavailable": "Service is unable to handle request."}


class ClientGone(Exception):  # the client closed or reset its connection
    pass


class UpstreamDown(Exception):  # the upstream could not be reached or failed mid-response
    pass


def is_int(value, low):
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def validate_rule(rule):
    """Returns the rule with bookkeeping fields, or raises ValueError naming the problem."""
    if not isinstance(rule, dict):
        raise ValueError("a rule is a JSON object")
    action = rule.get("action")
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {sorted(ACTIONS)}, got {action!r}")
    required, optional = ACTIONS[action]
    allowed = {"match", "action", "probability", "times"} | required | optional
    if unknown := set(rule) - allowed:
        raise ValueError(f"unknown keys {sorted(unknown)} for {action}; allowed {sorted(allowed)}")
    if missing := required - set(rule):
        raise ValueError(f"{action} needs {sorted(missing)}")
    match = rule.get("match", {})
    if not isinstance(match, dict) or set(match) - {"method", "path_contains"} or \
            not all(isinstance(v, str) for v in match.values()):
        raise ValueError('match is {"method": str, "path_contains": str}, both optional')
    for key in ("ms", "after_bytes"):
        if key in rule and not is_int(rule[key], 0):
            raise ValueError(f"{key} must be an integer >= 0")
    if "status" in rule and not (is_int(rule["status"], 100) and rule["status"] <= 599):
        raise ValueError("status must be an integer in 100..599")
    if "code" in rule and not isinstance(rule["code"], str):
        raise ValueError("code must be a string")
    p = rule.get("probability", 1)
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
        raise ValueError("probability must be a number in 0..1")
    if "times" in rule and not is_int(rule["times"], 1):
        raise ValueError("times must be an integer >= 1")
    return dict(rule, match=match, probability=p, fired=0)


class State:
    """Rules and the request log, shared by all handler threads (every access under lock)."""

    def __init__(self, seed, first_byte_ms=0, bytes_per_second=0):
        self.lock = threading.Lock()
        self.first_byte_ms = first_byte_ms
        self.bytes_per_second = bytes_per_second
        self.rng = random.Random(seed)
        self.rules = []
        self.requests = []
        self.counts = {}

    def begin(self, method, path, range_header, if_match=None):
        entry = {"method": method, "path": path, "range": range_header, "if_match": if_match,
                 "status": None, "aborted": False, "action": None, "error": None}
        with self.lock:
            self.requests.append(entry)
            self.counts[method] = self.counts.get(method, 0) + 1
        return entry

    def update(self, entry, **fields):
        with self.lock:
            entry.update(fields)

    def pick(self, method, path):
        with self.lock:
            for rule in self.rules:
                m = rule["match"]
                live = "times" not in rule or rule["fired"] < rule["times"]
                wanted = m.get("method", method) == method and m.get("path_contains", "") in path
                if live and wanted and (rule["probability"] >= 1 or
                                        self.rng.random() < rule["probability"]):
                    rule["fired"] += 1
                    return dict(rule)
        return None

    def snapshot(self, what):
        with self.lock:
            if what == "rules":
                return json.dumps({"rules": self.rules})
            return json.dumps({"requests": self.requests, "counts": self.counts})


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream_address, state = None, None  # (host, port) and the State, set in main()
    upstream = None  # this connection's http.client.HTTPConnection to the upstream

    def log_message(self, format, *args):  # no line per request; tracebacks still print
        pass

    def finish(self):
        self.drop_upstream()
        super().finish()

    def write(self, data):
        try:
            self.wfile.write(data)
        except OSError as e:
            raise ClientGone() from e

    def send_head(self, status, reason, headers):
        lines = [f"HTTP/1.1 {status} {reason}\r\n"] + [f"{k}: {v}\r\n" for k, v in headers]
        self.write(("".join(lines) + "\r\n").encode("latin-1"))

    def client_gone(self):
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def pause(self, ms):
        end = time.monotonic() + ms / 1000
        while time.monotonic() < end:
            if self.client_gone():
                raise ClientGone()
            time.sleep(min(0.01, max(0, end - time.monotonic())))

    def rst(self):
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.rfile.close()  # drops the last reference: the fd closes now, with RST
        except OSError:
            pass

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while (size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)) > 0:
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return b"".join(parts)
        length = self.headers.get("Content-Length")
        return None if length is None else self.rfile.read(int(length))

    def drop_upstream(self):
        if self.upstream is not None:
            self.upstream.close()
            self.upstream = None

    def forward(self, body):
        """Sends the request upstream and returns the response; one retry on a fresh connection
        covers an idle keep-alive connection the upstream has closed."""
        for attempt in range(2):
            if self.upstream is None:
                self.upstream = http.client.HTTPConnection(*self.upstream_address, timeout=60)
            try:
                self.upstream.putrequest(self.command, self.path, skip_host=True,
                                         skip_accept_encoding=True)
                for key, value in self.headers.items():
                    if key.lower() not in NOT_FORWARDED:
                        self.upstream.putheader(key, value)
                if body is not None:
                    self.upstream.putheader("Content-Length", str(len(body)))
                self.upstream.endheaders(body)
                return self.upstream.getresponse()
            except (OSError, http.client.HTTPException) as e:
                self.drop_upstream()
                if attempt == 1:
                    raise UpstreamDown(f"upstream: {e!r}") from e

    def dispatch(self):
        if self.path.startswith("/__proxy/"):
            return self.control()
        try:
            body = self.read_body()
        except (OSError, ValueError):
            self.close_connection = True
            return
        entry = self.state.begin(self.command, self.path, self.headers.get("Range"),
                                 self.headers.get("If-Match"))
        rule = self.state.pick(self.command, self.path)
        self.state.update(entry, action=rule["action"] if rule else None)
        try:
            self.serve(entry, rule or {"action": None}, body)
        except ClientGone:
            self.state.update(entry, aborted=True)
            self.close_connection = True
            self.drop_upstream()
        except UpstreamDown as e:
            self.state.update(entry, error=str(e))
            self.drop_upstream()
            self.rst()

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_OPTIONS = do_PATCH = dispatch

    def serve(self, entry, rule, body):
        action = rule["action"]
        with self.state.lock:
            shaped_delay, self.rate = self.state.first_byte_ms, self.state.bytes_per_second
        self.pace_start = None
        if shaped_delay:
            self.pause(shaped_delay)
        if action == "delay_first_byte":
            self.pause(rule["ms"])
        elif action == "status":
            return self.send_error_status(entry, rule)
        elif action == "reset" and "after_bytes" not in rule:
            return self.rst()
        response = self.forward(body)
        headers = [(k, v) for k, v in response.getheaders() if k.lower() not in NOT_FORWARDED]
        if action == "wrong_content_range":
            headers = [shift_range(k, v) for k, v in headers]
        length = response.getheader("Content-Length")
        has_body = self.command != "HEAD" and response.status not in (204, 304)
        chunked = has_body and length is None
        if length is not None:
            headers.append(("Content-Length", length))
        if chunked:
            headers.append(("Transfer-Encoding", "chunked"))
        self.state.update(entry, status=response.status)
        self.send_head(response.status, response.reason, headers)
        if has_body:
            self.stream_body(response, rule, chunked)
        else:
            response.read()

    def stream_body(self, response, rule, chunked):
        limit = rule.get("after_bytes")
        sent = 0
        while True:
            try:
                data = response.read(CHUNK)
            except (OSError, http.client.HTTPException) as e:
                raise UpstreamDown(f"upstream mid-body: {e!r}") from e
            if not data:
                break
            if limit is not None and sent + len(data) >= limit:
                head, data = data[:limit - sent], data[limit - sent:]
                self.send_chunk(head, chunked)
                sent += len(head)
                limit = None
                if rule["action"] == "truncate":
                    self.close_connection = True
                    self.drop_upstream()
                    return
                if rule["action"] == "reset":
                    self.drop_upstream()
                    return self.rst()
                self.pause(rule["ms"])
            self.send_chunk(data, chunked)
            sent += len(data)
        if chunked:
            self.write(b"0\r\n\r\n")

    def send_chunk(self, data, chunked):
        if not data:
            return
        if self.rate:
            # Paced in slices so a fast burst never runs ahead of the rate by more than a slice.
            step = max(1, min(len(data), self.rate // 100))
            for i in range(0, len(data), step):
                part = data[i:i + step]
                self.pace(len(part))
                self.write(b"%x\r\n%s\r\n" % (len(part), part) if chunked else part)
            return
        self.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)

    def pace(self, n):
        """Sleeps so that this connection's body bytes stay at or below the shaped rate."""
        now = time.monotonic()
        if getattr(self, "pace_start", None) is None or now - self.pace_last > 1.0:
            self.pace_start, self.pace_sent = now, 0
        self.pace_sent += n
        self.pace_last = now
        due = self.pace_start + self.pace_sent / self.rate
        if due > now:
            self.pause((due - now) * 1000)

    def send_error_status(self, entry, rule):
        status = rule["status"]
        code = rule.get("code", DEFAULT_CODES.get(status, "InternalError"))
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{escape(code)}</Code>'
                f"<Message>{escape(MESSAGES.get(code, code))}</Message><Resource>"
                f"{escape(self.path)}</Resource><RequestId>fault-proxy</RequestId></Error>").encode()
        self.state.update(entry, status=status)
        headers = [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))]
        self.send_head(status, phrase(status), headers + [("x-amz-request-id", "fault-proxy")])
        if self.command != "HEAD":
            self.write(body)

    def control(self):
        try:
            body = self.read_body() or b""
        except (OSError, ValueError):
            self.close_connection = True
            return
        route = (self.command, self.path.split("?")[0])
        if route == ("GET", "/__proxy/stats"):
            return self.reply(200, self.state.snapshot("requests"))
        if route == ("GET", "/__proxy/rules"):
            return self.reply(200, self.state.snapshot("rules"))
        if route in (("POST", "/__proxy/reset"), ("DELETE", "/__proxy/rules")):
            with self.state.lock:
                if route[0] == "POST":
                    self.state.requests, self.state.counts = [], {}
                else:
                    self.state.rules = []
            return self.reply(200, "{}")
        if route == ("POST", "/__proxy/shape"):
            try:
                shape = json.loads(body or b"null")
                if not isinstance(shape, dict) or set(shape) - {"first_byte_ms", "bytes_per_second"} \
                        or not all(is_int(v, 0) for v in shape.values()):
                    raise ValueError('shape is {"first_byte_ms": int >= 0, "bytes_per_second": int >= 0}')
            except ValueError as e:
                return self.reply(400, json.dumps({"error": str(e)}))
            with self.state.lock:
                self.state.first_byte_ms = shape.get("first_byte_ms", self.state.first_byte_ms)
                self.state.bytes_per_second = shape.get("bytes_per_second", self.state.bytes_per_second)
            return self.reply(200, json.dumps(shape))
        if route == ("POST", "/__proxy/rules"):
            try:
                rule = validate_rule(json.loads(body or b"null"))
            except ValueError as e:
                return self.reply(400, json.dumps({"error": str(e)}))
            with self.state.lock:
                self.state.rules.append(rule)
                count = len(self.state.rules)
            return self.reply(200, json.dumps({"rules": count}))
        return self.reply(404, json.dumps({"error": f"no control route {route}"}))

    def reply(self, status, text):
        data = text.encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
        try:
            self.send_head(status, phrase(status), headers)
            self.write(data)
        except ClientGone:
            self.close_connection = True


def phrase(status):
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Status"


def shift_range(name, value):
    """Content-Range 'bytes a-b/n' -> 'bytes (a+1)-b/n'; any other header unchanged."""
    m = re.fullmatch(r"bytes (\d+)-(\d+)/(\S+)", value.strip())
    if name.lower() != "content-range" or not m:
        return name, value
    return name, f"bytes {int(m.group(1)) + 1}-{m.group(2)}/{m.group(3)}"


def host_port(text):
    host, _, port = text.rpartition(":")
    return host, int(port)


class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 128
    daemon_threads = True


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--upstream", required=True, help="HOST:PORT of the origin")
    parser.add_argument("--listen", required=True, help="HOST:PORT to listen on")
    parser.add_argument("--seed", type=int, default=1, help="seed for rule probabilities")
    parser.add_argument("--first-byte-ms", type=int, default=0,
                        help="delay before every answer, ms (S3 shaping; default 0)")
    parser.add_argument("--bytes-per-second", type=int, default=0,
                        help="pace every response body per connection (S3 shaping; 0: unpaced)")
    args = parser.parse_args()
    Handler.upstream_address = host_port(args.upstream)
    Handler.state = State(args.seed, args.first_byte_ms, args.bytes_per_second)
    server = Server(host_port(args.listen), Handler)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
