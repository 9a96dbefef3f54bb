// The readers of what JavaScript hands the module: options, attempts, snapshots, a
// classification handed back, envelope limits. Errors name the member and what it takes and
// never quote a value; unknown members are refused (skipped in a classification); whole
// numbers saturate beyond 64 bits; snapshots round-trip.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ht from '../js/node.mjs';

const NOW = 1763800000000;
const SECRET = 'sk-live-SECRET-9f8e7d';

/** Asserts `f` throws an error with `code` whose message names `member` and never the secret. */
function refuses(f, code, member) {
  assert.throws(f, (e) => {
    assert.equal(e.code, code, e.message);
    assert.ok(e.message.includes(`\`${member}\``), `${e.message} names ${member}`);
    assert.ok(!e.message.includes('SECRET'), e.message);
    return true;
  });
}

// camelCase option → the core's name it is reported under.
const OPTIONS = {
  RetryPolicy: [
    (o) => new ht.RetryPolicy(o),
    {
      maxAttempts: 'max_attempts',
      maxRateLimited: 'max_rate_limited',
      baseDelayMs: 'base_delay',
      multiplier: 'multiplier',
      maxDelayMs: 'max_delay',
      jitter: 'jitter',
      deadlineMs: 'deadline',
      pollIntervalMs: 'poll_interval',
      maxPolls: 'max_polls',
      maxServerDelayMs: 'max_server_delay',
      longWait: 'long_wait',
      serverDelayJitter: 'server_delay_jitter',
    },
  ],
  CircuitBreaker: [
    (o) => new ht.CircuitBreaker(o),
    {
      failureThreshold: 'failure_threshold',
      failureRatio: 'failure_ratio',
      windowMs: 'window_ms',
      minThroughput: 'min_throughput',
      openForMs: 'open_for_ms',
      maxOpenForMs: 'max_open_for_ms',
      halfOpenProbes: 'half_open_probes',
    },
  ],
  RetryBudget: [(o) => new ht.RetryBudget(o), { maxTokens: 'max_tokens', tokenRatio: 'token_ratio' }],
  Pacer: [(o) => new ht.Pacer(o), { beta: 'beta', scale: 'scale', minRate: 'min_rate', maxRate: 'max_rate' }],
};

test('a bad type in any option names the member, never the value', () => {
  for (const [machine, [make, members]] of Object.entries(OPTIONS)) {
    for (const [option, name] of Object.entries(members)) {
      // A string where a number is taken; an unknown name where a name is (jitter, longWait).
      refuses(() => make({ [option]: SECRET }), 'invalid_option', name);
      if (option !== 'jitter' && option !== 'longWait') {
        refuses(() => make({ [option]: { a: SECRET } }), 'invalid_option', name);
        refuses(() => make({ [option]: [SECRET] }), 'invalid_option', name);
        refuses(() => make({ [option]: true }), 'invalid_option', name);
      } else {
        refuses(() => make({ [option]: 3 }), 'invalid_option', name);
      }
    }
    // Not an object at all.
    assert.throws(() => make(SECRET), (e) => e.code === 'invalid_option' && !e.message.includes('SECRET'), machine);
  }
  // A fraction where a whole number is taken, a negative count.
  refuses(() => new ht.RetryPolicy({ maxAttempts: 1.5 }), 'invalid_option', 'max_attempts');
  refuses(() => new ht.CircuitBreaker({ windowMs: -1 }), 'invalid_option', 'window_ms');
  refuses(() => new ht.RetryPolicy({ maxAttempts: 2 ** 40 }), 'invalid_option', 'max_attempts');
  // An attempt is input, not an option.
  const c = ht.classify({ status: 503, now: NOW });
  refuses(() => new ht.RetryPolicy().decide(c, { number: SECRET }, 0.5), 'invalid_input', 'number');
  refuses(() => new ht.RetryPolicy().decide(c, { elapsedMs: 1.5 }, 0.5), 'invalid_input', 'elapsed_ms');
  refuses(() => ht.parseEnvelope('{}', 'application/json', { maxDepth: SECRET }), 'invalid_option', 'maxDepth');
});

test('options: unknown members are refused, missing ones take the defaults, either spelling reads', () => {
  for (const [make] of Object.values(OPTIONS)) {
    refuses(() => make({ warp: 9 }), 'invalid_option', 'warp');
    make({});
    make(undefined);
    make(null);
  }
  refuses(() => new ht.RetryPolicy().decide(ht.classify({ status: 503, now: NOW }), { warp: 1 }, 0.5), 'invalid_input', 'warp');
  refuses(() => ht.parseEnvelope('{}', 'application/json', { warp: 1 }), 'invalid_option', 'warp');
  // The core's own snake_case names read too; `undefined` members are absent.
  const c = ht.classify({ status: 503, now: NOW });
  const a = new ht.RetryPolicy({ base_delay_ms: 100, jitter: 'none', maxDelayMs: undefined }).decide(c, { number: 1 }, 0.5);
  const b = new ht.RetryPolicy({ baseDelayMs: 100, jitter: 'none' }).decide(c, { number: 1 }, 0.5);
  assert.deepEqual(a, b);
  assert.equal(b.delayMs, 100);
  // The defaults: a default policy decides as one built from no options.
  assert.deepEqual(new ht.RetryPolicy({}).decide(c, { number: 1 }, 0.5), new ht.RetryPolicy().decide(c, {}, 0.5));
  // An own `__proto__` member (from `JSON.parse`) is skipped in options, as it always was.
  new ht.RetryPolicy(JSON.parse('{"__proto__": {"warp": 1}, "maxAttempts": 2}'));
  // `null` turns an optional rule off.
  new ht.CircuitBreaker({ failureRatio: null });
  new ht.RetryPolicy({ deadlineMs: null });
});

test('whole numbers saturate beyond 64 bits; a bigint reads as its value', () => {
  const MAX = 2 ** 64; // u64::MAX as the nearest double
  const gate = ht.RateGate.fromJSON({ version: 1, reopens_at_ms: 2 ** 64 });
  assert.equal(gate.reopensAtMs, MAX);
  assert.equal(ht.RateGate.fromJSON({ version: 1, reopens_at_ms: 2 ** 70 }).reopensAtMs, MAX);
  assert.equal(ht.RateGate.fromJSON({ version: 1, reopens_at_ms: 2n ** 64n - 1n }).reopensAtMs, MAX);
  assert.equal(ht.RateGate.fromJSON({ version: 1, reopens_at_ms: 5000n }).reopensAtMs, 5000);
  refuses(() => ht.RateGate.fromJSON({ version: 1, reopens_at_ms: 2n ** 64n }), 'invalid_snapshot', 'reopens_at_ms');
  refuses(() => ht.RateGate.fromJSON({ version: 1, reopens_at_ms: 1.5 }), 'invalid_snapshot', 'reopens_at_ms');
  new ht.RetryPolicy({ maxDelayMs: 2 ** 64, maxServerDelayMs: 2 ** 64, deadlineMs: 2 ** 64 });
  new ht.CircuitBreaker({ maxOpenForMs: 2 ** 64 });
  const c = ht.classify({ status: 503, now: NOW });
  const d = new ht.RetryPolicy({ jitter: 'none' }).decide(c, { number: 1, elapsedMs: 0, nowMs: 2 ** 64 }, 0.5);
  assert.equal(d.decision, 'retry');
  const handed = { ...c, rateLimitRemaining: 2 ** 64, rateLimitLimit: 2 ** 70 };
  new ht.Pacer().record(handed, 0);
});

const SNAPSHOTS = {
  breaker: (s) => ht.CircuitBreaker.fromJSON(s, { failureThreshold: 2 }),
  budget: (s) => ht.RetryBudget.fromJSON(s),
  gate: (s) => ht.RateGate.fromJSON(s),
  pacer: (s) => ht.Pacer.fromJSON(s),
};

function used() {
  const throttled = ht.classify({ status: 429, headers: { 'retry-after': '2', 'ratelimit-limit': '10', 'ratelimit-remaining': '3', 'ratelimit-reset': '30' }, now: NOW });
  const failure = ht.classify({ status: 500, now: NOW });
  const ok = ht.classify({ status: 200, now: NOW });
  const breaker = new ht.CircuitBreaker({ failureThreshold: 2 });
  breaker.record(ok, 5);
  breaker.record(failure, 10);
  breaker.record(failure, 11);
  const budget = new ht.RetryBudget();
  budget.onFailure();
  budget.onSuccess();
  const gate = new ht.RateGate();
  gate.record(throttled, 1000);
  const pacer = new ht.Pacer({ maxRate: 50 });
  for (let t = 0; t < 2000; t += 100) {
    const at = pacer.acquire(t);
    pacer.recordSent(t % 700 === 0 ? throttled : ok, at, at + 20);
  }
  return { breaker, budget, gate, pacer };
}

test('every machine round-trips: fromJSON(toJSON()) gives the same snapshot and the same answers', () => {
  for (const [name, m] of Object.entries(used())) {
    const json = m.toJSON();
    const back = SNAPSHOTS[name](JSON.parse(JSON.stringify(json)));
    assert.deepEqual(back.toJSON(), json, name);
    assert.deepEqual(SNAPSHOTS[name](json).toJSON(), json, name);
  }
  const { breaker, pacer, gate } = used();
  const b2 = ht.CircuitBreaker.fromJSON(breaker.toJSON(), { failureThreshold: 2 });
  assert.deepEqual(b2.admit(12), breaker.admit(12));
  const p2 = ht.Pacer.fromJSON(pacer.toJSON());
  assert.equal(p2.rate, pacer.rate);
  assert.equal(p2.acquire(3000), pacer.acquire(3000));
  assert.equal(ht.RateGate.fromJSON(gate.toJSON()).wait(2000), gate.wait(2000));
});

test('snapshots: unknown members refused, required ones named, optional ones may be absent', () => {
  const snaps = Object.fromEntries(Object.entries(used()).map(([k, m]) => [k, m.toJSON()]));
  for (const [name, s] of Object.entries(snaps)) {
    refuses(() => SNAPSHOTS[name]({ ...s, warp: 1 }), 'invalid_snapshot', 'warp');
    refuses(() => SNAPSHOTS[name]({ ...s, version: SECRET }), 'invalid_snapshot', 'version');
    const { version, ...rest } = s;
    assert.equal(version, 1);
    refuses(() => SNAPSHOTS[name](rest), 'invalid_snapshot', 'version');
    assert.throws(() => SNAPSHOTS[name](SECRET), (e) => e.code === 'invalid_snapshot' && !e.message.includes('SECRET'));
  }
  refuses(() => SNAPSHOTS.breaker({ ...snaps.breaker, buckets: [{ successes: 1 }] }), 'invalid_snapshot', 'failures');
  refuses(() => SNAPSHOTS.breaker({ ...snaps.breaker, state: 7 }), 'invalid_snapshot', 'state');
  refuses(() => SNAPSHOTS.pacer({ ...snaps.pacer, config: { warp: 1 } }), 'invalid_snapshot', 'warp');
  refuses(() => SNAPSHOTS.pacer({ ...snaps.pacer, cuts: 1.5 }), 'invalid_snapshot', 'cuts');
  const { next_ms: _, ...noNext } = snaps.pacer;
  refuses(() => SNAPSHOTS.pacer(noNext), 'invalid_snapshot', 'next_ms');
  // Optional members: absent is null; a pacer snapshot's later members take "nothing learned".
  assert.equal(ht.RateGate.fromJSON({ version: 1 }).reopensAtMs, null);
  const { open_until_ms: _o, probe_deadline_ms: _p, ...noOptions } = new ht.CircuitBreaker().toJSON();
  SNAPSHOTS.breaker(noOptions);
  const skeleton = ht.Pacer.fromJSON({ version: 1, config: {}, next_ms: 0 });
  assert.equal(skeleton.rate, null);
  assert.equal(skeleton.cuts, 0);
  assert.deepEqual(ht.Pacer.fromJSON({ version: 1, config: {}, next_ms: 0 }).toJSON(), new ht.Pacer().toJSON());
});

test('a classification handed back: other members skipped, its own read, errors name them', () => {
  const c = ht.classify({ status: 429, headers: { 'retry-after': '3' }, body: '{"error":{"code":"rate_limited","message":"slow"}}', now: NOW });
  const policy = new ht.RetryPolicy({ jitter: 'none' });
  const d = policy.decide(c, { number: 1 }, 0.5);
  // Extra members (anything the caller added) are skipped.
  assert.deepEqual(policy.decide({ ...c, mine: { any: [1, 'x', null] } }, { number: 1 }, 0.5), d);
  // A hand-built one: only category and reason are required.
  const bare = policy.decide({ category: 'retryable', reason: 'server_error' }, { number: 1 }, 0.5);
  assert.equal(bare.decision, 'retry');
  refuses(() => policy.decide({ category: 'retryable' }, {}, 0.5), 'invalid_input', 'reason');
  refuses(() => policy.decide({ ...c, retryAfterMs: SECRET }, {}, 0.5), 'invalid_input', 'retryAfterMs');
  refuses(() => policy.decide({ ...c, status: 70000 }, {}, 0.5), 'invalid_input', 'status');
  refuses(() => policy.decide({ ...c, violations: [{ field: SECRET }] }, {}, 0.5), 'invalid_input', 'message');
  refuses(() => policy.decide({ ...c, requestNotProcessed: SECRET }, {}, 0.5), 'invalid_input', 'requestNotProcessed');
  assert.throws(() => policy.decide({ ...c, dialect: SECRET }, {}, 0.5), (e) => e.code === 'unknown_name' && !e.message.includes('SECRET'));
  assert.throws(() => policy.decide({ ...c, category: SECRET }, {}, 0.5), (e) => e.code === 'unknown_name');
  // Every dialect `classify` names reads back.
  for (const body of ['{"error":{"type":"invalid_request_error","message":"m"}}', '{"type":"error","error":{"type":"overloaded_error","message":"m"}}', '<html>x</html>', '']) {
    const x = ht.classify({ status: 500, body, now: NOW });
    new ht.RetryBudget().record(x);
  }
});
