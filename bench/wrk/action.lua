-- wrk script for a step's form POST: each request posts the next line of a prepared file, one
-- line per case, "<path>\t<urlencoded body>" (bench/web_bench.py writes it: the CSRF token,
-- the row_version read from the database, the step's inputs, submit=1). Every case is posted
-- at most once: thread i of n takes lines i, i+n, i+2n, ...; a thread that has no line left
-- stops (and says so: "exhausted"). The session cookie and User-Agent come from wrk's -H.
-- Arguments (after "--"): the file, the number of wrk threads, the expected status (303).

local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
dofile(here .. "report.lua")

local posts = {}
local index = 0
local headers = {}

function init(args)
   local file, threads = args[1], tonumber(args[2])
   expected = tonumber(args[3] or "303")
   local line_number = 0
   for line in io.lines(file) do
      if line_number % threads == id then
         local path, body = line:match("^([^\t]+)\t(.*)$")
         table.insert(posts, {path, body})
      end
      line_number = line_number + 1
   end
   for name, value in pairs(wrk.headers) do headers[name] = value end
   headers["Content-Type"] = "application/x-www-form-urlencoded"
end

function request()
   mark_start()
   index = index + 1
   local post = posts[index]
   if post == nil then
      -- Out of cases: stop this thread. wrk still wants a request string; send a harmless
      -- GET (aborted with the thread; if answered it shows up as an unexpected status).
      exhausted = 1
      wrk.thread:stop()
      return wrk.format("GET", "/bench/ping", headers)
   end
   return wrk.format("POST", post[1], headers, post[2])
end
