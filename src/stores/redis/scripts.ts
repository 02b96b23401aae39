/*
 * The Lua scripts of the Redis store. A session is one string key, "<version>.<sealed session>": the
 * version is what compare-and-set compares.
 *
 * A user's record is four keys beside the sessions (see redis-store.ts), passed to a script as KEYS in
 * this order: the handles scored by expiry (ms), the handles scored by `since` (ms), the hash of the
 * handles' sealed entries, and the cut-off (a string, ms). The two sorted sets always hold the same
 * handles. All four expire together, at the latest of: the longest-lived entry, the last change plus the
 * caller's keep time, and the deadline they had.
 */

/** Writes only over the expected version; otherwise answers what is stored, with its time to live. */
export const SET_IF_VERSION = `
local current = redis.call("GET", KEYS[1])
local version = 0
if current then version = tonumber(string.match(current, "^(%d+)%.")) or 0 end
if version ~= tonumber(ARGV[1]) then
  if not current then return "0." end
  return {current, redis.call("PTTL", KEYS[1])}
end
redis.call("SET", KEYS[1], ARGV[2] .. "." .. ARGV[3], "PX", ARGV[4])
return 1
`;

/**
 * Answers 1 (a few bytes) while the stored version is the one the caller knows, pushing its expiry forward
 * when asked; only the version prefix is read inside Redis until the value has to be sent.
 */
export const GET_IF_CHANGED = `
local head = redis.call("GETRANGE", KEYS[1], 0, 11)
if head == "" then return "0." end
local version = tonumber(string.match(head, "^(%d+)%.")) or 0
local known = tonumber(ARGV[1])
if known <= 0 or version ~= known then
  return {redis.call("GET", KEYS[1]), redis.call("PTTL", KEYS[1])}
end
if ARGV[2] ~= "" then redis.call("PEXPIRE", KEYS[1], ARGV[2]) end
return 1
`;

/**
 * GET_IF_CHANGED and the highest of the users' cut-offs (KEYS[2…]) in one call: {0, cut-off} when nothing
 * is stored, {1, cut-off} while the version is the one the caller knows, {2, cut-off, value, PTTL} otherwise.
 */
export const GET_IF_CHANGED_WITH_CUTOFF = `
local cut = 0
for i = 2, #KEYS do
  local c = tonumber(redis.call("GET", KEYS[i]) or "0") or 0
  if c > cut then cut = c end
end
local head = redis.call("GETRANGE", KEYS[1], 0, 11)
if head == "" then return {0, tostring(cut)} end
local version = tonumber(string.match(head, "^(%d+)%.")) or 0
local known = tonumber(ARGV[1])
if known <= 0 or version ~= known then
  return {2, tostring(cut), redis.call("GET", KEYS[1]), redis.call("PTTL", KEYS[1])}
end
if ARGV[2] ~= "" then redis.call("PEXPIRE", KEYS[1], ARGV[2]) end
return {1, tostring(cut)}
`;

/**
 * What every record script shares. Deletions go in chunks (\`unpack\` refuses a few thousand values), at
 * most ROUNDS of them per call (the rest waits for the next call), and from the hash and the since-set
 * before the expiry-set: a script that fails half-way keeps its writes, and the expiry-set is what the next
 * prune reads, so nothing is left behind unlisted.
 */
const RECORD = `
local CHUNK, ROUNDS = 500, 40
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local function drop(z, s, h, handles)
  redis.call("HDEL", h, unpack(handles))
  redis.call("ZREM", s, unpack(handles))
  redis.call("ZREM", z, unpack(handles))
end

-- Entries no longer live: expired (by the expiry-set), or tied before the cut-off (by the since-set).
local function prune(z, s, h, c)
  for _ = 1, ROUNDS do
    local gone = redis.call("ZRANGEBYSCORE", z, "-inf", now, "LIMIT", 0, CHUNK)
    if #gone == 0 then break end
    drop(z, s, h, gone)
  end
  local cut = redis.call("GET", c)
  if not cut then return end
  for _ = 1, ROUNDS do
    local gone = redis.call("ZRANGEBYSCORE", s, "-inf", "(" .. cut, "LIMIT", 0, CHUNK)
    if #gone == 0 then break end
    drop(z, s, h, gone)
  end
end

-- The latest deadline any of the keys has (0: none has one).
local function deadline(keys)
  local latest = 0
  for _, key in ipairs(keys) do
    local ttl = redis.call("PTTL", key)
    if ttl > 0 then latest = math.max(latest, now + ttl) end
  end
  return latest
end

local function raise_cut(c, time)
  local cut = tonumber(redis.call("GET", c) or "0")
  if time > cut then redis.call("SET", c, string.format("%.0f", time)) end
end

-- All four keys expire at the latest of: \`previous\`, now + keep, the longest-lived entry.
local function expire(z, s, h, c, previous, keep)
  local at = math.max(previous, now + keep)
  local last = redis.call("ZRANGE", z, -1, -1, "WITHSCORES")
  if #last > 0 then at = math.max(at, tonumber(last[2])) end
  for _, key in ipairs({z, s, h, c}) do redis.call("PEXPIREAT", key, string.format("%.0f", at)) end
end
`;

/**
 * Changes users' records: KEYS, four per user; ARGV[1] maxEntries, ARGV[2] keep (ms), ARGV[3] grace (ms: how
 * long an entry outlives its session), then six per change: the user's position (1-based), op, handle,
 * entry, expiresAt, since ("" for none). Then per user: prune, evict past maxEntries live entries (those
 * with more than the grace left; oldest since first, raising the cut-off just past the newest evicted),
 * expire.
 */
export const CHANGE_INDEX = `${RECORD}
local max, keep, grace = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local alive = string.format("(%.0f", now + grace)
local previous = {}
for u = 1, #KEYS / 4 do
  previous[u] = deadline({KEYS[4 * u - 3], KEYS[4 * u - 2], KEYS[4 * u - 1], KEYS[4 * u]})
end
for a = 4, #ARGV, 6 do
  local u = tonumber(ARGV[a])
  local z, s, h = KEYS[4 * u - 3], KEYS[4 * u - 2], KEYS[4 * u - 1]
  local op, handle, entry, expires, since = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5]
  if op == "put" then
    if since == "" then since = redis.call("ZSCORE", s, handle) or string.format("%.0f", now) end
    redis.call("ZADD", z, expires, handle)
    redis.call("ZADD", s, since, handle)
    redis.call("HSET", h, handle, entry)
  elseif op == "touch" then
    redis.call("ZADD", z, "XX", expires, handle)
  else
    redis.call("HDEL", h, handle)
    redis.call("ZREM", s, handle)
    redis.call("ZREM", z, handle)
  end
end
for u = 1, #KEYS / 4 do
  local z, s, h, c = KEYS[4 * u - 3], KEYS[4 * u - 2], KEYS[4 * u - 1], KEYS[4 * u]
  prune(z, s, h, c)
  -- Only entries of live sessions count (an entry stays grace ms past its session); the oldest tied of them
  -- go, with the cut-off raised just past them (the expired entries tied before go with them).
  local excess = redis.call("ZCOUNT", z, alive, "+inf") - max
  if excess > 0 then
    local newest = 0
    local offset = 0
    for _ = 1, ROUNDS do
      if excess <= 0 then break end
      local oldest = redis.call("ZRANGE", s, offset, offset + CHUNK - 1, "WITHSCORES")
      if #oldest == 0 then break end
      for i = 1, #oldest, 2 do
        local expires = tonumber(redis.call("ZSCORE", z, oldest[i]) or "0")
        if expires > now + grace then
          newest = math.max(newest, tonumber(oldest[i + 1]))
          excess = excess - 1
          if excess <= 0 then break end
        end
      end
      offset = offset + CHUNK
    end
    raise_cut(c, newest + 1)
    prune(z, s, h, c)
  end
  expire(z, s, h, c, previous[u], keep)
end
return 1
`;

/** Raises one user's cut-off to ARGV[1] (never lowers it) and keeps the record ARGV[2] ms at least. */
export const REVOKE_BEFORE = `${RECORD}
local z, s, h, c = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local previous = deadline(KEYS)
raise_cut(c, tonumber(ARGV[1]))
prune(z, s, h, c)
expire(z, s, h, c, previous, tonumber(ARGV[2]))
return 1
`;

/**
 * One user's record, read only: the cut-off ("0" if none), then handle, expiresAt, since, entry for each
 * live entry (unexpired, tied at or after the cut-off; the changes prune the others).
 */
export const READ_INDEX = `
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cut = redis.call("GET", KEYS[4]) or "0"
local live = redis.call("ZRANGEBYSCORE", KEYS[1], "(" .. now, "+inf", "WITHSCORES")
local out = {cut}
for i = 1, #live, 2 do
  local since = redis.call("ZSCORE", KEYS[2], live[i])
  local entry = redis.call("HGET", KEYS[3], live[i])
  if since and entry and tonumber(since) >= tonumber(cut) then
    out[#out + 1] = live[i]
    out[#out + 1] = live[i + 1]
    out[#out + 1] = since
    out[#out + 1] = entry
  end
end
return out
`;
