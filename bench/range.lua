-- wrk script for bench/hot_hit.sh: every request GETs one aligned range of one object, chosen
-- uniformly at random, with a `Range: bytes=first-last` header.
--
-- Environment (all required):
--   BENCH_PATH          URL path of the object, e.g. /fetch/bench/hot.bin or /bench/hot.bin
--   BENCH_OBJECT_BYTES  object size in bytes (a multiple of BENCH_RANGE_BYTES)
--   BENCH_RANGE_BYTES   range size in bytes; ranges start at multiples of it
-- Optional:
--   BENCH_DELAY_MS      pause before each request on a connection (paces the load; bench/soak.sh)
--
-- It defines no response() on purpose: with one, wrk keeps every body in memory (16 MiB bodies:
-- 1.4 GB/s -> 0.06 GB/s). done() prints one machine-readable line:
--   RESULT requests=N bytes=N duration_us=N p50_us=N p99_us=N connect_errors=N read_errors=N
--          write_errors=N status_errors=N timeouts=N
-- bytes counts what wrk read (bodies and headers); status_errors counts answers with status > 399.

local function required(name)
  local value = os.getenv(name)
  if value == nil or value == "" then
    error("range.lua: environment variable " .. name .. " is not set")
  end
  return value
end

local path = required("BENCH_PATH")
local object_bytes = tonumber(required("BENCH_OBJECT_BYTES"))
local range_bytes = tonumber(required("BENCH_RANGE_BYTES"))
local range_count = math.floor(object_bytes / range_bytes)
if range_count < 1 then
  error("range.lua: BENCH_OBJECT_BYTES must be at least BENCH_RANGE_BYTES")
end

local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "0") or 0

local next_thread = 0

-- Gives each thread its own id so that the threads draw different random sequences.
function setup(thread)
  next_thread = next_thread + 1
  thread:set("thread_id", next_thread)
end

function init(args)
  math.randomseed(os.time() * 100 + (thread_id or 0))
end

function request()
  local first = math.random(0, range_count - 1) * range_bytes
  local last = first + range_bytes - 1
  return wrk.format("GET", path, { ["Range"] = string.format("bytes=%.0f-%.0f", first, last) })
end

-- wrk calls delay() before each request only when it is defined.
if delay_ms > 0 then
  function delay()
    return delay_ms
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%.0f bytes=%.0f duration_us=%.0f p50_us=%.0f p99_us=%.0f " ..
    "connect_errors=%.0f read_errors=%.0f write_errors=%.0f status_errors=%.0f timeouts=%.0f\n",
    summary.requests, summary.bytes, summary.duration, latency:percentile(50),
    latency:percentile(99), e.connect, e.read, e.write, e.status, e.timeout))
end
