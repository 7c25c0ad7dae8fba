"""What troupe's Redis functions cost per task inside Redis, with nothing else running:
20 calls of `troupe_v5_enqueue` and 20 of `troupe_v5_finish`, 1,000 tasks each, and the
server-side time Redis reports for them (INFO commandstats, which this resets).

usage: python3 tests/python/lua_cost.py [REDIS_URL]   (default redis://127.0.0.1:6379)

It loads the library from host/src/engine/redis/troupe.lua, works under a key prefix of
its own and deletes its keys at the end.
"""

import json
import os
import sys
import time

import redis

CALLS, TASKS = 20, 1000


def main():
    url = sys.argv[1] if len(sys.argv) > 1 else "redis://127.0.0.1:6379"
    r = redis.Redis.from_url(url)
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "../../host/src/engine/redis/troupe.lua")) as f:
        r.function_load(f.read(), replace=True)
    prefix, run, stage, actor = f"lua-cost-{os.getpid()}", "run", "st", "Pass"
    base = f"{prefix}:{{{run}}}"
    stage_key, stream = f"{base}:st:{stage}", f"{base}:q:{actor}"
    r.xgroup_create(stream, "workers", id="0", mkstream=True)
    r.hset(stage_key, "opened_ms", int(time.time() * 1000))
    r.config_resetstat()

    for call in range(CALLS):
        args = [base, prefix, run, stage, "", ""]  # max-parallel, skip
        for i in range(call * TASKS, (call + 1) * TASKS):
            args += [str(i), '{"a":"Pass"}', actor, json.dumps({"item": {"id": i, "kind": "a"}}), "", ""]
        r.fcall("troupe_v5_enqueue", 1, stage_key, *args)
    enqueue_us = r.info("commandstats")["cmdstat_fcall"]["usec"]

    entries = r.xreadgroup("workers", "c1", {stream: ">"}, count=CALLS * TASKS)[0][1]
    for call in range(CALLS):
        args = [base, prefix, run, stage, actor]
        for entry_id, fields in entries[call * TASKS:(call + 1) * TASKS]:
            args += [fields[b"index"], "1", "ok", fields[b"input"], entry_id]
        r.fcall("troupe_v5_finish", 1, stage_key, *args)
    total_us = r.info("commandstats")["cmdstat_fcall"]["usec"]

    n = CALLS * TASKS
    print(f"troupe_v5_enqueue: {enqueue_us / n:.2f} us per task; "
          f"troupe_v5_finish: {(total_us - enqueue_us) / n:.2f} us per task (server time, {n} tasks)")
    keys = list(r.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        r.delete(*keys)


if __name__ == "__main__":
    main()
