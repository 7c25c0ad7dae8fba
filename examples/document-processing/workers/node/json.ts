// JSON values and the Rust operations the wasm actors use on them, so that these actors
// return, for the same input, the same value as their twins in plugins/examples/:
// `Value::get` (a field of an object, absent for anything else), `as_u64`, `as_str`,
// `char::is_whitespace` (Unicode White_Space: unlike JavaScript's `\s` it has U+0085 and
// not U+FEFF) and `max_by_key` (the last of equal maxima wins, in file-processor).
//
// One difference JavaScript cannot avoid: `JSON.parse` reads `2.0` as `2`, which
// `as_u64` refuses, and whole numbers past 2^53 lose precision.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** `Value::get(key)`: the field, or undefined when `value` is no object or lacks it. */
export function get(value: Json | undefined, key: string): Json | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  return Object.hasOwn(value, key) ? value[key] : undefined;
}

/** An `Option<&Value>` serialised: absent becomes null. */
export const orNull = (value: Json | undefined): Json => (value === undefined ? null : value);

export function asU64(value: Json | undefined): number | undefined {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 && value < 2 ** 64 ? value : undefined;
}

/** `value.as_u64().unwrap_or(0)`. */
export const u64Or0 = (value: Json | undefined): number => asU64(value) ?? 0;

/** `value.as_str().unwrap_or(fallback)`: an empty string is kept. */
export const strOr = (value: Json | undefined, fallback: string): string =>
  typeof value === "string" ? value : fallback;

const WHITESPACE = "\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const RUNS = new RegExp(`[${WHITESPACE}]+`);
const EDGES = new RegExp(`^[${WHITESPACE}]+|[${WHITESPACE}]+$`, "g");

/** `str::split_whitespace`. */
export const words = (text: string): string[] => text.split(RUNS).filter((w) => w !== "");

/** `str::trim`. */
export const trim = (text: string): string => text.replace(EDGES, "");

/** The array `value` must be, or the task fails with `message`. */
export function array(value: Json | undefined, message: string): Json[] {
  if (!Array.isArray(value)) throw new Error(message);
  return value;
}
