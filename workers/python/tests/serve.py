"""A worker process for the tests: `serve.py URL PREFIX CONCURRENCY VISIBILITY_MS`.

Its actors count every execution in Redis (`PREFIX:executions:<n>`), so the tests can
tell a task run twice from one counted twice:
- Upper upper-cases `input.text`, after sleeping `input.sleep` seconds (async);
- Slow is the same as a sync callable (it runs on the worker's thread pool);
- Boom raises `ValueError(input.message)`.
It logs to stderr and prints `ran N handed_back M` when it stops.
"""

import asyncio
import logging
import sys
import time

import redis

from troupe_worker import Worker

url, prefix, concurrency, visibility = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
counter = redis.Redis.from_url(url)


def count(n):
    """Count an execution, waiting out a Redis restart (the restart test's)."""
    for _ in range(300):
        try:
            counter.incr(f"{prefix}:executions:{n}")
            return
        except redis.ConnectionError:
            time.sleep(0.1)
    raise RuntimeError("Redis did not come back in 30 s")


async def upper(task):
    count(task["n"])
    await asyncio.sleep(task.get("sleep", 0))
    return {"text": task["text"].upper(), "n": task["n"]}


def slow(task):
    count(task["n"])
    time.sleep(task.get("sleep", 0))
    return {"text": task["text"].upper(), "n": task["n"]}


def boom(task):
    raise ValueError(task["message"])


logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
worker = Worker(url, actors={"Upper": upper, "Slow": slow, "Boom": boom}, prefix=prefix,
                concurrency=concurrency, visibility_timeout_ms=visibility)
ran = worker.run_sync()
print(f"ran {ran} handed_back {worker.handed_back}", flush=True)
