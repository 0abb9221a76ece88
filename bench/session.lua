-- GET with a session cookie, rotating over the tokens in a file.
-- Usage: wrk ... -s bench/session.lua URL -- TOKENS_FILE [PATH]
-- PATH is / unless given.
-- Requests are built once per thread, so the load generator spends its time sending them;
-- each thread starts at its own place in the list.

package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
require("report")

local requests = {}
local next_request = 1

function init(args)
   local path = args[2] or "/"
   for token in io.lines(args[1]) do
      table.insert(requests, wrk.format("GET", path, { ["Cookie"] = "auth_session=" .. token }))
   end
   if #requests == 0 then
      error("no tokens in " .. args[1])
   end
   next_request = (id or 0) * 7919 % #requests + 1
end

function request()
   local r = requests[next_request]
   next_request = next_request % #requests + 1
   return r
end
