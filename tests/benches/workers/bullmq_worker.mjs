// One BullMQ worker process for the workers benchmark: returns each job's data, as
// troupe's `Pass` returns its input. `node bullmq_worker.mjs HOST PORT PREFIX QUEUE CONCURRENCY`;
// prints `ready` once connected, stops on SIGTERM and prints `ran N`.
import { Worker } from "bullmq";

const [host, port, prefix, queue, concurrency] = process.argv.slice(2);
let ran = 0;
const worker = new Worker(
  queue,
  async (job) => {
    ran += 1;
    return job.data;
  },
  { connection: { host, port: Number(port) }, prefix, concurrency: Number(concurrency) },
);
await worker.waitUntilReady();
console.log("ready");
process.on("SIGTERM", async () => {
  await worker.close();
  console.log(`ran ${ran}`);
  process.exit(0);
});
