// Browser entry point of `http-triage/ledger`: the ledger module, fetched next to this file.
import init, * as raw from '../pkg/ledger-web/http_triage_wasm.js';
import { bindLedger } from './ledger-api.js';

await init({ module_or_path: new URL('../pkg/ledger-web/http_triage_wasm_bg.wasm', import.meta.url) });

export const { parseLedgerLine, replayLedger } = bindLedger(raw);
