// The ledger tools over their own wasm module (`http-triage/ledger`). Thin: values in, errors
// mapped, every reading of the ledger done by the core.

import { InvalidInputError } from './errors.js';
import { call } from './call.js';

/** The ledger API over a loaded wasm-bindgen module built with the `ledger` feature. */
export function bindLedger(raw) {
  /** One ledger line → `{record, line}` (the record in the ledger's snake_case format). */
  function parseLedgerLine(line) {
    if (typeof line !== 'string') throw new InvalidInputError('a ledger line is a string');
    return call(() => raw.parseLedgerLine(line));
  }

  /** A ledger's text → what is done, quarantined, deferred, stopped, in flight, and the report. */
  function replayLedger(text, options) {
    if (typeof text !== 'string') throw new InvalidInputError('a ledger is text');
    return call(() => raw.replayLedger(text, options));
  }

  return { parseLedgerLine, replayLedger };
}
