-- wrk script: replays pre-signed requests (one per line: "path?query<TAB>body"), each thread its own share,
-- so every request carries a fresh MsgId, user and nonce. A thread that runs out of lines says so at the end:
-- what it sent again were retries, answered from the dedup record, and the run does not count.
local counter, threads = 0, {}
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  threads[#threads + 1] = thread
end

local lines, i = {}, 0
function init(args)
  local threads = tonumber(args[2]) or 1
  local n = 0
  for line in io.lines(args[1]) do
    if n % threads == id then lines[#lines + 1] = line end
    n = n + 1
  end
end

function request()
  if i == #lines then wrapped = true end
  i = i % #lines + 1
  local line = lines[i]
  local tab = line:find("\t", 1, true)
  return wrk.format("POST", line:sub(1, tab - 1), {["Content-Type"] = "text/xml"}, line:sub(tab + 1))
end

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    if thread:get("wrapped") then io.write("REQUESTS EXHAUSTED: make the request file longer\n") end
  end
end
