// The BullMQ side of the fan-out/fan-in benchmark (`cargo xtask bench -- --bench flows`):
// one FlowProducer flow of N children (no-op jobs of the `children` queue, served by
// separate `bullmq_worker.mjs` processes) under one parent that reads all its children's
// values (`getChildrenValues`), served here by one worker of the `parents` queue.
// `node bullmq_flow.mjs HOST PORT PREFIX N`; prints `elapsed_ms <ms> read <values>`: the
// time from adding the flow to the parent's completion, and how many values the parent
// read. Then it removes both queues.
import { FlowProducer, Queue, Worker } from "bullmq";

const [host, port, prefix, n] = process.argv.slice(2);
const total = Number(n);
const connection = { host, port: Number(port) };
const kinds = ["a", "b", "c"];

let read = 0;
const parents = new Worker(
  "parents",
  async (job) => {
    const values = await job.getChildrenValues();
    read = Object.keys(values).length;
    return { count: read };
  },
  { connection, prefix, concurrency: 1 },
);
await parents.waitUntilReady();

const children = [];
for (let i = 0; i < total; i += 1) {
  children.push({ name: "Pass", queueName: "children", data: { item: { id: i, kind: kinds[i % 3] } } });
}
const flows = new FlowProducer({ connection, prefix });
const started = performance.now();
const { job } = await flows.add({ name: "parent", queueName: "parents", data: {}, children });
while (!(await job.isCompleted())) {
  await new Promise((resolve) => setTimeout(resolve, 10));
}
const elapsed = performance.now() - started;
console.log(`elapsed_ms ${elapsed.toFixed(0)} read ${read}`);
await parents.close();
await flows.close();
for (const name of ["parents", "children"]) {
  const queue = new Queue(name, { connection, prefix });
  await queue.obliterate({ force: true });
  await queue.close();
}
