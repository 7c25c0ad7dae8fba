"""A troupe worker in Python, written from docs/redis-protocol.md alone: it serves one
actor of one run over Redis with redis-py, to prove that the protocol is open.

usage: worker.py REDIS_URL PREFIX RUN_ID ACTOR

The actor it serves upper-cases `input.text` and says who served it. The worker stops
when the run has ended.
"""

import json
import os
import socket
import sys

import redis


def main():
    url, prefix, run, actor = sys.argv[1:5]
    r = redis.Redis.from_url(url, decode_responses=True)
    base = f"{prefix}:{{{run}}}"
    stream = f"{base}:q:{actor}"
    consumer = f"python-{socket.gethostname()}-{os.getpid()}"
    served = 0
    while True:
        status = r.hget(f"{base}:run", "status")
        if status is not None and json.loads(status)["state"] != "running":
            break
        reply = r.xreadgroup("workers", consumer, {stream: ">"}, count=10, block=100)
        for _stream, entries in reply or []:
            # One troupe_finish call per stage, with every task of the read.
            by_stage = {}
            for entry_id, fields in entries:
                task_input = json.loads(fields["input"])
                try:
                    result = {"text": task_input["text"].upper(), "servedBy": "python"}
                    kind, payload = "ok", json.dumps(result)
                except Exception as error:  # the task fails; the worker goes on
                    kind, payload = "err", f"python worker: {error!r}"
                by_stage.setdefault(fields["stage"], []).extend(
                    [fields["index"], fields["attempt"], kind, payload, entry_id]
                )
                served += 1
            for stage, tasks in by_stage.items():
                recorded = r.fcall("troupe_v3_finish", 1, f"{base}:st:{stage}", base, prefix, run, stage, actor, *tasks)
                assert all(x in ("counted", "duplicate", "straggler") for x in recorded), recorded
    print(f"served {served}")


if __name__ == "__main__":
    main()
