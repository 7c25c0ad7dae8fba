"""One Python worker process for the workers benchmark: serves `Pass` (returns its input).

`pass_worker.py URL PREFIX CONCURRENCY`; stops on SIGTERM and prints `ran N`.
"""

import sys

from troupe_worker import Worker


async def passthrough(task):
    return task


url, prefix, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3])
worker = Worker(url, actors={"Pass": passthrough}, prefix=prefix, concurrency=concurrency)
print(f"ran {worker.run_sync()}", flush=True)
