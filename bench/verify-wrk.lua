-- wrk script of the verification benchmark (verify.mjs), for what the peer harness's header-only
-- script does not do. Env:
--   WRK_KEYS   TSV of credentials: appKey <TAB> appToken, one per line
--   WRK_MODE   "verify": POST a JSON body {appKey, appToken, resource} (to /v1/verify)
--              "authorize": the credential in x-api-appkey/x-api-apptoken plus the original
--              method and URI headers of a forward-auth subrequest (to /v1/authorize)
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

function init(args)
  for line in io.lines(os.getenv("WRK_KEYS")) do
    local appKey, appToken = string.match(line, "^([^\t]+)\t([^\t]+)")
    if appKey then
      n = n + 1
      if mode == "verify" then
        rows[n] = wrk.format("POST", nil, { ["Content-Type"] = "application/json" },
          '{"appKey":"' .. appKey .. '","appToken":"' .. appToken .. '","resource":"' .. resource .. '"}')
      else
        rows[n] = wrk.format("GET", nil, {
          ["x-api-appkey"] = appKey, ["x-api-apptoken"] = appToken,
          ["x-original-method"] = "GET", ["x-original-uri"] = uri })
      end
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
