// Log lines: `event key=value` text by default, JSON lines on request; values read from
// Redis cannot forge a field or a line.

import assert from "node:assert/strict";
import { test } from "node:test";
import { jsonLogger, textLogger } from "troupe-worker";

test("text lines quote strings as JSON and drop records below the level", () => {
  /** @type {string[]} */
  const lines = [];
  const log = textLogger({ write: (l) => lines.push(l) });
  log({ level: "debug", event: "tasks.finished", fields: { tasks: 3 } });
  log({ level: "error", event: "task.poison", fields: { stream: 'P:{r"1}:q:A\nfake=1', count: 2 } });
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^\d{4}-\d\d-\d\dT\S+ ERROR task\.poison stream="P:\{r\\"1\}:q:A\\nfake=1" count=2$/);
});

test("JSON lines carry time, level, event and the fields", () => {
  /** @type {string[]} */
  const lines = [];
  const log = jsonLogger({ level: "debug", write: (l) => lines.push(l) });
  log({ level: "debug", event: "tasks.finished", fields: { run: "r", tasks: 3, level: "not mine" } });
  const record = JSON.parse(lines[0]);
  assert.equal(record.level, "debug");
  assert.equal(record.event, "tasks.finished");
  assert.equal(record.run, "r");
  assert.equal(record.tasks, 3);
  assert.ok(!Number.isNaN(Date.parse(record.time)));
});

test("long values are cut", () => {
  /** @type {string[]} */
  const lines = [];
  jsonLogger({ write: (l) => lines.push(l) })({ level: "warn", event: "e", fields: { error: "x".repeat(2000) } });
  assert.equal(JSON.parse(lines[0]).error, "x".repeat(500) + "... (1500 more)");
});

test("an unknown level is refused", () => {
  assert.throws(() => textLogger({ level: /** @type {any} */ ("loud") }), /unknown log level "loud"/);
});
