// What the tests share: real `troupe run --redis ... --concurrency 0` processes
// (TROUPE_BIN, default target/release/troupe) whose actors are external, served only by
// the Node workers the tests start; the Redis at TROUPE_TEST_REDIS (default
// redis://127.0.0.1:6379) under a key prefix of each test's own; a redis-server of a
// test's own when it restarts one. TROUPE_ROOT (default: the checkout holding this file)
// names the checkout whose target/plugins and target/test-cache (or TROUPE_CACHE_DIR)
// the runs use. Outcomes are read from the engine's own records.

import { createClient } from "@redis/client";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

export const HERE = dirname(fileURLToPath(import.meta.url));
/** The troupe checkout: its binary, plugins and compile cache. */
export const ROOT = resolve(process.env.TROUPE_ROOT ?? join(HERE, "..", "..", ".."));
export const TROUPE = process.env.TROUPE_BIN ?? join(ROOT, "target", "release", "troupe");
export const URL = process.env.TROUPE_TEST_REDIS ?? "redis://127.0.0.1:6379";
/** Where `troupe run` keeps compiled plugins between runs. */
export const CACHE = process.env.TROUPE_CACHE_DIR ?? join(ROOT, "target", "test-cache");
export const STAGE = "work";

/**
 * Wait until `done()` holds, polling.
 * @param {string} what
 * @param {number} timeoutMs
 * @param {() => boolean | Promise<boolean>} done
 */
export async function waitUntil(what, timeoutMs, done) {
  const deadline = performance.now() + timeoutMs;
  while (!(await done())) {
    if (performance.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await sleep(20);
  }
}

/** A client for the tests' own reads and writes. @param {string} url */
export async function client(url) {
  const c = createClient({ url, RESP: 2, disableOfflineQueue: true, socket: { reconnectStrategy: false } });
  c.on("error", () => {});
  await c.connect();
  return c;
}

/** A child process whose output is collected. */
export class Proc {
  /** @param {string} program @param {string[]} args */
  constructor(program, args) {
    this.out = "";
    this.err = "";
    this.child = spawn(program, args, { stdio: ["ignore", "pipe", "pipe"] });
    this.child.stdout.setEncoding("utf8").on("data", (s) => (this.out += s));
    this.child.stderr.setEncoding("utf8").on("data", (s) => (this.err += s));
    /** @type {Promise<number | null>} */
    this.exited = new Promise((resolve, reject) => {
      this.child.on("error", reject);
      this.child.on("close", (code) => resolve(code));
    });
  }

  get running() {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Its exit status and output; killed (and a failure) if it runs past `timeoutMs`. */
  async finish(timeoutMs = 60_000) {
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      this.child.kill("SIGKILL");
    }, timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    if (late) {
      throw new Error(`timed out after ${timeoutMs} ms; its stderr:\n${this.err}`);
    }
    return { code, out: this.out, err: this.err };
  }

  kill() {
    this.child.kill("SIGKILL");
  }
}

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** A redis-server of the test's own on a free port, persisting to an append-only file. */
export class OwnRedis {
  /** @param {string} directory */
  static async start(directory) {
    await mkdir(directory);
    const server = new OwnRedis(directory, await freePort());
    await server.boot();
    return server;
  }

  /** @param {string} directory @param {number} port */
  constructor(directory, port) {
    this.dir = directory;
    this.port = port;
    this.url = `redis://127.0.0.1:${port}`;
    /** @type {import("node:child_process").ChildProcess | undefined} */
    this.server = undefined;
  }

  async boot() {
    this.server = spawn(
      "redis-server",
      ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes", "--dir", this.dir],
      { stdio: "ignore" },
    );
    const failed = new Promise((_, reject) => this.server?.once("error", reject));
    await Promise.race([
      failed,
      waitUntil("redis-server to answer", 20_000, async () => {
        try {
          const c = await client(this.url);
          c.destroy();
          return true;
        } catch {
          return false;
        }
      }),
    ]);
  }

  /** As an operator restarts one: SHUTDOWN writes the append-only file out. */
  async shutDown() {
    const exited = new Promise((resolve) => this.server?.once("exit", resolve));
    try {
      const c = await client(this.url);
      await c.sendCommand(["SHUTDOWN"]).catch(() => {});
      c.destroy();
    } catch {
      // already down
    }
    await exited;
  }

  kill() {
    if (this.server && this.server.exitCode === null && this.server.signalCode === null) {
      this.server.kill("SIGKILL");
    }
  }
}

const MANIFEST = (/** @type {string} */ plugins, /** @type {string} */ actors) => `version = 1
plugins-dir = ${JSON.stringify(plugins)}

[executors.scatter]
component = "scatter.wasm"

# Served only by the Node workers of these tests: no troupe process serves them.
${actors
  .split(",")
  .map((a) => `[actors.${a}]\nexternal = true\n`)
  .join("\n")}`;

/** One test's world: a key prefix, a manifest, processes, cleaned up after the test. */
export class Harness {
  /**
   * @param {import("node:test").TestContext} t
   * @param {{ actors?: string }} [options]
   */
  static async start(t, options = {}) {
    if (!existsSync(TROUPE)) {
      throw new Error(`${TROUPE} does not exist: build troupe (cargo xtask build) or set TROUPE_BIN`);
    }
    const h = new Harness(await mkdtemp(join(tmpdir(), "troupe-node-worker-")));
    h.r = await client(URL);
    await writeFile(h.manifest, MANIFEST(join(ROOT, "target", "plugins"), options.actors ?? "Upper,Slow,Boom"));
    t.after(() => h.cleanUp());
    return h;
  }

  /** @param {string} dir */
  constructor(dir) {
    this.dir = dir;
    this.prefix = `troupe-test-nodeworker-${process.pid}-${randomBytes(4).toString("hex")}`;
    this.url = URL;
    this.manifest = join(dir, "troupe.toml");
    /** @type {Proc[]} */
    this.processes = [];
    /** @type {(() => void | Promise<void>)[]} */
    this.cleanups = [];
    /** @type {Awaited<ReturnType<typeof client>>} */
    this.r = /** @type {any} */ (undefined);
  }

  async cleanUp() {
    for (const p of this.processes) {
      if (p.running) {
        p.kill();
      }
      await p.exited.catch(() => {});
    }
    try {
      let cursor = "0";
      do {
        const [next, keys] = /** @type {[string, string[]]} */ (
          await this.r.sendCommand(["SCAN", cursor, "MATCH", `${this.prefix}:*`, "COUNT", "1000"])
        );
        cursor = next;
        if (keys.length > 0) {
          await this.r.sendCommand(["DEL", ...keys]);
        }
      } while (cursor !== "0");
    } finally {
      this.r.destroy();
      for (const cleanup of this.cleanups) {
        await cleanup();
      }
      await rm(this.dir, { recursive: true, force: true });
    }
  }

  /** Use another Redis (the test's own) from now on. @param {string} url */
  async useRedis(url) {
    this.r.destroy();
    this.url = url;
    this.r = await client(url);
  }

  /**
   * `troupe run` of a one-stage scatter over `items` on `actor`.
   * @param {string} run @param {string} actor @param {object[]} items
   * @param {Record<string, string>} [input] the stage's input, from `$.item`
   */
  async startRun(run, actor, items, input) {
    const pipeline = {
      name: "node",
      stages: [
        {
          name: STAGE,
          mode: "scatter",
          actor,
          scatter: { input: "$.trigger.items", as: "item" },
          input: input ?? { text: "$.item.text", n: "$.item.n", sleep: "$.item.sleep", message: "$.item.message" },
        },
      ],
    };
    const p = join(this.dir, `${run}.json`);
    const t = join(this.dir, `${run}-input.json`);
    await writeFile(p, JSON.stringify(pipeline));
    await writeFile(t, JSON.stringify({ items }));
    return this.spawn(TROUPE, [
      "run", p, "--input", t, "--run-id", run, "--concurrency", "0", "--json",
      "--manifest", this.manifest, "--cache-dir", CACHE,
      "--redis", this.url, "--redis-prefix", this.prefix,
    ]);
  }

  /** A worker process (`serve.mjs`, or `script`) serving this test's prefix. */
  startWorker(/** @type {number} */ concurrency, /** @type {number} */ visibilityMs, script = "serve.mjs") {
    return this.spawn(process.execPath, [join(HERE, script), this.url, this.prefix, String(concurrency), String(visibilityMs)]);
  }

  /** @param {string} program @param {string[]} args */
  spawn(program, args) {
    const p = new Proc(program, args);
    this.processes.push(p);
    return p;
  }

  /** SIGTERM a worker; its stdout and stderr (it must exit 0). @param {Proc} p */
  async stop(p) {
    p.child.kill("SIGTERM");
    const { code, out, err } = await p.finish(30_000);
    if (code !== 0) {
      throw new Error(`the worker failed on SIGTERM (${code}):\n${err}`);
    }
    return { out, err };
  }

  /** @param {number} n */
  async executions(n) {
    return Number((await this.r.sendCommand(["GET", `${this.prefix}:executions:${n}`])) ?? 0);
  }

  /** @param {number} count */
  async totalExecutions(count) {
    let total = 0;
    for (let n = 0; n < count; n++) {
      total += await this.executions(n);
    }
    return total;
  }

  /** @param {number} count */
  async executionsEach(count) {
    const each = [];
    for (let n = 0; n < count; n++) {
      each.push(await this.executions(n));
    }
    return each;
  }

  /** The engine's result records of the stage, by index. @param {string} run */
  async results(run) {
    const flat = /** @type {string[]} */ (await this.r.sendCommand(["HGETALL", `${this.prefix}:{${run}}:res:${STAGE}`]));
    /** @type {Map<number, any>} */
    const out = new Map();
    for (let i = 0; i < flat.length; i += 2) {
      out.set(Number(flat[i]), JSON.parse(flat[i + 1]));
    }
    return out;
  }

  /** The stage hash's counters. @param {string} run */
  async counters(run) {
    const flat = /** @type {string[]} */ (await this.r.sendCommand(["HGETALL", `${this.prefix}:{${run}}:st:${STAGE}`]));
    /** @type {Record<string, string>} */
    const out = {};
    for (let i = 0; i < flat.length; i += 2) {
      out[flat[i]] = flat[i + 1];
    }
    return out;
  }

  /** @param {string} run @param {string} actor */
  stream(run, actor) {
    return `${this.prefix}:{${run}}:q:${actor}`;
  }

  /** Deliveries pending in the stream's group. @param {string} stream */
  async pending(stream) {
    const summary = /** @type {[number, ...unknown[]]} */ (await this.r.sendCommand(["XPENDING", stream, "workers"]));
    return summary[0];
  }
}

/** @param {number} count @param {number} [sleepS] */
export function items(count, sleepS = 0) {
  return Array.from({ length: count }, (_, n) => ({ text: `word ${n}`, n, sleep: sleepS, message: `boom ${n}` }));
}

/** `ran N handed_back M` from a worker's stdout. @param {string} out */
export function stopped(out) {
  const match = /^ran (\d+) handed_back (\d+)$/m.exec(out);
  if (!match) {
    throw new Error(`the worker did not say what it ran: ${JSON.stringify(out)}`);
  }
  return { ran: Number(match[1]), handedBack: Number(match[2]) };
}
