-- wrk script for a GET page: the same request every time (headers such as the session cookie
-- come from wrk's -H). Argument (after "--"): the expected status, default 200.
--   wrk -t2 -c8 -d20s --latency -s bench/wrk/get.lua -H 'Cookie: ...' http://host:port/ -- 200

local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
dofile(here .. "report.lua")

function init(args)
   expected = tonumber(args[1] or "200")
end

function request()
   mark_start()
   return wrk.format(nil, nil)
end
