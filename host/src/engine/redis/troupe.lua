#!lua name=troupe_v5
-- troupe's Redis functions, protocol version 5. Every troupe process loads this library
-- (FUNCTION LOAD REPLACE) when it connects; workers in other languages call the same
-- functions with FCALL. The key layout and every argument are documented in
-- docs/redis-protocol.md. Function names carry the version so that processes of two
-- versions sharing a Redis each keep their own functions.
--
-- Each function touches one run's keys only (they share the run's hash tag), plus the
-- shared rate-limit buckets `<prefix>:rate:<namespace>:<bucket>`.
--
-- Version 4 moved the stages' hooks to hook hosts: a stage with `before-task` releases
-- its tasks to the run's hooks stream (`<base>:hooks`) and a hook host admits them to
-- their actor's stream (`admit`); a stage with `after-task` has workers' outcomes put on
-- the hooks stream (`finish` answers 'review') and a hook host records them (`record`) or
-- runs the task again (`requeue`). Workers never run hooks.
--
-- Version 5 lets a stage grow and skip: `enqueue` takes a skip reason (tasks recorded as
-- skipped at once, counted in the stage hash's `skipped`); `record` takes the extension
-- its task's review asked for, added with the outcome (numbered from the stage's
-- `enqueued`, expected raised by as many) or, before the stage is sealed, kept in
-- `<base>:grow:<stage>` until `seal` adds it; task records and entries carry a
-- `generation` when it is not 0.

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

-- Whether a stage asked for `before-task` / `after-task` (set when it was opened): its
-- released tasks, and its workers' outcomes, go to the run's hooks stream first.
local function hooks_of(sh)
  local h = redis.call('HMGET', sh, 'before_task', 'after_task')
  return h[1] == '1', h[2] == '1'
end

local function task_fields(run, stage, index, attempt, rec)
  local fields = { 'run', run, 'stage', stage, 'index', index, 'attempt', attempt, 'actor', rec.a, 'input', rec.i }
  if rec.k then
    fields[#fields + 1] = 'key'
    fields[#fields + 1] = rec.k
  end
  if rec.g and rec.g > 0 then
    fields[#fields + 1] = 'generation'
    fields[#fields + 1] = tostring(rec.g)
  end
  return fields
end

-- Release a task now (noted in `hist`): to the run's hooks stream for admission when its
-- stage has `before-task` (`gate`), else to its actor's stream. `rec` is the task record:
-- a = actor, i = input (JSON text), k = key (JSON text, optional).
local function xadd(base, run, stage, index, attempt, rec, hist, now, gate)
  local fields = task_fields(run, stage, index, attempt, rec)
  if gate then
    fields[#fields + 1] = 'hook'
    fields[#fields + 1] = 'admit'
    redis.call('XADD', base .. ':hooks', '*', unpack(fields))
  else
    redis.call('XADD', base .. ':q:' .. rec.a, '*', unpack(fields))
  end
  note_release(hist, stage, index, now)
end

-- Release a task: to its stream now, or to the run's delayed set until its delay and its
-- rate bucket (GCRA, shared by every host) allow. rec.r = { bucket, per second, burst };
-- `over`, a stage's retuned rate ({ bucket key, per second, burst }, see `retuned_rate`),
-- takes its place.
local function release(base, prefix, run, stage, index, attempt, rec, delay, now, hist, gate, over)
  local due = now + delay
  local r = over
  if not r and rec.r then
    r = { prefix .. ':rate:' .. rec.r[1], rec.r[2], rec.r[3] }
  end
  if r then
    local bucket = r[1]
    local interval = 1000.0 / r[2]
    local tat = tonumber(redis.call('GET', bucket)) or now
    local start = math.max(tat, due)
    due = math.max(due, start - interval * math.max(r[3] - 1, 0))
    local next_tat = start + interval
    redis.call('SET', bucket, string.format('%.3f', next_tat), 'PX', math.ceil(next_tat - now) + 60000)
  end
  if due <= now then
    xadd(base, run, stage, index, attempt, rec, hist, now, gate)
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

-- A stage's rate set through the API (`retune`): { bucket key, per second, burst }, or
-- nil. A retuned stage has a bucket of its own, under the run's hash tag; it paces the
-- stage's first tries (retries keep their backoff).
local function retuned_rate(sh, base, stage)
  local v = redis.call('HMGET', sh, 'rate_ps', 'rate_burst')
  if not v[1] then
    return nil
  end
  local ps, burst = tonumber(v[1]), tonumber(v[2])
  if not ps or ps <= 0 or not burst or burst < 1 then
    return nil, redis.error_reply('troupe: fields `rate_ps`, `rate_burst` of `' .. sh .. '` hold garbage')
  end
  return { base .. ':bucket:' .. stage, ps, burst }
end

-- Release held tasks while fewer than `maxp` are in flight; how many.
local function release_held(sh, base, prefix, run, stage, maxp, inflight, before, over, now, hist)
  local n = 0
  while inflight < maxp do
    local nxt = redis.call('LPOP', base .. ':held:' .. stage)
    if not nxt then
      break
    end
    inflight = redis.call('HINCRBY', sh, 'in_flight', 1)
    bump_peak(sh, inflight)
    local rec = load(base, stage, nxt)
    release(base, prefix, run, stage, nxt, 1, rec, rec.d or 0, now, hist, before, over)
    n = n + 1
  end
  return n
end

-- The stage a call adds tasks to: what adding one needs, read once per call.
local function stage_ctx(sh, base, prefix, run, stage, maxp_arg, skip)
  -- A limit retuned through the API holds for the rest of the stage.
  if maxp_arg ~= '' and redis.call('HEXISTS', sh, 'retuned') == 0 then
    redis.call('HSET', sh, 'max_parallel', maxp_arg)
  end
  local c, bad = counts(sh, { 'max_parallel', 'in_flight' })
  if bad then
    return nil, bad
  end
  local over, garbage = retuned_rate(sh, base, stage)
  if garbage then
    return nil, garbage
  end
  local before, after = hooks_of(sh)
  return {
    sh = sh, base = base, prefix = prefix, run = run, stage = stage,
    tasks = base .. ':tasks:' .. stage, held = base .. ':held:' .. stage, inputs = base .. ':in:' .. stage,
    results = base .. ':res:' .. stage,
    maxp = c[1], inflight = c[2] or 0, before = before, after = after, skip = skip, over = over,
    now = now_ms(), hist = {}, added = 0, skipped = 0, keyed = false,
  }
end

-- Add one task (idempotent by index): recorded as skipped at once when the call skips,
-- else released now or held by maxParallel. `record` is the task record JSON (its `g`
-- the generation), `timed` '1' when it has a delay or a rate limit.
local function add_task(ctx, index, record, actor, input, key, timed)
  if redis.call('HSETNX', ctx.tasks, index, record) == 0 then
    return
  end
  ctx.added = ctx.added + 1
  if key ~= '' then
    ctx.keyed = true
  end
  if ctx.skip then
    local rec = '{"attempts":0,"actor":' .. cjson.encode(actor) .. ',"skip":' .. cjson.encode(ctx.skip) .. '}'
    redis.call('HSET', ctx.results, index, rec)
    ctx.skipped = ctx.skipped + 1
    return
  end
  if ctx.maxp and ctx.inflight >= ctx.maxp then
    redis.call('HSET', ctx.inputs, index, input)
    redis.call('RPUSH', ctx.held, index)
    return
  end
  ctx.inflight = ctx.inflight + 1
  -- A hooked stage keeps every input: its hook host may run the task again.
  if timed == '1' or ctx.over or ctx.before or ctx.after then
    redis.call('HSET', ctx.inputs, index, input)
  end
  local rec = cjson.decode(record)
  rec.i = input
  if timed == '1' or ctx.over then
    release(ctx.base, ctx.prefix, ctx.run, ctx.stage, index, 1, rec, rec.d or 0, ctx.now, ctx.hist, ctx.before, ctx.over)
  else
    xadd(ctx.base, ctx.run, ctx.stage, index, 1, rec, ctx.hist, ctx.now, ctx.before)
  end
end

-- Write what a call's `add_task`s counted.
local function close_ctx(ctx)
  write_history(ctx.base, ctx.hist)
  redis.call('HSET', ctx.sh, 'in_flight', ctx.inflight)
  if ctx.keyed then
    redis.call('HSET', ctx.sh, 'keyed', 1)
  end
  bump_peak(ctx.sh, ctx.inflight)
  redis.call('HINCRBY', ctx.sh, 'enqueued', ctx.added)
  if ctx.skipped > 0 then
    redis.call('HINCRBY', ctx.sh, 'skipped', ctx.skipped)
  end
end

-- KEYS: stage hash. ARGV: base, prefix, run, stage, max-parallel ('' = unchanged), skip
-- reason ('' = run them), then per task 6 values: index, task record JSON, actor, input
-- (JSON text), key (JSON text, '' for none), timed ('1' when the record has a delay or a
-- rate limit). Idempotent by index: a task already enqueued is skipped. Returns how many
-- tasks were new; 0 when the run was cancelled (nothing is written); an error when its
-- state is gone.
local function enqueue(keys, args)
  local base, run = args[1], args[3]
  local state = run_state(base)
  if state == 'gone' then
    return redis.error_reply('troupe: run `' .. run .. '` has no `' .. base .. ':run` in Redis: its state is gone')
  elseif state ~= 'running' then
    return 0
  end
  local skip = args[6]
  if skip == '' then
    skip = nil
  end
  local ctx, bad = stage_ctx(keys[1], base, args[2], run, args[4], args[5], skip)
  if bad then
    return bad
  end
  for j = 7, #args, 6 do
    add_task(ctx, args[j], args[j + 1], args[j + 2], args[j + 3], args[j + 4], args[j + 5])
  end
  close_ctx(ctx)
  return ctx.added
end

-- Add an extension (JSON: g = generation, cap, mp = max-parallel or '', skip = reason or
-- '', tasks = { { record, actor, input, key or '', timed }, ... }) to a sealed stage:
-- numbered from its `enqueued`, at most up to `cap` tasks in the stage; `expected` rises
-- by as many. Returns how many tasks were left out (past the cap).
local function apply_extension(sh, base, prefix, run, stage, raw)
  local ext = cjson.decode(raw)
  local skip = ext.skip
  if skip == '' then
    skip = nil
  end
  local ctx, bad = stage_ctx(sh, base, prefix, run, stage, ext.mp, skip)
  if bad then
    return bad
  end
  local first = tonumber(redis.call('HGET', sh, 'enqueued') or '0')
  local room = math.max(ext.cap - first, 0)
  local take = math.min(#ext.tasks, room)
  for k = 1, take do
    local t = ext.tasks[k]
    add_task(ctx, string.format('%d', first + k - 1), t[1], t[2], t[3], t[4], t[5])
  end
  close_ctx(ctx)
  redis.call('HINCRBY', sh, 'expected', ctx.added)
  return #ext.tasks - take
end

-- Record outcomes, each exactly once, and acknowledge their deliveries on `stream`.
-- `items` are { index, attempt, kind ('ok' | 'err'), payload, entry, actor, ext (an
-- extension's JSON or nil) }; a counted item's extension joins the stage (or waits for
-- the seal), and its tasks left out past the cap are added to `left_out`. Returns, per item,
-- 'counted', 'straggler', 'duplicate', 'unknown' (no such task) or 'ended' (the run was
-- cancelled, or its state is gone: nothing recorded, the delivery acknowledged).
local function record_items(sh, base, prefix, run, stage, stream, items)
  local tasks, results = base .. ':tasks:' .. stage, base .. ':res:' .. stage
  local acks, late, out = {}, {}, {}
  for _, it in ipairs(items) do
    if it.entry ~= '' then
      acks[#acks + 1] = it.entry
    end
  end
  if run_state(base) ~= 'running' then
    for _ in ipairs(items) do
      out[#out + 1] = 'ended'
    end
    if #acks > 0 and redis.call('EXISTS', stream) == 1 then
      redis.call('XACK', stream, GROUP, unpack(acks))
    end
    return out
  end
  local c, bad = counts(sh, { 'max_parallel' })
  if bad then
    return bad
  end
  -- Acknowledged first: an entry id XACK refuses then fails the call before any write.
  if #acks > 0 then
    redis.call('XACK', stream, GROUP, unpack(acks))
  end
  local cut, maxp = redis.call('HGET', sh, 'cut') == '1', c[1]
  local succeeded, failed, ended = 0, 0, 0
  local grow = {}
  for _, it in ipairs(items) do
    local actor_json = cjson.encode(it.actor)
    local record
    if it.kind == 'ok' then
      record = '{"attempts":' .. it.attempt .. ',"actor":' .. actor_json .. ',"ok":' .. it.payload .. '}'
    else
      record = '{"attempts":' .. it.attempt .. ',"actor":' .. actor_json .. ',"err":' .. cjson.encode(it.payload) .. '}'
    end
    if redis.call('HEXISTS', tasks, it.index) == 0 then
      out[#out + 1] = 'unknown'
    elseif redis.call('HSETNX', results, it.index, record) == 0 then
      out[#out + 1] = 'duplicate'
    else
      ended = ended + 1
      if cut then
        late[#late + 1] = it.index
        out[#out + 1] = 'straggler'
      else
        if it.kind == 'ok' then
          succeeded = succeeded + 1
        else
          failed = failed + 1
        end
        if it.ext then
          grow[#grow + 1] = it.ext
        end
        out[#out + 1] = 'counted'
      end
    end
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
      local before = hooks_of(sh)
      local over, garbage = retuned_rate(sh, base, stage)
      if garbage then
        return garbage
      end
      local now, hist = now_ms(), {}
      release_held(sh, base, prefix, run, stage, maxp, inflight, before, over, now, hist)
      write_history(base, hist)
    end
  end
  -- Extensions after the slots: the reviewed task's slot is free, and the stage's held
  -- tasks keep their turn before the new ones (as on the embedded engine).
  local left_out = 0
  for _, raw in ipairs(grow) do
    if redis.call('HEXISTS', sh, 'expected') == 0 then
      redis.call('RPUSH', base .. ':grow:' .. stage, raw)
    else
      local left = apply_extension(sh, base, prefix, run, stage, raw)
      if type(left) == 'table' then
        return left
      end
      left_out = left_out + left
    end
  end
  out.left_out = left_out
  return out
end

-- Hand attempts' outcomes to the hook host (the stage has `after-task`): each goes on the
-- run's hooks stream as a review entry, unless the task already has a result. Returns,
-- per item, 'review', 'duplicate' or 'unknown', or 'ended' as `record_items`.
local function to_review(base, run, stage, stream, items)
  local tasks, results, inputs = base .. ':tasks:' .. stage, base .. ':res:' .. stage, base .. ':in:' .. stage
  local acks, out = {}, {}
  local live = run_state(base) == 'running'
  for _, it in ipairs(items) do
    if it.entry ~= '' then
      acks[#acks + 1] = it.entry
    end
  end
  -- Acknowledged first, as in `record_items`.
  if #acks > 0 and redis.call('EXISTS', stream) == 1 then
    redis.call('XACK', stream, GROUP, unpack(acks))
  end
  for _, it in ipairs(items) do
    local raw = live and redis.call('HGET', tasks, it.index)
    if not live then
      out[#out + 1] = 'ended'
    elseif not raw then
      out[#out + 1] = 'unknown'
    elseif redis.call('HEXISTS', results, it.index) == 1 then
      out[#out + 1] = 'duplicate'
    else
      local rec = cjson.decode(raw)
      rec.i = redis.call('HGET', inputs, it.index) or 'null'
      local fields = task_fields(run, stage, it.index, it.attempt, rec)
      for _, v in ipairs({ 'hook', 'review', 'kind', it.kind, 'payload', it.payload }) do
        fields[#fields + 1] = v
      end
      redis.call('XADD', base .. ':hooks', '*', unpack(fields))
      out[#out + 1] = 'review'
    end
  end
  return out
end

-- What a worker calls: record tasks' outcomes (or, for a stage with `after-task`, hand
-- them to the hook host) and acknowledge their deliveries: one call for any number of
-- tasks of one stage and actor.
-- KEYS: stage hash. ARGV: base, prefix, run, stage, actor, then per task 5 values:
-- index, attempt, kind ('ok' | 'err'), payload (the result as JSON text for 'ok', the
-- message for 'err'), stream entry id ('' if none). Returns, per task, 'counted',
-- 'straggler', 'review' (handed to the hook host), 'duplicate', 'unknown' (no such
-- task) or 'ended' (the run was cancelled, or its state is gone: nothing recorded, the
-- delivery acknowledged).
local function finish(keys, args)
  -- Checked before anything is written: a call that failed half-way would leave the
  -- tasks before the bad one recorded but never counted (their stage would never end).
  if #args < 5 or (#args - 5) % 5 ~= 0 then
    return redis.error_reply('troupe_v5_finish: ' .. #args .. ' arguments: base, prefix, run, stage and actor, then 5 per task (index, attempt, kind, payload, entry)')
  end
  for j = 6, #args, 5 do
    -- The attempt goes into the result's JSON as is. (Entry ids are checked by the XACK,
    -- which comes before the writes.)
    local attempt = args[j + 1]
    if not string.match(attempt, '^%d+$') then
      return redis.error_reply('troupe_v5_finish: task ' .. (j - 1) / 5 .. ': attempt `' .. string.sub(attempt, 1, 40) .. '` is not a number')
    end
  end
  local sh = keys[1]
  local base, prefix, run, stage, actor = args[1], args[2], args[3], args[4], args[5]
  local items = {}
  for j = 6, #args, 5 do
    local kind, payload = args[j + 2], args[j + 3]
    -- A result goes into the task's record as is: one that is not a single JSON value
    -- would corrupt the record (and could forge its fields), so the task fails instead,
    -- saying why, and its stage still reaches its barrier.
    if kind == 'ok' and not pcall(cjson.decode, payload) then
      kind = 'err'
      payload = 'actor `' .. actor .. '` returned a result that is not JSON (' .. #payload .. ' bytes): the worker reported it as it is'
    end
    items[#items + 1] =
      { index = args[j], attempt = args[j + 1], kind = kind, payload = payload, entry = args[j + 4], actor = actor }
  end
  local stream = base .. ':q:' .. actor
  local _, after = hooks_of(sh)
  if after then
    return to_review(base, run, stage, stream, items)
  end
  return record_items(sh, base, prefix, run, stage, stream, items)
end

-- What a hook host calls: record one task's outcome, bypassing review, and acknowledge
-- its delivery on `stream` (the hooks stream or an actor's).
-- KEYS: stage hash. ARGV: base, prefix, run, stage, stream ('' if none), index, attempt,
-- kind, payload, entry id ('' if none), actor, extension JSON ('' if none; see
-- `apply_extension`). Returns { what `finish` returns for it, how many of the
-- extension's tasks were left out past its cap }.
local function record(keys, args)
  local base, prefix, run, stage, stream = args[1], args[2], args[3], args[4], args[5]
  local item = { index = args[6], attempt = args[7], kind = args[8], payload = args[9], entry = args[10], actor = args[11] }
  if stream == '' then
    item.entry = ''
  end
  if args[12] and args[12] ~= '' then
    item.ext = args[12]
  end
  local out = record_items(keys[1], base, prefix, run, stage, stream, { item })
  if out.left_out == nil then
    return { out[1], 0 }
  end
  return { out[1], out.left_out }
end

-- What the orchestrator calls when `execute` returned: record how many tasks the barrier
-- waits for and the execution, then add the extensions reviewed meanwhile.
-- KEYS: stage hash. ARGV: base, prefix, run, stage, expected, execution JSON. Returns
-- { tasks enqueued before the extensions (what `execute` enqueued), tasks left out }.
local function seal(keys, args)
  local sh = keys[1]
  local base, prefix, run, stage = args[1], args[2], args[3], args[4]
  redis.call('HSET', sh, 'expected', args[5], 'execution', args[6])
  local c, bad = counts(sh, { 'enqueued' })
  if bad then
    return bad
  end
  local left_out = 0
  if run_state(base) == 'running' then
    while true do
      local raw = redis.call('LPOP', base .. ':grow:' .. stage)
      if not raw then
        break
      end
      local left = apply_extension(sh, base, prefix, run, stage, raw)
      if type(left) == 'table' then
        return left
      end
      left_out = left_out + left
    end
  end
  return { c[1] or 0, left_out }
end

-- What a hook host calls when `before-task` said run: acknowledge the admission entry and
-- hand the task to its actor's stream.
-- KEYS: stage hash. ARGV: base, run, stage, index, attempt, stream ('' if none), entry id
-- ('' if none). Returns 1, or 0 when the entry was already acknowledged (a repeated call),
-- the run was cancelled or is gone, or the task has no record.
local function admit(_keys, args)
  local base, run, stage, index, attempt, stream, entry = unpack(args)
  if run_state(base) ~= 'running' then
    return 0
  end
  if stream ~= '' and entry ~= '' and redis.call('XACK', stream, GROUP, entry) == 0 then
    return 0
  end
  local rec = load(base, stage, index)
  if not rec then
    return 0
  end
  rec.i = rec.i or 'null'
  local fields = task_fields(run, stage, index, attempt, rec)
  redis.call('XADD', base .. ':q:' .. rec.a, '*', unpack(fields))
  return 1
end

-- Release a task again after a delay (a retry or a deferral); it stays in flight, and a
-- stage with `before-task` asks it again.
-- KEYS: stage hash. ARGV: base, prefix, run, stage, index, attempt (of the next run),
-- delay ms, stream the delivery came from ('' if none), stream entry id ('' if none),
-- input (JSON text).
-- Returns 1, or 0 when the delivery was already acknowledged (a repeated call) or the run
-- was cancelled or is gone (nothing is written).
local function requeue(keys, args)
  local base, prefix, run, stage, index, attempt, delay, stream, entry, input = unpack(args)
  if run_state(base) ~= 'running' then
    return 0
  end
  if stream ~= '' and entry ~= '' and redis.call('XACK', stream, GROUP, entry) == 0 then
    return 0
  end
  local before = hooks_of(keys[1])
  redis.call('HSET', base .. ':in:' .. stage, index, input)
  local rec = cjson.decode(redis.call('HGET', base .. ':tasks:' .. stage, index))
  rec.i = input
  rec.r = nil
  local now, hist = now_ms(), {}
  release(base, prefix, run, stage, index, attempt, rec, tonumber(delay), now, hist, before)
  write_history(base, hist)
  return 1
end

-- Retune a running stage (the API's PATCH /v1/runs/{id}/stages/{stage}):
-- - a rate: kept in the stage hash (`rate_ps`, `rate_burst`) and paced by a bucket of the
--   stage's own (`<base>:bucket:<stage>`, started afresh); the stage's first tries waiting
--   in the run's delayed set are re-timed from now at that rate, and every later release
--   of a first try uses it;
-- - a max-parallel: `max_parallel` and `retuned` (so the executor's later enqueues keep
--   it); held tasks are released up to it at once, a lower one lets running tasks finish.
-- KEYS: stage hash. ARGV: base, prefix, run, stage, max-parallel ('' = unchanged), per
-- second ('' = unchanged), burst. Returns { released, re-timed }; an error when the run
-- is not running or has no such stage.
local function retune(keys, args)
  local sh = keys[1]
  local base, prefix, run, stage, maxp, ps, burst = unpack(args)
  if run_state(base) ~= 'running' then
    return redis.error_reply('troupe: run `' .. run .. '` is not running')
  end
  if redis.call('EXISTS', sh) == 0 then
    return redis.error_reply('troupe: run `' .. run .. '` has no stage `' .. stage .. '` started')
  end
  if ps ~= '' then
    redis.call('HSET', sh, 'rate_ps', ps, 'rate_burst', burst)
    redis.call('DEL', base .. ':bucket:' .. stage)
  end
  local over, garbage = retuned_rate(sh, base, stage)
  if garbage then
    return garbage
  end
  local before = hooks_of(sh)
  local now, hist = now_ms(), {}
  local released, retimed = 0, 0
  if ps ~= '' then
    local delayed = base .. ':delayed'
    for _, member in ipairs(redis.call('ZRANGE', delayed, 0, -1)) do
      local t = cjson.decode(member)
      if t[1] == stage and t[3] == 1 then
        local index = string.format('%d', t[2])
        local rec = load(base, stage, index)
        redis.call('ZREM', delayed, member)
        if rec then
          release(base, prefix, run, stage, index, 1, rec, 0, now, hist, before, over)
          retimed = retimed + 1
        end
      end
    end
  end
  if maxp ~= '' then
    redis.call('HSET', sh, 'max_parallel', maxp, 'retuned', 1)
    local c, bad = counts(sh, { 'in_flight' })
    if bad then
      return bad
    end
    released = release_held(sh, base, prefix, run, stage, tonumber(maxp), c[1] or 0, before, over, now, hist)
  end
  write_history(base, hist)
  return { released, retimed }
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
  local hist, gates = {}, {}
  for _, member in ipairs(due) do
    local t = cjson.decode(member)
    local rec = load(base, t[1], string.format('%d', t[2]))
    if gates[t[1]] == nil then
      gates[t[1]] = hooks_of(base .. ':st:' .. t[1])
    end
    if rec then
      xadd(base, run, t[1], string.format('%d', t[2]), string.format('%d', t[3]), rec, hist, now, gates[t[1]])
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
  -- Checked before the XACK: an XADD refused after it would lose the task.
  if #args < 3 or #args % 2 == 0 then
    return redis.error_reply('troupe_v5_handback: ' .. (#args - 1) .. ' values after the entry id: fields and values go in pairs, at least one')
  end
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

redis.register_function('troupe_v5_enqueue', enqueue)
redis.register_function('troupe_v5_keep', keep)
redis.register_function('troupe_v5_retune', retune)
redis.register_function('troupe_v5_finish', finish)
redis.register_function('troupe_v5_record', record)
redis.register_function('troupe_v5_seal', seal)
redis.register_function('troupe_v5_admit', admit)
redis.register_function('troupe_v5_requeue', requeue)
redis.register_function('troupe_v5_promote', promote)
redis.register_function('troupe_v5_handback', handback)
