// The conformance server of the Node worker package, for troupe's cross-implementation
// suite (tests/suite/worker_conformance/):
// `node conformance-server.mjs URL PREFIX CONCURRENCY VISIBILITY_MS`.
//
// It serves the conformance actors, which behave as the wasm fixtures `troupe worker`
// serves:
// - Tally counts each execution with `INCR PREFIX:state:actor:Tally:runs/<ID>` (`<ID>` is
//   `input.id` as JSON text: the key the wasm `Tally` fixture increments), then sleeps
//   `input.ms` milliseconds and returns `{"id": input.id, "execution": n}`;
// - Boom fails its task with `input.message`.
// It logs to stderr, stops on SIGTERM/SIGINT (unstarted tasks handed back, running ones
// finished) and prints `ran N handed_back M` on stdout as it exits. A Redis without the
// protocol's function library makes it exit with status 2 and the reason on stderr.

import { createClient } from "@redis/client";
import { setTimeout as sleep } from "node:timers/promises";
import { ProtocolMismatch, Worker } from "troupe-worker";

/** Long enough to wait out a Redis restart (the suite's restarts take about a second). */
const COUNT_RETRY_MS = 30_000;

const [url, prefix, concurrency, visibilityMs] = process.argv.slice(2);
if (visibilityMs === undefined) {
  process.stderr.write("usage: conformance-server.mjs URL PREFIX CONCURRENCY VISIBILITY_MS\n");
  process.exit(2);
}
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

/** @param {string} key */
async function increment(key) {
  const deadline = performance.now() + COUNT_RETRY_MS;
  for (;;) {
    try {
      return Number(await counter.sendCommand(["INCR", key]));
    } catch (error) {
      if (performance.now() > deadline) {
        throw error;
      }
      await sleep(100);
    }
  }
}

/** @param {{ id: unknown, ms?: number }} input */
async function tally(input) {
  // JSON.stringify writes the same compact text serde_json writes for the wasm fixture's key.
  const execution = await increment(`${prefix}:state:actor:Tally:runs/${JSON.stringify(input.id)}`);
  await sleep(input.ms ?? 0);
  return { id: input.id, execution };
}

/** @param {{ message: string }} input */
async function boom(input) {
  throw new Error(input.message);
}

const worker = new Worker({
  redis: url,
  actors: { Tally: tally, Boom: boom },
  prefix,
  concurrency: Number(concurrency),
  visibilityTimeoutMs: Number(visibilityMs),
});
let code = 0;
try {
  const ran = await worker.run();
  process.stdout.write(`ran ${ran} handed_back ${worker.handedBack}\n`);
} catch (error) {
  if (!(error instanceof ProtocolMismatch)) {
    throw error;
  }
  process.stderr.write(`conformance-server: refused: ${error.message}\n`);
  code = 2;
} finally {
  counter.destroy();
}
process.exitCode = code;
