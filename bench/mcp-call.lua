-- wrk script: one MCP tools/call per request, each with a unique JSON-RPC id; every response checked.
-- Env: BENCH_PATH (/mcp or /mcp/echo), BENCH_SESSION (Mcp-Session-Id), BENCH_TOOL (tool name),
-- BENCH_AUTHORIZATION (Authorization header value, optional).
local path = os.getenv("BENCH_PATH") or "/mcp"
local session = os.getenv("BENCH_SESSION") or ""
local tool = os.getenv("BENCH_TOOL") or "echo"
local authorization = os.getenv("BENCH_AUTHORIZATION") or ""
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  bad = 0
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Accept"] = "application/json, text/event-stream"
  wrk.headers["MCP-Protocol-Version"] = "2025-11-25"
  if session ~= "" then wrk.headers["Mcp-Session-Id"] = session end
  if authorization ~= "" then wrk.headers["Authorization"] = authorization end
end

function request()
  counter = counter + 1
  local body = '{"jsonrpc":"2.0","id":' .. counter .. ',"method":"tools/call","params":{"name":"' .. tool ..
    '","arguments":{"message":"hello"}}}'
  return wrk.format("POST", path, nil, body)
end

function response(status, headers, body)
  if status ~= 200 or not string.find(body, '"text":"hello"', 1, true) then bad = bad + 1 end
end

function done(summary, latency, requests)
  local badTotal = 0
  for _, t in ipairs(threads) do badTotal = badTotal + t:get("bad") end
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status +
    summary.errors.timeout
  io.write(string.format(
    'RESULT {"requests":%d,"seconds":%.3f,"rps":%.1f,"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"errors":%d,"bad":%d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, errors, badTotal))
end
