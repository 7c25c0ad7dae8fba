// A Worker's options, checked once, with their defaults: a mistake is said when the
// Worker is made, not when it first meets a task.

import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { textLogger } from "./log.js";

/** @typedef {import("./index.d.ts").WorkerOptions} WorkerOptions */
/** @typedef {import("./index.d.ts").Actor} Actor */
/** @typedef {import("./index.d.ts").Logger} Logger */

/**
 * @param {WorkerOptions} options
 * @returns {{ redis: string, actors: Map<string, Actor>, prefix: string, concurrency: number,
 *   visibilityTimeoutMs: number, consumer: string, handleSignals: boolean, logger: Logger }}
 */
export function settle(options) {
  if (options === null || typeof options !== "object") {
    throw new TypeError("new Worker({ redis: url, actors: { Name: async (input) => result } })");
  }
  const { redis, actors, prefix = "troupe", concurrency = 16, visibilityTimeoutMs = 60_000 } = options;
  if (typeof redis !== "string" || redis === "") {
    throw new TypeError("`redis` must be a Redis URL such as redis://127.0.0.1:6379");
  }
  if (actors === null || typeof actors !== "object" || Object.keys(actors).length === 0) {
    throw new TypeError("a Worker needs at least one actor (actors: { Name: async (input) => result })");
  }
  for (const [name, fn] of Object.entries(actors)) {
    if (typeof fn !== "function") {
      throw new TypeError(`actor \`${name}\` is not a function: ${typeof fn}`);
    }
  }
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`concurrency must be a whole number, at least 1, not ${concurrency}`);
  }
  if (!Number.isInteger(visibilityTimeoutMs) || visibilityTimeoutMs < 10) {
    throw new RangeError(`visibilityTimeoutMs must be a whole number, at least 10, not ${visibilityTimeoutMs}`);
  }
  if (typeof prefix !== "string" || prefix === "") {
    throw new TypeError("`prefix` must be a non-empty string (troupe's --redis-prefix)");
  }
  const consumer = options.consumer ?? `node-${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`;
  if (typeof consumer !== "string" || consumer === "") {
    throw new TypeError("`consumer` must be a non-empty string");
  }
  const logger = options.logger ?? textLogger();
  if (typeof logger !== "function") {
    throw new TypeError("`logger` must be a function taking a log record (see textLogger, jsonLogger)");
  }
  const handleSignals = options.handleSignals ?? true;
  if (typeof handleSignals !== "boolean") {
    throw new TypeError("`handleSignals` must be true or false");
  }
  return {
    redis,
    actors: new Map(Object.entries(actors)),
    prefix,
    concurrency,
    visibilityTimeoutMs,
    consumer,
    handleSignals,
    logger,
  };
}
