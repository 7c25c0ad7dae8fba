// What a task records: a failure's message and stack, bounded; a result as JSON text, or a
// failure when JSON cannot hold it.

import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeResult, failureMessage } from "../src/outcome.js";

test("a failure is its message, a blank line, then its stack", () => {
  const error = new RangeError("too far");
  const text = failureMessage(error);
  assert.ok(text.startsWith("too far\n\nRangeError: too far\n    at "), text);
});

test("message and stack are each cut to 2,000 characters", () => {
  const error = new Error("m".repeat(5000));
  const [message, stack] = failureMessage(error).split("\n\n");
  assert.equal(message, "m".repeat(2000) + "...");
  assert.ok(stack.startsWith("Error: mmm"), stack.slice(0, 20));
  assert.ok(stack.endsWith("\n    ..."));
  assert.equal(stack.length, 2000 + "\n    ...".length);
});

test("a thrown value that is not an Error says so", () => {
  assert.equal(failureMessage("plain"), "plain\n\n(no stack: the actor threw a string, not an Error)");
  assert.equal(failureMessage(null), "null\n\n(no stack: the actor threw null, not an Error)");
  const hostile = { toString() { throw new Error("no"); } };
  assert.equal(failureMessage(hostile), "object\n\n(no stack: the actor threw an object, not an Error)");
});

test("an Error without a message is named by its type", () => {
  assert.ok(failureMessage(new TypeError()).startsWith("TypeError\n\nTypeError\n    at "));
});

test("results are JSON text; nothing returned is null", () => {
  assert.equal(encodeResult({ text: "A", n: 1, gone: undefined }), '{"text":"A","n":1}');
  assert.equal(encodeResult(undefined), "null");
  assert.equal(encodeResult("x"), '"x"');
});

test("a result JSON cannot hold is refused, not changed", () => {
  assert.throws(() => encodeResult({ n: NaN }), /field "n" is NaN/);
  assert.throws(() => encodeResult([Infinity]), /is Infinity/);
  assert.throws(() => encodeResult(1n), TypeError);
  assert.throws(() => encodeResult(() => 1), /a function/);
  assert.throws(() => encodeResult(Symbol("s")), /a symbol/);
  const cycle = {};
  cycle.self = cycle;
  assert.throws(() => encodeResult(cycle), TypeError);
});
