// Types of `http-triage/ledger`: the ledger tools, in a wasm module of their own (the module
// `http-triage` loads for `classify` and `fetchWithRetry` carries no JSON writer).

export interface LedgerLine {
  record: Record<string, unknown> & { item: string; outcome: string };
  line: string;
}
export function parseLedgerLine(line: string): LedgerLine;
export interface LedgerReplay {
  done: string[];
  quarantined: string[];
  deferred: string[];
  stopped: string[];
  inFlight: string[];
  tornTail: boolean;
  badLines: number[];
  recoveredLines: number[];
  records: number;
  items: number;
  resumeAtMs: Record<string, number | null>;
  toRun?: string[];
  attempts?: Record<string, number>;
  /** The report, in the format of `http-triage report --json`. */
  report: Record<string, unknown> & {
    correlated: Array<{ kind: string; key: string }>;
    remedies: Array<{ reason: string; kind: string }>;
    quarantined_items: Array<{ item: string }>;
  };
  reportText: string;
}
export function replayLedger(
  text: string,
  options?: {
    items?: string[];
    retryQuarantined?: boolean;
    report?: { alertRate?: number; correlationWindowMs?: number; minCluster?: number };
  },
): LedgerReplay;

