// troupe-worker: serve troupe actors from Node.js over Redis (troupe's Redis protocol,
// version 5). See README.md; the types are in index.d.ts.

export { PROTOCOL_VERSION, ProtocolMismatch, Worker } from "./worker.js";
export { jsonLogger, textLogger } from "./log.js";
