#!/usr/bin/python3
"""PutObject with an aws-chunked body, built here (standard library only), for the S3 port's
integration tests (tests/integration/s3_write_suite.cc): what current AWS SDKs send, with every
part under the test's control.

Usage: s3_chunked_client.py ENDPOINT KEY_ID SECRET MODE BUCKET KEY FILE [CHUNK]
MODE: signed (STREAMING-AWS4-HMAC-SHA256-PAYLOAD), signed-bad (one chunk's data changed after
signing), crc32 | crc32c | sha1 | sha256 (STREAMING-UNSIGNED-PAYLOAD-TRAILER with that trailing
checksum), crc32-bad (a trailer of other bytes); a "-te" suffix (crc32-te, crc32-bad-te) sends the
body with Transfer-Encoding: chunked and no Content-Length, as the AWS SDK for JavaScript v3 does.
CHUNK: data bytes per chunk (default 65536).
Prints {"status", "code", "etag"} (code: the S3 <Code> of an error).
"""
import base64, datetime, hashlib, hmac, http.client, json, re, sys, urllib.parse, zlib


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def hm(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def main():
    endpoint, key_id, secret, mode, bucket, key, path = sys.argv[1:8]
    te = mode.endswith("-te")
    mode = mode[:-3] if te else mode
    chunk = int(sys.argv[8]) if len(sys.argv) > 8 else 65536
    data = open(path, "rb").read()
    url = urllib.parse.urlparse(endpoint)
    now = datetime.datetime.utcnow()
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    scope = f"{day}/us-east-1/s3/aws4_request"
    signed = mode.startswith("signed")
    algo = mode.split("-")[0]
    payload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" if signed else "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    parts = [data[i:i + chunk] for i in range(0, len(data), chunk)] + [b""]
    if signed:
        length = sum(len(f"{len(p):x};chunk-signature=") + 64 + 2 + len(p) + 2 for p in parts)
    else:
        trailer_name = f"x-amz-checksum-{algo}"
    headers = {"host": url.netloc, "x-amz-date": amz_date, "x-amz-content-sha256": payload,
               "x-amz-decoded-content-length": str(len(data)), "content-encoding": "aws-chunked"}
    if not signed:
        headers["x-amz-trailer"] = trailer_name
    canonical_path = "/" + urllib.parse.quote(f"{bucket}/{key}", safe="/-_.~")
    signed_names = sorted(headers)
    creq = "\n".join(["PUT", canonical_path, "",
                      "".join(f"{h}:{headers[h]}\n" for h in signed_names),
                      ";".join(signed_names), payload])
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(creq.encode()).hexdigest()])
    skey = hm(hm(hm(hm(("AWS4" + secret).encode(), day), "us-east-1"), "s3"), "aws4_request")
    seed = hmac.new(skey, sts.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={key_id}/{scope}, "
                                f"SignedHeaders={';'.join(signed_names)}, Signature={seed}")
    body = b""
    prev = seed
    for i, p in enumerate(parts):
        if signed:
            s2s = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, prev,
                             hashlib.sha256(b"").hexdigest(), hashlib.sha256(p).hexdigest()])
            prev = hmac.new(skey, s2s.encode(), hashlib.sha256).hexdigest()
            if mode == "signed-bad" and i == 0 and p:
                p = b"X" + p[1:]
            body += f"{len(p):x};chunk-signature={prev}\r\n".encode() + p + b"\r\n"
        else:
            body += f"{len(p):x}\r\n".encode() + (p + b"\r\n" if p else b"")
    if not signed:
        src = data + b"x" if mode.endswith("-bad") else data
        if algo == "crc32":
            raw = zlib.crc32(src).to_bytes(4, "big")
        elif algo == "crc32c":
            raw = crc32c(src).to_bytes(4, "big")
        else:
            raw = hashlib.new(algo, src).digest()
        body += f"{trailer_name}:{base64.b64encode(raw).decode()}\r\n\r\n".encode()
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    if te:  # HTTP chunks of 32 KiB, unrelated to the aws-chunked ones inside
        headers["transfer-encoding"] = "chunked"
        pieces = (body[i:i + 32768] for i in range(0, len(body), 32768))
        conn.request("PUT", canonical_path, body=pieces, headers=headers, encode_chunked=True)
    else:
        headers["content-length"] = str(len(body))
        conn.request("PUT", canonical_path, body=body, headers=headers)
    r = conn.getresponse()
    text = r.read()
    m = re.search(rb"<Code>([^<]*)</Code>", text)
    print(json.dumps({"status": r.status, "code": m.group(1).decode() if m else None,
                      "etag": r.getheader("ETag")}))


if __name__ == "__main__":
    main()
