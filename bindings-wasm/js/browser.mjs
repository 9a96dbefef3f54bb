// Browser entry point: the wasm module built with `wasm-bindgen --target web`, fetched next to
// this file and instantiated once (top-level await), wrapped by the shared API.
import init, * as raw from '../pkg/web/http_triage_wasm.js';
import { bind } from './api.js';

await init({ module_or_path: new URL('../pkg/web/http_triage_wasm_bg.wasm', import.meta.url) });

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
