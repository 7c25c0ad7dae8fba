"""The conformance server of the Python worker package, for troupe's cross-implementation
suite (`tests/suite/worker_conformance/`): `conformance_server.py URL PREFIX CONCURRENCY
VISIBILITY_MS`.

It serves the conformance actors, which behave as the wasm fixtures `troupe worker` serves:
- Tally counts each execution with `INCR PREFIX:state:actor:Tally:runs/<ID>` (`<ID>` is
  `input.id` as JSON text: the key the wasm `Tally` fixture increments), then sleeps
  `input.ms` milliseconds and returns `{"id": input.id, "execution": n}`;
- Boom fails its task with `input.message`.
It logs to stderr, stops on SIGTERM/SIGINT (unstarted tasks handed back, running ones
finished) and prints `ran N handed_back M` on stdout as it exits. A Redis without the
protocol's function library makes it exit with status 2 and the reason on stderr.
"""

import json
import logging
import sys
import time
from typing import Any, Dict

import redis

from troupe_worker import ProtocolMismatch, Worker

# Long enough to wait out a Redis restart (the suite's restarts take about a second).
COUNT_RETRY_S = 30.0


def main() -> int:
    url, prefix = sys.argv[1], sys.argv[2]
    concurrency, visibility_ms = int(sys.argv[3]), int(sys.argv[4])
    counter = redis.Redis.from_url(url)

    def tally(task: Dict[str, Any]) -> Dict[str, Any]:
        # Compact separators: the same JSON text serde_json writes for the wasm fixture's key.
        key = f"{prefix}:state:actor:Tally:runs/{json.dumps(task['id'], separators=(',', ':'))}"
        deadline = time.monotonic() + COUNT_RETRY_S
        while True:
            try:
                execution = int(counter.incr(key))
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        time.sleep(task.get("ms", 0) / 1000)
        return {"id": task["id"], "execution": execution}

    def boom(task: Dict[str, Any]) -> Any:
        raise RuntimeError(task["message"])

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    worker = Worker(url, actors={"Tally": tally, "Boom": boom}, prefix=prefix, concurrency=concurrency,
                    visibility_timeout_ms=visibility_ms)
    try:
        ran = worker.run_sync()
    except ProtocolMismatch as refused:
        print(f"conformance_server: refused: {refused}", file=sys.stderr, flush=True)
        return 2
    print(f"ran {ran} handed_back {worker.handed_back}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
