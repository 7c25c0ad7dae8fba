// One Node worker process for the workers benchmark: serves `Pass` (returns its input)
// with the troupe-worker package. `node pass_worker.mjs URL PREFIX CONCURRENCY`; stops on
// SIGTERM and prints `ran N`.
import { Worker } from "troupe-worker";

const [redis, prefix, concurrency] = process.argv.slice(2);
const worker = new Worker({ redis, prefix, concurrency: Number(concurrency), actors: { Pass: async (input) => input } });
console.log(`ran ${await worker.run()}`);
