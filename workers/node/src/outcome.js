// What a task records: the result as JSON text, or a failure message.

/** How much of an error's message and of its stack a failed task records. */
export const MESSAGE_CHARS = 2000;
export const STACK_CHARS = 2000;

/**
 * What a task whose actor threw records: the message, a blank line, then the stack, each
 * cut to 2,000 characters. A stack keeps its start: V8 writes the error and the frame
 * that threw first. A thrown value that is not an Error has no stack; that is said.
 * @param {unknown} thrown
 * @returns {string}
 */
export function failureMessage(thrown) {
  let message;
  let stack;
  if (thrown instanceof Error) {
    message = safely(() => thrown.message) || safely(() => thrown.name) || "Error";
    stack = safely(() => thrown.stack);
  } else {
    message = safely(() => String(thrown)) || typeof thrown;
  }
  message = cut(message, MESSAGE_CHARS, "...");
  const trace = stack
    ? cut(stack.trimEnd(), STACK_CHARS, "\n    ...")
    : `(no stack: the actor threw ${describe(thrown)}, not an Error)`;
  return `${message}\n\n${trace}`;
}

/**
 * The result as JSON text. An actor that returns nothing records `null`. A value JSON
 * cannot hold fails the task instead of being changed on the way: a number that is not
 * finite (which `JSON.stringify` writes as `null`), a BigInt, a cycle, or a function or
 * symbol in place of the whole result. Object properties that are undefined are left out,
 * as `JSON.stringify` does.
 * @param {unknown} value
 * @returns {string}
 */
export function encodeResult(value) {
  if (value === undefined) {
    return "null";
  }
  const text = JSON.stringify(value, (key, v) => {
    if (typeof v === "number" && !Number.isFinite(v)) {
      throw new TypeError(`${key === "" ? "the result" : `field ${JSON.stringify(key)}`} is ${v}, which JSON cannot hold`);
    }
    return v;
  });
  if (typeof text !== "string") {
    throw new TypeError(`the result is a ${typeof value}, which JSON cannot hold`);
  }
  return text;
}

/**
 * @param {() => unknown} read
 * @returns {string | undefined}
 */
function safely(read) {
  try {
    const value = read();
    return typeof value === "string" ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * @param {string} text
 * @param {number} chars
 * @param {string} mark
 */
function cut(text, chars, mark) {
  return text.length > chars ? text.slice(0, chars) + mark : text;
}

/** @param {unknown} thrown */
function describe(thrown) {
  if (thrown === null) {
    return "null";
  }
  return typeof thrown === "object" ? "an object" : `a ${typeof thrown}`;
}
