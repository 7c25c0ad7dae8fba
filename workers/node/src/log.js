// Structured logs: every record is an event name plus flat fields. The worker hands each
// record to one function (the `logger` option); the two here write a line per record to
// stderr, as `event key=value ...` text (the default) or as JSON.

/** @typedef {import("./index.d.ts").LogLevel} LogLevel */
/** @typedef {import("./index.d.ts").LogRecord} LogRecord */
/** @typedef {import("./index.d.ts").Logger} Logger */
/** @typedef {import("./index.d.ts").LoggerOptions} LoggerOptions */

/** @type {Record<LogLevel, number>} */
const RANK = { debug: 10, info: 20, warn: 30, error: 40 };

/** Longest a logged string field is: fields can hold text read from Redis. */
const FIELD_CHARS = 500;

/**
 * @param {LoggerOptions | undefined} options
 * @returns {{ min: number, write: (line: string) => void }}
 */
function settings(options) {
  const level = options?.level ?? "info";
  if (!(level in RANK)) {
    throw new TypeError(`unknown log level ${JSON.stringify(level)}: use debug, info, warn or error`);
  }
  const write = options?.write ?? ((line) => void process.stderr.write(line + "\n"));
  return { min: RANK[level], write };
}

/**
 * A string field, cut to FIELD_CHARS.
 * @param {unknown} value
 */
function bounded(value) {
  if (typeof value !== "string") {
    return value;
  }
  return value.length > FIELD_CHARS ? `${value.slice(0, FIELD_CHARS)}... (${value.length - FIELD_CHARS} more)` : value;
}

/**
 * `2026-12-01T02:04:18.123Z INFO worker.started consumer="node-..." concurrency=16`:
 * strings are written as JSON strings, so a value read from Redis cannot forge a field or a
 * line (control characters and quotes are escaped).
 * @param {LoggerOptions} [options]
 * @returns {Logger}
 */
export function textLogger(options) {
  const { min, write } = settings(options);
  return (record) => {
    if (RANK[record.level] < min) {
      return;
    }
    const fields = Object.entries(record.fields)
      .map(([k, v]) => `${k}=${typeof v === "string" ? JSON.stringify(bounded(v)) : String(v)}`)
      .join(" ");
    const head = `${new Date().toISOString()} ${record.level.toUpperCase()} ${record.event}`;
    write(fields ? `${head} ${fields}` : head);
  };
}

/**
 * One JSON object per line: `{"time":...,"level":"info","event":"worker.started",...fields}`.
 * @param {LoggerOptions} [options]
 * @returns {Logger}
 */
export function jsonLogger(options) {
  const { min, write } = settings(options);
  return (record) => {
    if (RANK[record.level] < min) {
      return;
    }
    /** @type {Record<string, unknown>} */
    const line = { time: new Date().toISOString(), level: record.level, event: record.event };
    for (const [k, v] of Object.entries(record.fields)) {
      if (!(k in line)) {
        line[k] = bounded(v);
      }
    }
    write(JSON.stringify(line));
  };
}
