// One S3 call through the current AWS SDK for JavaScript (@aws-sdk/client-s3, installed by
// cluster/deps.sh into .deps/aws-sdk) against shoald's S3 port, for the integration tests
// (tests/integration/s3_api_list_suite.cc). Prints one JSON line with the outcome, exits 0 (also
// when S3 answered with an error: that is an outcome), 77 when the SDK is not installed.
//
// Usage: node s3_api_client.mjs ENDPOINT KEY_ID SECRET COMMAND BUCKET KEY [ARG]
// Commands:
//   get [RANGE]        GetObject: {"status", "sha256", "length", "content_range", "etag"}
//   head               HeadObject: {"status", "length", "etag"}
//   list [PAGE_SIZE]   ListObjectsV2 through the SDK's paginator, KEY the prefix: {"count",
//                      "pages", "keys_sha256" (of the keys joined by newlines), "first", "last"}
//   put FILE           PutObject of FILE as a stream of unknown hash: the SDK sends it
//                      aws-chunked with a trailing checksum (its default): {"status", "etag",
//                      "content_encoding" (as sent), "trailer" (the x-amz-trailer sent)}
// Errors: {"error_code", "status"} (the S3 <Code>, the HTTP status).
import { createHash } from "node:crypto";
import { createReadStream, existsSync, statSync } from "node:fs";
import { createRequire } from "node:module";

const deps = process.env.SHOAL_DEPS || new URL("../../.deps", import.meta.url).pathname;
const anchor = `${deps}/aws-sdk/package.json`;
if (!existsSync(`${deps}/aws-sdk/node_modules/@aws-sdk/client-s3/package.json`)) {
  console.log(JSON.stringify({ skip: "@aws-sdk/client-s3 is not installed (cluster/deps.sh)" }));
  process.exit(77);
}
const sdk = createRequire(anchor)("@aws-sdk/client-s3");

const [endpoint, accessKeyId, secretAccessKey, command, bucket, key, arg] = process.argv.slice(2);
const s3 = new sdk.S3Client({
  endpoint,
  region: "us-east-1",
  forcePathStyle: true,
  credentials: { accessKeyId, secretAccessKey },
  maxAttempts: 1,
});
const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");

async function run() {
  if (command === "get") {
    const r = await s3.send(
      new sdk.GetObjectCommand({ Bucket: bucket, Key: key, ...(arg ? { Range: arg } : {}) }));
    const body = Buffer.from(await r.Body.transformToByteArray());
    return { status: r.$metadata.httpStatusCode, sha256: sha256(body), length: body.length,
             content_range: r.ContentRange ?? null, etag: r.ETag ?? null };
  }
  if (command === "head") {
    const r = await s3.send(new sdk.HeadObjectCommand({ Bucket: bucket, Key: key }));
    return { status: r.$metadata.httpStatusCode, length: r.ContentLength, etag: r.ETag ?? null };
  }
  if (command === "list") {
    const keys = [];
    let pages = 0;
    const config = { client: s3, ...(arg ? { pageSize: Number(arg) } : {}) };
    for await (const page of sdk.paginateListObjectsV2(config, { Bucket: bucket, Prefix: key })) {
      pages += 1;
      for (const c of page.Contents ?? []) keys.push(c.Key);
    }
    return { count: keys.length, pages, keys_sha256: sha256(keys.join("\n")),
             first: keys[0] ?? null, last: keys.at(-1) ?? null };
  }
  if (command === "put") {
    const sent = {};
    s3.middlewareStack.add(
      (next) => async (args) => {
        sent.content_encoding = args.request.headers["content-encoding"] ?? null;
        sent.trailer = args.request.headers["x-amz-trailer"] ?? null;
        sent.content_sha256 = args.request.headers["x-amz-content-sha256"] ?? null;
        return next(args);
      },
      { step: "finalizeRequest", priority: "low", name: "shoalSeeHeaders" });
    const r = await s3.send(new sdk.PutObjectCommand({
      Bucket: bucket, Key: key, Body: createReadStream(arg), ContentLength: statSync(arg).size }));
    return { status: r.$metadata.httpStatusCode, etag: r.ETag ?? null, ...sent };
  }
  console.log(JSON.stringify({ usage: "see the file's comment" }));
  process.exit(2);
}

try {
  console.log(JSON.stringify(await run()));
} catch (e) {
  if (!e.$metadata) throw e;
  console.log(JSON.stringify({ error_code: e.Code ?? e.name, status: e.$metadata.httpStatusCode }));
}
