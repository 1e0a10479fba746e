-- wrk script for every fixed-request row.  From the environment:
--   BENCH_METHOD  GET (default) or POST
--   BENCH_BODY    request body (POST), e.g. grant_type=client_credentials
--   BENCH_AUTH    value of the Authorization header, e.g. "Basic ..."
-- At the end it prints one JSON line (prefixed BENCH_JSON) with the counts and the
-- latency percentiles, which bench/wrk.py reads.
wrk.method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY")
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end
local auth = os.getenv("BENCH_AUTH")
if auth and auth ~= "" then
  wrk.headers["Authorization"] = auth
end

local bad = 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function response(status, headers, body)
  if status ~= 200 then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local wrong = 0
  for _, thread in ipairs(threads) do
    wrong = wrong + (thread:get("bad") or 0)
  end
  -- Socket errors only: answers other than 200 are counted in not_200.
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "errors": %d, "not_200": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, errors, wrong,
    latency:percentile(50), latency:percentile(99)))
end
