// The BullMQ side's producer: adds N jobs like troupe's scatter items (1,000 per
// `addBulk`, as troupe enqueues 1,000 per call) and waits until all are completed.
// `node bullmq_produce.mjs HOST PORT PREFIX QUEUE N`; prints `elapsed_ms <ms>`, the time
// from the first add to the last completion, then removes the queue.
//
// Completion is read from the queue's own count (`getCompletedCount`, a ZCARD) every
// 10 ms, not from `completed` events: BullMQ trims its events stream (about 10,000
// entries), so a listener waiting for N events of a large queue can wait for ever.
import { Queue } from "bullmq";

const [host, port, prefix, name, n] = process.argv.slice(2);
const total = Number(n);
const connection = { host, port: Number(port) };
const queue = new Queue(name, { connection, prefix });
await queue.waitUntilReady();
const kinds = ["a", "b", "c"];
const started = performance.now();
for (let from = 0; from < total; from += 1000) {
  const jobs = [];
  for (let i = from; i < Math.min(from + 1000, total); i += 1) {
    jobs.push({ name: "Pass", data: { item: { id: i, kind: kinds[i % 3] } } });
  }
  await queue.addBulk(jobs);
}
let counted = await queue.getCompletedCount();
while (counted < total) {
  await new Promise((resolve) => setTimeout(resolve, 10));
  counted = await queue.getCompletedCount();
}
const elapsed = performance.now() - started;
console.log(`elapsed_ms ${elapsed.toFixed(0)} completed ${counted}`);
await queue.obliterate({ force: true });
await queue.close();
