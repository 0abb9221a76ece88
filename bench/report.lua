-- Shared by the wrk scripts: numbers the threads, and prints one JSON line per run.
-- Latencies are wrk's, in microseconds; printed in milliseconds.

local threads = {}

function setup(thread)
   thread:set("id", #threads)
   table.insert(threads, thread)
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      '{"requests":%d,"seconds":%.3f,"rps":%.1f,"p50_ms":%.3f,"p90_ms":%.3f,' ..
      '"p99_ms":%.3f,"max_ms":%.3f,"mean_ms":%.3f,"errors":{"connect":%d,"read":%d,' ..
      '"write":%d,"status":%d,"timeout":%d}}\n',
      summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
      latency:percentile(50) / 1e3, latency:percentile(90) / 1e3,
      latency:percentile(99) / 1e3, latency.max / 1e3, latency.mean / 1e3,
      e.connect, e.read, e.write, e.status, e.timeout))
end
