"""troupe-worker against the real thing: a `troupe run --redis ... --concurrency 0`
process (TROUPE_BIN, default target/release/troupe) whose actors only these Python
workers serve, on the Redis at TROUPE_TEST_REDIS (default redis://127.0.0.1:6379), under a
key prefix of each test's own; compiled plugins are cached in TROUPE_CACHE_DIR (default
target/test-cache). Outcomes are read from the engine's own records (`P:{R}:res:<stage>`, the
stage hash's counters); the actors count their executions in Redis.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional
from urllib.parse import urlsplit, urlunsplit

import redis

from troupe_worker import ProtocolMismatch, Worker
from troupe_worker.worker import redact_url

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
TROUPE = Path(os.environ.get("TROUPE_BIN", ROOT / "target" / "release" / "troupe"))
URL = os.environ.get("TROUPE_TEST_REDIS", "redis://127.0.0.1:6379")
#: Where `troupe run` keeps compiled plugins between runs.
CACHE = Path(os.environ.get("TROUPE_CACHE_DIR", ROOT / "target" / "test-cache"))
STAGE = "work"

MANIFEST = """version = 1
plugins-dir = "{plugins}"

[executors.scatter]
component = "scatter.wasm"

# Served only by the Python workers of these tests: no troupe process serves them.
[actors.Upper]
external = true

[actors.Slow]
external = true

[actors.Boom]
external = true
"""


def wait_until(what: str, timeout: float, done: Any) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


class OwnRedis:
    """A redis-server of the test's own on a free port, persisting to an append-only file."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir()
        self.dir = directory
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}"
        self.server: Optional[subprocess.Popen] = None
        self.boot()

    def boot(self) -> None:
        server = shutil.which("redis-server")
        if server is None:
            raise unittest.SkipTest("redis-server is not installed")
        self.server = subprocess.Popen(
            [server, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
             "--dir", str(self.dir)], stdout=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)

        def answers() -> bool:
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                return False

        wait_until("redis-server to answer", 20, answers)

    def shut_down(self) -> None:
        """As an operator restarts one: SHUTDOWN writes the append-only file out."""
        try:
            redis.Redis.from_url(self.url).shutdown()
        except redis.ConnectionError:
            pass
        assert self.server is not None
        self.server.wait(20)

    def kill(self) -> None:
        if self.server is not None and self.server.poll() is None:
            self.server.kill()
            self.server.wait()


class WorkerTest(unittest.TestCase):
    def setUp(self) -> None:
        self.prefix = f"troupe-test-pyworker-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.url = URL
        self.r = redis.Redis.from_url(URL, decode_responses=True)
        self.cleanups: List[Any] = []
        self.dir = tempfile.TemporaryDirectory()
        self.manifest = Path(self.dir.name) / "troupe.toml"
        self.manifest.write_text(MANIFEST.format(plugins=ROOT / "target" / "plugins"))
        self.processes: List[subprocess.Popen] = []

    def tearDown(self) -> None:
        for p in self.processes:
            if p.poll() is None:
                p.kill()
            p.communicate()
        for key in self.r.scan_iter(f"{self.prefix}:*", count=1000):
            self.r.delete(key)
        for cleanup in self.cleanups:
            cleanup()
        self.dir.cleanup()

    # -- helpers -------------------------------------------------------------

    def start_run(self, run: str, actor: str, items: List[Dict[str, Any]], tolerated: int = 0) -> subprocess.Popen:
        stage: Dict[str, Any] = {
            "name": STAGE, "mode": "scatter", "actor": actor,
            "scatter": {"input": "$.trigger.items", "as": "item"},
            "input": {"text": "$.item.text", "n": "$.item.n", "sleep": "$.item.sleep", "message": "$.item.message"},
        }
        if tolerated:
            stage["executorConfig"] = {"toleratedFailures": tolerated}
        pipeline = {"name": "py", "stages": [stage]}
        p, t = Path(self.dir.name) / f"{run}.json", Path(self.dir.name) / f"{run}-input.json"
        p.write_text(json.dumps(pipeline))
        t.write_text(json.dumps({"items": items}))
        return self.spawn([
            str(TROUPE), "run", str(p), "--input", str(t), "--run-id", run, "--concurrency", "0", "--json",
            "--manifest", str(self.manifest), "--cache-dir", str(CACHE),
            "--redis", self.url, "--redis-prefix", self.prefix,
        ])

    def start_worker(self, concurrency: int, visibility_ms: int) -> subprocess.Popen:
        return self.spawn([sys.executable, str(HERE / "serve.py"), self.url, self.prefix, str(concurrency),
                           str(visibility_ms)])

    def spawn(self, argv: List[str]) -> subprocess.Popen:
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.processes.append(p)
        return p

    def finish(self, p: subprocess.Popen, timeout: float = 60) -> "tuple[int, str, str]":
        out, err = p.communicate(timeout=timeout)
        return p.returncode, out, err

    def stop(self, p: subprocess.Popen) -> str:
        return self.stop_with_logs(p)[0]

    def stop_with_logs(self, p: subprocess.Popen) -> "tuple[str, str]":
        p.send_signal(signal.SIGTERM)
        code, out, err = self.finish(p, 30)
        self.assertEqual(code, 0, f"the worker failed on SIGTERM:\n{err}")
        return out, err

    def executions(self, n: int) -> int:
        return int(self.r.get(f"{self.prefix}:executions:{n}") or 0)

    def total_executions(self, count: int) -> int:
        return sum(self.executions(n) for n in range(count))

    def results(self, run: str) -> Dict[int, Dict[str, Any]]:
        raw = self.r.hgetall(f"{self.prefix}:{{{run}}}:res:{STAGE}")
        return {int(k): json.loads(v) for k, v in raw.items()}

    def counters(self, run: str) -> Dict[Any, Any]:
        return self.r.hgetall(f"{self.prefix}:{{{run}}}:st:{STAGE}")

    def stream(self, run: str, actor: str) -> str:
        return f"{self.prefix}:{{{run}}}:q:{actor}"

    def pending(self, stream: str) -> int:
        return int(self.r.xpending(stream, "workers")["pending"])

    def items(self, count: int, sleep: float = 0.0) -> List[Dict[str, Any]]:
        return [{"text": f"word {n}", "n": n, "sleep": sleep, "message": f"boom {n}"} for n in range(count)]

    def assert_all_counted_once(self, run: str, out: str, count: int) -> None:
        context = json.loads(out)
        self.assertEqual(context[STAGE], [{"text": f"WORD {n}", "n": n} for n in range(count)])
        results = self.results(run)
        self.assertEqual(sorted(results), list(range(count)))
        self.assertTrue(all("ok" in r and r["actor"] for r in results.values()), results)
        counters = self.counters(run)
        self.assertEqual(int(counters["succeeded"]), count, counters)
        self.assertEqual(int(counters.get("failed", 0)), 0, counters)

    # -- tests ---------------------------------------------------------------

    def test_results_are_counted_once(self) -> None:
        run = "counted"
        orchestrator = self.start_run(run, "Upper", self.items(40))
        worker = self.start_worker(8, 60000)
        code, out, err = self.finish(orchestrator)
        self.assertEqual(code, 0, err)
        self.assert_all_counted_once(run, out, 40)
        self.assertEqual([self.executions(n) for n in range(40)], [1] * 40)
        self.assertIn("ran 40 ", self.stop(worker))

    def test_an_exception_is_a_failed_task_with_its_message(self) -> None:
        run = "boom"
        orchestrator = self.start_run(run, "Boom", self.items(3))
        worker = self.start_worker(4, 60000)
        code, _out, err = self.finish(orchestrator)
        self.assertNotEqual(code, 0, "a stage whose tasks all fail must fail the run")
        results = self.results(run)
        self.assertEqual(sorted(results), [0, 1, 2])
        for n, result in results.items():
            self.assertTrue(result["err"].startswith(f"boom {n}\n"), result)
            self.assertIn("Traceback (most recent call last)", result["err"])
            self.assertIn(f"ValueError: boom {n}", result["err"])
        self.assertEqual(int(self.counters(run)["failed"]), 3)
        self.stop(worker)

    def test_sigterm_hands_back_unstarted_tasks(self) -> None:
        run = "drain"
        count = 30
        orchestrator = self.start_run(run, "Slow", self.items(count, sleep=0.4))
        first = self.start_worker(2, 60000)
        wait_until("the first worker to start tasks", 60, lambda: self.total_executions(count) >= 2)
        out = self.stop(first)
        ran, handed_back = int(out.split()[1]), int(out.split()[3])
        self.assertGreaterEqual(ran, 2, out)
        self.assertGreaterEqual(handed_back, 1, f"its buffered tasks were handed back: {out}")
        pending = self.r.xpending(self.stream(run, "Slow"), "workers")
        self.assertEqual(pending["pending"], 0, f"nothing is left pending by the stopped worker: {pending}")
        # The second worker's visibility timeout (60 s) is longer than the test: it can
        # finish the run only from tasks handed back, not by reclaiming.
        second = self.start_worker(8, 60000)
        code, out, err = self.finish(orchestrator, 60)
        self.assertEqual(code, 0, err)
        self.assert_all_counted_once(run, out, count)
        self.assertEqual([self.executions(n) for n in range(count)], [1] * count, "no task ran twice")
        self.stop(second)

    def test_a_killed_workers_tasks_are_reclaimed(self) -> None:
        run = "reclaim"
        count = 24
        orchestrator = self.start_run(run, "Upper", self.items(count, sleep=0.5))
        first = self.start_worker(4, 1000)
        wait_until("the first worker to start tasks", 60, lambda: self.total_executions(count) >= 4)
        first.kill()  # SIGKILL: nothing handed back, its deliveries stay pending
        first.communicate()
        second = self.start_worker(8, 1000)
        code, out, err = self.finish(orchestrator, 60)
        self.assertEqual(code, 0, err)
        self.assert_all_counted_once(run, out, count)
        self.assertGreater(self.total_executions(count), count - 1)
        self.stop(second)

    def test_heartbeats_keep_a_long_task_from_being_taken_over(self) -> None:
        run = "long"
        count = 3
        # Each task runs twice the visibility timeout, and a second worker looks for idle
        # deliveries all along: only heartbeats keep it off the running ones, and
        # troupe_v5_keep off the ones it took from the other's buffer.
        orchestrator = self.start_run(run, "Slow", self.items(count, sleep=3.0))
        first = self.start_worker(1, 1500)
        wait_until("the first worker to start a task", 60, lambda: self.total_executions(count) >= 1)
        second = self.start_worker(1, 1500)
        code, out, err = self.finish(orchestrator, 60)
        self.assertEqual(code, 0, err)
        self.assert_all_counted_once(run, out, count)
        self.assertEqual([self.executions(n) for n in range(count)], [1] * count, "no task ran twice")
        self.stop(first)
        self.stop(second)

    def test_heartbeats_keep_running_tasks_from_an_idle_worker(self) -> None:
        run = "kept"
        count = 2
        # The first worker runs both tasks at once, each twice its visibility timeout; the
        # second has nothing to read, so without heartbeats it would take both over. Its
        # timeout is shorter (1 s) so that it, not the first worker's own reclaim (which
        # claims its deliveries idle past 1.5 s, resetting their idle time), is the first
        # to see them idle: heartbeats (every 0.5 s) must keep them below that.
        orchestrator = self.start_run(run, "Slow", self.items(count, sleep=3.0))
        first = self.start_worker(2, 1500)
        wait_until("the first worker to start both tasks", 60, lambda: self.total_executions(count) >= 2)
        second = self.start_worker(1, 1000)
        code, out, err = self.finish(orchestrator, 60)
        self.assertEqual(code, 0, err)
        self.assert_all_counted_once(run, out, count)
        self.assertEqual([self.executions(n) for n in range(count)], [1] * count, "no task ran twice")
        self.assertIn("ran 0 ", self.stop(second))
        self.assertIn(f"ran {count} ", self.stop(first))

    def test_a_cancelled_runs_tasks_are_dropped_not_run(self) -> None:
        run = "cancelled"
        count = 20
        # Two runners, each busy for 2 s, and two more deliveries buffered: the cancel lands
        # while both run, so no task may start after it (the buffered ones are dropped).
        orchestrator = self.start_run(run, "Slow", self.items(count, sleep=2.0))
        worker = self.start_worker(2, 60000)
        wait_until("the worker to start tasks", 60, lambda: self.total_executions(count) >= 2)
        cancel = subprocess.run([str(TROUPE), "cancel", run, "--redis", self.url, "--redis-prefix", self.prefix],
                                capture_output=True, text=True, timeout=30)
        self.assertEqual(cancel.returncode, 0, cancel.stderr)
        started = self.total_executions(count)
        self.assertEqual(started, 2, "both runners were busy when the run was cancelled")
        self.finish(orchestrator)
        time.sleep(2.5)  # the tasks in progress end; nothing buffered may start
        self.assertEqual(self.total_executions(count), started, "no task of the cancelled run started after it")
        time.sleep(1.0)
        self.assertEqual(self.total_executions(count), started, "no task of the cancelled run started after it")
        self.assertIsNone(worker.poll(), "the worker goes on serving")
        out = self.stop(worker)
        self.assertIn("handed_back 0", out, "a cancelled run's tasks are dropped, not handed back")

    def test_a_poison_entry_is_failed_not_fatal(self) -> None:
        run = "poison"
        orchestrator = self.start_run(run, "Slow", self.items(4, sleep=0.5))
        worker = self.start_worker(4, 60000)
        stream = self.stream(run, "Slow")
        wait_until("the run's stream", 60, lambda: self.r.exists(stream))
        # Input that is not JSON (for an index the stage does not have); entries missing
        # the fields a result needs, or holding ones troupe_v5_finish cannot take: an
        # attempt of digits that are not ASCII, one not in canonical form, an index past
        # what a Lua number holds exactly, a stage that is not UTF-8.
        task = {"run": run, "stage": STAGE, "attempt": "1", "actor": "Slow", "input": "{}"}
        self.r.xadd(stream, {**task, "index": "99", "input": "{not json"})
        self.r.xadd(stream, {"run": run, "input": "{}"})
        self.r.xadd(stream, {**task, "index": "98", "attempt": "\u00b2"})
        self.r.xadd(stream, {**task, "index": "97", "attempt": "01"})
        self.r.xadd(stream, {**task, "index": "1" * 16})
        self.r.xadd(stream, {**task, "index": "96", "stage": b"\xffst"})
        code, out, err = self.finish(orchestrator)
        self.assertEqual(code, 0, err)
        self.assert_all_counted_once(run, out, 4)
        wait_until("the poison entries to be acknowledged", 10,
                   lambda: self.r.xpending(stream, "workers")["pending"] == 0)
        self.assertIsNone(worker.poll(), "the worker is still serving")
        _out, logs = self.stop_with_logs(worker)
        self.assertIn("task.poison", logs)
        self.assertIn("input not JSON", logs)
        self.assertIn("missing stage, index, attempt", logs)
        self.assertIn("(`attempt` is '\u00b2', not a number)", logs)
        self.assertIn("(`attempt` is '01', not a number)", logs)
        self.assertIn(f"(`index` is '{'1' * 16}', not a number)", logs)
        self.assertIn("(`stage` is not UTF-8 text)", logs)

    def test_input_not_utf8_or_nested_too_deep_fails_its_task(self) -> None:
        run = "garbled"
        count = 6
        orchestrator = self.start_run(run, "Slow", self.items(count), tolerated=2)
        stream = self.stream(run, "Slow")
        wait_until("the run's tasks", 60, lambda: self.r.xlen(stream) == count)
        # Before any worker reads them, tasks 0 and 1 get inputs no actor can be given (and
        # task 2 a key that is not UTF-8, which only travels with the task).
        entries = {fields["index"]: (entry, fields) for entry, fields in self.r.xrange(stream)}
        raw = redis.Redis.from_url(self.url)
        for index, field, value in (("0", "input", b'{"text":"\xff"}'), ("1", "input", b"[" * 100000),
                                    ("2", "key", b'"\xfe"')):
            entry, fields = entries[index]
            self.r.xdel(stream, entry)
            raw.xadd(stream, {**fields, field: value})
        worker = self.start_worker(4, 60000)
        code, out, err = self.finish(orchestrator)
        self.assertEqual(code, 0, err)
        results = self.results(run)
        self.assertEqual(sorted(results), list(range(count)))
        self.assertIn("task 0 of stage `work` (actor `Slow`): the task's `input` field is not UTF-8 text",
                      results[0]["err"])
        self.assertIn("task 1 of stage `work` (actor `Slow`): the task's input is nested too deeply to parse",
                      results[1]["err"])
        self.assertEqual([r.get("ok") for n, r in sorted(results.items()) if n >= 2],
                         [{"text": f"WORD {n}", "n": n} for n in range(2, count)])
        self.assertEqual(int(self.counters(run)["failed"]), 2)
        self.assertEqual(self.pending(stream), 0)
        self.assertIsNone(worker.poll(), "the worker is still serving")
        _out, logs = self.stop_with_logs(worker)
        self.assertIn("reason='input not UTF-8'", logs)
        self.assertIn("reason='input nested too deeply'", logs)

    def test_broken_runs_beside_a_good_one_do_not_stop_it(self) -> None:
        # Listed as running: one whose run key is not a hash, one whose stream has no
        # group, one whose stream is not a stream (either fails any XREADGROUP naming it,
        # whatever other streams it names), one whose actors are not a list.
        runs = f"{self.prefix}:runs"
        self.r.sadd(runs, "not-a-hash", "no-group", "wrong-type", "odd-actors")
        self.r.set(f"{self.prefix}:{{not-a-hash}}:run", "x")
        for broken in ("no-group", "wrong-type"):
            self.r.hset(f"{self.prefix}:{{{broken}}}:run",
                        mapping={"actors": '["Upper"]', "status": '{"state":"running"}'})
        self.r.set(self.stream("wrong-type", "Upper"), "x")
        self.r.hset(f"{self.prefix}:{{odd-actors}}:run", mapping={"actors": "5"})
        # And one that breaks while served: its group is destroyed once the worker reads it.
        self.r.sadd(runs, "loses-group")
        self.r.hset(f"{self.prefix}:{{loses-group}}:run", mapping={"actors": '["Upper"]'})
        losing = self.stream("loses-group", "Upper")
        self.r.xgroup_create(losing, "workers", "0", mkstream=True)
        read = self.r.xadd(losing, {"run": "loses-group"})  # a poison entry: the worker reads and drops it
        worker = self.start_worker(4, 60000)
        wait_until("the worker to read the run", 30, lambda: self.r.xinfo_groups(losing)[0]["last-delivered-id"] == read)
        self.r.xgroup_destroy(losing, "workers")
        run = "good"
        orchestrator = self.start_run(run, "Upper", self.items(10))
        code, out, err = self.finish(orchestrator, 60)
        self.assertEqual(code, 0, err)
        self.assert_all_counted_once(run, out, 10)
        self.assertIsNone(worker.poll(), "the worker is still serving")
        _out, logs = self.stop_with_logs(worker)
        self.assertIn("run.unreadable run='not-a-hash'", logs)
        self.assertIn('read.refused run=\'no-group\' error="NOGROUP', logs)
        self.assertIn("read.refused run='wrong-type' error='WRONGTYPE", logs)
        self.assertIn("read.refused run='loses-group' error='the stream has no consumer group `workers`'", logs)

    def test_a_redis_restart_mid_run_loses_nothing(self) -> None:
        server = OwnRedis(Path(self.dir.name) / "redis")
        self.cleanups.append(server.kill)
        self.url = server.url
        self.r = redis.Redis.from_url(server.url, decode_responses=True)
        run = "restart"
        count = 20
        orchestrator = self.start_run(run, "Slow", self.items(count, sleep=0.3))
        worker = self.start_worker(2, 60000)
        wait_until("the worker to be under way", 60, lambda: self.total_executions(count) >= 4)
        before = len(self.results(run))
        server.shut_down()
        self.assertLess(before, count, "Redis goes down mid-run")
        time.sleep(0.5)
        server.boot()
        code, out, err = self.finish(orchestrator, 90)
        self.assertEqual(code, 0, err)
        self.assert_all_counted_once(run, out, count)
        self.assertTrue(all(self.executions(n) >= 1 for n in range(count)))
        self.assertIsNone(worker.poll(), "the worker reconnected and is still serving")
        _out, logs = self.stop_with_logs(worker)
        self.assertIn("redis.unavailable", logs)

    def test_a_redis_without_the_protocol_library_is_refused(self) -> None:
        class Future(Worker):
            library = "troupe_v999"

        with self.assertRaises(ProtocolMismatch) as raised:
            Future(URL, actors={"Upper": str.upper}, prefix=self.prefix, handle_signals=False).run_sync()
        message = str(raised.exception)
        self.assertIn("`troupe_v999`", message)
        self.assertIn("protocol version", message)

    def test_the_redis_password_is_never_shown(self) -> None:
        class Future(Worker):
            library = "troupe_v999"

        # A password the Redis takes (its `default` user has none, and then takes any).
        parts = urlsplit(URL)
        secret = parts.password or "s3cret-pw"
        url = URL if parts.password else urlunsplit(parts._replace(netloc=f"default:{secret}@{parts.netloc}"))
        with self.assertRaises(ProtocolMismatch) as raised:
            Future(url, actors={"Upper": str.upper}, prefix=self.prefix, handle_signals=False).run_sync()
        self.assertNotIn(secret, str(raised.exception))
        self.assertIn(":***@", str(raised.exception))
        for given, shown in (
            ("redis://user:pw@host:6379/0", "redis://user:***@host:6379/0"),
            ("redis://:pw@host", "redis://:***@host"),
            ("rediss://user:p%40ss:w@host?db=1&password=pw", "rediss://user:***@host?db=1&password=***"),
            ("unix:///run/redis.sock?password=pw", "unix:///run/redis.sock?password=***"),
            ("redis://host:6379", "redis://host:6379"),
            ("redis://[::1", "(the given Redis URL)"),
        ):
            self.assertEqual(redact_url(given), shown)


if __name__ == "__main__":
    unittest.main()
