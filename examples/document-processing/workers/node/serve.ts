// Serve the document example's eight actors from Node until SIGTERM or Ctrl-C:
//
//   node --import tsx serve.ts [--redis URL] [--prefix P] [--concurrency N]
//
// Defaults: $TROUPE_REDIS or redis://127.0.0.1:6379, $TROUPE_REDIS_PREFIX or `troupe`
// (troupe's `--redis-prefix`), 16 tasks at once. `npm install` in this directory first.
// Prints `ran N handed_back M` as it exits.

import { parseArgs } from "node:util";
import { Worker } from "troupe-worker";
import { ACTORS } from "./actors.ts";

const { values } = parseArgs({
  options: {
    redis: { type: "string", default: process.env.TROUPE_REDIS ?? "redis://127.0.0.1:6379" },
    prefix: { type: "string", default: process.env.TROUPE_REDIS_PREFIX ?? "troupe" },
    concurrency: { type: "string", default: "16" },
  },
});
const concurrency = Number(values.concurrency);
if (!Number.isInteger(concurrency) || concurrency < 1) {
  console.error(`--concurrency must be a whole number of at least 1, not ${values.concurrency}`);
  process.exit(2);
}

const worker = new Worker({ redis: values.redis, actors: ACTORS, prefix: values.prefix, concurrency });
const ran = await worker.run();
console.log(`ran ${ran} handed_back ${worker.handedBack}`);
