// One task from a delivery to its outcome: input no actor can be given fails the task (and
// says which field), deep input does not overflow the parser, and a result too deep to
// write fails the task instead of the worker.

import assert from "node:assert/strict";
import { test } from "node:test";
import { perform } from "../src/task.js";

/**
 * A delivery of task 0 of stage `s` on actor `A` whose `input` is `input`.
 * @param {string | null} input
 * @returns {import("../src/task.js").Delivery}
 */
function delivery(input) {
  const fields = new Map([["stage", "s"], ["index", "0"], ["attempt", "1"], ["input", input]]);
  return { stream: "P:{r}:q:A", entry: "1-0", run: "r", actor: "A", fields, raw: [], taken: 0 };
}

/** The events logged while `perform` ran. */
function logs() {
  /** @type {string[]} */
  const seen = [];
  const log = (/** @type {string} */ _level, /** @type {string} */ event, /** @type {Record<string, unknown>} */ fields) =>
    void seen.push(`${event} ${JSON.stringify(fields)}`);
  return { seen, log };
}

test("input that is not UTF-8 fails its task, naming the field", async () => {
  const { seen, log } = logs();
  const done = await perform(delivery(null), () => assert.fail("the actor must not run"), log);
  assert.deepEqual(done, {
    outcome: { stage: "s", index: "0", attempt: "1", kind: "err", payload: "task 0 of stage `s` (actor `A`): the task's input is not UTF-8 text" },
  });
  assert.match(seen.join("\n"), /task\.poison .*input not UTF-8/);
});

test("input nested a million deep reaches the actor: JSON.parse does not recurse", async () => {
  const depth = 1_000_000;
  let seen = 0;
  const done = await perform(delivery("[".repeat(depth) + "]".repeat(depth)), (input) => {
    for (let v = input; Array.isArray(v); v = v[0]) {
      seen += 1;
    }
    return seen;
  }, logs().log);
  assert.equal(seen, depth);
  assert.deepEqual(done, { outcome: { stage: "s", index: "0", attempt: "1", kind: "ok", payload: String(depth) } });
  const unclosed = await perform(delivery("[".repeat(100_000)), () => assert.fail("the actor must not run"), logs().log);
  assert.ok("outcome" in unclosed && unclosed.outcome.kind === "err", JSON.stringify(unclosed).slice(0, 200));
  assert.match(unclosed.outcome.payload, /the task's input is not JSON/);
});

test("a result too deep to write fails its task", async () => {
  const depth = 1_000_000;
  const done = await perform(delivery("[".repeat(depth) + "]".repeat(depth)), (input) => input, logs().log);
  assert.ok("outcome" in done && done.outcome.kind === "err", JSON.stringify(done).slice(0, 200));
  assert.match(done.outcome.payload, /returned a value that is not JSON: Maximum call stack size exceeded/);
});
