// troupe-world: executor
/**
 * `dedupe`: a stage executor written in JavaScript. Like scatter, but one task per
 * *distinct* item of the array at `scatter.input`, so an actor that sends, charges or
 * fetches runs once per recipient, customer or URL however often the input repeats it:
 *
 *     {"name": "notify", "mode": "dedupe", "actor": "Mailer",
 *      "scatter": {"input": "$.trigger.orders", "as": "order"},
 *      "input": {"to": "$.order.email", "orders": "$.occurrences"},
 *      "executorConfig": {"key": "$.email"}}
 *
 * Two items are the same when their keys are equal JSON (object keys in any order): the
 * key is the item itself, or what `executorConfig.key` (a JSONPath, read against each
 * item) selects in it. The first item of each key is bound to `$.<as>`, the position of
 * its task to `$.index` and how many items share its key to `$.occurrences`. The stage's
 * output is the results in first-seen order; its metadata counts items and duplicates.
 *
 * Config: `key` (JSONPath, default the whole item), `maxParallel` (at most this many of
 * the stage's tasks enqueued-or-running).
 *
 * A failed host call is decided by its `host-error` case alone: `unavailable` becomes
 * `retryable` (the host calls `execute` again; task ids make that safe), any other kind
 * `fatal`; each message starts with the field or call it concerns.
 */

import { query, select, resolveInput } from 'troupe:executor/context@0.2.1';
import { enqueueBatch, hasActor } from 'troupe:executor/queue@0.2.1';
import { log } from 'troupe:executor/log@0.2.1';

/** Names the stage binds for its `input` template; `scatter.as` may not take them. */
const BOUND = ['index', 'occurrences'];
/** Its own settings, and those the host reads from every stage's `executorConfig`. */
const SETTINGS = ['key', 'maxParallel', 'toleratedFailures', 'toleratedFailurePercent'];

/** What an executor returns as an error: `throw` it from a function returning `result`. */
const fatal = (message) => ({ tag: 'fatal', val: message });

/** The kind of a JSON value, for messages. */
function kind(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'number') return 'a number';
  return `a ${typeof value}`;
}

/**
 * Make a host call. A failed one (the bindings throw an error whose `payload` is the WIT
 * `host-error`) is thrown on as the executor error its kind calls for, after `what`.
 */
function host(what, call) {
  try {
    return call();
  } catch (e) {
    const error = e && e.payload && typeof e.payload.tag === 'string' ? e.payload : null;
    if (error === null) throw fatal(`${what}: ${e}`);
    const message = `${what}: ${error.val}`;
    throw error.tag === 'unavailable' ? { tag: 'retryable', val: message } : fatal(message);
  }
}

/** A problem with a JSONPath field, or null: checked by the host's own parser. */
function pathProblem(field, path) {
  if (path === undefined) return { field, message: 'is required: a JSONPath such as `$.trigger.items`' };
  if (typeof path !== 'string' || !path.startsWith('$')) {
    return { field, message: `must be a JSONPath string starting with \`$\`, found ${kind(path)}` };
  }
  try {
    select('null', path);
    return null;
  } catch (e) {
    return { field, message: e && e.payload ? e.payload.val : String(e) };
  }
}

/** Every problem of the stage, each with its field (an empty list: valid). */
function problems(definition, config) {
  const found = [];
  const actor = definition.actor;
  if (typeof actor !== 'string' || actor === '') {
    const what = actor === undefined ? 'is required' : `must be a non-empty string, found ${kind(actor)}`;
    found.push({ field: 'actor', message: `${what}: the actor each distinct item goes to` });
  } else if (!hasActor(actor)) {
    found.push({
      field: 'actor',
      message: `unknown actor \`${actor}\`: the manifest has no [actors.${actor}] (add it with \`component = "<file>.wasm"\`, or \`external = true\` when a worker of your own serves it)`,
    });
  }
  const scatter = definition.scatter;
  if (scatter === null || typeof scatter !== 'object' || Array.isArray(scatter)) {
    found.push({ field: 'scatter', message: 'is required: {"input": "$.path.to.array", "as": "name"}' });
  } else {
    const problem = pathProblem('scatter.input', scatter.input);
    if (problem) found.push(problem);
    const name = scatter.as;
    if (typeof name !== 'string' || !/^[A-Za-z0-9_]+$/.test(name)) {
      found.push({ field: 'scatter.as', message: `must be letters, digits and '_' so \`$.<as>\` can read it, found ${JSON.stringify(name) ?? 'nothing'}` });
    } else if (BOUND.includes(name)) {
      found.push({ field: 'scatter.as', message: `\`${name}\` is bound by dedupe itself; choose another name` });
    }
  }
  if (config.key !== undefined) {
    const problem = pathProblem('executorConfig.key', config.key);
    if (problem) found.push(problem);
  }
  const max = config.maxParallel;
  if (max !== undefined && !(Number.isInteger(max) && max >= 1 && max <= 0xffffffff)) {
    found.push({ field: 'executorConfig.maxParallel', message: `must be a whole number of at least 1, found ${JSON.stringify(max)}` });
  }
  for (const field of Object.keys(config)) {
    if (!SETTINGS.includes(field)) {
      found.push({ field: `executorConfig.${field}`, message: 'is not a dedupe setting (known: key, maxParallel)' });
    }
  }
  return found;
}

/** JSON text with object keys sorted at every level: equal values give equal text. */
function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The items at `scatter.input`: one match that is an array is its items, several are the items. */
function items(stage, path) {
  const matches = JSON.parse(host('scatter.input', () => query(path, undefined)));
  if (matches.length === 0) throw fatal(`scatter.input: \`${path}\` matched nothing`);
  if (matches.length > 1) return matches;
  if (!Array.isArray(matches[0])) {
    throw fatal(`scatter.input: \`${path}\` is ${kind(matches[0])}, not an array (stage ${stage.name})`);
  }
  return matches[0];
}

/** The key of item `index`: the item, or the one value `keyPath` selects in it. */
function keyOf(item, index, keyPath) {
  if (keyPath === undefined) return canonical(item);
  const found = JSON.parse(host(`executorConfig.key (item ${index})`, () => select(JSON.stringify(item), keyPath)));
  if (found.length !== 1) {
    const what = found.length === 0 ? 'matched nothing' : `matched ${found.length} values, not one`;
    throw fatal(`executorConfig.key: \`${keyPath}\` ${what} in item ${index} (${truncate(JSON.stringify(item))})`);
  }
  return canonical(found[0]);
}

function truncate(text) {
  return text.length > 120 ? `${text.slice(0, 120)}...` : text;
}

function parsed(stage) {
  const definition = JSON.parse(stage.definition);
  const config = stage.config ? JSON.parse(stage.config) : {};
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw fatal(`executorConfig: must be an object, found ${kind(config)}`);
  }
  return { definition, config };
}

function execute(stage) {
  const { definition, config } = parsed(stage);
  const found = problems(definition, config);
  if (found.length > 0) throw fatal(found.map((p) => `${p.field}: ${p.message}`).join('; '));
  const { input: path, as: name } = definition.scatter;
  const all = items(stage, path);

  // First-seen order: a Map keeps insertion order.
  const groups = new Map();
  all.forEach((item, index) => {
    const key = keyOf(item, index, config.key);
    const group = groups.get(key);
    if (group) group.occurrences += 1;
    else groups.set(key, { item, occurrences: 1 });
  });

  const template = JSON.stringify(definition.input === undefined ? {} : definition.input);
  const tasks = [];
  for (const { item, occurrences } of groups.values()) {
    const index = tasks.length;
    const bindings = JSON.stringify({ [name]: item, index, occurrences });
    const input = host(`input (item ${index})`, () => resolveInput(template, bindings));
    tasks.push({ index: BigInt(index), actor: definition.actor, input, key: undefined });
  }
  if (tasks.length > 0) {
    const options = { delayMs: 0n, maxParallel: config.maxParallel, rateLimit: undefined, skip: undefined };
    try {
      enqueueBatch(tasks, options);
    } catch (e) {
      // An actor the manifest lacks is the stage's `actor` field's fault.
      const what = e && e.payload && e.payload.tag === 'not-found' ? 'actor' : 'enqueue';
      host(what, () => {
        throw e;
      });
    }
  }
  const duplicates = all.length - tasks.length;
  log('debug', `${all.length} items, ${tasks.length} distinct, ${duplicates} duplicates`);
  return {
    expectedTasks: BigInt(tasks.length),
    // No tasks: the output is this metadata, so make it what a list of no results is.
    metadata: JSON.stringify(tasks.length === 0 ? [] : { items: all.length, distinct: tasks.length, duplicates }),
    output: 'list',
    detached: false,
  };
}

/** Keep any JavaScript exception from trapping the component: it becomes `fatal`. */
function guarded(call) {
  try {
    return call();
  } catch (e) {
    if (e && (e.tag === 'fatal' || e.tag === 'retryable')) throw e;
    throw fatal(`dedupe: ${e instanceof Error ? e.message : String(e)}`);
  }
}

export const stageExecutor = {
  name() {
    return 'dedupe';
  },

  validate(stage) {
    try {
      const { definition, config } = parsed(stage);
      return problems(definition, config);
    } catch (e) {
      const message = e && e.tag ? e.val : `is not valid JSON: ${e instanceof Error ? e.message : e}`;
      return [{ field: 'executorConfig', message }];
    }
  },

  plan(_stage) {
    return { earlyStart: undefined, hooks: { beforeTask: false, afterTask: false } };
  },

  execute(stage) {
    return guarded(() => execute(stage));
  },

  beforeTask(_stage, _task) {
    return { tag: 'run' };
  },

  afterTask(_stage, _task, _outcome) {
    return { tag: 'accept' };
  },
};
