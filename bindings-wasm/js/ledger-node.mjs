// Node entry point of `http-triage/ledger`: the ledger module built with `--features ledger`.
import { createRequire } from 'node:module';
import { bindLedger } from './ledger-api.js';

const require = createRequire(import.meta.url);
const raw = require('../pkg/ledger-node/http_triage_wasm.js');

export const { parseLedgerLine, replayLedger } = bindLedger(raw);
