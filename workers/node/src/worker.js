// A worker for troupe's Redis protocol (version 5, docs/redis-protocol.md): it does what
// `troupe worker` does, for the actors it is given.
//
// - The feed learns the running runs (`SMEMBERS P:runs`, `HGET P:{R}:run actors`, woken by
//   `P:runs:events`) and reads only its actors' streams, with one `XREADGROUP`.
// - Up to `concurrency` runners run tasks, and as many more deliveries wait buffered; one
//   that waited past half the visibility timeout is checked with `troupe_v5_keep` first.
// - One reporter sends outcomes: one `FCALL troupe_v5_finish` per (run, stage, actor) for
//   everything that piled up, pipelined.
// - Every third of the visibility timeout the running deliveries are claimed again
//   (`XCLAIM ... JUSTID`); every half, deliveries other workers left idle past the timeout
//   are taken over (`XAUTOCLAIM`), never one this worker already holds.
// - On stop (SIGTERM, SIGINT) the buffered deliveries are given back
//   (`troupe_v5_handback`), the running ones end and are recorded.
//
// Why one event loop and no threads: an actor that waits (an HTTP call) holds nothing
// while it waits. An actor that computes for long blocks the loop, heartbeats included:
// such work belongs in a worker thread the actor awaits.

import { ErrorReply, RESP_TYPES } from "@redis/client";
import { setTimeout as sleep } from "node:timers/promises";
import { isMainThread } from "node:worker_threads";
import { connect, redacted, retry, retryable, RETRY_FOR_MS } from "./connection.js";
import { settle } from "./options.js";
import { Queue } from "./queue.js";
import { perform } from "./task.js";
import {
  actorNames,
  claimReply,
  integer,
  groupNames,
  libraryNames,
  newestId,
  streamReply,
  strings,
} from "./reply.js";

/** @typedef {import("./index.d.ts").Actor} Actor */
/** @typedef {import("./index.d.ts").WorkerOptions} WorkerOptions */
/** @typedef {import("./index.d.ts").Logger} Logger */
/** @typedef {import("./index.d.ts").LogLevel} LogLevel */
/** @typedef {import("./connection.js").Client} Client */
/** @typedef {import("./reply.js").Entry} Entry */
/** @typedef {import("./task.js").Delivery} Delivery */
/** @typedef {import("./task.js").Outcome & { delivery: Delivery }} Report */

export const PROTOCOL_VERSION = 5;
const GROUP = "workers";
/** The active runs are read again when an event says so, and at least this often. */
const REFRESH_MS = 2_000;
/** While busy, how often the feed looks whether a run started or ended. */
const LOOK_EVERY_MS = 200;
/** How long one blocking read waits at most (stop and the timers are looked at between). */
const BLOCK_MS = 100;
/** How long a run whose stream refused a read (its group gone) is left alone. */
const SET_ASIDE_MS = 10_000;
/** Outcomes sent in one round trip at most. */
const BATCH = 512;
/** How many ended runs a worker remembers (to drop their buffered deliveries). */
const ENDED_KEPT = 10_000;
/** Stream entries are read as bytes: handed back exactly, decoded strictly. */
const AS_BYTES = { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } };

export class ProtocolMismatch extends Error {
  /**
   * @param {string} message
   * @param {string} needed
   * @param {string[]} found
   */
  constructor(message, needed, found) {
    super(message);
    /** @type {"ProtocolMismatch"} */
    this.name = "ProtocolMismatch";
    this.needed = needed;
    this.found = Object.freeze([...found]);
  }
}

export class Worker {
  #url;
  /** @type {Map<string, Actor>} */
  #actors;
  #prefix;
  #concurrency;
  #visibilityMs;
  #consumer;
  #handleSignals;
  /** @type {Logger} */
  #logger;
  #ran = 0;
  #handedBack = 0;
  #stopRequested = false;
  #active = false;
  /** @type {Client | undefined} for every call but the feed's */
  #client;
  /** @type {Client | undefined} the feed's (its reads block) */
  #reader;
  /** @type {Map<string, { stream: string, actor: string }[]>} run -> the streams served */
  #runs = new Map();
  /** @type {Map<string, { run: string, actor: string }>} stream -> its run and actor */
  #streams = new Map();
  /** @type {Map<string, number>} runs whose streams were refused, until when (performance.now()) */
  #setAside = new Map();
  /** Whether `P:runs:events` refused the last read (logged once, not at every look). */
  #eventsRefused = false;
  /**
   * Runs seen to end, oldest first: deliveries of theirs still buffered are dropped
   * rather than run. Bounded (`ENDED_KEPT`): a long-lived worker sees runs without end,
   * and a delivery is never buffered across that many run ends.
   * @type {Set<string>}
   */
  #ended = new Set();
  /** @type {Map<string, Set<string>>} stream -> entries running (kept by heartbeats) */
  #running = new Map();
  /**
   * Every delivery this worker holds, buffered or running: a reclaim can return one of
   * its own buffered deliveries, which must not be queued (and run) twice.
   * @type {Set<string>}
   */
  #held = new Set();
  #busy = 0;

  /** @param {WorkerOptions} options */
  constructor(options) {
    const o = settle(options);
    this.#url = o.redis;
    this.#actors = o.actors;
    this.#prefix = o.prefix;
    this.#concurrency = o.concurrency;
    this.#visibilityMs = o.visibilityTimeoutMs;
    this.#consumer = o.consumer;
    this.#handleSignals = o.handleSignals;
    this.#logger = o.logger;
  }

  /** The function library the Redis must have (set by every troupe process of the same
   * protocol version when it connects). */
  get library() {
    return `troupe_v${PROTOCOL_VERSION}`;
  }

  get consumer() {
    return this.#consumer;
  }

  get ran() {
    return this.#ran;
  }

  get handedBack() {
    return this.#handedBack;
  }

  /** Stop taking tasks: hand back the buffered ones, finish the running ones. */
  stop() {
    this.#stopRequested = true;
  }

  /** @returns {Promise<number>} */
  async run() {
    if (this.#active) {
      throw new Error("this Worker is already running");
    }
    this.#active = true;
    const onSignal = () => this.stop();
    let listening = false;
    try {
      this.#client = await connect(this.#url);
      this.#reader = await connect(this.#url);
      await this.#checkProtocol(this.#client);
      if (this.#handleSignals && isMainThread) {
        process.on("SIGTERM", onSignal);
        process.on("SIGINT", onSignal);
        listening = true;
      }
      this.#log("info", "worker.started", {
        consumer: this.#consumer,
        actors: [...this.#actors.keys()].sort().join(","),
        prefix: this.#prefix,
        concurrency: this.#concurrency,
        visibility_timeout_ms: this.#visibilityMs,
      });
      await this.#serve();
    } finally {
      if (listening) {
        process.off("SIGTERM", onSignal);
        process.off("SIGINT", onSignal);
      }
      for (const client of [this.#client, this.#reader]) {
        client?.destroy();
      }
      this.#client = this.#reader = undefined;
      this.#active = false;
    }
    this.#log("info", "worker.stopped", { consumer: this.#consumer, ran: this.#ran, handed_back: this.#handedBack });
    return this.#ran;
  }

  // -- the pieces -----------------------------------------------------------------

  /** @param {LogLevel} level @param {string} event @param {Record<string, string | number | boolean>} fields */
  #log(level, event, fields) {
    try {
      this.#logger({ level, event, fields });
    } catch {
      // A logger that throws must not stop the worker.
    }
  }

  /** @param {string} doing */
  #unavailable(doing) {
    return (/** @type {unknown} */ error) =>
      this.#log("warn", "redis.unavailable", { doing, error: error instanceof Error ? error.message : String(error) });
  }

  /** @param {Client} client */
  async #checkProtocol(client) {
    const names = libraryNames(await client.sendCommand(["FUNCTION", "LIST", "LIBRARYNAME", "troupe_v*"]));
    if (!names.includes(this.library)) {
      throw new ProtocolMismatch(
        `the Redis at ${redacted(this.#url)} has no function library \`${this.library}\`: this worker speaks ` +
          `troupe's Redis protocol version ${PROTOCOL_VERSION} and needs a troupe of that version to have ` +
          `connected to this Redis (troupe run/worker --redis loads it); the Redis has ` +
          (names.length > 0 ? names.map((n) => `\`${n}\``).join(", ") : "no troupe library"),
        this.library,
        names,
      );
    }
  }

  async #serve() {
    /** @type {Queue<Delivery | null>} */
    const tasks = new Queue();
    /** @type {Queue<Report | null>} */
    const reports = new Queue();
    const runners = Array.from({ length: this.#concurrency }, () => this.#runner(tasks, reports));
    const reporter = this.#reporter(reports);
    const beating = new AbortController();
    const heart = this.#heartbeat(beating.signal);
    try {
      await this.#feed(tasks);
    } finally {
      // Hand back what was taken and not started, then let the runners end theirs.
      const unstarted = /** @type {Delivery[]} */ (tasks.drain().filter((d) => d !== null));
      try {
        await this.#handBack(unstarted);
      } catch (error) {
        // They stay pending: another worker takes them over after the visibility timeout.
        this.#log("error", "handback.failed", { error: String(error), deliveries: unstarted.length });
      }
      for (let i = 0; i < this.#concurrency; i++) {
        tasks.put(null);
      }
      await Promise.allSettled(runners);
      reports.put(null);
      await Promise.allSettled([reporter]);
      beating.abort();
      await heart;
    }
  }

  /** Read deliveries into `tasks` until stopped. @param {Queue<Delivery | null>} tasks */
  async #feed(tasks) {
    const reader = /** @type {Client} */ (this.#reader);
    let lastEvent = await retry(async () => {
      try {
        return newestId(await reader.sendCommand(["XREVRANGE", this.#eventsKey(), "+", "-", "COUNT", "1"]));
      } catch (error) {
        if (error instanceof ErrorReply) {
          return "0-0"; // not a stream: #runEvents says so
        }
        throw error;
      }
    }, this.#unavailable("reading run events"));
    let refreshed = -Infinity;
    let looked = -Infinity;
    let claimed = -Infinity;
    const claimEvery = Math.max(this.#visibilityMs / 2, 100);
    /** @type {number | null} */
    let failingSince = null;
    while (!this.#stopRequested) {
      try {
        let streams = [...this.#streams.keys()];
        const idle = streams.length === 0;
        if (idle || performance.now() - looked >= LOOK_EVERY_MS) {
          looked = performance.now();
          const newer = await this.#runEvents(reader, lastEvent, idle ? BLOCK_MS : null);
          if (newer !== null) {
            lastEvent = newer;
            refreshed = -Infinity;
          }
        }
        if (performance.now() - refreshed >= REFRESH_MS) {
          refreshed = performance.now();
          await this.#refresh(reader);
          streams = [...this.#streams.keys()];
        }
        let room = this.#room(tasks);
        if (streams.length > 0 && performance.now() - claimed >= claimEvery) {
          claimed = performance.now();
          for (const delivery of await this.#reclaim(reader, streams, Math.max(room, 1))) {
            this.#queue(tasks, delivery);
          }
          room = this.#room(tasks);
          streams = [...this.#streams.keys()]; // less any run the reclaim set aside
        }
        if (streams.length === 0) {
          continue;
        }
        if (room <= 0) {
          await sleep(10);
          continue;
        }
        for (const delivery of await this.#read(reader, streams, room)) {
          this.#queue(tasks, delivery);
        }
        failingSince = null;
      } catch (error) {
        if (retryable(error)) {
          const now = performance.now();
          if (failingSince === null) {
            failingSince = now;
            this.#unavailable("reading tasks")(error);
          }
          if (now - failingSince >= RETRY_FOR_MS) {
            throw error;
          }
          await sleep(200);
        } else if (error instanceof ErrorReply) {
          // One stream that cannot be read (its group or key deleted under us, a key of the
          // wrong type) fails the whole XREADGROUP: its run is set aside, the rest served.
          await this.#setAsideUnreadable(reader, error);
          await sleep(100);
        } else {
          throw error;
        }
      }
    }
  }

  /** Stop serving `run` for SET_ASIDE_MS: it cannot be read, and must not stall the others.
   * @param {string} run @param {string} event @param {string} why */
  #putAside(run, event, why) {
    this.#forget(run);
    this.#setAside.set(run, performance.now() + SET_ASIDE_MS);
    this.#log("warn", event, { error: why, run, retry_in_ms: SET_ASIDE_MS });
  }

  /**
   * After a refused XREADGROUP: find the streams that cannot be read, one by one, and set
   * their runs aside. The error does not say which: WRONGTYPE names no key, and NOGROUP
   * names it with its newlines made spaces (and bytes that are not UTF-8 replaced).
   * @param {Client} reader @param {ErrorReply} error
   */
  async #setAsideUnreadable(reader, error) {
    let broken = false;
    for (const [run, served] of [...this.#runs]) {
      for (const { stream } of served) {
        const why = await this.#unreadable(reader, stream);
        if (why !== null) {
          this.#putAside(run, "read.refused", why);
          broken = true;
          break;
        }
      }
    }
    if (!broken) {
      // Not one stream's fault (out of memory, a replica): try again.
      this.#log("warn", "read.refused", { error: error.message });
    }
  }

  /**
   * Why the group cannot read `stream` (gone, the wrong type, no group), or null.
   * @param {Client} reader @param {string} stream
   * @returns {Promise<string | null>}
   */
  async #unreadable(reader, stream) {
    let reply;
    try {
      reply = await reader.sendCommand(["XINFO", "GROUPS", stream]);
    } catch (error) {
      if (error instanceof ErrorReply) {
        return error.message;
      }
      throw error;
    }
    return groupNames(reply).includes(GROUP) ? null : `the stream has no consumer group \`${GROUP}\``;
  }

  /** @param {Queue<Delivery | null>} tasks */
  #room(tasks) {
    return 2 * this.#concurrency - this.#busy - tasks.size;
  }

  /** @param {Queue<Delivery | null>} tasks @param {Delivery} delivery */
  #queue(tasks, delivery) {
    const held = heldKey(delivery.stream, delivery.entry);
    if (!this.#held.has(held)) {
      this.#held.add(held);
      tasks.put(delivery);
    }
  }

  #eventsKey() {
    return `${this.#prefix}:runs:events`;
  }

  /** @param {string} run */
  #base(run) {
    return `${this.#prefix}:{${run}}`;
  }

  /**
   * The id of the newest run event after `last`, or null (waits up to `blockMs`).
   * @param {Client} reader @param {string} last @param {number | null} blockMs
   */
  async #runEvents(reader, last, blockMs) {
    const block = blockMs === null ? [] : ["BLOCK", String(blockMs)];
    let reply;
    try {
      reply = await reader.sendCommand(["XREAD", "COUNT", "100", ...block, "STREAMS", this.#eventsKey(), last]);
    } catch (error) {
      if (!(error instanceof ErrorReply)) {
        throw error;
      }
      // Not a stream (someone wrote over it): no events, then; the runs are still read
      // every REFRESH_MS. Wait as a blocking read would, not to spin while idle.
      if (!this.#eventsRefused) {
        this.#log("warn", "events.unreadable", { key: this.#eventsKey(), error: error.message });
      }
      this.#eventsRefused = true;
      await sleep(blockMs ?? 0);
      return null;
    }
    this.#eventsRefused = false;
    const events = streamReply(reply).get(this.#eventsKey()) ?? [];
    return events.length > 0 ? events[events.length - 1].id : null;
  }

  /** Learn the running runs and the streams of this worker's actors in them. @param {Client} reader */
  async #refresh(reader) {
    const active = new Set(strings(await reader.sendCommand(["SMEMBERS", `${this.#prefix}:runs`])));
    for (const run of [...this.#runs.keys()]) {
      if (!active.has(run)) {
        this.#forget(run);
        this.#markEnded(run);
      }
    }
    for (const [run, until] of this.#setAside) {
      if (!active.has(run)) {
        this.#setAside.delete(run);
        this.#markEnded(run); // its buffered deliveries are dropped, as any ended run's
      } else if (performance.now() >= until) {
        this.#setAside.delete(run);
      }
    }
    for (const run of active) {
      if (this.#runs.has(run) || this.#setAside.has(run)) {
        continue;
      }
      let listed;
      try {
        listed = await reader.sendCommand(["HGET", `${this.#base(run)}:run`, "actors"]);
      } catch (error) {
        if (!(error instanceof ErrorReply)) {
          throw error;
        }
        // Not a hash (WRONGTYPE): not a run this worker can serve; the others still are.
        this.#log("warn", "run.unreadable", { run, error: error.message });
        listed = null;
      }
      const names = [...new Set(actorNames(listed))].filter((a) => this.#actors.has(a));
      const served = names.map((actor) => ({ stream: `${this.#base(run)}:q:${actor}`, actor }));
      this.#runs.set(run, served);
      for (const { stream, actor } of served) {
        this.#streams.set(stream, { run, actor });
      }
      if (served.length > 0) {
        this.#log("info", "run.serving", { run, actors: names.join(",") });
      }
    }
  }

  /** @param {string} run */
  #forget(run) {
    for (const { stream } of this.#runs.get(run) ?? []) {
      this.#streams.delete(stream);
    }
    this.#runs.delete(run);
  }

  /** @param {Client} reader @param {string[]} streams @param {number} count */
  async #read(reader, streams, count) {
    const asked = new Map(streams.map((s) => [s, this.#streams.get(s)]));
    const reply = await reader.sendCommand(
      ["XREADGROUP", "GROUP", GROUP, this.#consumer, "COUNT", String(count), "BLOCK", String(BLOCK_MS),
        "STREAMS", ...streams, ...streams.map(() => ">")],
      AS_BYTES,
    );
    const now = performance.now();
    /** @type {Delivery[]} */
    const out = [];
    for (const [stream, entries] of streamReply(reply)) {
      const where = asked.get(stream);
      if (where === undefined) {
        continue;
      }
      for (const entry of entries) {
        out.push(delivery(stream, where, entry, now));
      }
    }
    return out;
  }

  /**
   * Take over deliveries idle past the visibility timeout (their worker died).
   * @param {Client} reader @param {string[]} streams @param {number} count
   */
  async #reclaim(reader, streams, count) {
    /** @type {Delivery[]} */
    const taken = [];
    const now = performance.now();
    for (const stream of streams) {
      const where = this.#streams.get(stream);
      if (where === undefined) {
        continue;
      }
      let reply;
      try {
        reply = await reader.sendCommand(
          ["XAUTOCLAIM", stream, GROUP, this.#consumer, String(this.#visibilityMs), "0-0", "COUNT", String(count)],
          AS_BYTES,
        );
      } catch (error) {
        if (!(error instanceof ErrorReply)) {
          throw error;
        }
        this.#putAside(where.run, "read.refused", error.message); // its group or key is gone; the others go on
        continue;
      }
      const entries = claimReply(reply);
      for (const entry of entries) {
        taken.push(delivery(stream, where, entry, now));
      }
      if (entries.length > 0) {
        this.#log("info", "deliveries.reclaimed", { stream, count: entries.length });
      }
    }
    return taken;
  }

  /** Whether a delivery that waited in the buffer is still this worker's to run. @param {Delivery} d */
  async #stillOurs(d) {
    if (performance.now() - d.taken < this.#visibilityMs / 2) {
      return true;
    }
    const client = /** @type {Client} */ (this.#client);
    try {
      const kept = integer(
        await retry(
          () => client.sendCommand(["FCALL", `${this.library}_keep`, "1", d.stream, d.entry, this.#consumer]),
          this.#unavailable("keeping a buffered task"),
        ),
      );
      if (kept === null) {
        throw new Error("troupe_v5_keep answered something other than 0 or 1");
      }
      return kept === 1;
    } catch (error) {
      // Cannot tell: run it; its outcome is still counted once.
      this.#log("warn", "keep.failed", { error: String(error) });
      return true;
    }
  }

  /** @param {Queue<Delivery | null>} tasks @param {Queue<Report | null>} reports */
  async #runner(tasks, reports) {
    for (;;) {
      const d = await tasks.get();
      if (d === null) {
        return;
      }
      if (this.#ended.has(d.run)) {
        this.#release(d);
        continue; // the run ended (cancelled): its tasks are dropped, not run
      }
      this.#busy += 1;
      try {
        if (!(await this.#stillOurs(d))) {
          this.#log("info", "task.taken_over", { stream: d.stream, entry: d.entry });
          this.#release(d);
          continue;
        }
        let entries = this.#running.get(d.stream);
        if (entries === undefined) {
          entries = new Set();
          this.#running.set(d.stream, entries);
        }
        entries.add(d.entry);
        const report = await this.#execute(d);
        if (report === null) {
          this.#release(d);
        } else {
          reports.put(report);
        }
      } catch (error) {
        // Not the actor's failure (that is a report): a call that failed for a minute. The
        // delivery stays pending and is taken over after the visibility timeout.
        this.#log("error", "task.abandoned", { stream: d.stream, entry: d.entry, error: String(error) });
        this.#release(d);
      } finally {
        this.#busy -= 1;
      }
    }
  }

  /**
   * Run one delivery on its actor: its report, or null for an entry that cannot be
   * recorded (acknowledged here so it is not read again).
   * @param {Delivery} d
   * @returns {Promise<Report | null>}
   */
  async #execute(d) {
    const done = await perform(d, this.#actors.get(d.actor), (level, event, fields) => this.#log(level, event, fields));
    if ("outcome" in done) {
      return { delivery: d, ...done.outcome };
    }
    const [event, reason, what] =
      "foreign" in done
        ? ["task.foreign", `${done.foreign}; acknowledged and dropped, never run`, "dropping a foreign entry"]
        : ["task.poison", `cannot be recorded (${done.poison}); acknowledged and dropped`, "dropping a poison entry"];
    this.#log("error", event, { stream: d.stream, entry: d.entry, reason });
    const client = /** @type {Client} */ (this.#client);
    await retry(() => client.sendCommand(["XACK", d.stream, GROUP, d.entry]), this.#unavailable(what));
    return null;
  }

  /** @param {string} run */
  #markEnded(run) {
    this.#ended.delete(run);
    this.#ended.add(run);
    for (const oldest of this.#ended) {
      if (this.#ended.size <= ENDED_KEPT) {
        break;
      }
      this.#ended.delete(oldest);
    }
  }

  /** The delivery is no longer this worker's: stop holding it and its heartbeat. @param {Delivery} d */
  #release(d) {
    this.#held.delete(heldKey(d.stream, d.entry));
    const entries = this.#running.get(d.stream);
    if (entries !== undefined) {
      entries.delete(d.entry);
      if (entries.size === 0) {
        this.#running.delete(d.stream);
      }
    }
  }

  /**
   * Send outcomes: everything that piled up, one `troupe_v5_finish` per (run, stage,
   * actor), in one round trip. Ends at the null sentinel, after sending.
   * @param {Queue<Report | null>} reports
   */
  async #reporter(reports) {
    let done = false;
    while (!done) {
      /** @type {Report[]} */
      const batch = [];
      let item = await reports.get();
      for (;;) {
        if (item === null) {
          done = true;
        } else {
          batch.push(item);
        }
        if (done || reports.size === 0 || batch.length >= BATCH) {
          break;
        }
        item = await reports.get();
      }
      if (batch.length > 0) {
        try {
          await this.#send(batch);
        } catch (error) {
          // The deliveries stay pending: taken over after the visibility timeout, run again.
          this.#log("error", "finish.failed", { tasks: batch.length, error: String(error) });
        }
        for (const r of batch) {
          this.#release(r.delivery);
        }
      }
    }
  }

  /** @param {Report[]} batch */
  async #send(batch) {
    /** @type {Map<string, { run: string, stage: string, actor: string, items: Report[] }>} */
    const groups = new Map();
    for (const r of batch) {
      const key = JSON.stringify([r.delivery.run, r.stage, r.delivery.actor]);
      let group = groups.get(key);
      if (group === undefined) {
        group = { run: r.delivery.run, stage: r.stage, actor: r.delivery.actor, items: [] };
        groups.set(key, group);
      }
      group.items.push(r);
    }
    const calls = [...groups.values()].map((g) => {
      const base = this.#base(g.run);
      const args = ["FCALL", `${this.library}_finish`, "1", `${base}:st:${g.stage}`, base, this.#prefix, g.run, g.stage, g.actor];
      for (const r of g.items) {
        args.push(r.index, r.attempt, r.kind, r.payload, r.delivery.entry);
      }
      return { group: g, args };
    });
    const client = /** @type {Client} */ (this.#client);
    /** @type {Map<typeof calls[number], { answer?: unknown, error?: unknown }>} */
    const answers = new Map();
    let pending = calls;
    // Sent in one tick, the calls go out in one write (the client pipelines them); each
    // that failed for want of a connection is sent again (finishing is idempotent).
    await retry(async () => {
      const settled = await Promise.allSettled(pending.map((c) => client.sendCommand(c.args)));
      /** @type {typeof calls} */
      const again = [];
      /** @type {unknown} */
      let lost;
      settled.forEach((s, i) => {
        if (s.status === "fulfilled") {
          answers.set(pending[i], { answer: s.value });
        } else if (retryable(s.reason)) {
          again.push(pending[i]);
          lost = s.reason;
        } else {
          answers.set(pending[i], { error: s.reason });
        }
      });
      pending = again;
      if (again.length > 0) {
        throw lost;
      }
    }, this.#unavailable("recording outcomes"));
    for (const call of calls) {
      const { run, stage, actor, items } = call.group;
      const got = answers.get(call);
      if (got === undefined || got.error !== undefined) {
        const error = got?.error instanceof Error ? got.error.message : String(got?.error);
        this.#log("error", "finish.refused", { run, stage, actor, tasks: items.length, error });
        continue;
      }
      const words = Array.isArray(got.answer) ? got.answer.map(String) : [];
      this.#ran += items.length;
      if (words.includes("ended")) {
        this.#markEnded(run);
        this.#forget(run);
      }
      const odd = words.filter((w) => !["counted", "duplicate", "straggler", "review", "ended"].includes(w));
      this.#log("debug", "tasks.finished", { run, stage, actor, tasks: items.length, answers: [...new Set(words)].sort().join(",") });
      if (odd.length > 0 || words.length !== items.length) {
        this.#log("warn", "finish.unexpected", { run, stage, actor, tasks: items.length, answers: words.join(",").slice(0, 200) });
      }
    }
  }

  /** Keep the running deliveries claimed, so a long task is not taken over. @param {AbortSignal} signal */
  async #heartbeat(signal) {
    const every = Math.max(this.#visibilityMs / 3, 50);
    const client = /** @type {Client} */ (this.#client);
    for (;;) {
      try {
        await sleep(every, undefined, { signal });
      } catch {
        return; // aborted: the worker is stopping
      }
      for (const [stream, entries] of [...this.#running]) {
        const ids = [...entries];
        if (ids.length === 0) {
          continue;
        }
        try {
          await client.sendCommand(["XCLAIM", stream, GROUP, this.#consumer, "0", ...ids, "JUSTID"]);
        } catch (error) {
          this.#log("warn", "heartbeat.failed", { stream, error: String(error) }); // again at the next beat
        }
      }
    }
  }

  /**
   * Give unstarted deliveries back to their streams at once, every field as read
   * (`generation` included).
   * @param {Delivery[]} deliveries
   */
  async #handBack(deliveries) {
    const client = /** @type {Client} */ (this.#client);
    for (const d of deliveries) {
      this.#release(d);
      if (this.#ended.has(d.run)) {
        continue;
      }
      let given;
      try {
        given = await retry(
          () => client.sendCommand(["FCALL", `${this.library}_handback`, "1", d.stream, d.entry, ...d.raw]),
          this.#unavailable("handing back a task"),
        );
      } catch (error) {
        if (!(error instanceof ErrorReply)) {
          throw error;
        }
        // This stream's trouble (its group gone): hand back the others.
        this.#log("error", "handback.refused", { stream: d.stream, entry: d.entry, error: error.message });
        continue;
      }
      this.#handedBack += integer(given) === 1 ? 1 : 0;
    }
    if (deliveries.length > 0) {
      this.#log("info", "tasks.handed_back", { count: this.#handedBack });
    }
  }
}

/**
 * @param {string} stream @param {{ run: string, actor: string }} where @param {Entry} entry
 * @param {number} now
 * @returns {Delivery}
 */
function delivery(stream, where, entry, now) {
  return { stream, entry: entry.id, run: where.run, actor: where.actor, fields: entry.fields, raw: entry.raw, taken: now };
}

/** @param {string} stream @param {string} entry */
function heldKey(stream, entry) {
  return `${stream}\n${entry}`;
}
