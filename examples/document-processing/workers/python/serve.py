"""Serve the document example's eight actors from Python until SIGTERM or Ctrl-C.

    python serve.py [--redis URL] [--prefix P] [--concurrency N]

Defaults: `$TROUPE_REDIS` or redis://127.0.0.1:6379, `$TROUPE_REDIS_PREFIX` or `troupe`
(troupe's `--redis-prefix`), 16 tasks at once. Needs `pip install ./workers/python`.
Prints `ran N handed_back M` as it exits.
"""

import argparse
import logging
import os
import sys

from troupe_worker import Worker

from actors import ACTORS


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the document example's actors over troupe's Redis protocol.")
    parser.add_argument("--redis", default=os.environ.get("TROUPE_REDIS", "redis://127.0.0.1:6379"))
    parser.add_argument("--prefix", default=os.environ.get("TROUPE_REDIS_PREFIX", "troupe"))
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    worker = Worker(args.redis, actors=ACTORS, prefix=args.prefix, concurrency=args.concurrency)
    ran = worker.run_sync()
    print(f"ran {ran} handed_back {worker.handed_back}", flush=True)


if __name__ == "__main__":
    main()
