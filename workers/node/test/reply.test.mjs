// Values read from Redis are checked before use: replies of another shape read as empty,
// entries that cannot make a task are told apart from tasks.

import assert from "node:assert/strict";
import { test } from "node:test";
import { actorNames, claimReply, groupNames, libraryNames, streamReply, taskFields } from "../src/reply.js";

const b = (/** @type {string} */ s) => Buffer.from(s);

test("a task needs stage, index and attempt, the numbers canonical", () => {
  const fields = (/** @type {Record<string, string | null>} */ o) => new Map(Object.entries(o));
  assert.deepEqual(taskFields(fields({ stage: "s", index: "3", attempt: "1" })), { stage: "s", index: "3", attempt: "1" });
  assert.deepEqual(taskFields(fields({ input: "{}" })), { poison: "missing stage, index, attempt" });
  assert.deepEqual(taskFields(fields({ stage: "s", index: "3" })), { poison: "missing attempt" });
  for (const bad of ["01", "-1", "1.0", "1e3", " 1", "١", "²", "9999999999999999"]) {
    const checked = taskFields(fields({ stage: "s", index: "0", attempt: bad }));
    assert.ok("poison" in checked && checked.poison.includes("not a number"), `${bad}: ${JSON.stringify(checked)}`);
  }
  assert.deepEqual(taskFields(fields({ stage: null, index: "0", attempt: "1" })), { poison: "`stage` is not UTF-8 text" });
});

test("stream entries keep their bytes and decode strictly", () => {
  const reply = [[b("P:{r}:q:A"), [[b("1-0"), [b("input"), Buffer.from([0xff]), b("stage"), b("s"), b("stage"), b("t")]]]]];
  const [entry] = /** @type {any} */ (streamReply(reply).get("P:{r}:q:A"));
  assert.equal(entry.id, "1-0");
  assert.equal(entry.fields.get("input"), null, "not UTF-8");
  assert.equal(entry.fields.get("stage"), "t", "a name given twice keeps its last value");
  assert.deepEqual(entry.raw[1], Buffer.from([0xff]), "handed back as read");
});

test("replies of another shape read as empty", () => {
  assert.equal(streamReply(null).size, 0);
  assert.equal(streamReply("x").size, 0);
  assert.deepEqual(streamReply([[b("s"), [[b("1-0"), [b("odd")]], [b("2-0"), null], "junk"]]]).get("s"), []);
  assert.deepEqual(claimReply(["0-0", [[b("1-0"), null]], []]), []);
  assert.deepEqual(claimReply(42), []);
});

test("a run's actors are a JSON list of names; anything else is none", () => {
  assert.deepEqual(actorNames('["A","B",3,null]'), ["A", "B"]);
  assert.deepEqual(actorNames("{not json"), []);
  assert.deepEqual(actorNames('{"A":1}'), []);
  assert.deepEqual(actorNames(null), []);
});

test("FUNCTION LIST names its libraries", () => {
  const reply = [["library_name", "troupe_v5", "engine", "LUA", "functions", []], ["library_name", 5], "junk"];
  assert.deepEqual(libraryNames(reply), ["troupe_v5"]);
  assert.deepEqual(libraryNames(null), []);
});

test("XINFO GROUPS names its groups", () => {
  const reply = [["name", "workers", "consumers", 1], ["name", 5], ["consumers", "name"], "junk"];
  assert.deepEqual(groupNames(reply), ["workers"]);
  assert.deepEqual(groupNames(null), []);
});
