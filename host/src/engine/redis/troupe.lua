#!lua name=troupe_v3
-- troupe's Redis functions, protocol version 3. Every troupe process loads this library
-- (FUNCTION LOAD REPLACE) when it connects; workers in other languages call the same
-- functions with FCALL. The key layout and every argument are documented in
-- docs/redis-protocol.md. Function names carry the version so that processes of two
-- versions sharing a Redis each keep their own functions.
--
-- Each function touches one run's keys only (they share the run's hash tag), plus the
-- shared rate-limit buckets `<prefix>:rate:<namespace>:<bucket>`.

local GROUP = 'workers'

-- A counter of the stage hash: absent is 0; anything but an integer is garbage, and the
-- call fails naming the key and field rather than reading it as 0 (or as "no limit").
local function count(sh, field)
  local raw = redis.call('HGET', sh, field)
  if not raw then
    return nil
  end
  local n = tonumber(raw)
  if not n or n ~= math.floor(n) or n < 0 then
    return redis.error_reply('troupe: field `' .. field .. '` of `' .. sh .. '` holds `' .. string.sub(raw, 1, 80) .. '`, not a count')
  end
  return n
end

-- Whether the run takes tasks and results: 'running' (running, or ended with detached
-- tasks still finishing), 'cancelled', or 'gone' (its hash no longer exists: expired,
-- flushed, or a Redis restarted empty). Calls for a cancelled or gone run write nothing,
-- so a cancelled run's keys all expire with its retention and a gone run is not brought
-- back as fragments.
local function run_state(base)
  local status = redis.call('HGET', base .. ':run', 'status')
  if not status then
    return 'gone'
  end
  if status == '{"state":"cancelled"}' then
    return 'cancelled'
  end
  return 'running'
end

-- A stage hash's counters, or the error reply that names the one holding garbage.
local function counts(sh, fields)
  local out = {}
  for i, field in ipairs(fields) do
    local n = count(sh, field)
    if type(n) == 'table' then
      return nil, n
    end
    out[i] = n
  end
  return out
end

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The attempt history: one `index:ms` (wall clock) per release of a task to its stream,
-- gathered per stage during a call and written with one RPUSH per stage at its end.
local function note_release(hist, stage, index, now)
  local list = hist[stage]
  if not list then
    list = {}
    hist[stage] = list
  end
  list[#list + 1] = index .. ':' .. now
end

local function write_history(base, hist)
  for stage, list in pairs(hist) do
    redis.call('RPUSH', base .. ':hist:' .. stage, unpack(list))
  end
end

-- Hand a task to its actor's stream (a release: noted in `hist`). `rec` is the task
-- record: a = actor, i = input (JSON text), k = key (JSON text, optional).
local function xadd(base, run, stage, index, attempt, rec, hist, now)
  local fields = { 'run', run, 'stage', stage, 'index', index, 'attempt', attempt, 'actor', rec.a, 'input', rec.i }
  if rec.k then
    fields[#fields + 1] = 'key'
    fields[#fields + 1] = rec.k
  end
  redis.call('XADD', base .. ':q:' .. rec.a, '*', unpack(fields))
  note_release(hist, stage, index, now)
end

-- Release a task: to its stream now, or to the run's delayed set until its delay and its
-- rate bucket (GCRA, shared by every host) allow. rec.r = { bucket, per second, burst }.
local function release(base, prefix, run, stage, index, attempt, rec, delay, now, hist)
  local due = now + delay
  if rec.r then
    local bucket = prefix .. ':rate:' .. rec.r[1]
    local interval = 1000.0 / rec.r[2]
    local tat = tonumber(redis.call('GET', bucket)) or now
    local start = math.max(tat, due)
    due = math.max(due, start - interval * math.max(rec.r[3] - 1, 0))
    local next_tat = start + interval
    redis.call('SET', bucket, string.format('%.3f', next_tat), 'PX', math.ceil(next_tat - now) + 60000)
  end
  if due <= now then
    xadd(base, run, stage, index, attempt, rec, hist, now)
  else
    redis.call('ZADD', base .. ':delayed', string.format('%.3f', due), cjson.encode({ stage, tonumber(index), tonumber(attempt) }))
  end
end

-- A task record with its input (kept apart, only for tasks that wait: held or timed).
local function load(base, stage, index)
  local raw = redis.call('HGET', base .. ':tasks:' .. stage, index)
  if not raw then
    return nil
  end
  local rec = cjson.decode(raw)
  rec.i = redis.call('HGET', base .. ':in:' .. stage, index)
  return rec
end

local function bump_peak(sh, inflight)
  local peak = tonumber(redis.call('HGET', sh, 'max_in_flight')) or 0
  if inflight > peak then
    redis.call('HSET', sh, 'max_in_flight', inflight)
  end
end

-- KEYS: stage hash. ARGV: base, prefix, run, stage, max-parallel ('' = unchanged), then
-- per task 6 values: index, task record JSON, actor, input (JSON text), key (JSON text,
-- '' for none), timed ('1' when the record has a delay or a rate limit). Idempotent by
-- index: a task already enqueued is skipped. Returns how many tasks were new; 0 when the
-- run was cancelled (nothing is written); an error when its state is gone.
local function enqueue(keys, args)
  local sh = keys[1]
  local base, prefix, run, stage = args[1], args[2], args[3], args[4]
  local state = run_state(base)
  if state == 'gone' then
    return redis.error_reply('troupe: run `' .. run .. '` has no `' .. base .. ':run` in Redis: its state is gone')
  elseif state ~= 'running' then
    return 0
  end
  local tasks, held, inputs = base .. ':tasks:' .. stage, base .. ':held:' .. stage, base .. ':in:' .. stage
  local keyed = false
  if args[5] ~= '' then
    redis.call('HSET', sh, 'max_parallel', args[5])
  end
  local c, bad = counts(sh, { 'max_parallel', 'in_flight' })
  if bad then
    return bad
  end
  local maxp = c[1]
  local inflight = c[2] or 0
  local now = now_ms()
  local added, hist = 0, {}
  for j = 6, #args, 6 do
    local index = args[j]
    if redis.call('HSETNX', tasks, index, args[j + 1]) == 1 then
      added = added + 1
      local key = args[j + 4]
      if key ~= '' then
        keyed = true
      end
      if maxp and inflight >= maxp then
        redis.call('HSET', inputs, index, args[j + 3])
        redis.call('RPUSH', held, index)
      else
        inflight = inflight + 1
        if args[j + 5] == '1' then
          redis.call('HSET', inputs, index, args[j + 3])
          local rec = cjson.decode(args[j + 1])
          rec.i = args[j + 3]
          release(base, prefix, run, stage, index, 1, rec, rec.d or 0, now, hist)
        else
          if key == '' then
            key = nil
          end
          xadd(base, run, stage, index, 1, { a = args[j + 2], i = args[j + 3], k = key }, hist, now)
        end
      end
    end
  end
  write_history(base, hist)
  redis.call('HSET', sh, 'in_flight', inflight)
  if keyed then
    redis.call('HSET', sh, 'keyed', 1)
  end
  bump_peak(sh, inflight)
  redis.call('HINCRBY', sh, 'enqueued', added)
  return added
end

-- Record tasks' outcomes, each exactly once, and acknowledge their deliveries: one call
-- for any number of tasks of one stage and actor.
-- KEYS: stage hash. ARGV: base, prefix, run, stage, actor, then per task 5 values:
-- index, attempt, kind ('ok' | 'err'), payload (the result as JSON text for 'ok', the
-- message for 'err'), stream entry id ('' if none). Returns, per task, 'counted',
-- 'straggler', 'duplicate', 'unknown' (no such task) or 'ended' (the run was cancelled,
-- or its state is gone: nothing recorded, the delivery acknowledged).
local function finish(keys, args)
  local sh = keys[1]
  local base, prefix, run, stage, actor = args[1], args[2], args[3], args[4], args[5]
  local tasks, results = base .. ':tasks:' .. stage, base .. ':res:' .. stage
  local acks, late, out = {}, {}, {}
  if run_state(base) ~= 'running' then
    for j = 6, #args, 5 do
      if args[j + 4] ~= '' then
        acks[#acks + 1] = args[j + 4]
      end
      out[#out + 1] = 'ended'
    end
    if #acks > 0 and redis.call('EXISTS', base .. ':q:' .. actor) == 1 then
      redis.call('XACK', base .. ':q:' .. actor, GROUP, unpack(acks))
    end
    return out
  end
  local c, bad = counts(sh, { 'max_parallel' })
  if bad then
    return bad
  end
  local cut, maxp = redis.call('HGET', sh, 'cut') == '1', c[1]
  local actor_json = cjson.encode(actor)
  local succeeded, failed, ended = 0, 0, 0
  for j = 6, #args, 5 do
    local index, attempt, kind, payload, entry = args[j], args[j + 1], args[j + 2], args[j + 3], args[j + 4]
    if entry ~= '' then
      acks[#acks + 1] = entry
    end
    local record
    if kind == 'ok' then
      record = '{"attempts":' .. attempt .. ',"actor":' .. actor_json .. ',"ok":' .. payload .. '}'
    else
      record = '{"attempts":' .. attempt .. ',"actor":' .. actor_json .. ',"err":' .. cjson.encode(payload) .. '}'
    end
    if redis.call('HEXISTS', tasks, index) == 0 then
      out[#out + 1] = 'unknown'
    elseif redis.call('HSETNX', results, index, record) == 0 then
      out[#out + 1] = 'duplicate'
    else
      ended = ended + 1
      if cut then
        late[#late + 1] = index
        out[#out + 1] = 'straggler'
      else
        if kind == 'ok' then
          succeeded = succeeded + 1
        else
          failed = failed + 1
        end
        out[#out + 1] = 'counted'
      end
    end
  end
  if #acks > 0 then
    redis.call('XACK', base .. ':q:' .. actor, GROUP, unpack(acks))
  end
  if #late > 0 then
    redis.call('RPUSH', base .. ':strag:' .. stage, unpack(late))
    redis.call('HINCRBY', sh, 'stragglers', #late)
  end
  if succeeded > 0 then
    redis.call('HINCRBY', sh, 'succeeded', succeeded)
  end
  if failed > 0 then
    redis.call('HINCRBY', sh, 'failed', failed)
  end
  if ended > 0 then
    local inflight = redis.call('HINCRBY', sh, 'in_flight', -ended)
    if maxp then
      local now, hist = now_ms(), {}
      while inflight < maxp do
        local nxt = redis.call('LPOP', base .. ':held:' .. stage)
        if not nxt then
          break
        end
        inflight = redis.call('HINCRBY', sh, 'in_flight', 1)
        bump_peak(sh, inflight)
        local rec = load(base, stage, nxt)
        release(base, prefix, run, stage, nxt, 1, rec, rec.d or 0, now, hist)
      end
      write_history(base, hist)
    end
  end
  return out
end

-- Run a task again after a delay (a retry or a deferral); it stays in flight.
-- KEYS: stage hash. ARGV: base, prefix, run, stage, index, attempt (of the next run),
-- delay ms, actor, stream entry id ('' if none), input (JSON text).
-- Returns 1, or 0 when the delivery was already acknowledged (a repeated call) or the run
-- was cancelled or is gone (nothing is written).
local function requeue(_keys, args)
  local base, prefix, run, stage, index, attempt, delay, actor, entry, input = unpack(args)
  if run_state(base) ~= 'running' then
    return 0
  end
  if entry ~= '' and redis.call('XACK', base .. ':q:' .. actor, GROUP, entry) == 0 then
    return 0
  end
  redis.call('HSET', base .. ':in:' .. stage, index, input)
  local rec = cjson.decode(redis.call('HGET', base .. ':tasks:' .. stage, index))
  rec.i = input
  rec.r = nil
  local now, hist = now_ms(), {}
  release(base, prefix, run, stage, index, attempt, rec, tonumber(delay), now, hist)
  write_history(base, hist)
  return 1
end

-- Move the run's due delayed tasks to their streams.
-- KEYS: the run's delayed set. ARGV: base, run. Returns { how many moved, ms until the
-- next delayed task is due (-1: none) }.
local function promote(keys, args)
  local base, run = args[1], args[2]
  if run_state(base) ~= 'running' then
    return { 0, -1 }
  end
  local now = now_ms()
  local due = redis.call('ZRANGEBYSCORE', keys[1], '-inf', now, 'LIMIT', 0, 1000)
  local hist = {}
  for _, member in ipairs(due) do
    local t = cjson.decode(member)
    local rec = load(base, t[1], string.format('%d', t[2]))
    if rec then
      xadd(base, run, t[1], string.format('%d', t[2]), string.format('%d', t[3]), rec, hist, now)
    end
    redis.call('ZREM', keys[1], member)
  end
  write_history(base, hist)
  local first = redis.call('ZRANGE', keys[1], 0, 0, 'WITHSCORES')
  if #first == 0 then
    return { #due, -1 }
  end
  return { #due, math.max(math.ceil(tonumber(first[2]) - now), 0) }
end

-- Give a delivery back to the queue at once (a worker shutting down): acknowledge it and
-- add the same task again. KEYS: the stream. ARGV: entry id, then the entry's fields.
local function handback(keys, args)
  if redis.call('XACK', keys[1], GROUP, args[1]) == 0 then
    return 0
  end
  local fields = {}
  for j = 2, #args do
    fields[#fields + 1] = args[j]
  end
  redis.call('XADD', keys[1], '*', unpack(fields))
  return 1
end

-- Keep a delivery that waited in a worker's buffer if it is still that worker's: reset its
-- idle time and answer 1; answer 0 when another worker took it over meanwhile.
-- KEYS: the stream. ARGV: entry id, consumer.
local function keep(keys, args)
  local pending = redis.call('XPENDING', keys[1], GROUP, args[1], args[1], 1)
  if #pending == 0 or pending[1][2] ~= args[2] then
    return 0
  end
  redis.call('XCLAIM', keys[1], GROUP, args[2], 0, args[1], 'JUSTID')
  return 1
end

redis.register_function('troupe_v3_enqueue', enqueue)
redis.register_function('troupe_v3_keep', keep)
redis.register_function('troupe_v3_finish', finish)
redis.register_function('troupe_v3_requeue', requeue)
redis.register_function('troupe_v3_promote', promote)
redis.register_function('troupe_v3_handback', handback)
