-- POST /api/login with correct credentials as JSON, rotating over seeded users.
-- Usage: wrk ... -s bench/login.lua URL -- USERS PASSWORD
-- Each request signs in one of the users bench-seed made (bench000000 onwards).

package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
require("report")

local requests = {}
local next_request = 1

function init(args)
   local users = tonumber(args[1])
   local password = args[2]
   math.randomseed(os.time() + (id or 0))
   for _ = 1, 1000 do
      local body = string.format('{"username":"bench%06d","password":"%s"}',
         math.random(0, users - 1), password)
      table.insert(requests, wrk.format("POST", "/api/login",
         { ["Content-Type"] = "application/json" }, body))
   end
end

function request()
   local r = requests[next_request]
   next_request = next_request % #requests + 1
   return r
end
