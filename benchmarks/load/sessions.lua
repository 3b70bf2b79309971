-- wrk script: every connection is a browser with its own cookie jar, hitting "/" (whose view
-- adds 1 to a visit counter kept in the session cookie).
--
-- wrk's request()/response() hooks run in one Lua state per wrk *thread* and are not told which
-- connection they serve, so run.py always starts wrk with as many threads as connections: then
-- a thread's globals below are exactly one connection's jar and counter. (When a gunicorn sync
-- worker closes the socket after each response, wrk reconnects in the same thread: the jar
-- carries over, as a browser's would.)
--
-- Checks, per response: status >= 400 counts as bad; the page's counter must be the previous
-- page's counter + 1 on this jar (a worker that could not open a cookie sealed by another
-- worker would start again at 1). done() prints one JSON line for run.py, prefixed LOADJSON.
--
-- With WRK_COOKIES set (space-separated "name=value", one per connection: session_list.py),
-- each connection starts as a browser already holding that cookie (a logged-in user), and the
-- counter check starts from whatever its first page shows.

local threads = {}
local given = {}
for c in string.gmatch(os.getenv("WRK_COOKIES") or "", "%S+") do
   table.insert(given, c)
end

function setup(thread)
   table.insert(threads, thread)
   thread:set("cookie", given[#threads])
end

function init(args)
   -- cookie: "name=value" from the last Set-Cookie seen on this connection (or from setup)
   expected = nil   -- the counter the next page must show (nil: whatever the first shows)
   if cookie == nil then
      expected = 1
   end
   responses = 0
   bad = 0          -- status >= 400
   mismatches = 0   -- counter present but not expected
   missing = 0      -- no counter in the page
end

function request()
   if cookie then
      return wrk.format("GET", "/", { ["Cookie"] = cookie })
   end
   return wrk.format("GET", "/")
end

function response(status, headers, body)
   responses = responses + 1
   if status >= 400 then
      bad = bad + 1
   end
   for name, value in pairs(headers) do
      if string.lower(name) == "set-cookie" then
         cookie = string.match(value, "^[^;]*")
      end
   end
   local visits = tonumber(string.match(body, '<b id="visits">(%d+)</b>'))
   if visits == nil then
      missing = missing + 1
   else
      if expected ~= nil and visits ~= expected then
         mismatches = mismatches + 1
      end
      -- Follow what the server says, so one slip counts once rather than on every later page.
      expected = visits + 1
   end
end

function done(summary, latency, requests)
   local lua = { responses = 0, bad = 0, mismatches = 0, missing = 0, max_visits = 0 }
   for _, thread in ipairs(threads) do
      lua.responses = lua.responses + thread:get("responses")
      lua.bad = lua.bad + thread:get("bad")
      lua.mismatches = lua.mismatches + thread:get("mismatches")
      lua.missing = lua.missing + thread:get("missing")
      lua.max_visits = math.max(lua.max_visits, (thread:get("expected") or 1) - 1)
   end
   local e = summary.errors
   io.write(string.format(
      'LOADJSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
      '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
      '"latency_us": {"mean": %.1f, "p50": %d, "p90": %d, "p99": %d, "max": %d}, ' ..
      '"lua": {"responses": %d, "bad": %d, "mismatches": %d, "missing": %d, "max_visits": %d}}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max,
      lua.responses, lua.bad, lua.mismatches, lua.missing, lua.max_visits))
end
