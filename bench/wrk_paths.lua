-- wrk script for bench/http_bench.py: cycle through the paths in $WRK_PATHS (one per line)
-- with method $WRK_METHOD, body $WRK_BODY and the JSON object of headers in $WRK_HEADERS;
-- print one machine-readable summary line at the end.
local paths = {}
for line in io.lines(os.getenv("WRK_PATHS")) do
  if #line > 0 then paths[#paths + 1] = line end
end
local method = os.getenv("WRK_METHOD") or "GET"
local body = os.getenv("WRK_BODY")
if body == "" then body = nil end
local headers = {}
-- The headers are a flat JSON object of strings: parse "key":"value" pairs.
for key, value in string.gmatch(os.getenv("WRK_HEADERS") or "{}", '"([^"]+)"%s*:%s*"([^"]*)"') do
  headers[key] = value
end
if body then headers["Content-Type"] = "application/json" end
local i = 0

request = function()
  i = i % #paths + 1
  return wrk.format(method, paths[i], headers, body)
end

done = function(summary, latency, requests)
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"status":%d,"connect":%d,"read":%d,'
      .. '"write":%d,"timeout":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
