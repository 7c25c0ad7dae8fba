// troupe-world: actor-component
/**
 * `Render`: an actor written in JavaScript that renders a text template with values,
 * for messages, reports and CSV lines built from a pipeline's data.
 *
 * Input: `{"template": "...", "values": {...}}` (`values` defaults to `{}`).
 * Output: `{"text": "<the rendered template>"}`.
 *
 * Template syntax:
 * - `{{ path }}`: the value at `path`, dotted names and array positions
 *   (`order.lines.0.sku`). Strings are inserted as they are, other values as JSON. A
 *   path that reaches nothing is an error naming it (a message with a hole in it is
 *   worse than no message).
 * - `{{ path | filter | ... }}`: `upper`, `lower`, `trim`, `json` (always JSON, so a
 *   string gets its quotes), `html` (escapes `& < > " '`), `length` (of a string, array
 *   or object).
 * - `{{#each path}}...{{/each}}`: the body once per element of the array at `path`;
 *   inside, `this` is the element, `@index` its position, and other paths are read from
 *   the element first, then from the enclosing scopes.
 *
 * Every error names where the template went wrong (`at offset N`).
 */

const FILTERS = {
  upper: (v) => text(v).toUpperCase(),
  lower: (v) => text(v).toLowerCase(),
  trim: (v) => text(v).trim(),
  json: (v) => JSON.stringify(v),
  html: (v) =>
    text(v).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]),
  length: (v, where) => {
    if (typeof v === 'string' || Array.isArray(v)) return v.length;
    if (v !== null && typeof v === 'object') return Object.keys(v).length;
    throw new RenderError(`\`length\` needs a string, an array or an object, found ${kind(v)} ${where}`);
  },
};

class RenderError extends Error {}

function kind(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

/** How a value reads in the text: strings as they are, the rest as JSON. */
function text(value) {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

const PATH = /^(@index|this|[A-Za-z_][A-Za-z0-9_-]*)(\.[A-Za-z0-9_-]+)*$/;

/** The template as a tree: text, `{ value, filters, at }` and `{ each, body, at }` nodes. */
function parse(template) {
  const root = { body: [] };
  const open = [root];
  let at = 0;
  while (at < template.length) {
    const start = template.indexOf('{{', at);
    if (start < 0) {
      open[open.length - 1].body.push(template.slice(at));
      break;
    }
    if (start > at) open[open.length - 1].body.push(template.slice(at, start));
    const end = template.indexOf('}}', start + 2);
    if (end < 0) throw new RenderError(`\`{{\` at offset ${start} is never closed with \`}}\``);
    const tag = template.slice(start + 2, end).trim();
    const where = `at offset ${start}`;
    if (tag.startsWith('#each')) {
      const path = tag.slice(5).trim();
      if (!PATH.test(path)) throw new RenderError(`\`{{#each ${path}}}\` ${where} needs a path such as \`items\``);
      const node = { each: path, body: [], at: where };
      open[open.length - 1].body.push(node);
      open.push(node);
    } else if (tag === '/each') {
      if (open.length === 1) throw new RenderError(`\`{{/each}}\` ${where} closes no \`{{#each}}\``);
      open.pop();
    } else if (tag.startsWith('#') || tag.startsWith('/')) {
      throw new RenderError(`unknown block \`{{${tag}}}\` ${where} (known: \`{{#each path}}\` ... \`{{/each}}\`)`);
    } else {
      const [path, ...filters] = tag.split('|').map((part) => part.trim());
      if (!PATH.test(path)) {
        throw new RenderError(`\`{{${tag}}}\` ${where}: \`${path}\` is not a path (write names and positions with dots: \`order.lines.0.sku\`)`);
      }
      for (const filter of filters) {
        if (!Object.hasOwn(FILTERS, filter)) {
          throw new RenderError(`unknown filter \`${filter}\` ${where} (known: ${Object.keys(FILTERS).join(', ')})`);
        }
      }
      open[open.length - 1].body.push({ value: path, filters, at: where });
    }
    at = end + 2;
  }
  if (open.length > 1) throw new RenderError(`\`{{#each ${open[open.length - 1].each}}}\` ${open[open.length - 1].at} is never closed with \`{{/each}}\``);
  return root.body;
}

/** The value at `path` in the innermost scope that has its first name. */
function lookup(scopes, path, where) {
  const [first, ...rest] = path.split('.');
  let value;
  let found = false;
  for (let i = scopes.length - 1; i >= 0 && !found; i -= 1) {
    const scope = scopes[i];
    if (first === 'this' || first === '@index') {
      if (scope.index !== undefined) {
        value = first === 'this' ? scope.value : scope.index;
        found = true;
      }
    } else if (scope.value !== null && typeof scope.value === 'object' && Object.hasOwn(scope.value, first)) {
      value = scope.value[first];
      found = true;
    }
  }
  if (!found) {
    const why = first === 'this' || first === '@index' ? `\`${first}\` is only bound inside \`{{#each}}\`` : `no value named \`${first}\``;
    throw new RenderError(`\`${path}\` ${where}: ${why}`);
  }
  for (const [i, name] of rest.entries()) {
    const own = value !== null && typeof value === 'object' && Object.hasOwn(value, name);
    if (!own) {
      const reached = [first, ...rest.slice(0, i)].join('.');
      throw new RenderError(`\`${path}\` ${where}: \`${reached}\` is ${kind(value)} without \`${name}\``);
    }
    value = value[name];
  }
  return value;
}

function render(nodes, scopes) {
  let out = '';
  for (const node of nodes) {
    if (typeof node === 'string') {
      out += node;
    } else if (node.each !== undefined) {
      const list = lookup(scopes, node.each, node.at);
      if (!Array.isArray(list)) throw new RenderError(`\`{{#each ${node.each}}}\` ${node.at}: \`${node.each}\` is ${kind(list)}, not an array`);
      list.forEach((value, index) => {
        out += render(node.body, [...scopes, { value, index }]);
      });
    } else {
      let value = lookup(scopes, node.value, node.at);
      for (const filter of node.filters) value = FILTERS[filter](value, node.at);
      out += text(value);
    }
  }
  return out;
}

function invoke(input) {
  let task;
  try {
    task = JSON.parse(input);
  } catch (e) {
    throw new RenderError(`the input is not JSON: ${e.message}`);
  }
  if (task === null || typeof task !== 'object' || Array.isArray(task)) {
    throw new RenderError(`the input must be an object {"template": "...", "values": {...}}, found ${kind(task)}`);
  }
  for (const field of Object.keys(task)) {
    if (field !== 'template' && field !== 'values') {
      throw new RenderError(`unknown input field \`${field}\` (Render reads \`template\` and \`values\`)`);
    }
  }
  if (typeof task.template !== 'string') {
    const found = task.template === undefined ? 'nothing' : kind(task.template);
    throw new RenderError(`\`template\` must be a string, found ${found}`);
  }
  const values = task.values === undefined ? {} : task.values;
  if (values === null || typeof values !== 'object' || Array.isArray(values)) {
    throw new RenderError(`\`values\` must be an object, found ${kind(values)}`);
  }
  return JSON.stringify({ text: render(parse(task.template), [{ value: values }]) });
}

export const actor = {
  invoke(input) {
    try {
      return invoke(input);
    } catch (e) {
      // The `err` of `result<json, string>`; anything else thrown would trap the call.
      throw e instanceof RenderError ? `Render: ${e.message}` : `Render failed: ${e instanceof Error ? e.message : e}`;
    }
  },
};
