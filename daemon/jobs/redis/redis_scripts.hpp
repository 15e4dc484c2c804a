// The Lua scripts the Redis source runs (each one atomic on the server). Ownership is always
// "XPENDING names this consumer": a worker that lost its entry to XAUTOCLAIM changes nothing.
#pragma once

namespace qkv::jobs::redis::scripts {

// KEYS: stream. ARGV: group, consumer, entry ids... Returns 1 (still ours, idle reset with
// XCLAIM JUSTID, which leaves the delivery count alone) or 0 (owned by another, or gone) per id.
inline constexpr const char* kHeartbeat = R"lua(
local out = {}
for i = 3, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if #p == 1 and p[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
)lua";

// A shard's end into its parent's hash (<stream>:parent:<id>, written by kSubmitShards): the
// state under s:<shard> and the job view under v:<shard>, once; `ended` counts them. Returns 2
// when this end completes the set (its worker writes the parent manifest), 1 when recorded, 0
// when not a shard, the parent is gone (retention) or the shard had ended already.
#define QKV_LUA_PARENT_END                                                        \
  "local function parent_end(key, shard, state, view)\n"                          \
  "  if shard == '' or redis.call('EXISTS', key) == 0 then return 0 end\n"        \
  "  if redis.call('HSETNX', key, 's:' .. shard, state) == 0 then return 0 end\n" \
  "  redis.call('HSET', key, 'v:' .. shard, view)\n"                              \
  "  local n = redis.call('HINCRBY', key, 'ended', 1)\n"                          \
  "  if n == tonumber(redis.call('HGET', key, 'shards')) then return 2 end\n"     \
  "  return 1\n"                                                                  \
  "end\n"

// The end of one entry, exactly once. KEYS: stream, fence (<stream>:end:<id>), results, the
// parent's hash (any name when not a shard). ARGV: group, consumer, entry id, fence seconds, the
// job view (JSON, the fence's value, read by `status` and `wait` on any worker), the shard index
// ('' when not a shard), the state, then the result's field/value pairs.
// Fence set: someone recorded the end already, only ack. Not ours: record nothing ("lost").
// Else: fence, parent hash, result XADD, XACK and XDEL in one step ("recorded", or
// "recorded-last" when it completed its parent's set of shard ends).
inline constexpr const char* kEnd = QKV_LUA_PARENT_END R"lua(
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
  redis.call('XDEL', KEYS[1], ARGV[3])
  return 'fenced'
end
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if #p == 0 or p[1][2] ~= ARGV[2] then return 'lost' end
redis.call('SET', KEYS[2], ARGV[5], 'EX', tonumber(ARGV[4]))
local last = parent_end(KEYS[4], ARGV[6], ARGV[7], ARGV[5])
local fields = {}
for i = 8, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('XADD', KEYS[3], '*', unpack(fields))
redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
redis.call('XDEL', KEYS[1], ARGV[3])
if last == 2 then return 'recorded-last' end
return 'recorded'
)lua";

// An entry that must not run goes to the dead letters, once (delivered too often, or a shard
// whose pipeline file differs here). KEYS: stream, dead, the parent's hash. ARGV: group,
// consumer, entry id, reason, the shard index ('' when not a shard), the shard's job view (its
// end in the parent: failed), then the entry's field/value pairs.
inline constexpr const char* kDeadLetter = QKV_LUA_PARENT_END R"lua(
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if #p == 0 or p[1][2] ~= ARGV[2] then return 'lost' end
local fields = {'id', ARGV[3], 'reason', ARGV[4]}
for i = 7, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('XADD', KEYS[2], '*', unpack(fields))
parent_end(KEYS[3], ARGV[5], 'failed', ARGV[6])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
redis.call('XDEL', KEYS[1], ARGV[3])
return 'dead'
)lua";

// A request_id already used (KEYS[n], <stream>:request:<owner>:<request_id>, "" when the submit
// has none): its value "<job id> <body sha256>" is returned with 1, and nothing is added.
#define QKV_LUA_REQUEST_SEEN                       \
  "if KEYS[#KEYS] ~= '' then\n"                    \
  "  local had = redis.call('GET', KEYS[#KEYS])\n" \
  "  if had then return {had, 1} end\n"            \
  "end\n"

// One job entry, once per request_id. KEYS: stream, the request key ("" when none). ARGV:
// request seconds (retention), the body's sha256, then the entry's field/value pairs. Returns
// {entry id, 0}, or {"<job id> <body sha256>", 1} for a request_id already used.
inline constexpr const char* kSubmit = QKV_LUA_REQUEST_SEEN R"lua(
local fields = {}
for i = 3, #ARGV do fields[#fields + 1] = ARGV[i] end
local id = redis.call('XADD', KEYS[1], '*', unpack(fields))
if KEYS[2] ~= '' then
  redis.call('SET', KEYS[2], 'redis-' .. id .. ' ' .. ARGV[2], 'EX', tonumber(ARGV[1]))
end
return {id, 0}
)lua";

// A sharded submit: the parent's hash and every shard entry in one step, so no worker sees a
// shard of a parent that is not there, and the client's "accepted" means all N are queued.
// KEYS: stream, the parent's hash, <stream>:parents (a sorted set by submit time, for `list`),
// the request key ("" when none). ARGV: parent seconds (retention), the parent's view (JSON),
// shards, submit time (ms), the parent id, pipeline_sha256, the body's sha256, then per shard in
// index order its job-file JSON and its first_document. Returns {parent id, 0}, or as kSubmit
// for a request_id already used.
inline constexpr const char* kSubmitShards = QKV_LUA_REQUEST_SEEN R"lua(
redis.call('HSET', KEYS[2], 'shards', ARGV[3], 'meta', ARGV[2], 'ended', 0)
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[1]))
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[5])
for i = 8, #ARGV - 1, 2 do
  redis.call('XADD', KEYS[1], '*', 'job', ARGV[i], 'parent', ARGV[5], 'shard',
             tostring((i - 8) / 2), 'shards', ARGV[3], 'first_document', ARGV[i + 1],
             'pipeline_sha256', ARGV[6])
end
if KEYS[4] ~= '' then
  redis.call('SET', KEYS[4], ARGV[5] .. ' ' .. ARGV[7], 'EX', tonumber(ARGV[1]))
end
return {ARGV[5], 0}
)lua";

#undef QKV_LUA_REQUEST_SEEN
#undef QKV_LUA_PARENT_END

// Gives an entry back to the group at once (shutdown before it ran): a fresh copy is added and
// the old one acked. KEYS: stream. ARGV: group, consumer, entry id, the entry's field/value pairs.
inline constexpr const char* kRequeue = R"lua(
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if #p == 0 or p[1][2] ~= ARGV[2] then return 'lost' end
local fields = {}
for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('XADD', KEYS[1], '*', unpack(fields))
redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
redis.call('XDEL', KEYS[1], ARGV[3])
return 'requeued'
)lua";

}  // namespace qkv::jobs::redis::scripts
