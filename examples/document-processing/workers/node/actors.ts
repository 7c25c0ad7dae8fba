// The eight actors of examples/document-processing, in TypeScript: for the same input
// each returns the same value as its wasm twin in plugins/examples/ (the tests compare
// whole runs; json.ts mirrors the Rust operations they use). The three notifiers also
// deliver their message to the webhook the run's input names (webhook.ts); their result
// is the message either way.

import { array, get, orNull, strOr, trim, u64Or0, asU64, words, type Json } from "./json.ts";
import { deliver } from "./webhook.ts";

/** Document types and the phrases that mark them, as file-processor's `TYPES`. */
const TYPES: [string, string[]][] = [
  ["invoice", ["invoice", "amount due", "bill to"]],
  ["receipt", ["receipt", "total paid", "thank you for your purchase"]],
  ["contract", ["agreement", "hereinafter", "the parties"]],
  ["report", ["summary", "findings", "quarter"]],
];

const pagesOf = (group: Json): Json | undefined => get(get(group, "result"), "pages");
const kindOf = (group: Json): string => strOr(get(group, "key"), "other");
const groupsOf = (task: Json): Json[] => array(get(task, "result"), "input.result must be the consolidated groups");
const sumU64 = (values: (Json | undefined)[]): number => values.reduce<number>((sum, v) => sum + (asU64(v) ?? 0), 0);

/** Classifies one page by the phrases in its text: `{path, text}` -> `{path, documentType, title, words}`. */
export function fileProcessor(task: Json): Json {
  const path = get(task, "path");
  const text = get(task, "text");
  if (typeof path !== "string") throw new Error("input.path is required");
  if (typeof text !== "string") throw new Error("input.text is required");
  const lower = text.toLowerCase();
  let documentType = "other";
  let best = 0;
  for (const [kind, marks] of TYPES) {
    const hits = marks.filter((mark) => lower.includes(mark)).length;
    if (hits > 0 && hits >= best) [documentType, best] = [kind, hits];
  }
  const title = text.split("\n").map(trim).find((line) => line !== "") ?? "";
  return { path, documentType, title, words: words(text).length };
}

/** One document type's pages into one record: `{group: {key, items}}`. */
export function consolidator(task: Json): Json {
  const group = get(task, "group");
  if (group === undefined) throw new Error("input.group is required");
  const items = array(get(group, "items"), "input.group.items must be an array");
  const present = (v: Json | undefined): v is Json => v !== undefined;
  return {
    documentType: orNull(get(group, "key")),
    pages: items.length,
    words: sumU64(items.map((p) => get(p, "words"))),
    paths: items.map((p) => get(p, "path")).filter(present),
    titles: items.map((p) => get(p, "title")).filter(present),
  };
}

export function emailMessage(task: Json): Json {
  const groups = groupsOf(task);
  const pages = sumU64(groups.map(pagesOf));
  let body = `${pages} pages processed in ${groups.length} document types:\n`;
  for (const g of groups) {
    const n = u64Or0(pagesOf(g));
    body += `  - ${kindOf(g)}: ${n} page${n === 1 ? "" : "s"}\n`;
  }
  return { channel: "email", subject: `Documents processed: ${pages} pages`, body };
}

export function slackMessage(task: Json): Json {
  const parts = groupsOf(task).map((g) => `${u64Or0(pagesOf(g))} ${kindOf(g)}`);
  return { channel: "slack", text: `:page_facing_up: Processed ${parts.join(", ")}` };
}

export function webhookMessage(task: Json): Json {
  const counts: { [kind: string]: Json } = {};
  for (const g of groupsOf(task)) {
    const kind = kindOf(g);
    // Like serde_json's map, and unlike a plain assignment, "__proto__" is a key here.
    Object.defineProperty(counts, kind, { value: pagesOf(g) ?? 0, enumerable: true, writable: true, configurable: true });
  }
  return { channel: "webhook", payload: { event: "documents.processed", pagesByType: counts } };
}

/** The email reporting the consolidated documents: `{result: [{key, result}], notify?}`. */
export async function emailNotifier(task: Json): Promise<Json> {
  const message = emailMessage(task);
  await deliver(task, message);
  return message;
}

/** A one-line Slack message about the consolidated documents. */
export async function slackNotifier(task: Json): Promise<Json> {
  const message = slackMessage(task);
  await deliver(task, message);
  return message;
}

/** The JSON event a webhook receives: pages by document type. */
export async function webhookNotifier(task: Json): Promise<Json> {
  const message = webhookMessage(task);
  await deliver(task, message);
  return message;
}

/** Words like `$1,250.00`, cut after their last digit. */
export function amounts(text: string): string[] {
  return words(text)
    .filter((w) => w.length > 1 && w[0] === "$" && w[1] >= "0" && w[1] <= "9")
    .map((w) => w.replace(/[^0-9]+$/, ""));
}

/** Runs of digits and dashes shaped like `2026-11-02`. */
export function dates(text: string): string[] {
  return text.split(/[^0-9-]/).filter((w) => w.length === 10 && w[4] === "-" && w[7] === "-");
}

/** Money amounts and ISO dates from the pages' titles: `{pages}`. */
export function dataExtractor(task: Json): Json {
  const pages = array(get(task, "pages"), "input.pages must be an array");
  const extracted = pages
    .filter((p) => p !== null)
    .map((p) => {
      const title = strOr(get(p, "title"), "");
      return { path: orNull(get(p, "path")), amounts: amounts(title), dates: dates(title) };
    });
  return { extracted };
}

/** Checks every page was classified and had text: `{pages}`. */
export function validator(task: Json): Json {
  const pages = array(get(task, "pages"), "input.pages must be an array");
  const issues: string[] = [];
  pages.forEach((p, i) => {
    const path = strOr(get(p, "path"), "?");
    if (p === null) issues.push(`page ${i} has no result`);
    else if (get(p, "documentType") === "other") issues.push(`${path} could not be classified`);
    else if (asU64(get(p, "words")) === 0) issues.push(`${path} is empty`);
  });
  return { valid: issues.length === 0, checked: pages.length, issues };
}

/** The consolidated groups as CSV: `{groups}`. */
export function transformer(task: Json): Json {
  const groups = array(get(task, "groups"), "input.groups must be an array");
  let csv = "documentType,pages,words\n";
  for (const g of groups) {
    const r = get(g, "result");
    csv += `${kindOf(g)},${u64Or0(get(r, "pages"))},${u64Or0(get(r, "words"))}\n`;
  }
  return { format: "csv", csv };
}

/** What the worker serves, by the names the manifest and the pipeline use. */
export const ACTORS = {
  FileProcessor: fileProcessor,
  Consolidator: consolidator,
  EmailNotifier: emailNotifier,
  SlackNotifier: slackNotifier,
  WebhookNotifier: webhookNotifier,
  DataExtractor: dataExtractor,
  Validator: validator,
  Transformer: transformer,
};
