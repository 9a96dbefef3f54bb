// Node entry point: the wasm module built with `wasm-bindgen --target nodejs` (loaded
// synchronously from the package's files), wrapped by the shared API.
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
} = bind(raw);
