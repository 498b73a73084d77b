#!/usr/bin/python3
"""One S3 call through boto3/botocore against shoald's S3 port, for the integration tests
(tests/integration/s3_api_suite.cc). Prints one JSON line with the outcome, exits 0 (also when
S3 answered with an error: that is an outcome), 77 when boto3 is not installed.

Usage: s3_api_client.py ENDPOINT KEY_ID SECRET COMMAND [BUCKET [KEY [ARG]]]
Commands:
  get [RANGE]        GetObject (boto3): {"sha256", "length", "content_range", "etag", "status"}
  head               HeadObject: {"length", "etag", "status"}
  presigned [SECS]   a presigned GetObject URL (expires in SECS, default 600), fetched with urllib
                     (after sleeping SECS + 1 s when SECS <= 5, to test expiry)
  skewed [SECS]      GetObject signed with a clock SECS (default 1200) seconds behind
  unsigned           GET without any signature (urllib)
  list [PAGE_SIZE]   ListObjectsV2 through boto3's paginator, KEY the prefix: {"count", "pages",
                     "keys_sha256" (of the keys joined by newlines), "first", "last", "names"
                     (the bucket names the pages carried)}
  buckets            ListBuckets (no BUCKET or KEY): {"buckets": [names], "owner"}
  presigned_list     a presigned ListObjectsV2 URL (KEY the prefix) fetched with urllib:
                     {"status", "keys" (how many <Key> elements)}
  put FILE           PutObject with FILE's bytes (and their Content-MD5): {"status", "etag"}
  put-bad-md5 FILE   PutObject with FILE's bytes and the Content-MD5 of other bytes
  delete             DeleteObject: {"status"}
  upload FILE PART   upload_file with TransferConfig(multipart_threshold=PART,
                     multipart_chunksize=PART): multipart above PART bytes: {"status", "etag"}
Errors: {"error_code", "status"} (the S3 <Code>, the HTTP status).
"""
import base64
import datetime
import hashlib
import json
import re
import sys
import time
import urllib.error
import urllib.request

try:
    import boto3
    import botocore.auth
    import botocore.config
    import botocore.exceptions
except ImportError:
    print(json.dumps({"skip": "boto3 is not installed (Debian: apt-get install python3-boto3)"}))
    sys.exit(77)


def client(endpoint, key_id, secret):
    return boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id=key_id, aws_secret_access_key=secret,
        region_name="us-east-1",
        config=botocore.config.Config(s3={"addressing_style": "path"}, signature_version="s3v4",
                                      retries={"max_attempts": 1}))


def url_outcome(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            body = r.read()
            return {"status": r.status, "sha256": hashlib.sha256(body).hexdigest(),
                    "length": len(body), "content_type": r.headers.get("Content-Type"),
                    "content_disposition": r.headers.get("Content-Disposition")}
    except urllib.error.HTTPError as e:
        m = re.search(rb"<Code>([^<]*)</Code>", e.read())
        return {"status": e.code, "error_code": m.group(1).decode() if m else None}


def main():
    endpoint, key_id, secret, command = sys.argv[1:5]
    bucket, key, arg = (sys.argv[5:8] + [None, None, None])[:3]
    s3 = client(endpoint, key_id, secret)
    try:
        if command == "get":
            kw = {"Range": arg} if arg else {}
            r = s3.get_object(Bucket=bucket, Key=key, **kw)
            body = r["Body"].read()
            out = {"status": r["ResponseMetadata"]["HTTPStatusCode"],
                   "sha256": hashlib.sha256(body).hexdigest(), "length": len(body),
                   "content_range": r.get("ContentRange"), "etag": r.get("ETag"),
                   "request_id": r["ResponseMetadata"].get("RequestId")}
        elif command == "head":
            r = s3.head_object(Bucket=bucket, Key=key)
            out = {"status": r["ResponseMetadata"]["HTTPStatusCode"],
                   "length": r["ContentLength"], "etag": r.get("ETag")}
        elif command == "presigned":
            secs = int(arg or 600)
            url = s3.generate_presigned_url(
                "get_object", ExpiresIn=secs,
                Params={"Bucket": bucket, "Key": key, "ResponseContentType": "text/x-test",
                        "ResponseContentDisposition": "attachment; filename=x.bin"})
            if secs <= 5:
                time.sleep(secs + 1.5)
            out = url_outcome(url)
        elif command == "skewed":
            behind = datetime.timedelta(seconds=int(arg or 1200))
            real = datetime.datetime

            class Skewed(real):
                @classmethod
                def utcnow(cls):
                    return real.utcnow() - behind

            botocore.auth.datetime.datetime = Skewed
            r = s3.get_object(Bucket=bucket, Key=key)
            out = {"status": r["ResponseMetadata"]["HTTPStatusCode"]}
        elif command == "list":
            pages = s3.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=key or "",
                PaginationConfig={"PageSize": int(arg)} if arg else {})
            keys, count, names = [], 0, set()
            for page in pages:
                count += 1
                names.add(page.get("Name"))
                keys += [c["Key"] for c in page.get("Contents", [])]
            out = {"count": len(keys), "pages": count, "first": keys[0] if keys else None,
                   "last": keys[-1] if keys else None, "names": sorted(names),
                   "keys_sha256": hashlib.sha256("\n".join(keys).encode()).hexdigest()}
        elif command == "buckets":
            r = s3.list_buckets()
            out = {"status": r["ResponseMetadata"]["HTTPStatusCode"],
                   "buckets": [b["Name"] for b in r["Buckets"]],
                   "owner": r.get("Owner", {}).get("ID")}
        elif command == "presigned_list":
            url = s3.generate_presigned_url(
                "list_objects_v2", ExpiresIn=600, Params={"Bucket": bucket, "Prefix": key})
            try:
                with urllib.request.urlopen(url, timeout=30) as r:
                    out = {"status": r.status, "keys": r.read().count(b"<Key>")}
            except urllib.error.HTTPError as e:
                m = re.search(rb"<Code>([^<]*)</Code>", e.read())
                out = {"status": e.code, "error_code": m.group(1).decode() if m else None}
        elif command in ("put", "put-bad-md5"):
            with open(arg, "rb") as f:
                data = f.read()
            md5 = hashlib.md5(data if command == "put" else data + b"x").digest()
            r = s3.put_object(Bucket=bucket, Key=key, Body=data,
                              ContentMD5=base64.b64encode(md5).decode())
            out = {"status": r["ResponseMetadata"]["HTTPStatusCode"], "etag": r.get("ETag")}
        elif command == "delete":
            r = s3.delete_object(Bucket=bucket, Key=key)
            out = {"status": r["ResponseMetadata"]["HTTPStatusCode"]}
        elif command == "upload":
            part = int(sys.argv[8])
            import boto3.s3.transfer
            cfg = boto3.s3.transfer.TransferConfig(multipart_threshold=part,
                                                   multipart_chunksize=part, max_concurrency=2)
            s3.upload_file(arg, bucket, key, Config=cfg)
            r = s3.head_object(Bucket=bucket, Key=key)
            out = {"status": 200, "etag": r.get("ETag"), "length": r["ContentLength"]}
        elif command == "unsigned":
            out = url_outcome(f"{endpoint}/{bucket}/{key}")
        else:
            print(json.dumps({"usage": __doc__}))
            sys.exit(2)
    except botocore.exceptions.ClientError as e:
        out = {"error_code": e.response["Error"].get("Code"),
               "status": e.response["ResponseMetadata"]["HTTPStatusCode"],
               "exception": type(e).__name__}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
