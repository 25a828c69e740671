-- wrk script: POST one KServe v2 inference request, over and over, on keep-alive connections.
--
-- Environment (read by every wrk thread):
--   WRK_BODY        file holding the request body (bench/wrk/make-bodies.pl writes both kinds)
--   WRK_MODEL       model name in the path /v2/models/<model>/infer (default fmnist-tiny)
--   WRK_HEADER_LEN  for a binary-extension body: the length of its JSON header, sent as
--                   Inference-Header-Content-Length; unset or empty for a JSON body
--
-- done() prints one machine-readable line, so scripts need not parse wrk's human summary:
--   WRKRESULT requests=N duration_us=N rps=X p50_us=X p90_us=X p99_us=X max_us=X
--             connect=N read=N write=N timeout=N status=N
-- `status` counts responses with a status >= 400 (wrk's own rule); latencies are wrk's, in µs,
-- over the responses that arrived (timeouts are counted, not timed).
local body_file = os.getenv("WRK_BODY")
assert(body_file and body_file ~= "", "set WRK_BODY to the request body file")
local f = assert(io.open(body_file, "rb"))
local body = f:read("*a")
f:close()

local model = os.getenv("WRK_MODEL")
if model == nil or model == "" then model = "fmnist-tiny" end
local header_len = os.getenv("WRK_HEADER_LEN")

wrk.method = "POST"
wrk.path = "/v2/models/" .. model .. "/infer"
wrk.body = body
if header_len ~= nil and header_len ~= "" then
  wrk.headers["Content-Type"] = "application/octet-stream"
  wrk.headers["Inference-Header-Content-Length"] = header_len
else
  wrk.headers["Content-Type"] = "application/json"
end

function done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    "WRKRESULT requests=%d duration_us=%d rps=%.1f p50_us=%.1f p90_us=%.1f p99_us=%.1f " ..
    "max_us=%.1f connect=%d read=%d write=%d timeout=%d status=%d\n",
    summary.requests, summary.duration, summary.requests / secs,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.timeout, e.status))
end
