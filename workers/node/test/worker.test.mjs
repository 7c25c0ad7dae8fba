// troupe-worker against the real thing (see harness.mjs): a `troupe run --redis ...
// --concurrency 0` process whose actors only these Node workers serve. Outcomes are read
// from the engine's own records (`P:{R}:res:<stage>`, the stage hash's counters); the
// actors count their executions in Redis. The same cases as workers/python's tests.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { ProtocolMismatch, Worker } from "troupe-worker";
import { Harness, items, OwnRedis, STAGE, stopped, TROUPE, URL, waitUntil } from "./harness.mjs";

const LONG = { timeout: 180_000 };

/**
 * Every task's result recorded once, in order, and the run's output is theirs.
 * @param {Harness} h @param {string} run @param {string} out @param {number} count
 */
async function assertAllCountedOnce(h, run, out, count) {
  const context = JSON.parse(out);
  assert.deepEqual(
    context[STAGE],
    Array.from({ length: count }, (_, n) => ({ text: `WORD ${n}`, n })),
  );
  const results = await h.results(run);
  assert.deepEqual([...results.keys()].sort((a, b) => a - b), Array.from({ length: count }, (_, n) => n));
  for (const r of results.values()) {
    assert.ok("ok" in r && r.actor, JSON.stringify(r));
  }
  const counters = await h.counters(run);
  assert.equal(Number(counters.succeeded), count, JSON.stringify(counters));
  assert.equal(Number(counters.failed ?? 0), 0, JSON.stringify(counters));
}

test("results are counted once", LONG, async (t) => {
  const h = await Harness.start(t);
  const run = "counted";
  const orchestrator = await h.startRun(run, "Upper", items(40));
  const worker = h.startWorker(8, 60_000);
  const { code, out, err } = await orchestrator.finish();
  assert.equal(code, 0, err);
  await assertAllCountedOnce(h, run, out, 40);
  assert.deepEqual(await h.executionsEach(40), Array(40).fill(1));
  assert.equal(stopped((await h.stop(worker)).out).ran, 40);
});

test("an exception is a failed task with its message and stack", LONG, async (t) => {
  const h = await Harness.start(t);
  const run = "boom";
  const orchestrator = await h.startRun(run, "Boom", items(3));
  const worker = h.startWorker(4, 60_000);
  const { code } = await orchestrator.finish();
  assert.notEqual(code, 0, "a stage whose tasks all fail must fail the run");
  const results = await h.results(run);
  assert.deepEqual([...results.keys()].sort(), [0, 1, 2]);
  for (const [n, result] of results) {
    assert.ok(result.err.startsWith(`boom ${n}\n\n`), JSON.stringify(result));
    assert.ok(result.err.includes(`TypeError: boom ${n}\n    at boom (`), JSON.stringify(result));
    assert.ok(result.err.includes("serve.mjs:"), "the stack names the actor's file");
  }
  assert.equal(Number((await h.counters(run)).failed), 3);
  await h.stop(worker);
});

test("SIGTERM hands back unstarted tasks", LONG, async (t) => {
  const h = await Harness.start(t);
  const run = "drain";
  const count = 30;
  const orchestrator = await h.startRun(run, "Slow", items(count, 0.4));
  const first = h.startWorker(2, 60_000);
  await waitUntil("the first worker to start tasks", 60_000, async () => (await h.totalExecutions(count)) >= 2);
  const { ran, handedBack } = stopped((await h.stop(first)).out);
  assert.ok(ran >= 2, `ran ${ran}`);
  assert.ok(handedBack >= 1, `its buffered tasks were handed back: ${handedBack}`);
  assert.equal(await h.pending(h.stream(run, "Slow")), 0, "nothing is left pending by the stopped worker");
  // The second worker's visibility timeout (60 s) is longer than the test: it can finish
  // the run only from tasks handed back, not by reclaiming.
  const second = h.startWorker(8, 60_000);
  const { code, out, err } = await orchestrator.finish(60_000);
  assert.equal(code, 0, err);
  await assertAllCountedOnce(h, run, out, count);
  assert.deepEqual(await h.executionsEach(count), Array(count).fill(1), "no task ran twice");
  await h.stop(second);
});

test("SIGINT stops a worker as SIGTERM does", LONG, async (t) => {
  const h = await Harness.start(t);
  const worker = h.startWorker(2, 60_000);
  await waitUntil("the worker to start", 30_000, () => worker.err.includes("worker.started"));
  worker.child.kill("SIGINT");
  const { code, out, err } = await worker.finish(30_000);
  assert.equal(code, 0, err);
  assert.deepEqual(stopped(out), { ran: 0, handedBack: 0 });
  assert.match(err, /worker\.stopped/);
});

test("a killed worker's tasks are reclaimed", LONG, async (t) => {
  const h = await Harness.start(t);
  const run = "reclaim";
  const count = 24;
  const orchestrator = await h.startRun(run, "Upper", items(count, 0.5));
  const first = h.startWorker(4, 1000);
  await waitUntil("the first worker to start tasks", 60_000, async () => (await h.totalExecutions(count)) >= 4);
  first.kill(); // SIGKILL: nothing handed back, its deliveries stay pending
  await first.exited;
  const second = h.startWorker(8, 1000);
  const { code, out, err } = await orchestrator.finish(60_000);
  assert.equal(code, 0, err);
  await assertAllCountedOnce(h, run, out, count);
  assert.ok((await h.totalExecutions(count)) > count - 1);
  await h.stop(second);
});

test("heartbeats keep a long task from being taken over", LONG, async (t) => {
  const h = await Harness.start(t);
  const run = "long";
  const count = 3;
  // Each task runs twice the visibility timeout, and a second worker looks for idle
  // deliveries all along: only heartbeats keep it off the running ones, and
  // troupe_v5_keep off the ones it took from the other's buffer.
  const orchestrator = await h.startRun(run, "Slow", items(count, 3.0));
  const first = h.startWorker(1, 1500);
  await waitUntil("the first worker to start a task", 60_000, async () => (await h.totalExecutions(count)) >= 1);
  const second = h.startWorker(1, 1500);
  const { code, out, err } = await orchestrator.finish(60_000);
  assert.equal(code, 0, err);
  await assertAllCountedOnce(h, run, out, count);
  assert.deepEqual(await h.executionsEach(count), Array(count).fill(1), "no task ran twice");
  await h.stop(first);
  await h.stop(second);
});

test("heartbeats keep running tasks from an idle worker", LONG, async (t) => {
  const h = await Harness.start(t);
  const run = "kept";
  const count = 2;
  // The first worker runs both tasks at once, each twice its visibility timeout; the
  // second has nothing to read, so without heartbeats it would take both over. Its
  // timeout is shorter (1 s) so that it, not the first worker's own reclaim (which claims
  // its deliveries idle past 1.5 s, resetting their idle time), is the first to see them
  // idle: heartbeats (every 0.5 s) must keep them below that.
  const orchestrator = await h.startRun(run, "Slow", items(count, 3.0));
  const first = h.startWorker(2, 1500);
  await waitUntil("the first worker to start both tasks", 60_000, async () => (await h.totalExecutions(count)) >= 2);
  const second = h.startWorker(1, 1000);
  const { code, out, err } = await orchestrator.finish(60_000);
  assert.equal(code, 0, err);
  await assertAllCountedOnce(h, run, out, count);
  assert.deepEqual(await h.executionsEach(count), Array(count).fill(1), "no task ran twice");
  assert.equal(stopped((await h.stop(second)).out).ran, 0);
  assert.equal(stopped((await h.stop(first)).out).ran, count);
});

test("a delivery reclaimed from the worker's own buffer runs once", LONG, async (t) => {
  const h = await Harness.start(t);
  const run = "own";
  const count = 3;
  // Two tasks run, the third waits in the buffer past the visibility timeout, so the
  // worker's own XAUTOCLAIM returns it (again at every reclaim). Both runners come free
  // together: were it queued twice, both would take it, and troupe_v5_keep says yes to both.
  const orchestrator = await h.startRun(run, "Slow", items(count, 2.5));
  const worker = h.startWorker(2, 1000);
  const { code, out, err } = await orchestrator.finish(60_000);
  assert.equal(code, 0, err);
  await assertAllCountedOnce(h, run, out, count);
  assert.deepEqual(await h.executionsEach(count), Array(count).fill(1), "no task ran twice");
  const { err: logs } = await h.stop(worker);
  assert.match(logs, /deliveries\.reclaimed/, "the worker did reclaim its own buffered delivery");
});

test("a cancelled run's tasks are dropped, not run", LONG, async (t) => {
  const h = await Harness.start(t);
  const run = "cancelled";
  const count = 20;
  // Two runners, each busy for 2 s, and two more deliveries buffered: the cancel lands
  // while both run, so no task may start after it.
  const orchestrator = await h.startRun(run, "Slow", items(count, 2.0));
  const worker = h.startWorker(2, 60_000);
  await waitUntil("the worker to start tasks", 60_000, async () => (await h.totalExecutions(count)) >= 2);
  const cancel = spawnSync(TROUPE, ["cancel", run, "--redis", h.url, "--redis-prefix", h.prefix], {
    encoding: "utf8",
    timeout: 30_000,
  });
  assert.equal(cancel.status, 0, cancel.stderr);
  const started = await h.totalExecutions(count);
  assert.equal(started, 2, "both runners were busy when the run was cancelled");
  await orchestrator.finish();
  await sleep(2500); // the tasks in progress end; nothing buffered may start
  assert.equal(await h.totalExecutions(count), started, "no task of the cancelled run started after it");
  await sleep(1000);
  assert.equal(await h.totalExecutions(count), started, "no task of the cancelled run started after it");
  assert.ok(worker.running, "the worker goes on serving");
  const { out } = await h.stop(worker);
  assert.equal(stopped(out).handedBack, 0, "a cancelled run's tasks are dropped, not handed back");
});

test("a poison entry is failed, not fatal", LONG, async (t) => {
  const h = await Harness.start(t);
  const run = "poison";
  const orchestrator = await h.startRun(run, "Slow", items(4, 0.5));
  const worker = h.startWorker(4, 60_000);
  const stream = h.stream(run, "Slow");
  await waitUntil("the run's stream", 60_000, async () => (await h.r.sendCommand(["EXISTS", stream])) === 1);
  const task = ["run", run, "stage", STAGE, "attempt", "1", "actor", "Slow"];
  // Input that is not JSON and input that is not UTF-8 (for indices the stage does not
  // have), an entry missing the fields a result needs, and one whose attempt is not a
  // number a result record can hold.
  await h.r.sendCommand(["XADD", stream, "*", ...task, "index", "99", "input", "{not json"]);
  await h.r.sendCommand(["XADD", stream, "*", ...task, "index", "98", "input", Buffer.from([0x7b, 0xff, 0x7d])]);
  await h.r.sendCommand(["XADD", stream, "*", "run", run, "input", "{}"]);
  await h.r.sendCommand(["XADD", stream, "*", "run", run, "stage", STAGE, "index", "97", "attempt", "01", "input", "{}"]);
  const { code, out, err } = await orchestrator.finish();
  assert.equal(code, 0, err);
  await assertAllCountedOnce(h, run, out, 4);
  await waitUntil("the poison entries to be acknowledged", 10_000, async () => (await h.pending(stream)) === 0);
  assert.ok(worker.running, "the worker is still serving");
  const { err: logs } = await h.stop(worker);
  assert.match(logs, /task\.poison/);
  assert.match(logs, /input not JSON/);
  assert.match(logs, /input not UTF-8/);
  assert.match(logs, /missing stage, index, attempt/);
  assert.match(logs, /`attempt` is \\"01\\", not a number/);
});

test("broken runs beside a good one do not stop it", LONG, async (t) => {
  const h = await Harness.start(t);
  // Listed as running: one whose run key is not a hash; streams that fail any XREADGROUP
  // naming them, whatever other streams it names: one with no group, one that is not a
  // stream (WRONGTYPE names no key), one whose run id has a newline (Redis makes it a
  // space in the NOGROUP error, which then names no stream served).
  const runs = `${h.prefix}:runs`;
  await h.r.sendCommand(["SADD", runs, "not-a-hash", "no-group", "wrong-type", "new\nline"]);
  await h.r.sendCommand(["SET", `${h.prefix}:{not-a-hash}:run`, "x"]);
  for (const broken of ["no-group", "wrong-type", "new\nline"]) {
    await h.r.sendCommand(["HSET", `${h.prefix}:{${broken}}:run`, "actors", '["Upper"]', "status", '{"state":"running"}']);
  }
  await h.r.sendCommand(["SET", h.stream("wrong-type", "Upper"), "x"]);
  // And one that breaks while served: its group is destroyed once the worker reads it.
  const losing = h.stream("loses-group", "Upper");
  await h.r.sendCommand(["SADD", runs, "loses-group"]);
  await h.r.sendCommand(["HSET", `${h.prefix}:{loses-group}:run`, "actors", '["Upper"]']);
  await h.r.sendCommand(["XGROUP", "CREATE", losing, "workers", "0", "MKSTREAM"]);
  // A poison entry, which the worker reads and drops: once read, the worker serves the run.
  const read = await h.r.sendCommand(["XADD", losing, "*", "run", "loses-group"]);
  const worker = h.startWorker(4, 60_000);
  await waitUntil("the worker to read the run", 30_000, async () => {
    const [group] = /** @type {unknown[][]} */ (await h.r.sendCommand(["XINFO", "GROUPS", losing]));
    return group[group.indexOf("last-delivered-id") + 1] === read;
  });
  await h.r.sendCommand(["XGROUP", "DESTROY", losing, "workers"]);
  const run = "good";
  const orchestrator = await h.startRun(run, "Upper", items(10));
  const { code, out, err } = await orchestrator.finish(60_000);
  assert.equal(code, 0, err);
  await assertAllCountedOnce(h, run, out, 10);
  assert.ok(worker.running, "the worker is still serving");
  const { err: logs } = await h.stop(worker);
  assert.match(logs, /run\.unreadable run="not-a-hash"/);
  assert.match(logs, /read\.refused error="NOGROUP[^\n]*run="no-group"/);
  assert.match(logs, /read\.refused error="WRONGTYPE[^\n]*run="wrong-type"/);
  assert.match(logs, /read\.refused error="NOGROUP[^\n]*run="new\\nline"/);
  assert.match(logs, /read\.refused error="the stream has no consumer group `workers`" run="loses-group"/);
});

test("a Redis restart mid-run loses nothing", LONG, async (t) => {
  const h = await Harness.start(t);
  const server = await OwnRedis.start(join(h.dir, "redis"));
  h.cleanups.push(() => server.kill());
  await h.useRedis(server.url);
  const run = "restart";
  const count = 20;
  const orchestrator = await h.startRun(run, "Slow", items(count, 0.3));
  const worker = h.startWorker(2, 60_000);
  await waitUntil("the worker to be under way", 60_000, async () => (await h.totalExecutions(count)) >= 4);
  const before = (await h.results(run)).size;
  h.r.destroy();
  await server.shutDown();
  assert.ok(before < count, "Redis goes down mid-run");
  await sleep(500);
  await server.boot();
  await h.useRedis(server.url);
  const { code, out, err } = await orchestrator.finish(90_000);
  assert.equal(code, 0, err);
  await assertAllCountedOnce(h, run, out, count);
  assert.ok((await h.executionsEach(count)).every((e) => e >= 1));
  assert.ok(worker.running, "the worker reconnected and is still serving");
  const { err: logs } = await h.stop(worker);
  assert.match(logs, /redis\.unavailable/);
});

test("a Redis without the protocol library is refused", async () => {
  class Future extends Worker {
    get library() {
      return "troupe_v999";
    }
  }
  const worker = new Future({ redis: URL, actors: { Upper: (s) => s }, handleSignals: false, logger: () => {} });
  await assert.rejects(worker.run(), (error) => {
    assert.ok(error instanceof ProtocolMismatch);
    assert.match(error.message, /`troupe_v999`/);
    assert.match(error.message, /protocol version 5/);
    assert.equal(error.needed, "troupe_v999");
    return true;
  });
});
