"""A worker for troupe's Redis protocol (version 5, docs/redis-protocol.md): it does what
`troupe worker` does for the actors it serves.

- It learns the running runs (`SMEMBERS P:runs`, `HGET P:{R}:run actors`, woken by
  `P:runs:events`) and reads, with one `XREADGROUP`, only the streams of its actors.
- It keeps up to `concurrency` tasks running and as many more buffered; before starting a
  delivery that waited in the buffer past half the visibility timeout it asks
  `troupe_v5_keep` whether it is still its own.
- Outcomes go to one reporter task, which sends one `FCALL troupe_v5_finish` per (run,
  stage, actor) for everything that piled up, in one pipelined round trip.
- Every third of the visibility timeout it resets the idle time of the deliveries it is
  running (`XCLAIM ... JUSTID`); every half it takes over deliveries other workers left
  idle past the timeout (`XAUTOCLAIM`): a worker that died has its tasks run again, and
  they are still counted once.
- On `stop()` (SIGTERM, SIGINT) it gives its buffered, unstarted deliveries back
  (`troupe_v5_handback`), lets the running ones end and records them.
- Once connected, every call is retried on a new connection for up to a minute, so a
  Redis restart (with persistence) loses nothing.

Why asyncio: a task that waits (an HTTP call) then holds no thread; sync actors run on a
thread pool of `concurrency` threads.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
import re
import signal
import socket
import threading
import time
import traceback
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Set, Tuple, TypeVar, Union

import redis.asyncio as aioredis
from redis.exceptions import BusyLoadingError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

#: The protocol version this package speaks: it calls the functions of `troupe_v5`.
PROTOCOL_VERSION = 5
GROUP = "workers"
#: How long a call is retried on new connections once the worker has connected.
RETRY_FOR_S = 60.0
#: The active runs are read again when an event says so, and at least this often.
REFRESH_S = 2.0
#: How many ended runs a worker remembers (to drop their buffered deliveries).
_ENDED_KEPT = 10_000

#: While busy, how often the worker looks whether a run started or ended.
LOOK_EVERY_S = 0.2
#: How long one blocking read waits at most (stop and the timers are looked at between).
BLOCK_MS = 100
#: How much of an error message and of its traceback a failed task records.
MESSAGE_CHARS = 2000
TRACEBACK_CHARS = 2000
#: How long a run that cannot be read (its run key not a hash, a stream without its
#: consumer group or of the wrong type) is left alone: meanwhile the other runs are served.
SET_ASIDE_S = 10.0
#: A task index or attempt as troupe writes it: ASCII digits without a leading zero, few
#: enough that the number `troupe_v5_finish` makes of it (a Lua double) is exact.
_COUNT = re.compile(r"0|[1-9][0-9]{0,14}")

#: An actor: takes the task's input (parsed JSON) and returns a JSON-able value, or an
#: awaitable of one.
Actor = Callable[[Any], Union[Any, Awaitable[Any]]]

log = logging.getLogger("troupe_worker")
T = TypeVar("T")
_RETRYABLE = (RedisConnectionError, RedisTimeoutError, BusyLoadingError, ConnectionError, OSError)


class ProtocolMismatch(RuntimeError):
    """The Redis does not have the function library of the protocol this package speaks."""


class _BadInput(Exception):
    """A task input no actor can be given: `reason` is logged, the message recorded."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def redact_url(url: str) -> str:
    """`url` without its password (in the user part or a `password=` query parameter), for
    messages: `redis://user:***@host:6379`."""
    try:
        parts = urllib.parse.urlsplit(url)
        has_password = parts.password is not None
    except ValueError:  # a port that is not a number, a bad IPv6 host
        return "(the given Redis URL)"
    redacted = url
    if has_password:
        userinfo = parts.netloc.rsplit("@", 1)[0]
        redacted = redacted.replace(f"{userinfo}@", f"{userinfo.split(':', 1)[0]}:***@", 1)
    return re.sub(r"([?&]password=)[^&#]*", r"\1***", redacted, flags=re.IGNORECASE)


def _is_utf8(text: str) -> bool:
    """Whether a value read from Redis was UTF-8: the client decodes with `surrogateescape`,
    which turns each byte that is not into a lone surrogate, and those do not encode."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _utf8_text(text: str) -> str:
    """`text` with what cannot be UTF-8 (lone surrogates, from bytes read from Redis or an
    actor's message) written as `\\udcff` escapes: a payload the reporter can always send."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _poison_reason(fields: Mapping[str, str]) -> Optional[str]:
    """Why an entry cannot be recorded, or None: `troupe_v5_finish` needs its `stage`, and
    its `index` and `attempt` as integers (troupe never writes such an entry)."""
    missing = [f for f in ("stage", "index", "attempt") if f not in fields]
    if missing:
        return f"missing {', '.join(missing)}"
    for name in ("stage", "index", "attempt"):
        value = fields[name]
        if not _is_utf8(value):
            return f"`{name}` is not UTF-8 text"
        if name != "stage" and not _COUNT.fullmatch(value):
            return f"`{name}` is {value[:40]!r}, not a number"
    return None


def _foreign_reason(fields: Mapping[str, str], delivery: "_Delivery") -> Optional[str]:
    """Why an entry is not one of its stream's tasks, or None. troupe writes `run` and
    `actor` from the stream it adds the entry to; an entry naming others was put there by
    something else, and run it could forge a real task's result (its `index`)."""
    for name, own in (("run", delivery.run), ("actor", delivery.actor)):
        if name in fields and fields[name] != own:
            return f"it names {name} {fields[name][:60]!r}, not its stream's {own[:60]!r}"
    return None


def _task_input(fields: Mapping[str, str]) -> Any:
    """The task's input, parsed; `_BadInput` when it is missing, not UTF-8 or not JSON."""
    if "input" not in fields:
        raise _BadInput("no input field", "the stream entry has no `input` field")
    text = fields["input"]
    if not _is_utf8(text):
        raise _BadInput("input not UTF-8", "the task's `input` field is not UTF-8 text")
    try:
        return json.loads(text)
    except RecursionError:
        # json's parser recurses per level: a hostile '[[[[...' must fail its task only.
        raise _BadInput("input nested too deeply",
                        "the task's input is nested too deeply to parse (Python's recursion limit)") from None
    except ValueError as error:
        raise _BadInput("input not JSON", f"the task's input is not JSON ({error}): {text[:200]!r}") from None


def _actor_names(listed: Optional[str]) -> List[str]:
    """The names in a run's `actors` field (a JSON list of strings); anything else is none."""
    if not listed:
        return []
    try:
        names = json.loads(listed)
    except (ValueError, RecursionError):
        return []
    return [a for a in names if isinstance(a, str)] if isinstance(names, list) else []


def _log(level: int, event: str, **fields: Any) -> None:
    """A structured log record: `event key=value ...` as the message, and the same as
    `record.event` and `record.troupe` (a dict) for a JSON formatter."""
    if log.isEnabledFor(level):
        text = " ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in fields.items())
        log.log(level, "%s %s", event, text, extra={"event": event, "troupe": fields})


@dataclass
class _Delivery:
    stream: str
    entry: str
    run: str
    actor: str
    fields: Dict[str, str]
    taken: float


@dataclass
class _Report:
    delivery: _Delivery
    stage: str
    index: str
    attempt: str
    kind: str
    payload: str


def failure_message(error: BaseException) -> str:
    """What a task that raised records: its message, then its traceback (both bounded)."""
    message = str(error) or type(error).__name__
    if len(message) > MESSAGE_CHARS:
        message = message[:MESSAGE_CHARS] + "..."
    trace = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    if len(trace) > TRACEBACK_CHARS:
        trace = "...\n" + trace[-TRACEBACK_CHARS:]
    return f"{message}\n\n{trace.rstrip()}"


class Worker:
    """Serves `actors` (name -> callable) of every running troupe run on `redis_url`."""

    #: The function library the Redis must have (set by every troupe process of the
    #: same protocol version when it connects).
    library = f"troupe_v{PROTOCOL_VERSION}"

    def __init__(
        self,
        redis_url: str,
        actors: Mapping[str, Actor],
        *,
        prefix: str = "troupe",
        concurrency: int = 16,
        visibility_timeout_ms: int = 60000,
        consumer: Optional[str] = None,
        handle_signals: bool = True,
    ) -> None:
        if not actors:
            raise ValueError("a Worker needs at least one actor (actors={'Name': callable})")
        for name, fn in actors.items():
            if not callable(fn):
                raise TypeError(f"actor `{name}` is not callable: {fn!r}")
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        if visibility_timeout_ms < 10:
            raise ValueError(f"visibility_timeout_ms must be at least 10, not {visibility_timeout_ms}")
        self.redis_url = redis_url
        self.actors: Dict[str, Actor] = dict(actors)
        self.prefix = prefix
        self.concurrency = concurrency
        self.visibility_ms = visibility_timeout_ms
        self.consumer = consumer or f"python-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.handle_signals = handle_signals
        #: Tasks run to a recorded outcome so far.
        self.ran = 0
        #: Deliveries given back on stop.
        self.handed_back = 0
        self._stop_requested = threading.Event()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._stopping: Optional[asyncio.Event] = None
        self._redis: Any = None
        self._runs: Dict[str, List[str]] = {}
        #: Runs that could not be read, until when (monotonic): not served meanwhile.
        self._set_aside: Dict[str, float] = {}
        #: Whether `P:runs:events` refused the last read (logged once, not at every look).
        self._events_refused = False
        #: Runs seen to end, newest last, so that deliveries of theirs still buffered are
        #: dropped rather than run. Bounded (`_ENDED_KEPT`): a long-lived worker sees
        #: runs without end, and a delivery is never buffered across that many run ends.
        self._ended: Dict[str, None] = {}
        self._running: Dict[str, Set[str]] = {}
        #: Every delivery this worker holds (buffered or running): a reclaim can return
        #: one of its own buffered deliveries, which must not be queued twice.
        self._held: Set[Tuple[str, str]] = set()
        self._busy = 0

    # -- public ------------------------------------------------------------------

    def stop(self) -> None:
        """Stop taking tasks: hand back the buffered ones, finish the running ones. Safe
        from any thread and from a signal handler."""
        self._stop_requested.set()
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None:
            try:
                loop.call_soon_threadsafe(stopping.set)
            except RuntimeError:  # the loop has closed: the worker has stopped already
                pass

    def run_sync(self) -> int:
        """Run until stopped, blocking (`asyncio.run` of `run`). Returns the tasks run."""
        return asyncio.run(self.run())

    async def run(self) -> int:
        """Run until stopped. Returns how many tasks this worker ran to a recorded outcome.

        Raises `ProtocolMismatch` when the Redis lacks the `troupe_v5` functions, and the
        connection error when the first connection fails (it is not retried)."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._stopping = asyncio.Event()
        if self._stop_requested.is_set():
            self._stopping.set()
        # Values read from Redis can be any bytes: `surrogateescape` decodes every reply
        # (a byte that is not UTF-8 becomes a lone surrogate, see `_is_utf8`) and encodes
        # such a string back to the same bytes, so a run id or a handed-back field keeps them.
        self._redis = aioredis.Redis.from_url(self.redis_url, decode_responses=True, encoding_errors="surrogateescape",
                                              socket_connect_timeout=5)
        signals: List[signal.Signals] = []
        executor = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="troupe-actor")
        try:
            await self._check_protocol()
            if self.handle_signals and threading.current_thread() is threading.main_thread():
                for sig in (signal.SIGTERM, signal.SIGINT):
                    try:
                        loop.add_signal_handler(sig, self.stop)
                        signals.append(sig)
                    except (NotImplementedError, RuntimeError):
                        pass
            _log(logging.INFO, "worker.started", consumer=self.consumer, actors=",".join(sorted(self.actors)),
                 prefix=self.prefix, concurrency=self.concurrency, visibility_timeout_ms=self.visibility_ms)
            await self._serve(executor)
        finally:
            for handled in signals:
                loop.remove_signal_handler(handled)
            executor.shutdown(wait=False)
            await self._redis.aclose()
            self._loop = None
        _log(logging.INFO, "worker.stopped", consumer=self.consumer, ran=self.ran, handed_back=self.handed_back)
        return self.ran

    # -- the pieces --------------------------------------------------------------

    async def _check_protocol(self) -> None:
        libraries = await self._redis.execute_command("FUNCTION", "LIST", "LIBRARYNAME", "troupe_v*")
        names = sorted(_library_name(lib) for lib in libraries or [])
        if self.library not in names:
            raise ProtocolMismatch(
                f"the Redis at {redact_url(self.redis_url)} has no function library `{self.library}`: this worker "
                f"speaks troupe's Redis protocol version {PROTOCOL_VERSION} and needs a troupe of that version to have "
                f"connected to this Redis (troupe run/worker --redis loads it); the Redis has "
                f"{', '.join(f'`{n}`' for n in names) or 'no troupe library'}"
            )

    async def _retry(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """`call`, again on a new connection while Redis is unreachable, for up to a minute."""
        deadline: Optional[float] = None
        while True:
            try:
                return await call()
            except _RETRYABLE as error:
                now = time.monotonic()
                if deadline is None:
                    deadline = now + RETRY_FOR_S
                    _log(logging.WARNING, "redis.unavailable", doing=what, error=str(error))
                if now >= deadline:
                    raise
                await asyncio.sleep(0.2)

    async def _serve(self, executor: ThreadPoolExecutor) -> None:
        assert self._stopping is not None
        reports: "asyncio.Queue[Optional[_Report]]" = asyncio.Queue()
        tasks: "asyncio.Queue[Optional[_Delivery]]" = asyncio.Queue()
        runners = [asyncio.create_task(self._runner(tasks, reports, executor)) for _ in range(self.concurrency)]
        reporter = asyncio.create_task(self._reporter(reports))
        heart = asyncio.create_task(self._heartbeat())
        try:
            await self._feed(tasks)
        finally:
            # Hand back what was taken and not started, then let the runners end theirs.
            unstarted: List[_Delivery] = []
            while not tasks.empty():
                item = tasks.get_nowait()
                if item is not None:
                    unstarted.append(item)
            try:
                await self._hand_back(unstarted)
            except Exception as error:  # noqa: BLE001 - they are reclaimed after the timeout
                _log(logging.ERROR, "handback.failed", error=str(error), deliveries=len(unstarted))
            for _ in runners:
                tasks.put_nowait(None)
            await asyncio.gather(*runners, return_exceptions=True)
            reports.put_nowait(None)
            await asyncio.gather(reporter, return_exceptions=True)
            heart.cancel()
            await asyncio.gather(heart, return_exceptions=True)

    async def _feed(self, tasks: "asyncio.Queue[Optional[_Delivery]]") -> None:
        """Read deliveries into `tasks` until stopped."""
        assert self._stopping is not None
        last_event = await self._retry("reading run events", self._last_event)
        refreshed = looked = claimed = 0.0
        claim_every = max(self.visibility_ms / 2000, 0.1)
        failing_since: Optional[float] = None
        while not self._stopping.is_set():
            try:
                now = time.monotonic()
                streams = [s for ss in self._runs.values() for s in ss]
                idle = not streams
                if idle or now - looked >= LOOK_EVERY_S:
                    looked = now
                    newer = await self._run_events(last_event, BLOCK_MS if idle else None)
                    if newer is not None:
                        last_event = newer
                        refreshed = 0.0
                if time.monotonic() - refreshed >= REFRESH_S:
                    refreshed = time.monotonic()
                    await self._refresh()
                    streams = [s for ss in self._runs.values() for s in ss]
                room = 2 * self.concurrency - self._busy - tasks.qsize()
                if streams and time.monotonic() - claimed >= claim_every:
                    claimed = time.monotonic()
                    for delivery in await self._reclaim(streams, max(room, 1)):
                        self._queue(tasks, delivery)
                    room = 2 * self.concurrency - self._busy - tasks.qsize()
                    streams = [s for ss in self._runs.values() for s in ss]  # less any set aside
                if not streams:
                    continue
                if room <= 0:
                    await asyncio.sleep(0.01)
                    continue
                for delivery in await self._read(streams, room):
                    self._queue(tasks, delivery)
                failing_since = None
            except _RETRYABLE as error:
                now = time.monotonic()
                if failing_since is None:
                    failing_since = now
                    _log(logging.WARNING, "redis.unavailable", doing="reading tasks", error=str(error))
                if now - failing_since >= RETRY_FOR_S:
                    raise
                await asyncio.sleep(0.2)
            except ResponseError as error:
                # One stream that cannot be read (its group or key deleted under us, a key of
                # the wrong type) fails the whole XREADGROUP: set its run aside, serve the rest.
                await self._set_aside_unreadable(error)
                await asyncio.sleep(0.1)

    def _queue(self, tasks: "asyncio.Queue[Optional[_Delivery]]", delivery: _Delivery) -> None:
        held = (delivery.stream, delivery.entry)
        if held not in self._held:
            self._held.add(held)
            tasks.put_nowait(delivery)

    async def _last_event(self) -> str:
        try:
            newest = await self._redis.xrevrange(f"{self.prefix}:runs:events", "+", "-", count=1)
        except ResponseError:  # not a stream: `_run_events` says so
            return "0-0"
        return newest[0][0] if newest else "0-0"

    async def _run_events(self, last: str, block_ms: Optional[int]) -> Optional[str]:
        """The id of the newest run event after `last`, or None (waits up to `block_ms`)."""
        key = f"{self.prefix}:runs:events"
        try:
            reply = await self._redis.xread({key: last}, count=100, block=block_ms)
        except ResponseError as error:
            # Not a stream (someone wrote over it): no events, then; the runs are still read
            # every REFRESH_S. Wait as a blocking read would, not to spin while idle.
            if not self._events_refused:
                _log(logging.WARNING, "events.unreadable", key=key, error=str(error))
            self._events_refused = True
            await asyncio.sleep((block_ms or 0) / 1000)
            return None
        self._events_refused = False
        newest = None
        for _stream, entries in reply or []:
            if entries:
                newest = entries[-1][0]
        return newest

    def _mark_ended(self, run: str) -> None:
        self._ended[run] = None
        while len(self._ended) > _ENDED_KEPT:
            del self._ended[next(iter(self._ended))]

    async def _refresh(self) -> None:
        """Learn the running runs and the streams of this worker's actors in them."""
        active = set(await self._redis.smembers(f"{self.prefix}:runs"))
        for run in list(self._runs):
            if run not in active:
                del self._runs[run]
                self._mark_ended(run)
        now = time.monotonic()
        for run, until in list(self._set_aside.items()):
            if run not in active:
                del self._set_aside[run]
                self._mark_ended(run)
            elif now >= until:
                del self._set_aside[run]
        for run in active:
            if run in self._runs or run in self._set_aside:
                continue
            try:
                listed = await self._redis.hget(self._base(run) + ":run", "actors")
            except ResponseError as error:  # not a hash (WRONGTYPE): the other runs are still served
                self._put_aside(run, "run.unreadable", str(error))
                continue
            streams = [f"{self._base(run)}:q:{a}" for a in dict.fromkeys(_actor_names(listed)) if a in self.actors]
            self._runs[run] = streams
            if streams:
                _log(logging.INFO, "run.serving", run=run, actors=",".join(s.rsplit(":q:", 1)[1] for s in streams))

    def _put_aside(self, run: str, event: str, why: str) -> None:
        """Stop serving `run` for SET_ASIDE_S: it cannot be read, and must not stall the others."""
        self._runs.pop(run, None)
        self._set_aside[run] = time.monotonic() + SET_ASIDE_S
        _log(logging.WARNING, event, run=run, error=why, retry_in_s=SET_ASIDE_S)

    async def _set_aside_unreadable(self, error: ResponseError) -> None:
        """After a refused XREADGROUP: find the streams that cannot be read, one by one, and
        set their runs aside. The error does not say which: WRONGTYPE names no key, and
        NOGROUP names it with its newlines made spaces."""
        broken = False
        for run, streams in list(self._runs.items()):
            for stream in streams:
                why = await self._unreadable(stream)
                if why is not None:
                    self._put_aside(run, "read.refused", why)
                    broken = True
                    break
        if not broken:  # not one stream's fault (out of memory, a replica): try again
            _log(logging.WARNING, "read.refused", error=str(error))

    async def _unreadable(self, stream: str) -> Optional[str]:
        """Why the group cannot read `stream` (gone, the wrong type, no group), or None."""
        try:
            groups = await self._redis.xinfo_groups(stream)
        except ResponseError as error:
            return str(error)
        if not any(isinstance(g, dict) and g.get("name") == GROUP for g in groups or []):
            return f"the stream has no consumer group `{GROUP}`"
        return None

    async def _read(self, streams: List[str], count: int) -> List[_Delivery]:
        reply = await self._redis.xreadgroup(
            GROUP, self.consumer, {s: ">" for s in streams}, count=count, block=BLOCK_MS
        )
        now = time.monotonic()
        return [self._delivery(stream, entry, fields, now) for stream, entries in reply or [] for entry, fields in entries]

    async def _reclaim(self, streams: List[str], count: int) -> List[_Delivery]:
        """Take over deliveries idle past the visibility timeout (their worker died)."""
        taken: List[_Delivery] = []
        now = time.monotonic()
        for stream in streams:
            try:
                reply = await self._redis.xautoclaim(
                    stream, GROUP, self.consumer, self.visibility_ms, start_id="0-0", count=count
                )
            except ResponseError as error:  # its group or key is gone: the other streams go on
                self._put_aside(self._run_of(stream), "read.refused", str(error))
                continue
            for entry, fields in reply[1]:
                if fields is None:
                    continue
                taken.append(self._delivery(stream, entry, fields, now))
            if reply[1]:
                _log(logging.INFO, "deliveries.reclaimed", stream=stream, count=len(reply[1]))
        return taken

    def _delivery(self, stream: str, entry: str, fields: Dict[str, str], now: float) -> _Delivery:
        actor = stream.rsplit(":q:", 1)[1]
        return _Delivery(stream=stream, entry=entry, run=self._run_of(stream), actor=actor, fields=dict(fields or {}),
                         taken=now)

    def _run_of(self, stream: str) -> str:
        """The run of a stream this worker built (`P:{R}:q:<actor>`; actor names have no `:`)."""
        base = stream.rsplit(":q:", 1)[0]
        return base[len(self.prefix) + 2 : -1]  # P:{R} -> R

    def _base(self, run: str) -> str:
        return f"{self.prefix}:{{{run}}}"

    async def _still_ours(self, delivery: _Delivery) -> bool:
        """Whether a delivery that waited in the buffer is still this worker's to run."""
        if time.monotonic() - delivery.taken < self.visibility_ms / 2000:
            return True
        try:
            kept = await self._retry(
                "keeping a buffered task",
                lambda: self._redis.fcall(f"{self.library}_keep", 1, delivery.stream, delivery.entry, self.consumer),
            )
        except Exception as error:  # noqa: BLE001 - cannot tell: run it, it is counted once
            _log(logging.WARNING, "keep.failed", error=str(error))
            return True
        return int(kept) == 1

    async def _runner(
        self,
        tasks: "asyncio.Queue[Optional[_Delivery]]",
        reports: "asyncio.Queue[Optional[_Report]]",
        executor: ThreadPoolExecutor,
    ) -> None:
        while True:
            delivery = await tasks.get()
            if delivery is None:
                return
            if delivery.run in self._ended:
                self._ended_delivery(delivery)
                continue  # the run ended (cancelled): its tasks are dropped, not run
            self._busy += 1
            try:
                if not await self._still_ours(delivery):
                    _log(logging.INFO, "task.taken_over", stream=delivery.stream, entry=delivery.entry)
                    self._ended_delivery(delivery)
                    continue
                self._running.setdefault(delivery.stream, set()).add(delivery.entry)
                report = await self._execute(delivery, executor)
                if report is None:
                    self._ended_delivery(delivery)
                else:
                    reports.put_nowait(report)
            except Exception as error:  # noqa: BLE001 - this runner must go on serving
                # Not the actor's failure (that is a report): a call that failed for a minute.
                # The delivery stays pending and is taken over after the visibility timeout.
                _log(logging.ERROR, "task.abandoned", stream=delivery.stream, entry=delivery.entry, error=str(error))
                self._ended_delivery(delivery)
            finally:
                self._busy -= 1

    async def _execute(self, delivery: _Delivery, executor: ThreadPoolExecutor) -> Optional[_Report]:
        """Run one delivery on its actor; its report, or None for an entry that cannot be
        recorded (acknowledged here so it is not read again)."""
        fields = delivery.fields
        foreign = _foreign_reason(fields, delivery)
        if foreign is not None:
            _log(logging.ERROR, "task.foreign", stream=delivery.stream, entry=delivery.entry,
                 reason=f"{foreign}; acknowledged and dropped, never run")
            await self._retry("dropping a foreign entry", lambda: self._redis.xack(delivery.stream, GROUP, delivery.entry))
            return None
        poison = _poison_reason(fields)
        if poison is not None:
            _log(logging.ERROR, "task.poison", stream=delivery.stream, entry=delivery.entry,
                 reason=f"cannot be recorded ({poison}); acknowledged and dropped")
            await self._retry("dropping a poison entry", lambda: self._redis.xack(delivery.stream, GROUP, delivery.entry))
            return None

        def report(kind: str, payload: str) -> _Report:
            if kind == "err":
                payload = _utf8_text(payload)
            return _Report(delivery, fields["stage"], fields["index"], fields["attempt"], kind, payload)

        where = f"task {fields['index']} of stage `{fields['stage']}` (actor `{delivery.actor}`)"
        try:
            value = _task_input(fields)
        except _BadInput as bad:
            _log(logging.ERROR, "task.poison", stream=delivery.stream, entry=delivery.entry, reason=bad.reason)
            return report("err", f"{where}: {bad}")
        actor = self.actors.get(delivery.actor)
        if actor is None:  # cannot happen: only its actors' streams are read
            return report("err", f"{where}: this worker has no actor `{delivery.actor}`")
        try:
            if inspect.iscoroutinefunction(actor):
                result = await actor(value)
            else:
                result = await asyncio.get_running_loop().run_in_executor(executor, actor, value)
                if inspect.isawaitable(result):
                    result = await result
        except Exception as error:  # noqa: BLE001 - the task fails, the worker goes on
            _log(logging.INFO, "task.failed", run=delivery.run, stage=fields["stage"], index=fields["index"],
                 actor=delivery.actor, error=str(error)[:200])
            return report("err", failure_message(error))
        try:
            payload = json.dumps(result, allow_nan=False)
        except (TypeError, ValueError, RecursionError) as error:
            return report("err", f"{where}: actor `{delivery.actor}` returned a value that is not JSON: {error}")
        return report("ok", payload)

    def _ended_delivery(self, delivery: _Delivery) -> None:
        """The delivery is no longer this worker's: stop holding it and its heartbeat."""
        self._held.discard((delivery.stream, delivery.entry))
        entries = self._running.get(delivery.stream)
        if entries is not None:
            entries.discard(delivery.entry)
            if not entries:
                del self._running[delivery.stream]

    async def _reporter(self, reports: "asyncio.Queue[Optional[_Report]]") -> None:
        """Send outcomes: everything that piled up, one `troupe_v5_finish` per (run,
        stage, actor), in one pipeline. Ends at the None sentinel, after sending."""
        done = False
        while not done:
            first = await reports.get()
            batch: List[_Report] = []
            item: Optional[_Report] = first
            while True:
                if item is None:
                    done = True
                else:
                    batch.append(item)
                if reports.empty() or len(batch) >= 512:
                    break
                item = reports.get_nowait()
            if batch:
                try:
                    await self._send(batch)
                except Exception as error:  # noqa: BLE001 - the deliveries stay pending: reclaimed, rerun
                    _log(logging.ERROR, "finish.failed", tasks=len(batch), error=str(error))
                for r in batch:
                    self._ended_delivery(r.delivery)

    async def _send(self, batch: List[_Report]) -> None:
        groups: Dict[Tuple[str, str, str], List[_Report]] = {}
        for r in batch:
            groups.setdefault((r.delivery.run, r.stage, r.delivery.actor), []).append(r)
        calls: List[Tuple[Tuple[str, str, str], List[Any]]] = []
        for (run, stage, actor), items in groups.items():
            base = self._base(run)
            args: List[Any] = [f"{self.library}_finish", 1, f"{base}:st:{stage}", base, self.prefix, run, stage, actor]
            for r in items:
                args += [r.index, r.attempt, r.kind, r.payload, r.delivery.entry]
            calls.append(((run, stage, actor), args))

        async def pipelined() -> List[Any]:
            pipe = self._redis.pipeline(transaction=False)
            for _, args in calls:
                pipe.execute_command("FCALL", *args)
            return list(await pipe.execute(raise_on_error=False))

        answers = await self._retry("recording outcomes", pipelined)
        for ((run, stage, actor), _args), answer in zip(calls, answers):
            items = groups[(run, stage, actor)]
            if isinstance(answer, Exception):
                _log(logging.ERROR, "finish.refused", run=run, stage=stage, actor=actor, tasks=len(items),
                     error=str(answer))
                continue
            words = list(answer)
            self.ran += len(items)
            if "ended" in words:
                self._mark_ended(run)
                self._runs.pop(run, None)
            odd = [w for w in words if w not in ("counted", "duplicate", "straggler", "review", "ended")]
            _log(logging.DEBUG, "tasks.finished", run=run, stage=stage, actor=actor, tasks=len(items),
                 answers=",".join(sorted(set(words))))
            if odd:
                _log(logging.WARNING, "finish.unexpected", run=run, stage=stage, actor=actor, answers=",".join(odd))

    async def _heartbeat(self) -> None:
        """Keep the running deliveries claimed, so a long task is not taken over."""
        every = max(self.visibility_ms / 3000, 0.05)
        while True:
            await asyncio.sleep(every)
            for stream, entries in list(self._running.items()):
                ids = list(entries)
                if not ids:
                    continue
                try:
                    await self._redis.execute_command("XCLAIM", stream, GROUP, self.consumer, 0, *ids, "JUSTID")
                except Exception as error:  # noqa: BLE001 - try again at the next beat
                    _log(logging.WARNING, "heartbeat.failed", stream=stream, error=str(error))

    async def _hand_back(self, deliveries: List[_Delivery]) -> None:
        """Give unstarted deliveries back to their streams at once (every field as read,
        `generation` included)."""
        for d in deliveries:
            self._ended_delivery(d)
            if d.run in self._ended:
                continue
            flat: List[str] = [x for kv in d.fields.items() for x in kv]
            try:
                given = await self._retry(
                    "handing back a task",
                    # Awaited within this iteration: `d` and `flat` are this delivery's.
                    lambda: self._redis.fcall(f"{self.library}_handback", 1, d.stream, d.entry, *flat),
                )
            except ResponseError as error:  # this stream's trouble: hand back the others
                _log(logging.ERROR, "handback.refused", stream=d.stream, entry=d.entry, error=str(error))
                continue
            self.handed_back += int(given) if isinstance(given, int) else 0
        if deliveries:
            _log(logging.INFO, "tasks.handed_back", count=self.handed_back)


def _library_name(library: Any) -> str:
    """The name in one `FUNCTION LIST` entry (a flat list or a dict, by RESP version)."""
    if isinstance(library, dict):
        return str(library.get("library_name", ""))
    items = list(library)
    for key, value in zip(items[::2], items[1::2]):
        if key == "library_name":
            return str(value)
    return ""
