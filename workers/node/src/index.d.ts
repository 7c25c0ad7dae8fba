// Types of troupe-worker: serve troupe actors from Node.js over Redis (troupe's Redis
// protocol, version 5; docs/redis-protocol.md in the troupe repository).

/** The protocol version this package speaks: it calls the functions of `troupe_v5`. */
export declare const PROTOCOL_VERSION: 5;

/**
 * An actor: takes a task's input (parsed JSON) and returns its result, a JSON-able value
 * (or a promise of one). Throwing (or rejecting) fails the task with the error's message
 * and stack. Returning nothing records `null`.
 */
export type Actor<Input = any> = (input: Input) => unknown;

export interface WorkerOptions {
  /** The Redis URL, `redis://[[user]:password@]host[:port][/db]` (`rediss://` for TLS). */
  redis: string;
  /** Actor name (as in the pipeline's manifest) -> function. At least one. */
  actors: Record<string, Actor>;
  /** troupe's `--redis-prefix`. Default `"troupe"`. */
  prefix?: string;
  /** Tasks run at once; as many more are kept buffered. Default 16. */
  concurrency?: number;
  /**
   * A delivery idle this long (ms) is taken over by another worker; use the same value on
   * every worker of a Redis (`troupe worker --visibility-timeout-ms`). Default 60000.
   */
  visibilityTimeoutMs?: number;
  /** The consumer name in the streams' group; unique per process. Default `node-<host>-<pid>-<random>`. */
  consumer?: string;
  /** Stop on SIGTERM and SIGINT while `run()` is under way (main thread only). Default true. */
  handleSignals?: boolean;
  /** Where log records go. Default `textLogger()`: `event key=value` lines on stderr, info and up. */
  logger?: Logger;
}

/** The Redis has no function library of the protocol version this package speaks. */
export declare class ProtocolMismatch extends Error {
  readonly name: "ProtocolMismatch";
  /** The library this worker needs (`troupe_v5`). */
  readonly needed: string;
  /** The troupe libraries the Redis has. */
  readonly found: readonly string[];
}

/** Serves `actors` of every running troupe run on a Redis. */
export declare class Worker {
  constructor(options: WorkerOptions);
  /** The function library the Redis must have (`troupe_v5`). */
  get library(): string;
  /** This worker's consumer name. */
  readonly consumer: string;
  /** Tasks run to a recorded outcome so far. */
  readonly ran: number;
  /** Deliveries given back to their streams on stop. */
  readonly handedBack: number;
  /**
   * Serve until stopped; resolves with how many tasks this worker ran to a recorded
   * outcome. Rejects with `ProtocolMismatch` when the Redis lacks the `troupe_v5`
   * functions, with the connection error when the first connection fails (it is not
   * retried), and when Redis stays unreachable for a minute once connected.
   */
  run(): Promise<number>;
  /** Stop taking tasks: hand back the buffered ones, finish the running ones. */
  stop(): void;
}

export type LogLevel = "debug" | "info" | "warn" | "error";

/** One log record: an event name (`task.failed`, `redis.unavailable`, ...) and flat fields. */
export interface LogRecord {
  level: LogLevel;
  event: string;
  fields: Record<string, string | number | boolean>;
}

export type Logger = (record: LogRecord) => void;

export interface LoggerOptions {
  /** The least level written. Default `"info"`. */
  level?: LogLevel;
  /** Where each line goes (without its newline). Default: a line on stderr. */
  write?: (line: string) => void;
}

/** `<time> <LEVEL> <event> key=value ...`, strings written as JSON strings. */
export declare function textLogger(options?: LoggerOptions): Logger;

/** One JSON object per line: `{"time", "level", "event", ...fields}`. */
export declare function jsonLogger(options?: LoggerOptions): Logger;
