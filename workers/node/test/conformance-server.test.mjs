// The conformance server (conformance-server.mjs) serves what the shared spec says: Tally
// increments the wasm fixture's key and returns its count, Boom fails with the message,
// SIGTERM ends it with `ran N handed_back M` as the last line of stdout.

import assert from "node:assert/strict";
import { test } from "node:test";
import { Harness, stopped } from "./harness.mjs";

test("the conformance server serves Tally and Boom as the spec says", { timeout: 120_000 }, async (t) => {
  const h = await Harness.start(t, { actors: "Tally,Boom" });
  const ids = [7, "a", 0, "x y"];
  const tallied = await h.startRun("tally", "Tally", ids.map((id) => ({ id, ms: 50 })), { id: "$.item.id", ms: "$.item.ms" });
  const server = h.startWorker(2, 60_000, "conformance-server.mjs");
  const { code, out, err } = await tallied.finish();
  assert.equal(code, 0, err);
  assert.deepEqual(JSON.parse(out).work, ids.map((id) => ({ id, execution: 1 })));
  for (const id of ids) {
    const key = `${h.prefix}:state:actor:Tally:runs/${JSON.stringify(id)}`;
    assert.equal(await h.r.sendCommand(["GET", key]), "1", key);
  }
  assert.equal(await h.r.sendCommand(["GET", `${h.prefix}:state:actor:Tally:runs/"a"`]), "1");

  const failed = await h.startRun("boom", "Boom", [{ message: "first" }, { message: "second" }], { message: "$.item.message" });
  assert.notEqual((await failed.finish()).code, 0);
  const results = await h.results("boom");
  assert.ok(results.get(0).err.startsWith("first\n\nError: first\n"), results.get(0).err);
  assert.ok(results.get(1).err.startsWith("second\n\nError: second\n"), results.get(1).err);

  const { out: said } = await h.stop(server);
  assert.equal(said.split("\n").filter(Boolean).at(-1), "ran 6 handed_back 0");
  assert.deepEqual(stopped(said), { ran: 6, handedBack: 0 });
});
