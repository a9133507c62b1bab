-- wrk script for scripts/bench.sh: TRACE proposals (`POST /actions`) sent
-- with a principal's API token, about 300 bytes each, cycling through three
-- action types; the bench policy holds `send_email` (enforce), observes
-- `read.*`, and only records `search.web`. Every proposal has a fresh id.
--
--   wrk -t2 -c64 -d15s -s propose.lua http://127.0.0.1:PORT/actions -- TOKEN RUN_ID
--
-- At the end it prints one line, `BENCH_JSON {...}`, that the suite parses.

local nthreads = 0

function setup(thread)
  nthreads = nthreads + 1
  thread:set("tid", nthreads)
end

local types = { "send_email", "read.file", "search.web" }
local agents = { "mail-bot", "ci-bot", "billing-bot", "research-bot" }
local counter = 0
local run = "run"
local pad = string.rep("x", 75)

function init(args)
  local token = args[1] or ""
  run = args[2] or tostring(os.time())
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. token
end

function request()
  counter = counter + 1
  local ty = types[(counter % #types) + 1]
  local agent = agents[(counter % #agents) + 1]
  local id = string.format("wrk-%s-%d-%d", run, tid or 0, counter)
  local body = string.format(
    '{"id":"%s","type":"%s","actor":{"kind":"agent","name":"%s"},"target":"mailto:user%d@example.com",'
      .. '"params":{"subject":"Quarterly report %d","body":"Please find the figures attached. %s"}}',
    id, ty, agent, counter, counter, pad)
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,"read_errors":%d,'
      .. '"write_errors":%d,"status_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,'
      .. '"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
