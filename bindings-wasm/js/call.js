// Internal (not re-exported by the entry points): every call into a wasm module goes through
// `call`, so that whatever it throws reaches the caller as an HttpTriageError.
import { mapError } from './errors.js';

/** `f()`, with whatever it throws mapped by `mapError`. */
export function call(f) {
  try {
    return f();
  } catch (e) {
    throw mapError(e);
  }
}
