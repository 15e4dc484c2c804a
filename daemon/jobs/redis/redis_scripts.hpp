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

// The end of one entry, exactly once. KEYS: stream, fence (<stream>:end:<id>), results.
// ARGV: group, consumer, entry id, fence seconds, the job view (JSON, the fence's value, read
// by `status` and `wait` on any worker), then the result's field/value pairs.
// Fence set: someone recorded the end already, only ack. Not ours: record nothing ("lost").
// Else: fence, result XADD, XACK and XDEL in one step.
inline constexpr const char* kEnd = R"lua(
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
  redis.call('XDEL', KEYS[1], ARGV[3])
  return 'fenced'
end
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if #p == 0 or p[1][2] ~= ARGV[2] then return 'lost' end
redis.call('SET', KEYS[2], ARGV[5], 'EX', tonumber(ARGV[4]))
local fields = {}
for i = 6, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('XADD', KEYS[3], '*', unpack(fields))
redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
redis.call('XDEL', KEYS[1], ARGV[3])
return 'recorded'
)lua";

// An entry delivered too often goes to the dead letters, once. KEYS: stream, dead.
// ARGV: group, consumer, entry id, reason, then the entry's field/value pairs.
inline constexpr const char* kDeadLetter = R"lua(
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if #p == 0 or p[1][2] ~= ARGV[2] then return 'lost' end
local fields = {'id', ARGV[3], 'reason', ARGV[4]}
for i = 5, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('XADD', KEYS[2], '*', unpack(fields))
redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
redis.call('XDEL', KEYS[1], ARGV[3])
return 'dead'
)lua";

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
