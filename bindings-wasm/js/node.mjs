// Node entry point: the wasm module built with `wasm-bindgen --target nodejs` (loaded
// synchronously from the package's files), wrapped by the shared API.
import { Buffer } from 'node:buffer';
import { createRequire } from 'node:module';
import { bind } from './api.js';

const require = createRequire(import.meta.url);
const raw = require('../pkg/node/http_triage_wasm.js');

export * from './errors.js';
export const {
  classify,
  classifyResponse,
  classifyError,
  parseEnvelope,
  readHeaders,
  RetryPolicy,
  CircuitBreaker,
  RetryBudget,
  RateGate,
  Pacer,
  SharedState,
  fetchWithRetry,
  version,
} = bind(raw, {
  // Buffer's UTF-8 writer takes a string built by `+` as it is (TextEncoder flattens it first),
  // and both directions cost less per call than TextEncoder/TextDecoder in Node.
  view: (buffer) => Buffer.from(buffer),
  write: (view, s, at, end) => view.write(s, at, end - at),
  read: (view, start, end) => view.toString('utf8', start, end),
});
