// One task: from a delivery as read to the outcome its actor gave, or to why the entry
// cannot be recorded at all.

import { encodeResult, failureMessage } from "./outcome.js";
import { taskFields } from "./reply.js";

/** @typedef {import("./index.d.ts").Actor} Actor */
/** @typedef {import("./index.d.ts").LogLevel} LogLevel */

/**
 * A delivery a worker holds.
 * @typedef {object} Delivery
 * @property {string} stream
 * @property {string} entry
 * @property {string} run
 * @property {string} actor
 * @property {Map<string, string | null>} fields
 * @property {Buffer[]} raw every field as read, for a hand-back
 * @property {number} taken when it was read (performance.now())
 */

/**
 * What `troupe_v5_finish` records for a task.
 * @typedef {object} Outcome
 * @property {string} stage
 * @property {string} index
 * @property {string} attempt
 * @property {"ok" | "err"} kind
 * @property {string} payload the result as JSON text, or the error message
 */

/**
 * Why the entry is not one of its stream's tasks, or null. troupe writes `run` and
 * `actor` from the stream it adds the entry to; an entry naming others was put there by
 * something else, and run it could forge a real task's result (its `index`).
 * @param {Delivery} d
 * @returns {string | null}
 */
export function foreignReason(d) {
  for (const [name, own] of [["run", d.run], ["actor", d.actor]]) {
    const named = d.fields.get(name);
    if (named !== undefined && named !== own) {
      const shown = named === null ? "a value that is not UTF-8" : JSON.stringify(named.slice(0, 60));
      return `it names ${name} ${shown}, not its stream's ${JSON.stringify(own.slice(0, 60))}`;
    }
  }
  return null;
}

/**
 * Run `d` on `actor`. An entry naming another run or actor than its stream's is
 * `{ foreign: why }` (never run); an entry without the fields a result needs is `{ poison: why }`;
 * anything else is an outcome: input that is missing, not UTF-8 or not JSON fails the
 * task (logged as poison), as does an actor that throws or returns what JSON cannot hold.
 * @param {Delivery} d
 * @param {Actor | undefined} actor
 * @param {(level: LogLevel, event: string, fields: Record<string, string | number | boolean>) => void} log
 * @returns {Promise<{ outcome: Outcome } | { poison: string } | { foreign: string }>}
 */
export async function perform(d, actor, log) {
  const foreign = foreignReason(d);
  if (foreign !== null) {
    return { foreign };
  }
  const checked = taskFields(d.fields);
  if ("poison" in checked) {
    return checked;
  }
  const { stage, index, attempt } = checked;
  /** @param {"ok" | "err"} kind @param {string} payload */
  const outcome = (kind, payload) => ({ outcome: { stage, index, attempt, kind, payload } });
  const where = `task ${index} of stage \`${stage}\` (actor \`${d.actor}\`)`;
  /** @param {string} reason */
  const poison = (reason) => log("error", "task.poison", { stream: d.stream, entry: d.entry, reason });
  const input = d.fields.get("input");
  if (input === undefined) {
    poison("no input field");
    return outcome("err", `${where}: the stream entry has no \`input\` field`);
  }
  if (input === null) {
    poison("input not UTF-8");
    return outcome("err", `${where}: the task's input is not UTF-8 text`);
  }
  let value;
  try {
    value = JSON.parse(input);
  } catch (error) {
    poison("input not JSON");
    const why = error instanceof Error ? error.message : String(error);
    return outcome("err", `${where}: the task's input is not JSON (${why}): ${JSON.stringify(input.slice(0, 200))}`);
  }
  if (actor === undefined) {
    // Cannot happen: a worker reads only its actors' streams.
    return outcome("err", `${where}: this worker has no actor \`${d.actor}\``);
  }
  let result;
  try {
    result = await actor(value);
  } catch (error) {
    const message = failureMessage(error);
    log("info", "task.failed", { run: d.run, stage, index, actor: d.actor, error: message.split("\n", 1)[0].slice(0, 200) });
    return outcome("err", message);
  }
  try {
    return outcome("ok", encodeResult(result));
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    return outcome("err", `${where}: actor \`${d.actor}\` returned a value that is not JSON: ${why}`);
  }
}
