// A worker process for the tests: `serve.mjs URL PREFIX CONCURRENCY VISIBILITY_MS`.
//
// Its actors count every execution in Redis (`PREFIX:executions:<n>`), so the tests can
// tell a task run twice from one counted twice:
// - Upper upper-cases `input.text` after sleeping `input.sleep` seconds (an async function);
// - Slow does the same as a plain function returning a promise;
// - Boom throws `TypeError(input.message)` synchronously.
// It logs to stderr (the default logger) and prints `ran N handed_back M` when it stops.

import { createClient } from "@redis/client";
import { setTimeout as sleep } from "node:timers/promises";
import { Worker } from "troupe-worker";

const [url, prefix, concurrency, visibility] = process.argv.slice(2);
const counter = createClient({
  url,
  RESP: 2,
  disableOfflineQueue: true,
  // Reconnects once connected (the restart cases), fails at once before.
  socket: { reconnectStrategy: () => (connected ? 100 : false) },
});
let connected = false;
counter.on("error", () => {});
await counter.connect();
connected = true;

/** Count an execution, waiting out a Redis restart (the restart test's). @param {number} n */
async function count(n) {
  for (let i = 0; i < 300; i++) {
    try {
      await counter.sendCommand(["INCR", `${prefix}:executions:${n}`]);
      return;
    } catch {
      await sleep(100);
    }
  }
  throw new Error("Redis did not come back in 30 s");
}

/** @param {{ text: string, n: number, sleep?: number }} task */
async function upper(task) {
  await count(task.n);
  await sleep((task.sleep ?? 0) * 1000);
  return { text: task.text.toUpperCase(), n: task.n };
}

/** @param {{ text: string, n: number, sleep?: number }} task */
function slow(task) {
  return count(task.n)
    .then(() => sleep((task.sleep ?? 0) * 1000))
    .then(() => ({ text: task.text.toUpperCase(), n: task.n }));
}

/** @param {{ message: string }} task */
function boom(task) {
  throw new TypeError(task.message);
}

const worker = new Worker({
  redis: url,
  actors: { Upper: upper, Slow: slow, Boom: boom },
  prefix,
  concurrency: Number(concurrency),
  visibilityTimeoutMs: Number(visibility),
});
const ran = await worker.run();
counter.destroy();
console.log(`ran ${ran} handed_back ${worker.handedBack}`);
