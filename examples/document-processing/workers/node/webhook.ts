// Delivering a notifier's message to the webhook the run's input names.
//
// The notifiers receive `notify` next to `result` (the pipeline passes
// `$.trigger.notify`): `{ "webhookUrl": "https://...", "timeoutMs": 10000 }`, both
// optional. With no `webhookUrl` nothing leaves the process, exactly like the wasm
// notifiers. With one, the message is POSTed as JSON with Node's own `fetch`; anything
// but a 2xx reply within the timeout fails the task with a message naming the URL and
// what went wrong. The Python worker (../python/webhook.py) behaves the same.

import type { Json } from "./json.ts";

/** How long a delivery may take when the input does not say. */
export const DEFAULT_TIMEOUT_MS = 10_000;
/** The longest `timeoutMs` accepted: a task must not hold its worker slot for long. */
export const MAX_TIMEOUT_MS = 300_000;
/** How much of an error reply's body the failure message quotes. */
const QUOTED_CHARS = 200;

export interface Webhook {
  url: string;
  timeoutMs: number;
}

const show = (value: unknown): string => JSON.stringify(value).slice(0, 100);

/**
 * The URL and timeout `task.notify` asks for, or null when it names no URL. Throws for a
 * `notify` that is there but unusable: input from Redis is untrusted, and a typo must not
 * pass as "no webhook".
 */
export function webhookOf(task: Json): Webhook | null {
  const notify = isObject(task) && Object.hasOwn(task, "notify") ? task.notify : null;
  if (notify === null) return null;
  if (!isObject(notify)) {
    throw new Error(`input.notify must be an object like {"webhookUrl": "https://..."}, not ${show(notify)}`);
  }
  const url = Object.hasOwn(notify, "webhookUrl") ? notify.webhookUrl : null;
  if (url === null) return null;
  if (typeof url !== "string") throw new Error(`input.notify.webhookUrl must be a string, not ${show(url)}`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`input.notify.webhookUrl must be an http:// or https:// URL, not ${JSON.stringify(url.slice(0, 200))}`);
  }
  if ((parsed.protocol !== "http:" && parsed.protocol !== "https:") || parsed.hostname === "") {
    throw new Error(`input.notify.webhookUrl must be an http:// or https:// URL, not ${JSON.stringify(url.slice(0, 200))}`);
  }
  if (parsed.username !== "" || parsed.password !== "") {
    throw new Error("input.notify.webhookUrl must not carry credentials (user:password@); put a token in the path");
  }
  const timeoutMs = Object.hasOwn(notify, "timeoutMs") ? notify.timeoutMs : DEFAULT_TIMEOUT_MS;
  if (typeof timeoutMs !== "number" || !Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMEOUT_MS) {
    throw new Error(
      `input.notify.timeoutMs must be a whole number of milliseconds from 1 to ${MAX_TIMEOUT_MS}, not ${show(timeoutMs)}`,
    );
  }
  return { url, timeoutMs };
}

function isObject(value: Json | undefined): value is { [key: string]: Json } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The first characters of an error reply's body, on one line; never the whole body. */
async function quote(reply: Response): Promise<string> {
  if (reply.body === null) return "";
  const reader = reply.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < QUOTED_CHARS * 4) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } catch {
    // A body cut short still has its first bytes.
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  const text = new TextDecoder().decode(Buffer.concat(chunks));
  return text.split(/\s+/).filter((w) => w !== "").join(" ").slice(0, QUOTED_CHARS);
}

/** What a failed `fetch` says: undici puts the reason (ECONNREFUSED, ...) in `cause`. */
function reason(error: unknown): string {
  const cause = error instanceof Error ? (error.cause as { code?: string; message?: string } | undefined) : undefined;
  if (cause?.code && cause.message) return `${cause.code}: ${cause.message}`;
  return cause?.message ?? (error instanceof Error ? error.message : String(error));
}

/**
 * POST `message` to the webhook `task` names, if any; throw (naming the URL and the
 * reply's status or the error) unless it answers 2xx within the timeout; troupe names the
 * actor and the task next to the message. Redirects are not followed: they would re-send
 * the body somewhere the run's input never named.
 */
export async function deliver(task: Json, message: Json): Promise<void> {
  const webhook = webhookOf(task);
  if (webhook === null) return;
  const { url, timeoutMs } = webhook;
  const signal = AbortSignal.timeout(timeoutMs);
  const timedOut = () => new Error(`POST ${url} timed out after ${timeoutMs} ms`);
  let reply: Response;
  try {
    reply = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": "troupe-document-example (node)" },
      body: JSON.stringify(message),
      redirect: "manual",
      signal,
    });
  } catch (error) {
    if (signal.aborted) throw timedOut();
    throw new Error(`POST ${url} failed: ${reason(error)}`);
  }
  if (reply.status < 200 || reply.status > 299) {
    const quoted = await quote(reply);
    throw new Error(`POST ${url} answered ${reply.status} ${reply.statusText}${quoted ? `: ${quoted}` : ""}`);
  }
  // The status is the answer; the body is not read.
  await reply.body?.cancel().catch(() => undefined);
}
