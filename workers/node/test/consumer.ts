// A TypeScript program using the package as a user would: compiled (not run) by
// types.test.mjs with `tsc --strict`, so the declarations in src/index.d.ts are checked.

import {
  jsonLogger,
  PROTOCOL_VERSION,
  ProtocolMismatch,
  textLogger,
  Worker,
  type Actor,
  type LogRecord,
  type WorkerOptions,
} from "troupe-worker";

interface Page {
  text: string;
}

const upper: Actor<Page> = async (input) => ({ text: input.text.toUpperCase() });

const options: WorkerOptions = {
  redis: "redis://127.0.0.1:6379",
  actors: { Upper: upper, Next: (input: { n: number }) => input.n + 1 },
  prefix: "troupe",
  concurrency: 4,
  visibilityTimeoutMs: 60_000,
  consumer: "consumer-1",
  handleSignals: false,
  logger: process.env.LOG_JSON ? jsonLogger({ level: "debug" }) : textLogger({ write: (line) => console.error(line) }),
};

export async function serve(): Promise<number> {
  const worker = new Worker(options);
  process.once("SIGUSR2", () => worker.stop());
  try {
    const ran: number = await worker.run();
    const back: number = worker.handedBack;
    return ran + back - worker.ran;
  } catch (error) {
    if (error instanceof ProtocolMismatch) {
      const needed: string = error.needed;
      const found: readonly string[] = error.found;
      console.error(needed, found.join(","));
    }
    throw error;
  }
}

export const version: 5 = PROTOCOL_VERSION;
export const library: string = new Worker(options).library;

export function record(r: LogRecord): string {
  return `${r.level} ${r.event} ${Object.keys(r.fields).join(",")}`;
}

// @ts-expect-error: the Redis URL is required
new Worker({ actors: { Upper: upper } });

// @ts-expect-error: what a worker ran is read-only
new Worker(options).ran = 3;

// @ts-expect-error: not a log level
textLogger({ level: "loud" });
