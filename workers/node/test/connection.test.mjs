// A Redis URL's password is never shown: not in messages, not in the error of a URL that
// does not parse (Node's own error would carry the whole URL).

import assert from "node:assert/strict";
import { test } from "node:test";
import { inspect } from "node:util";
import { connect, redacted } from "../src/connection.js";

test("a URL is shown without its password", () => {
  assert.equal(redacted("redis://user:s3cret@host:6379/0"), "redis://user:***@host:6379/0");
  assert.equal(redacted("redis://:s3cret@host"), "redis://:***@host");
  assert.equal(redacted("rediss://host:6380/1?password=s3cret&x=1"), "rediss://host:6380/1?password=***&x=1");
  assert.equal(redacted("redis://host:6379"), "redis://host:6379");
  assert.doesNotMatch(redacted("redis://u:s3cret@host:notaport"), /s3cret/);
});

test("a URL that does not parse fails without showing it", async () => {
  await assert.rejects(connect("redis://user:s3cret@127.0.0.1:notaport"), (error) => {
    assert.ok(error instanceof TypeError);
    assert.doesNotMatch(inspect(error), /s3cret/);
    assert.match(String(error), /not a valid URL/);
    return true;
  });
});
