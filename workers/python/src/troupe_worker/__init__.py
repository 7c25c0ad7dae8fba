"""Serve troupe actors from Python: a worker for troupe's Redis protocol (version 5).

    from troupe_worker import Worker
    Worker("redis://127.0.0.1:6379", actors={"Upper": lambda i: i["text"].upper()}).run_sync()
"""

from .worker import PROTOCOL_VERSION, ProtocolMismatch, Worker

__all__ = ["PROTOCOL_VERSION", "ProtocolMismatch", "Worker"]
