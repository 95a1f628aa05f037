/**
 * The one Lua script that records an event and evaluates the budget atomically: deduplication of a
 * redelivered event, its count and the latch of the first warn/breach happen in one step, so no kill
 * of the monitor between them can lose a count or count one twice.
 *
 * Written for both Redis (Lua 5.1) and DragonflyDB (Lua 5.4): every key comes from KEYS (Dragonfly
 * rejects undeclared keys), no blocking commands, no redis TIME (now is ARGV), no globals, only
 * integers are returned (Redis truncates Lua floats in replies), `unpack` is resolved for both versions.
 *
 * KEYS: [1] errors hash, [2] totals hash (field = bucket index, value = count), [3] state hash
 *       (now = time high-water mark, warnedAt, breachedAt; warnPending when the first warn latched with
 *       a warn verdict, the warn event's outbox: warn-outbox.ts), [4] the event's seen marker (a string
 *       key; touched only when ARGV seenTtlMs > 0).
 * ARGV: op, now ms, outcome ('error' | 'success' | '-'), seenTtlMs ('0': no deduplication), bucketMs, ttlMs,
 *       n, buckets of window 1..n (ascending, window n is the longest), kind, then
 *       count: warnAt, breachAt
 *       slo:   budgetFraction (1 - slo, rounded), minEvents, nPairs, then per pair: longIndex, shortIndex (1-based), burnRate, severity (1 warn, 2 breach)
 * op: 'record' counts and latches; 'count' counts without latching (the run's budget is not known
 *     yet, so no verdict may latch); 'latch' counts nothing and latches what the budget says (the
 *     budget just became known); 'peek' changes nothing.
 * Returns: { verdict (0 ok, 1 warn, 2 breach), firstBreach, firstWarn, warnedAt|-1, breachedAt|-1,
 *            firedPair (0-based)|-1, now, duplicate (1: the event was seen before, nothing changed),
 *            errors of window 1..n, totals of window 1..n }
 *
 * The verdict rules mirror evaluateBudget() in budget-evaluator.ts exactly.
 */
export const BUDGET_LUA = `
local errorsKey, totalsKey, stateKey, seenKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local unpackFn = table.unpack or unpack
local op = ARGV[1]
local nowStr = ARGV[2]
local now = tonumber(nowStr)
local outcome = ARGV[3]
local seenTtlMs = tonumber(ARGV[4])
local bucketMs = tonumber(ARGV[5])
local ttlMs = ARGV[6]
local n = tonumber(ARGV[7])
local nb = {}
for i = 1, n do nb[i] = tonumber(ARGV[7 + i]) end
local a = 8 + n
local counting = op == 'record' or op == 'count'
local latching = op == 'record' or op == 'latch'
local duplicate = 0
if counting and seenTtlMs > 0 then
  if redis.call('EXISTS', seenKey) == 1 then
    duplicate = 1
    counting = false
    latching = false
  else
    redis.call('SET', seenKey, '1', 'PX', seenTtlMs)
  end
end
local write = counting or latching
local kind = ARGV[a]

local st = redis.call('HMGET', stateKey, 'now', 'warnedAt', 'breachedAt')
local last = tonumber(st[1])
if last ~= nil and last > now then
  now = last
  nowStr = st[1]
end
local warnedAt = tonumber(st[2])
local breachedAt = tonumber(st[3])
local cur = math.floor(now / bucketMs)
local oldest = cur - nb[n] + 1

if counting then
  local field = tostring(cur)
  redis.call('HINCRBY', totalsKey, field, 1)
  if outcome == 'error' then redis.call('HINCRBY', errorsKey, field, 1) end
end

local function scan(key)
  local acc = {}
  for i = 1, n do acc[i] = 0 end
  local flat = redis.call('HGETALL', key)
  local stale = {}
  for j = 1, #flat, 2 do
    local idx = tonumber(flat[j])
    local v = tonumber(flat[j + 1])
    if idx < oldest then
      stale[#stale + 1] = flat[j]
    elseif idx <= cur then
      for i = 1, n do
        if idx > cur - nb[i] then acc[i] = acc[i] + v end
      end
    end
  end
  if write then
    for s = 1, #stale, 500 do
      redis.call('HDEL', key, unpackFn(stale, s, math.min(s + 499, #stale)))
    end
  end
  return acc
end

local errs = scan(errorsKey)
local tots = scan(totalsKey)

local code, fired = 0, -1
if kind == 'count' then
  local warnAt, breachAt = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  if errs[1] >= breachAt then code = 2 elseif errs[1] >= warnAt then code = 1 end
else
  local bf = tonumber(ARGV[a + 1])
  local minEvents = tonumber(ARGV[a + 2])
  local np = tonumber(ARGV[a + 3])
  for p = 1, np do
    local b = a + 4 + (p - 1) * 4
    local li, si = tonumber(ARGV[b]), tonumber(ARGV[b + 1])
    local rate, sev = tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])
    if sev > code then
      local lt, stt = tots[li], tots[si]
      if lt > 0 and stt > 0 and lt >= minEvents
        and errs[li] / lt / bf > rate
        and errs[si] / stt / bf > rate then
        code = sev
        fired = p - 1
      end
    end
  end
end

local firstWarn, firstBreach = 0, 0
if latching then
  if code >= 1 and warnedAt == nil then
    warnedAt = now
    firstWarn = 1
    redis.call('HSET', stateKey, 'warnedAt', nowStr)
    -- A warn event is owed (warn-outbox.ts): cleared once the audit stream has it.
    if code == 1 then redis.call('HSET', stateKey, 'warnPending', nowStr) end
  end
  if code == 2 and breachedAt == nil then
    breachedAt = now
    firstBreach = 1
    redis.call('HSET', stateKey, 'breachedAt', nowStr)
  end
end
if write then
  redis.call('HSET', stateKey, 'now', nowStr)
  redis.call('PEXPIRE', errorsKey, ttlMs)
  redis.call('PEXPIRE', totalsKey, ttlMs)
  redis.call('PEXPIRE', stateKey, ttlMs)
end

local out = { code, firstBreach, firstWarn, warnedAt or -1, breachedAt or -1, fired, now, duplicate }
for i = 1, n do out[#out + 1] = errs[i] end
for i = 1, n do out[#out + 1] = tots[i] end
return out
`;
