"""A troupe worker in Python, written from docs/redis-protocol.md alone: it serves actors
of one run over Redis with redis-py, to prove that the protocol is open. It runs actors
only: the stages' hooks (retry, circuit breaker) are the troupe hook host's.

usage: worker.py REDIS_URL PREFIX RUN_ID ACTOR[,ACTOR...]

The actors it knows:
- Shout upper-cases `input.text` and says who served it;
- Fail fails with `input.message`;
- Flaky fails its first `input.failures` calls for `input.key` (counted in Redis under
  `PREFIX:python-flaky:<key>`), then returns its input.

The worker stops when the run has ended and prints how many tasks it ran.
"""

import json
import os
import socket
import sys

import redis


def shout(_r, _prefix, task_input):
    return {"text": task_input["text"].upper(), "servedBy": "python"}


def fail(_r, _prefix, task_input):
    raise RuntimeError(task_input.get("message", "failed"))


def flaky(r, prefix, task_input):
    key = task_input.get("key", "default")
    failures = task_input.get("failures", 1)
    call = r.incr(f"{prefix}:python-flaky:{key}")
    if call <= failures:
        raise RuntimeError(f"flaky: call {call} for `{key}` fails ({failures} will)")
    return task_input


ACTORS = {"Shout": shout, "Fail": fail, "Flaky": flaky}


def main():
    url, prefix, run, actors = sys.argv[1:5]
    actors = actors.split(",")
    r = redis.Redis.from_url(url, decode_responses=True)
    base = f"{prefix}:{{{run}}}"
    streams = {f"{base}:q:{actor}": ">" for actor in actors}
    consumer = f"python-{socket.gethostname()}-{os.getpid()}"
    served = 0
    while True:
        status = r.hget(f"{base}:run", "status")
        if status is not None and json.loads(status)["state"] != "running":
            break
        reply = r.xreadgroup("workers", consumer, streams, count=10, block=100)
        for _stream, entries in reply or []:
            # One troupe_v5_finish call per stage and actor, with every task of the read.
            by_stage = {}
            for entry_id, fields in entries:
                task_input = json.loads(fields["input"])
                actor = fields["actor"]
                try:
                    result = ACTORS[actor](r, prefix, task_input)
                    kind, payload = "ok", json.dumps(result)
                except Exception as error:  # the task fails; the worker goes on
                    kind, payload = "err", str(error) if actor != "Shout" else f"python worker: {error!r}"
                by_stage.setdefault((fields["stage"], actor), []).extend(
                    [fields["index"], fields["attempt"], kind, payload, entry_id]
                )
                served += 1
            for (stage, actor), tasks in by_stage.items():
                recorded = r.fcall("troupe_v5_finish", 1, f"{base}:st:{stage}", base, prefix, run, stage, actor, *tasks)
                assert all(x in ("counted", "duplicate", "straggler", "review") for x in recorded), recorded
    print(f"served {served}")


if __name__ == "__main__":
    main()
