// Reading Redis replies. Every value in them was written by someone else (a troupe of
// another version, another worker, a person with redis-cli), so each is checked before
// use: a reply of an unexpected shape reads as empty, and an entry whose fields cannot
// make a task is a poison entry the worker handles (see `task` below).

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * A stream entry as read, kept as bytes (handed back exactly) and as text.
 * @typedef {object} Entry
 * @property {string} id the entry id
 * @property {Buffer[]} raw every field name and value as read, in order
 * @property {Map<string, string | null>} fields name -> value (null: not UTF-8); a name
 *   given twice keeps its last value
 */

/**
 * What a poison check makes of an entry: the fields a result needs, or why there are none.
 * @typedef {{ stage: string, index: string, attempt: string } | { poison: string }} TaskFields
 */

/**
 * Text of a bulk string, or null when it is not UTF-8.
 * @param {unknown} value
 * @returns {string | null}
 */
export function text(value) {
  if (typeof value === "string") {
    return value;
  }
  if (Buffer.isBuffer(value)) {
    try {
      return utf8.decode(value);
    } catch {
      return null;
    }
  }
  return null;
}

/**
 * The entries of an `XREADGROUP`/`XREAD` reply, by stream name:
 * `[[stream, [[id, [field, value, ...]], ...]], ...]` or null.
 * @param {unknown} reply
 * @returns {Map<string, Entry[]>}
 */
export function streamReply(reply) {
  /** @type {Map<string, Entry[]>} */
  const out = new Map();
  if (!Array.isArray(reply)) {
    return out;
  }
  for (const item of reply) {
    if (!Array.isArray(item) || item.length !== 2) {
      continue;
    }
    const name = text(item[0]);
    if (name === null) {
      continue;
    }
    out.set(name, entries(item[1]));
  }
  return out;
}

/**
 * The entries an `XAUTOCLAIM` took: `[next, [[id, fields], ...], deleted]`.
 * @param {unknown} reply
 * @returns {Entry[]}
 */
export function claimReply(reply) {
  return Array.isArray(reply) && reply.length >= 2 ? entries(reply[1]) : [];
}

/**
 * @param {unknown} list
 * @returns {Entry[]}
 */
function entries(list) {
  /** @type {Entry[]} */
  const out = [];
  if (!Array.isArray(list)) {
    return out;
  }
  for (const item of list) {
    if (!Array.isArray(item) || item.length !== 2) {
      continue;
    }
    const id = text(item[0]);
    const flat = item[1];
    // A deleted entry reads as an id with no fields (null): nothing to run.
    if (id === null || !Array.isArray(flat) || flat.length % 2 !== 0) {
      continue;
    }
    const raw = flat.map((v) => (Buffer.isBuffer(v) ? v : Buffer.from(String(v))));
    /** @type {Map<string, string | null>} */
    const fields = new Map();
    for (let i = 0; i < raw.length; i += 2) {
      fields.set(raw[i].toString("utf8"), text(raw[i + 1]));
    }
    out.push({ id, raw, fields });
  }
  return out;
}

/** A task index or attempt: what `troupe_v5_finish` writes into JSON as a number. */
const COUNT = /^(0|[1-9][0-9]{0,14})$/;

/**
 * The fields a result needs (`stage`, `index`, `attempt`), or why the entry cannot be
 * recorded. `index` and `attempt` must be canonical decimal numbers: `attempt` is
 * written into the result record as a JSON number.
 * @param {Map<string, string | null>} fields
 * @returns {TaskFields}
 */
export function taskFields(fields) {
  const names = ["stage", "index", "attempt"];
  const missing = names.filter((f) => !fields.has(f));
  if (missing.length > 0) {
    return { poison: `missing ${missing.join(", ")}` };
  }
  for (const name of names) {
    const value = fields.get(name);
    if (value === null || value === undefined) {
      return { poison: `\`${name}\` is not UTF-8 text` };
    }
    if (name !== "stage" && !COUNT.test(value)) {
      return { poison: `\`${name}\` is ${JSON.stringify(value.slice(0, 40))}, not a number` };
    }
  }
  return {
    stage: /** @type {string} */ (fields.get("stage")),
    index: /** @type {string} */ (fields.get("index")),
    attempt: /** @type {string} */ (fields.get("attempt")),
  };
}

/**
 * The actor names of a run's `actors` field (a JSON list); anything else reads as none.
 * @param {unknown} value
 * @returns {string[]}
 */
export function actorNames(value) {
  if (typeof value !== "string") {
    return [];
  }
  let parsed;
  try {
    parsed = JSON.parse(value);
  } catch {
    return [];
  }
  return Array.isArray(parsed) ? parsed.filter((a) => typeof a === "string") : [];
}

/**
 * The strings of a reply that should be a list of them (`SMEMBERS`); others are dropped.
 * @param {unknown} reply
 * @returns {string[]}
 */
export function strings(reply) {
  return Array.isArray(reply) ? reply.filter((v) => typeof v === "string" && v.length > 0) : [];
}

/**
 * The library names in a `FUNCTION LIST` reply (RESP2: a list of flat key-value lists).
 * @param {unknown} reply
 * @returns {string[]}
 */
export function libraryNames(reply) {
  /** @type {string[]} */
  const names = [];
  if (!Array.isArray(reply)) {
    return names;
  }
  for (const library of reply) {
    if (!Array.isArray(library)) {
      continue;
    }
    for (let i = 0; i + 1 < library.length; i += 2) {
      if (library[i] === "library_name" && typeof library[i + 1] === "string") {
        names.push(library[i + 1]);
      }
    }
  }
  return names.sort();
}

/**
 * The group names in an `XINFO GROUPS` reply (RESP2: a list of flat key-value lists).
 * @param {unknown} reply
 * @returns {string[]}
 */
export function groupNames(reply) {
  /** @type {string[]} */
  const names = [];
  for (const group of Array.isArray(reply) ? reply : []) {
    for (let i = 0; Array.isArray(group) && i + 1 < group.length; i += 2) {
      if (group[i] === "name" && typeof group[i + 1] === "string") {
        names.push(group[i + 1]);
      }
    }
  }
  return names;
}

/**
 * The id of the newest entry in an `XREVRANGE ... COUNT 1` reply, or "0-0".
 * @param {unknown} reply
 */
export function newestId(reply) {
  if (Array.isArray(reply) && Array.isArray(reply[0]) && typeof reply[0][0] === "string") {
    return reply[0][0];
  }
  return "0-0";
}

/**
 * An integer reply, or null.
 * @param {unknown} reply
 * @returns {number | null}
 */
export function integer(reply) {
  return typeof reply === "number" && Number.isInteger(reply) ? reply : null;
}
