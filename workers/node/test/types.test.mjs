// The declarations (src/index.d.ts) serve a TypeScript user (test/consumer.ts, strict), and
// the JavaScript sources agree with their JSDoc types (checkJs): `tsc -p tsconfig.json`.
// Needs TypeScript and Node's types where Node resolves them from here:
// `npm install --no-save typescript@5.9.3 @types/node@20.19.43`.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { test } from "node:test";
import { HERE } from "./harness.mjs";

test("tsc --strict accepts the package and a TypeScript user of it", () => {
  const require = createRequire(import.meta.url);
  let tsc;
  try {
    tsc = require.resolve("typescript/bin/tsc");
  } catch {
    assert.fail("TypeScript is not installed: npm install --no-save typescript@5.9.3 @types/node@20.19.43");
  }
  const run = spawnSync(process.execPath, [tsc, "-p", join(HERE, "..", "tsconfig.json")], { encoding: "utf8" });
  assert.equal(run.status, 0, `tsc failed:\n${run.stdout}${run.stderr}`);
});
