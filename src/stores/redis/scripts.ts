/*
 * The Lua scripts of the Redis store. A session is one string key, "<version>.<sealed session>": the
 * version is what compare-and-set compares. A user's index is a sorted set of session handles scored by
 * their expiry (ms), beside a hash of the handles' sealed entries; both expire with their last entry.
 */

/** Writes only over the expected version; otherwise answers what is stored, with its time to live. */
const COMPARE_AND_SET = `
local current = redis.call("GET", KEYS[1])
local version = 0
if current then version = tonumber(string.match(current, "^(%d+)%.")) or 0 end
if version ~= tonumber(ARGV[1]) then
  if not current then return "0." end
  return {current, redis.call("PTTL", KEYS[1])}
end
redis.call("SET", KEYS[1], ARGV[2] .. "." .. ARGV[3], "PX", ARGV[4])
`;

/**
 * Answers 1 (a few bytes) while the stored version is the one the caller knows, pushing its expiry forward
 * when asked; only the version prefix is read inside Redis until the value has to be sent.
 */
const CONDITIONAL_READ = `
local head = redis.call("GETRANGE", KEYS[1], 0, 11)
if head == "" then return "0." end
local version = tonumber(string.match(head, "^(%d+)%.")) or 0
local known = tonumber(ARGV[1])
if known <= 0 or version ~= known then
  return {redis.call("GET", KEYS[1]), redis.call("PTTL", KEYS[1])}
end
if ARGV[2] == "" then return 1 end
redis.call("PEXPIRE", KEYS[1], ARGV[2])
`;

/**
 * Applies the index changes (KEYS[2k], KEYS[2k+1]: the k-th change's sorted set and hash; four ARGV each
 * from \`first\`: op, handle, entry, expiresAt), prunes what expired, and lets each index live as long as
 * its longest-lived entry.
 */
const INDEX = `
local function apply_index(first)
  local t = redis.call("TIME")
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  for i = 1, (#KEYS - 1) / 2 do
    local z, h = KEYS[2 * i], KEYS[2 * i + 1]
    local a = first + 4 * (i - 1)
    local op, handle, entry, expires = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
    if op == "put" then
      redis.call("ZADD", z, expires, handle)
      redis.call("HSET", h, handle, entry)
    elseif op == "touch" then
      redis.call("ZADD", z, "XX", expires, handle)
    else
      redis.call("ZREM", z, handle)
      redis.call("HDEL", h, handle)
    end
    local expired = redis.call("ZRANGEBYSCORE", z, "-inf", now)
    if #expired > 0 then
      redis.call("ZREMRANGEBYSCORE", z, "-inf", now)
      redis.call("HDEL", h, unpack(expired))
    end
    local last = redis.call("ZRANGE", z, -1, -1, "WITHSCORES")
    if #last == 0 then
      redis.call("DEL", z, h)
    else
      redis.call("PEXPIREAT", z, last[2])
      redis.call("PEXPIREAT", h, last[2])
    end
  end
end
`;

export const SET_IF_VERSION = `${COMPARE_AND_SET}return 1`;
export const SET_IF_VERSION_INDEXED = `${INDEX}${COMPARE_AND_SET}apply_index(5)
return 1`;
export const GET_IF_CHANGED = `${CONDITIONAL_READ}return 1`;
export const GET_IF_CHANGED_INDEXED = `${INDEX}${CONDITIONAL_READ}apply_index(3)
return 1`;

/** A user's live entries, pruned first: a flat list of handle, expiry, entry. */
export const LIST_INDEX = `
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expired = redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", now)
if #expired > 0 then
  redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", now)
  redis.call("HDEL", KEYS[2], unpack(expired))
end
local live = redis.call("ZRANGE", KEYS[1], 0, -1, "WITHSCORES")
local out = {}
for i = 1, #live, 2 do
  out[#out + 1] = live[i]
  out[#out + 1] = live[i + 1]
  out[#out + 1] = redis.call("HGET", KEYS[2], live[i]) or ""
end
return out
`;
