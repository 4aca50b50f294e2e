-- Shared by get.lua and action.lua (loaded with dofile): counts each response's status per
-- thread, and at the end prints one line bench/web_bench.py parses:
--   qmsflow-bench requests=N duration_us=N p50_us=N p95_us=N ... unexpected=N statuses=200:N,...
-- A response whose status is not the expected one counts as an error ("unexpected").
-- Scripts call mark_start() in request(), so a run that stops early knows how long it lasted.

local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } qmsflow_timespec;
int clock_gettime(int clock_id, qmsflow_timespec *tp);
]]
local clock = ffi.new("qmsflow_timespec")

function now_us()  -- CLOCK_MONOTONIC, in microseconds
   ffi.C.clock_gettime(1, clock)
   return tonumber(clock.tv_sec) * 1000000 + math.floor(tonumber(clock.tv_nsec) / 1000)
end

local threads = {}
local next_id = 0
expected = 200   -- set by the script's init(); 200 for pages, 303 for an action
statuses = {}    -- status -> count, per thread
exhausted = 0    -- 1 when the thread ran out of requests to send (action.lua)
first_us = 0     -- when the thread built its first request
last_us = 0      -- when it got its last response

function setup(thread)
   thread:set("id", next_id)
   next_id = next_id + 1
   table.insert(threads, thread)
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
   last_us = now_us()
end

function done(summary, latency, requests)
   local counts, unexpected, out_of_work = {}, 0, 0
   local started, ended = nil, 0
   for _, thread in ipairs(threads) do
      local first = thread:get("first_us")
      if first > 0 and (started == nil or first < started) then started = first end
      ended = math.max(ended, thread:get("last_us"))
      local wanted = thread:get("expected")
      for status, n in pairs(thread:get("statuses")) do
         counts[status] = (counts[status] or 0) + n
         if status ~= wanted then unexpected = unexpected + n end
      end
      out_of_work = out_of_work + thread:get("exhausted")
   end
   -- wrk's duration is the whole -d time even when threads stopped early (out of work): then
   -- the run lasted from the first request built to the last response.
   local duration = summary.duration
   if out_of_work > 0 and started ~= nil and ended > started then duration = ended - started end
   local listed = {}
   for status, n in pairs(counts) do table.insert(listed, status .. ":" .. n) end
   table.sort(listed)
   local e = summary.errors
   io.write(string.format(
      "qmsflow-bench requests=%d duration_us=%d p50_us=%d p75_us=%d p90_us=%d p95_us=%d " ..
      "p99_us=%d max_us=%d mean_us=%.0f connect=%d read=%d write=%d timeout=%d " ..
      "unexpected=%d exhausted=%d statuses=%s\n",
      summary.requests, duration, latency:percentile(50), latency:percentile(75),
      latency:percentile(90), latency:percentile(95), latency:percentile(99), latency.max,
      latency.mean, e.connect, e.read, e.write, e.timeout, unexpected, out_of_work,
      table.concat(listed, ",")))
end

function mark_start()
   if first_us == 0 then first_us = now_us() end
end
