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
} = bind(raw, nodeText());

/**
 * UTF-8 in and out of wasm memory with `Buffer`: its writer takes a string built by `+` as it
 * is (TextEncoder flattens it first), and both directions cost less per call than
 * TextEncoder/TextDecoder in Node. `utf8Write` and `utf8Slice` are the native methods behind
 * `write` and `toString('utf8')`, without their argument checks (measured: those checks were
 * ~0.3 µs of a 3.3 µs `classify`; `api.js` passes offsets that are always in range). Any Node
 * without them gets the public methods.
 */
function nodeText() {
  const b = Buffer.alloc(0);
  if (typeof b.utf8Write === 'function' && typeof b.utf8Slice === 'function') {
    return {
      view: (buffer) => Buffer.from(buffer),
      write: (view, s, at, end) => view.utf8Write(s, at, end - at),
      read: (view, start, end) => view.utf8Slice(start, end),
    };
  }
  return {
    view: (buffer) => Buffer.from(buffer),
    write: (view, s, at, end) => view.write(s, at, end - at),
    read: (view, start, end) => view.toString('utf8', start, end),
  };
}
