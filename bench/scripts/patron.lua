-- wrk script for Patron's native GraphQL API (POST /graphql).
--
-- usage: wrk -t1 -c16 -d15s --latency -s patron.lua URL -- MODE TOKEN [FILE] [PREFIX] [ID_BASE]
--          [THREADS] [INTERVAL_MS]
--   MODE   list    GetContacts (seed 000) with limit 50
--          get     one contact by uuid, a random line of FILE
--          email   one contact by e-mail address, a random line of FILE
--          create  CreateContact (seed 000) with a unique email and Shopify id per request
--          spend   AddCreditEntry (seed 001) SPEND GLOBAL 0.01 on a random wallet of FILE
--          drain   as spend, but a refusal for insufficient credit is expected, not bad
--          redeem  redeemRedemption of the codes of FILE, each once, from line ID_BASE + 1 on
--                  (ALREADY_REDEEMED or any other refusal is bad; running out is counted)
--          order   recordOrder COMPLETED with a unique external id, for a random contact of
--                  FILE; the order must earn points
--          commerce      commerce.contacts.find, limit 50 (URL: the method; TOKEN as X-Key)
--          lightfunnels  customers(first: 50) of the Lightfunnels dialect
--          loyaltydish   consumers(first: 50) with pointsEarned of the LoyaltyDish dialect
--          obtaintoken   the LoyaltyDish obtainToken of a random "email password" line of
--                        FILE, on the account's public URL (no token sent)
--   FILE   one uuid per line (contacts for get and order, e-mail addresses for email, wallets for spend and drain),
--          codes for redeem, "email password" lines for obtaintoken
--   PREFIX makes the emails and external ids of this run unique; ID_BASE the Shopify ids
--   THREADS wrk's -t, so that each thread takes its own codes
--
-- GraphQL answers HTTP 200 to most failures, so every body is checked: a non-empty
-- "errors" list (top level or in a payload), "success":false, "data":null or an empty
-- result counts as a bad response. The summary is one line starting with RESULT.
local threads = {}
local counter = 1

function setup(thread)
  thread:set("tid", counter)
  table.insert(threads, thread)
  counter = counter + 1
end

local contact_fields =
  "uuid name email phone identities { shopify klaviyo lightspeed } " ..
  "wallet { uuid globalCreditBalance localCreditBalance }"
local list_query =
  "query GetContacts($limit: Int, $offset: Int) { account { contacts(limit: $limit, offset: $offset) { " ..
  contact_fields .. " } } }"
local get_query =
  "query GetContact($uuid: String) { account { contacts(uuid: $uuid) { " .. contact_fields .. " } } }"
local email_query =
  "query GetContactByEmail($email: String) { account { contacts(email: $email) { " ..
  contact_fields .. " } } }"
local create_query =
  "mutation CreateContact($contact: ContactInput!) { createContact(contact: $contact) { " ..
  "success contact { uuid wallet { uuid } } errors } }"
local spend_query =
  "mutation AddCreditEntry($creditEntry: AddCreditEntryInput!) { addCreditEntry(creditEntry: $creditEntry) { " ..
  "success creditEntry { uuid action creditType amount } errors userErrors { code } } }"

local order_query =
  "mutation RecordOrder($order: RecordOrderInput!) { recordOrder(order: $order) { " ..
  "success order { uuid externalId status pointsEarned } errors userErrors { code } } }"
local redeem_query =
  "mutation Redeem($code: String!) { redeemRedemption(code: $code) { " ..
  "success redemptionCode { code status } creditEntry { uuid amount } errors userErrors { code } } }"
local lightfunnels_query =
  "query { customers(query: \\\"order_by:id order_dir:desc\\\", first: 50) { edges { node { " ..
  "id _id avatar full_name expenses orders_count updated_at created_at } cursor } " ..
  "pageInfo { endCursor hasNextPage } } }"
local loyaltydish_query =
  "query Consumers { consumers(first: 50) { edges { node { id firstname lastname email " ..
  "pointsEarned } cursor } pageInfo { hasNextPage endCursor } } }"
local obtain_query =
  "mutation Login($email: String!, $password: String!) { obtainToken(email: $email, " ..
  "password: $password) { success token refreshToken errors } }"
-- A page must hold exactly this many of its marker: a short page is a bad response.
local page_marker = {
  commerce = '"id":',
  lightfunnels = '"cursor":',
  loyaltydish = '"pointsEarned":',
}
local PAGE = 50

local function read_lines(path)
  local lines = {}
  local file = assert(io.open(path, "r"), "cannot open " .. tostring(path))
  for line in file:lines() do
    if line ~= "" then table.insert(lines, line) end
  end
  file:close()
  assert(#lines > 0, "no uuids in " .. path)
  return lines
end

function init(args)
  mode = args[1] or "list"
  prefix = args[4] or ("b" .. os.time())
  id_base = tonumber(args[5] or "0")
  nthreads = tonumber(args[6] or "1")
  -- Paced runs: this thread starts a request every interval_ms, on a wall clock (0: as
  -- fast as the server answers), to read latency at a given fraction of the top rate. A
  -- pause after each answer would add the answer's own latency and undershoot the rate.
  interval_ms = tonumber(args[7] or "0")
  next_slot = nil
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  if mode == "commerce" then
    wrk.headers["X-Key"] = args[2] or ""
  elseif mode ~= "obtaintoken" then
    wrk.headers["Authorization"] = "Bearer " .. (args[2] or "")
  end
  if args[3] and args[3] ~= "-" then ids = read_lines(args[3]) end
  n = 0
  responses = 0
  bad = 0
  successes = 0
  refused = 0
  exhausted = 0
  taken = 0
  first_bad = ""
  math.randomseed(os.time() + tid * 7919)
  if mode == "list" then
    wrk.body = '{"query":"' .. list_query .. '","variables":{"limit":50}}'
  elseif mode == "commerce" then
    wrk.body = '{"limit":50}'
  elseif mode == "lightfunnels" then
    wrk.body = '{"query":"' .. lightfunnels_query .. '"}'
  elseif mode == "loyaltydish" then
    wrk.body = '{"query":"' .. loyaltydish_query .. '"}'
  end
end

local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_usec; } patron_timeval;
int gettimeofday(patron_timeval *tv, void *tz);
]]
local clock = ffi.new("patron_timeval")

local function now_ms()
  ffi.C.gettimeofday(clock, nil)
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_usec) / 1000
end

-- The next free slot of the thread's schedule; a request late for its slot (every
-- connection was busy) takes the next one from now, with no burst to catch up.
function delay()
  if interval_ms <= 0 then return 0 end
  local now = now_ms()
  local slot = next_slot
  if slot == nil or slot < now then slot = now end
  next_slot = slot + interval_ms
  return math.floor(slot - now)
end

function request()
  if wrk.body ~= nil and wrk.body ~= "" then
    return wrk.format()
  end
  n = n + 1
  local body
  if mode == "redeem" then
    -- thread tid of nthreads takes lines id_base + tid, + tid + nthreads, ...: each once
    local index = id_base + (n - 1) * nthreads + tid
    local code = ids[index]
    if code ~= nil and index > taken then taken = index end
    if code == nil then
      exhausted = exhausted + 1
      code = ids[1] -- already redeemed: answered ALREADY_REDEEMED, counted bad
    end
    body = '{"query":"' .. redeem_query .. '","variables":{"code":"' .. code .. '"}}'
  elseif mode == "order" then
    local external = prefix .. "-" .. tid .. "-" .. n
    body = '{"query":"' .. order_query .. '","variables":{"order":{' ..
      '"externalId":"' .. external .. '","total":"25.00","currency":"USD",' ..
      '"status":"COMPLETED","contactUuid":"' .. ids[math.random(#ids)] .. '"}}}'
  elseif mode == "obtaintoken" then
    local line = ids[math.random(#ids)]
    local email, password = string.match(line, "^(%S+) (%S+)$")
    body = '{"query":"' .. obtain_query .. '","variables":{"email":"' .. email ..
      '","password":"' .. password .. '"}}'
  elseif mode == "get" then
    body = '{"query":"' .. get_query .. '","variables":{"uuid":"' .. ids[math.random(#ids)] .. '"}}'
  elseif mode == "email" then
    body = '{"query":"' .. email_query .. '","variables":{"email":"' .. ids[math.random(#ids)] .. '"}}'
  elseif mode == "create" then
    local tag = prefix .. "-" .. tid .. "-" .. n
    local shopify = string.format("%.0f", id_base + tid * 10000000 + n)
    body = '{"query":"' .. create_query .. '","variables":{"contact":{' ..
      '"email":"' .. tag .. '@example.com","name":"Bench ' .. tag .. '","phone":"+14155550123",' ..
      '"identities":{"shopifyId":"gid://shopify/Customer/' .. shopify .. '"},' ..
      '"connectedServices":["SHOPIFY"]}}}'
  else
    body = '{"query":"' .. spend_query .. '","variables":{"creditEntry":{' ..
      '"walletUuid":"' .. ids[math.random(#ids)] .. '","action":"SPEND","creditType":"GLOBAL","amount":0.01}}}'
  end
  return wrk.format(nil, nil, nil, body)
end

local function is_bad(status, body)
  if status ~= 200 then return true end
  if string.find(body, '"errors":%[[^%]]') then return true end
  if string.find(body, '"data":null', 1, true) then return true end
  if string.find(body, '"success":false', 1, true) then return true end
  if (mode == "list" or mode == "get" or mode == "email") and string.find(body, '"contacts":[]', 1, true) then
    return true
  end
  if mode == "order" and (not string.find(body, '"pointsEarned":', 1, true)
      or string.find(body, '"pointsEarned":"?0"?[,}]')) then
    return true -- the order must have earned points
  end
  if mode == "obtaintoken" and not string.find(body, '"token":"', 1, true) then return true end
  local marker = page_marker[mode]
  if marker ~= nil then
    if mode == "commerce" and not string.find(body, '"status":"ok"', 1, true) then return true end
    local _, count = string.gsub(body, marker, "")
    if count ~= PAGE then return true end
  end
  return false
end

function response(status, headers, body)
  responses = responses + 1
  if string.find(body, '"success":true', 1, true) then
    successes = successes + 1
  elseif mode == "drain" and status == 200 and string.find(body, '"INSUFFICIENT_CREDIT"', 1, true)
      and string.find(body, '"success":false', 1, true) then
    refused = refused + 1
    return
  end
  if is_bad(status, body) then
    bad = bad + 1
    if first_bad == "" then first_bad = status .. " " .. string.sub(body, 1, 300) end
  end
end

function done(summary, latency, requests)
  local total_bad, total_ok, total_refused, total_responses, sample = 0, 0, 0, 0, ""
  local total_taken, total_exhausted = 0, 0
  for _, t in ipairs(threads) do
    total_taken = math.max(total_taken, t:get("taken"))
    total_exhausted = total_exhausted + t:get("exhausted")
    total_bad = total_bad + t:get("bad")
    total_ok = total_ok + t:get("successes")
    total_refused = total_refused + t:get("refused")
    total_responses = total_responses + t:get("responses")
    if sample == "" then sample = t:get("first_bad") end
  end
  local seconds = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"responses":%d,"duration_s":%.3f,"rps":%.1f,' ..
    '"p50_ms":%.2f,"p90_ms":%.2f,"p99_ms":%.2f,"max_ms":%.2f,' ..
    '"bad_responses":%d,"successes":%d,"refused":%d,"socket_errors":%d,"non_2xx":%d,' ..
    '"taken":%d,"exhausted":%d}\n',
    summary.requests, total_responses, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    total_bad, total_ok, total_refused,
    e.connect + e.read + e.write + e.timeout, e.status, total_taken, total_exhausted))
  if sample ~= "" then
    io.write("FIRST_BAD " .. string.gsub(sample, "\n", " ") .. "\n")
  end
end
