// The shared vectors (tests/vectors/*.json at the repository's top) through the JavaScript API:
// a port of core/tests/vectors/*.rs. Fails on a suite, an input field, an op or an expected field
// it does not know; prints how many cases it ran and checks that is every case in the files.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ht from '../js/node.mjs';
import * as ledger from '../js/ledger-node.mjs';

const VECTORS = join(dirname(fileURLToPath(import.meta.url)), '../../tests/vectors');
/** The `now` of a case that gives none (seconds): 2025-11-22T08:26:40Z. */
const DEFAULT_NOW_S = 1763800000;

const hasOwn = (o, k) => Object.prototype.hasOwnProperty.call(o, k);
const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * JSON.parse, but integers beyond 2^53 (gate_saturation.json's clock at the end of u64) become
 * `bigint`s, which the machines take exactly; compared, they are doubles.
 */
function parseVectors(text) {
  const marked = text.replace(/("(?:[^"\\]|\\.)*")|(-?\d{16,})(?![.eE\d])/g, (m, str, num) => {
    if (str !== undefined) return str;
    return Number.isSafeInteger(Number(num)) ? num : `"\\u0000big:${num}"`;
  });
  return JSON.parse(marked, (_k, v) =>
    typeof v === 'string' && v.startsWith('\u0000big:') ? BigInt(v.slice(5)) : v,
  );
}

const num = (v) => (typeof v === 'bigint' ? Number(v) : v);

function jsonEq(a, b) {
  a = num(a);
  b = num(b);
  if (typeof a === 'number' && typeof b === 'number') {
    return Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), 1);
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => jsonEq(x, b[i]));
  }
  if (isObj(a) && isObj(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => hasOwn(b, k) && jsonEq(a[k], b[k]));
  }
  return a === b;
}

/** Every key of `expect` must be a key of `actual` (else: an unknown field) and equal. */
function compare(expect, actual, where = '') {
  if (!isObj(expect)) throw new Error(`${where}expect must be an object`);
  for (const [k, want] of Object.entries(expect)) {
    if (!hasOwn(actual, k)) {
      throw new Error(`${where}unknown expect field \`${k}\` (known: ${Object.keys(actual).join(', ')})`);
    }
    if (!jsonEq(want, actual[k])) {
      throw new Error(`${where}\`${k}\`: expected ${JSON.stringify(want)}, got ${JSON.stringify(actual[k])}`);
    }
  }
}

function onlyKeys(obj, allowed, what = 'input') {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) throw new Error(`unknown ${what} field \`${k}\``);
  }
}

/** `body` / `body_hex` / `body_repeat` → a string or bytes; removes those keys. */
function takeBody(input) {
  let out;
  if (hasOwn(input, 'body')) {
    const v = input.body;
    delete input.body;
    if (typeof v === 'string') out = v;
    else if (v !== null) throw new Error('body must be a string');
  }
  if (hasOwn(input, 'body_hex')) {
    const s = String(input.body_hex).replace(/\s+/g, '');
    delete input.body_hex;
    if (s.length % 2 !== 0) throw new Error('body_hex has odd length');
    out = Uint8Array.from(s.match(/../g) ?? [], (h) => {
      const n = Number.parseInt(h, 16);
      if (Number.isNaN(n)) throw new Error('body_hex is not hex');
      return n;
    });
  }
  if (hasOwn(input, 'body_repeat')) {
    const o = input.body_repeat;
    delete input.body_repeat;
    onlyKeys(o, ['prefix', 'unit', 'count', 'suffix', 'suffix_unit'], 'body_repeat');
    const n = o.count;
    if (!Number.isInteger(n) || n < 0) throw new Error('body_repeat.count');
    out = (o.prefix ?? '') + (o.unit ?? '').repeat(n) + (o.suffix_unit ?? '').repeat(n) + (o.suffix ?? '');
  }
  return out;
}

const nowMs = (v) => {
  if (v === undefined || v === null) return DEFAULT_NOW_S * 1000;
  if (typeof v !== 'number') throw new Error('now must be a number');
  return Math.round(v * 1000);
};

const camel = (k) => k.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
function camelKeys(obj, msFields = []) {
  if (!isObj(obj)) return obj;
  const out = {};
  for (const [k, v] of Object.entries(obj)) out[camel(k) + (msFields.includes(k) ? 'Ms' : '')] = v;
  return out;
}

// ---- classify, envelope, headers ----

const CLASSIFY_INPUT = ['status', 'transport_error', 'headers', 'method', 'idempotency_key', 'now', 'rules'];

function classifyInput(input) {
  if (!isObj(input)) throw new Error('input must be an object');
  const i = { ...input };
  const body = takeBody(i);
  onlyKeys(i, CLASSIFY_INPUT);
  const args = { headers: i.headers ?? undefined, body, now: nowMs(i.now) };
  if (i.status != null) args.status = i.status;
  if (i.transport_error != null) args.transportError = i.transport_error;
  if (i.method != null) args.method = i.method;
  if (i.idempotency_key != null) args.idempotencyKey = i.idempotency_key;
  if (i.rules != null) args.rules = i.rules;
  return ht.classify(args);
}

function runClassify(input, expect) {
  const c = classifyInput(input);
  compare(expect, {
    category: c.category,
    reason: c.reason,
    code: c.code,
    message: c.message,
    request_id: c.requestId,
    retryable_hint: c.retryableHint,
    retry_after_seconds: c.retryAfterMs === null ? null : c.retryAfterMs / 1000,
    violations: c.violations,
    dialect: c.dialect,
    request_not_processed: c.requestNotProcessed,
    reference_id: c.referenceId,
  });
}

function runEnvelope(input, expect) {
  const i = { ...input };
  const body = takeBody(i) ?? '';
  onlyKeys(i, ['content_type', 'limits']);
  if (i.content_type != null && typeof i.content_type !== 'string') throw new Error('content_type must be a string');
  let limits;
  if (i.limits != null) {
    onlyKeys(i.limits, ['max_body_bytes', 'max_depth'], 'limits');
    limits = camelKeys(i.limits);
  }
  const e = ht.parseEnvelope(body, i.content_type ?? undefined, limits);
  compare(expect, {
    dialect: e.dialect,
    code: e.code,
    message: e.message,
    details: e.details,
    request_id: e.requestId,
    reference_id: e.referenceId,
    retryable: e.retryable,
    retry_after_ms: e.retryAfterMs,
    violations: e.violations,
    signals_error: e.signalsError,
    in_progress: e.inProgress,
  });
}

function runHeaders(input, expect) {
  onlyKeys(input, ['headers', 'now']);
  const h = ht.readHeaders(input.headers ?? [], nowMs(input.now));
  const actual = {
    retry_after_ms: h.retryAfterMs,
    rate_limit_reset_ms: h.rateLimitResetMs,
    rate_limit_remaining: h.rateLimitRemaining,
    should_retry: h.shouldRetry,
    request_id: h.requestId,
    content_type: h.contentType,
  };
  // Read by the core once the pacer branch is merged.
  if ('rateLimitLimit' in h) actual.rate_limit_limit = h.rateLimitLimit;
  if ('rateLimitWindowMs' in h) actual.rate_limit_window_ms = h.rateLimitWindowMs;
  compare(expect, actual);
}

// ---- decide, backoff ----

const POLICY_MS = ['base_delay', 'max_delay', 'deadline', 'poll_interval', 'max_server_delay'];
const policyOf = (p) => new ht.RetryPolicy(p == null ? undefined : camelKeys(p, POLICY_MS));
function randomOf(v) {
  if (v === undefined) throw new Error('`random` is required: decisions take their randomness as an argument');
  if (typeof v !== 'number') throw new Error('random must be a number');
  return v;
}

function runDecide(input, expect) {
  onlyKeys(input, ['response', 'policy', 'attempt', 'random']);
  if (input.response === undefined) throw new Error('response is required');
  const c = classifyInput(input.response);
  const p = policyOf(input.policy);
  const attempt = input.attempt === undefined ? { number: 1 } : camelKeys(input.attempt);
  const d = p.decide(c, attempt, randomOf(input.random));
  compare(expect, {
    decision: d.decision,
    category: c.category,
    reason: c.reason,
    delay_ms: d.delayMs,
    source: d.source,
    give_up_reason: d.giveUpReason,
    stop_reason: d.stopReason,
    resume_at_ms: d.resumeAtMs,
  });
}

function runBackoff(input, expect) {
  onlyKeys(input, ['policy', 'attempt', 'previous_delay_ms', 'random']);
  if (!Number.isInteger(input.attempt)) throw new Error('attempt must be an integer');
  const d = policyOf(input.policy).backoff(input.attempt, input.previous_delay_ms, randomOf(input.random));
  compare(expect, { delay_ms: d });
}

// ---- state machines: one generic runner, one table per suite ----

const RECORD_KEYS = ['at_ms', 'category', 'reason', 'status', 'retry_after_ms', 'rate_limit_remaining'];
const MAX_TIMES = 1_000_000;

class Step {
  constructor(index, v) {
    if (!isObj(v)) throw new Error('a step must be an object');
    if (typeof v.op !== 'string') throw new Error('a step needs an `op` string');
    this.index = index;
    this.op = v.op;
    this.args = v;
  }
  only(keys) {
    for (const k of Object.keys(this.args)) {
      if (!['op', 'expect', 'note'].includes(k) && !keys.includes(k)) {
        throw new Error(`unknown field \`${k}\` for op \`${this.op}\``);
      }
    }
  }
  optU(key) {
    const v = this.args[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'bigint' && v >= 0n) return v;
    if (typeof v !== 'number' || v < 0 || !Number.isInteger(v)) throw new Error(`\`${key}\` must be a non-negative integer`);
    return v;
  }
  u(key) {
    const v = this.optU(key);
    if (v === undefined) throw new Error(`op \`${this.op}\` needs \`${key}\``);
    return v;
  }
  times() {
    const n = this.optU('times') ?? 1;
    if (n === 0 || n > MAX_TIMES) throw new Error(`\`times\` must be in 1..=${MAX_TIMES}`);
    return n;
  }
  /** A classification from `category`, `reason` and the optional fields. */
  classification() {
    for (const k of ['category', 'reason']) {
      if (typeof this.args[k] !== 'string') throw new Error(`op \`${this.op}\` needs \`${k}\` (a string)`);
    }
    return {
      category: this.args.category,
      reason: this.args.reason,
      status: this.optU('status') ?? null,
      retryAfterMs: this.optU('retry_after_ms') ?? null,
      rateLimitRemaining: this.optU('rate_limit_remaining') ?? null,
    };
  }
  check(actual) {
    if (this.args.expect !== undefined) compare(this.args.expect, actual, `step ${this.index} (\`${this.op}\`): `);
  }
}

/** `snapshot`, `snapshot_restore` and `restore`, the same for every machine. */
function snapshotOps(spec) {
  return {
    snapshot: {
      keys: [],
      run: (box) => box.m.toJSON(),
    },
    snapshot_restore: {
      keys: [],
      run: (box, _step, config) => {
        box.m = spec.restore(JSON.parse(JSON.stringify(box.m.toJSON())), config);
        return {};
      },
    },
    restore: {
      keys: ['snapshot'],
      run: (box, step, config) => {
        if (step.args.snapshot === undefined) throw new Error('op `restore` needs `snapshot`');
        try {
          box.m = spec.restore(step.args.snapshot, config);
          return { error: null };
        } catch (e) {
          if (!(e instanceof ht.HttpTriageError)) throw e;
          return { error: e.code };
        }
      },
    },
  };
}

function machineRunner(spec) {
  const ops = { ...spec.ops, ...snapshotOps(spec) };
  return (input, expect) => {
    if (!isObj(input)) throw new Error('input must be an object');
    onlyKeys(input, spec.inputKeys);
    const config = input.config === undefined ? undefined : camelKeys(input.config);
    onlyKeys(expect, ['error', 'option'], 'case expect');
    let m;
    try {
      m = spec.make(config);
    } catch (e) {
      if (!(e instanceof ht.HttpTriageError)) throw e;
      if (Object.keys(expect).length === 0) throw new Error(`unexpected error: ${e.message}`);
      compare(expect, { error: e.code, option: e.option ?? null }, `(${e.message}) `);
      return;
    }
    if (hasOwn(expect, 'error')) throw new Error(`expected error ${expect.error}, but the machine was built`);
    const box = { m };
    const steps = input.steps ?? [];
    if (!Array.isArray(steps)) throw new Error('steps must be an array');
    steps.forEach((v, i) => {
      const step = new Step(i, v);
      const op = ops[step.op];
      if (!op) throw new Error(`step ${i}: unknown ${spec.name} op \`${step.op}\``);
      step.only(op.keys);
      step.check(op.run(box, step, config));
    });
  };
}

const observeBreaker = (b, at) => {
  const s = b.state(at);
  return { state: s.state, until_ms: s.untilMs };
};
const observeBudget = (b) => ({ can_retry: b.canRetry(), tokens: b.tokens });
const observeGate = (g, at) => ({ open: g.isOpen(at), wait_ms: g.wait(at), reopens_at_ms: g.reopensAtMs });
const repeat = (step, f) => {
  for (let n = step.times(); n > 0; n -= 1) f();
};

const breaker = machineRunner({
  name: 'breaker',
  inputKeys: ['config', 'steps'],
  make: (config) => new ht.CircuitBreaker(config),
  restore: (s, config) => ht.CircuitBreaker.fromJSON(s, config),
  ops: {
    admit: {
      keys: ['at_ms'],
      run: ({ m }, step) => {
        const at = step.u('at_ms');
        const a = m.admit(at);
        return { ...observeBreaker(m, at), admission: a.admission, retry_at_ms: a.retryAtMs };
      },
    },
    success: { keys: ['at_ms', 'times'], run: ({ m }, s) => (repeat(s, () => m.onSuccess(s.u('at_ms'))), observeBreaker(m, s.u('at_ms'))) },
    neutral: { keys: ['at_ms', 'times'], run: ({ m }, s) => (repeat(s, () => m.onNeutral(s.u('at_ms'))), observeBreaker(m, s.u('at_ms'))) },
    failure: {
      keys: ['at_ms', 'times', 'retry_after_ms'],
      run: ({ m }, s) => (repeat(s, () => m.onFailure(s.u('at_ms'), s.optU('retry_after_ms'))), observeBreaker(m, s.u('at_ms'))),
    },
    record: {
      keys: [...RECORD_KEYS, 'times'],
      run: ({ m }, s) => {
        const c = s.classification();
        repeat(s, () => m.record(c, s.u('at_ms')));
        return observeBreaker(m, s.u('at_ms'));
      },
    },
    state: { keys: ['at_ms'], run: ({ m }, s) => observeBreaker(m, s.u('at_ms')) },
  },
});

const budget = machineRunner({
  name: 'budget',
  inputKeys: ['config', 'steps'],
  make: (config) => new ht.RetryBudget(config),
  restore: (s, config) => ht.RetryBudget.fromJSON(s, config),
  ops: {
    success: { keys: ['times'], run: ({ m }, s) => (repeat(s, () => m.onSuccess()), observeBudget(m)) },
    failure: { keys: ['times'], run: ({ m }, s) => (repeat(s, () => m.onFailure()), observeBudget(m)) },
    record: {
      keys: ['times', 'category', 'reason', 'status', 'retry_after_ms', 'rate_limit_remaining'],
      run: ({ m }, s) => {
        const c = s.classification();
        repeat(s, () => m.record(c));
        return observeBudget(m);
      },
    },
    state: { keys: [], run: ({ m }) => observeBudget(m) },
  },
});

const gate = machineRunner({
  name: 'gate',
  inputKeys: ['steps'],
  make: () => new ht.RateGate(),
  restore: (s) => ht.RateGate.fromJSON(s),
  ops: {
    close_for: {
      keys: ['at_ms', 'delay_ms'],
      run: ({ m }, s) => (m.closeFor(s.u('at_ms'), s.u('delay_ms')), observeGate(m, s.u('at_ms'))),
    },
    record: {
      keys: RECORD_KEYS,
      run: ({ m }, s) => (m.record(s.classification(), s.u('at_ms')), observeGate(m, s.u('at_ms'))),
    },
    wait: { keys: ['at_ms'], run: ({ m }, s) => observeGate(m, s.u('at_ms')) },
  },
});

// The pacer suite (tests/vectors/pacer*.json, from the pacer branch): the ops of
// core/tests/vectors/machines.rs `run_pacer_case`. `pace`, `cuts`, `measuredRate` and
// `recordSent` are the Pacer API the pacer branch adds; the binding exposes them at that merge.
const observePacer = (p, at) => ({
  rate: p.rate,
  pace: p.pace(at),
  wait_ms: p.waitMs(at),
  cuts: p.cuts,
  measured_rate: p.measuredRate(at),
});
const PACER_RECORD_KEYS = [...RECORD_KEYS, 'sent_ms', 'times', 'rate_limit_limit', 'rate_limit_reset_ms', 'rate_limit_window_ms'];
const pacer = machineRunner({
  name: 'pacer',
  inputKeys: ['config', 'steps'],
  make: (config) => new ht.Pacer(config),
  restore: (s) => ht.Pacer.fromJSON(s),
  ops: {
    acquire: {
      keys: ['at_ms', 'times'],
      run: ({ m }, s) => {
        const at = s.u('at_ms');
        const sends = [];
        repeat(s, () => sends.push(m.acquire(at)));
        return { ...observePacer(m, at), send_at_ms: sends };
      },
    },
    record: {
      keys: PACER_RECORD_KEYS,
      run: ({ m }, s) => {
        const at = s.u('at_ms');
        const c = {
          ...s.classification(),
          rateLimitLimit: s.optU('rate_limit_limit') ?? null,
          rateLimitResetMs: s.optU('rate_limit_reset_ms') ?? null,
          rateLimitWindowMs: s.optU('rate_limit_window_ms') ?? null,
        };
        const sent = s.optU('sent_ms');
        repeat(s, () => (sent === undefined ? m.record(c, at) : m.recordSent(c, sent, at)));
        return observePacer(m, at);
      },
    },
    state: { keys: ['at_ms'], run: ({ m }, s) => observePacer(m, s.u('at_ms')) },
  },
});

// ---- ledger ----

const RECORD_OPTIONAL = [
  'category', 'reason', 'code', 'status', 'request_id', 'message', 'started_at_ms', 'host',
  'output', 'resume_at_ms', 'idempotency_key', 'extension',
];

function runLedger(input, expect) {
  onlyKeys(input, ['line', 'lines', 'text', 'items', 'retry_quarantined', 'options']);
  const exp = { ...expect };
  if (hasOwn(input, 'line')) {
    if (Object.keys(input).length !== 1) throw new Error('`line` cases take no other input');
    if (typeof input.line !== 'string') throw new Error('line must be a string');
    let parsed;
    let error = null;
    try {
      parsed = ledger.parseLedgerLine(input.line);
    } catch (e) {
      if (!(e instanceof ht.InvalidLedgerLineError)) throw e;
      error = e.kind;
    }
    const actual = { ok: error === null, error };
    if (parsed) {
      const again = ledger.parseLedgerLine(parsed.line);
      if (!jsonEq(again.record, parsed.record)) throw new Error('to_line does not round-trip');
      actual.to_line = parsed.line;
      if (hasOwn(exp, 'record')) {
        const got = { ...parsed.record };
        for (const k of RECORD_OPTIONAL) if (!hasOwn(got, k)) got[k] = null;
        compare(exp.record, got, 'record: ');
        delete exp.record;
      }
    }
    compare(exp, actual);
    return;
  }
  let text;
  if (hasOwn(input, 'lines') && !hasOwn(input, 'text')) {
    if (!Array.isArray(input.lines)) throw new Error('lines must be an array');
    text = input.lines
      .map((l) => {
        if (typeof l === 'string') return `${l}\n`;
        if (isObj(l)) return `${JSON.stringify(l)}\n`;
        throw new Error('a line is a string or an object');
      })
      .join('');
  } else if (hasOwn(input, 'text') && !hasOwn(input, 'lines')) {
    text = input.text;
  } else {
    throw new Error('give exactly one of `lines` and `text`');
  }
  const r = ledger.replayLedger(text, {
    items: input.items,
    retryQuarantined: input.retry_quarantined,
    report: input.options === undefined ? undefined : camelKeys(input.options),
  });
  const actual = {
    done: r.done,
    quarantined: r.quarantined,
    deferred: r.deferred,
    stopped: r.stopped,
    in_flight: r.inFlight,
    torn_tail: r.tornTail,
    bad_lines: r.badLines,
    recovered_lines: r.recoveredLines,
    records: r.records,
    items: r.items,
    resume_at_ms: r.resumeAtMs,
    clusters: r.report.correlated.map((c) => `${c.kind}:${c.key}`),
    remedies: Object.fromEntries(r.report.remedies.map((x) => [x.reason, x.kind])),
  };
  if (input.items !== undefined) {
    actual.to_run = r.toRun;
    actual.attempts = r.attempts;
  }
  if (hasOwn(exp, 'report')) {
    compare(exp.report, r.report, 'report: ');
    for (const q of r.report.quarantined_items) {
      if (!r.reportText.includes(q.item)) throw new Error(`the report text does not list ${q.item}`);
    }
    delete exp.report;
  }
  compare(exp, actual);
}

const RUNNERS = {
  envelope: runEnvelope,
  headers: runHeaders,
  classify: runClassify,
  decide: runDecide,
  backoff: runBackoff,
  breaker,
  budget,
  gate,
  pacer,
  ledger: runLedger,
};

test('shared vectors through the JavaScript API', () => {
  const files = readdirSync(VECTORS)
    .filter((f) => f.endsWith('.json'))
    .sort();
  assert.ok(files.length > 0, 'no vector files found');
  let ran = 0;
  let inFiles = 0;
  const perSuite = {};
  const failures = [];
  for (const file of files) {
    const doc = parseVectors(readFileSync(join(VECTORS, file), 'utf8'));
    onlyKeys(doc, ['suite', 'description', 'cases'], `${file}: top-level`);
    const run = RUNNERS[doc.suite];
    assert.ok(run, `${file}: unknown suite \`${doc.suite}\``);
    assert.ok(Array.isArray(doc.cases), `${file}: cases is an array`);
    inFiles += doc.cases.length;
    const names = new Set();
    for (const c of doc.cases) {
      onlyKeys(c, ['name', 'input', 'expect', 'note'], `${file}: case`);
      assert.ok(!names.has(c.name), `${file}: duplicate case name \`${c.name}\``);
      names.add(c.name);
      ran += 1;
      perSuite[doc.suite] = (perSuite[doc.suite] ?? 0) + 1;
      try {
        run(c.input ?? {}, c.expect ?? {});
      } catch (e) {
        failures.push(`${file} / ${c.name}: ${e.message}`);
      }
    }
  }
  console.log(`shared vectors: ran ${ran} cases from ${files.length} files: ${JSON.stringify(perSuite)}`);
  assert.equal(ran, inFiles, 'every case in the files ran');
  assert.deepEqual(failures, [], `${failures.length} of ${ran} vector cases failed`);
});
