-- wrk script of the verification benchmark (verify.mjs): every request carries a credential of a
-- TSV file. Requests are built once in init(), so that the load generator's cost per request is
-- the same for every target. Env:
--   WRK_KEYS   TSV of credentials, one per line: appKey <TAB> appToken (verify, authorize), or one
--              column per name of WRK_HEADERS (headers)
--   WRK_MODE   "verify": POST a JSON body {appKey, appToken, resource} (to /v1/verify)
--              "authorize": the credential in x-api-appkey/x-api-apptoken plus the original
--              method and URI headers of a forward-auth subrequest (to /v1/authorize)
--              "headers": a GET whose headers are the row's columns, named by WRK_HEADERS
--              (comma-separated; better-auth: x-api-key)
--   WRK_PICK   "random" (default): a random credential per request;
--              "unique": credentials in file order from WRK_OFFSET, each used once (for a cold
--              cache; run with -t1 so that one Lua state hands them out)
--   WRK_RESOURCE (verify mode, default ViewOrders), WRK_URI (authorize mode)
local rows, n = {}, 0
local mode = os.getenv("WRK_MODE") or "verify"
local pick = os.getenv("WRK_PICK") or "random"
local nextRow = tonumber(os.getenv("WRK_OFFSET") or "0")
local resource = os.getenv("WRK_RESOURCE") or "ViewOrders"
local uri = os.getenv("WRK_URI") or "/api/oms/pvt/orders/123"
local names = {}
for name in string.gmatch(os.getenv("WRK_HEADERS") or "", "[^,]+") do names[#names + 1] = name end

local function headerRequest(line)
  local headers, i = {}, 0
  for value in string.gmatch(line, "[^\t]+") do
    i = i + 1
    if names[i] then headers[names[i]] = value end
  end
  return wrk.format("GET", nil, headers)
end

local function credentialRequest(line)
  local appKey, appToken = string.match(line, "^([^\t]+)\t([^\t]+)")
  if not appKey then return nil end
  if mode == "verify" then
    return wrk.format("POST", nil, { ["Content-Type"] = "application/json" },
      '{"appKey":"' .. appKey .. '","appToken":"' .. appToken .. '","resource":"' .. resource .. '"}')
  end
  return wrk.format("GET", nil, {
    ["x-api-appkey"] = appKey, ["x-api-apptoken"] = appToken,
    ["x-original-method"] = "GET", ["x-original-uri"] = uri })
end

function init(args)
  for line in io.lines(os.getenv("WRK_KEYS")) do
    local req = nil
    if mode == "headers" then
      if line ~= "" then req = headerRequest(line) end
    else
      req = credentialRequest(line)
    end
    if req then
      n = n + 1
      rows[n] = req
    end
  end
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end

function request()
  if pick == "unique" then
    nextRow = nextRow + 1
    if nextRow > n then
      wrk.thread:stop()
      nextRow = n
    end
    return rows[nextRow]
  end
  return rows[math.random(n)]
end
