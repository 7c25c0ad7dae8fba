// The BullMQ side's producer: adds N jobs like troupe's scatter items (1,000 per
// `addBulk`, as troupe enqueues 1,000 per call) and waits until all are completed.
// `node bullmq_produce.mjs HOST PORT PREFIX QUEUE N`; prints `elapsed_ms <ms>`, the time
// from the first add to the last completion, then removes the queue.
import { Queue, QueueEvents } from "bullmq";

const [host, port, prefix, name, n] = process.argv.slice(2);
const total = Number(n);
const connection = { host, port: Number(port) };
const queue = new Queue(name, { connection, prefix });
const events = new QueueEvents(name, { connection, prefix });
await events.waitUntilReady();
const kinds = ["a", "b", "c"];
let completed = 0;
const done = new Promise((resolve) => {
  events.on("completed", () => {
    completed += 1;
    if (completed === total) resolve();
  });
});
const started = performance.now();
for (let from = 0; from < total; from += 1000) {
  const jobs = [];
  for (let i = from; i < Math.min(from + 1000, total); i += 1) {
    jobs.push({ name: "Pass", data: { item: { id: i, kind: kinds[i % 3] } } });
  }
  await queue.addBulk(jobs);
}
await done;
const elapsed = performance.now() - started;
// Completion events can be trimmed under load; the queue's own count is the check.
const counted = await queue.getCompletedCount();
console.log(`elapsed_ms ${elapsed.toFixed(0)} completed ${counted}`);
await events.close();
await queue.obliterate({ force: true });
await queue.close();
