// Connections to Redis and the rule for retrying calls across a restart.
//
// The first connection is not retried: a wrong URL or a Redis that is down fails `run()`
// within seconds, saying so. Once connected, a lost connection is reopened every 200 ms
// and a call that fails for want of one is retried for up to a minute (`retry`), as every
// call the worker makes is idempotent: a Redis restarted with persistence loses nothing.
// Calls fail at once while the connection is down (no offline queue), so `retry`, not the
// client, decides how long to wait.

import {
  ClientOfflineError,
  ConnectionTimeoutError,
  createClient,
  ErrorReply,
  SocketClosedUnexpectedlyError,
  SocketTimeoutError,
} from "@redis/client";
import { setTimeout as sleep } from "node:timers/promises";

/** How long a call is retried on new connections once the worker has connected. */
export const RETRY_FOR_MS = 60_000;
const RECONNECT_EVERY_MS = 200;
const CONNECT_TIMEOUT_MS = 5_000;

/**
 * A connected client. RESP2 keeps replies plain arrays, the shape `reply.js` reads.
 * @param {string} url
 */
export async function connect(url) {
  let connected = false;
  let client;
  try {
    client = createClient({
      url,
      RESP: 2,
      disableOfflineQueue: true,
      socket: {
        connectTimeout: CONNECT_TIMEOUT_MS,
        reconnectStrategy: () => (connected ? RECONNECT_EVERY_MS : false),
      },
    });
  } catch (error) {
    // Node's URL parser throws an error whose `input` is the whole URL, password and all,
    // which an uncaught error or console.error would print.
    if (error instanceof TypeError && /** @type {{ code?: unknown }} */ (error).code === "ERR_INVALID_URL") {
      throw new TypeError(`the Redis URL ${redacted(url)} is not a valid URL`);
    }
    throw error;
  }
  // Errors reach the calls that fail; without a listener the client would throw them.
  client.on("error", () => {});
  await client.connect();
  connected = true;
  return client;
}

/** @typedef {Awaited<ReturnType<typeof connect>>} Client */

/**
 * The URL without its password, for messages: `redis://user:***@host:6379`.
 * @param {string} url
 */
export function redacted(url) {
  try {
    const parsed = new URL(url);
    if (parsed.password) {
      parsed.password = "***";
    }
    if (parsed.searchParams.has("password")) {
      parsed.searchParams.set("password", "***");
    }
    return parsed.toString();
  } catch {
    return "(not shown: it cannot be parsed, and may hold a password)";
  }
}

/**
 * Whether a failed call may succeed on a new connection: the connection was lost or is
 * down, or Redis is still loading its data after a restart.
 * @param {unknown} error
 */
export function retryable(error) {
  if (error instanceof ErrorReply) {
    return error.message.startsWith("LOADING");
  }
  if (
    error instanceof SocketClosedUnexpectedlyError ||
    error instanceof ClientOfflineError ||
    error instanceof ConnectionTimeoutError ||
    error instanceof SocketTimeoutError
  ) {
    return true;
  }
  // A system error of the socket (ECONNREFUSED, ECONNRESET, EPIPE, ...).
  const code = error instanceof Error ? /** @type {{ code?: unknown }} */ (error).code : undefined;
  return typeof code === "string" && /^E[A-Z]+$/.test(code);
}

/**
 * `call()`, again while Redis is unreachable, for up to a minute; `onFirstFailure` is
 * told of the first failure (to log it once).
 * @template T
 * @param {() => Promise<T>} call
 * @param {(error: unknown) => void} onFirstFailure
 * @returns {Promise<T>}
 */
export async function retry(call, onFirstFailure) {
  /** @type {number | undefined} */
  let deadline;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      if (!retryable(error)) {
        throw error;
      }
      const now = performance.now();
      if (deadline === undefined) {
        deadline = now + RETRY_FOR_MS;
        onFirstFailure(error);
      }
      if (now >= deadline) {
        throw error;
      }
      await sleep(RECONNECT_EVERY_MS);
    }
  }
}
