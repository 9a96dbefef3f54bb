// fetchWithRetry against the real `http-triage serve` on loopback: no mocks. Timing is asserted
// only as "not before" (the server's Retry-After) and "well before" (abort and deadline).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  fetchWithRetry,
  SharedState,
  BodyNotReplayableError,
  DeadlineExceededError,
  HttpTriageError,
} from '../js/node.mjs';
import { startServe, fileWithFate, KEY } from './serve.mjs';

const TRANSIENT = { permanentRate: 0, transientRate: 1 };
const PERMANENT = { permanentRate: 1, transientRate: 0 };
let flaky; // every file fails 1-2 times first; a hang stalls 3 s
let broken; // every file fails permanently
let limited; // 1 request per second, Retry-After in whole seconds

before(async () => {
  [flaky, broken, limited] = await Promise.all([
    startServe(['--permanent-rate', '0', '--transient-rate', '1', '--rate-limit', '0', '--hang-ms', '3000']),
    startServe(['--permanent-rate', '1', '--transient-rate', '0', '--rate-limit', '0']),
    startServe(['--permanent-rate', '0', '--transient-rate', '0', '--rate-limit', '1', '--burst', '1']),
  ]);
});
after(async () => {
  await Promise.all([flaky, broken, limited].filter(Boolean).map((s) => s.stop()));
});

/** POST a file, recording every event and what each attempt sent. */
async function convert(server, body, { key = KEY, options = {}, init = {} } = {}) {
  const events = [];
  const sends = [];
  const res = await fetchWithRetry(
    `${server.url}/v1/convert?target=pdf`,
    { method: 'POST', headers: { Authorization: `Bearer ${key}` }, body, ...init },
    {
      state: new SharedState(),
      policy: { baseDelayMs: 10, maxDelayMs: 50 },
      onDecision: (e) => events.push({ ...e, at: performance.now() }),
      fetch: (input, i) => {
        sends.push({ at: performance.now(), key: new Headers(i.headers).get('idempotency-key') });
        return fetch(input, i);
      },
      ...options,
    },
  );
  return { res, events, sends };
}

test('a 5xx is retried until the file converts; events are plain objects', async () => {
  const body = fileWithFate(TRANSIENT, { fate: 'transient', kind: '500', failures: 2 }, '5xx');
  const { res, events, sends } = await convert(flaky, body);
  assert.equal(res.status, 200);
  assert.match(await res.text(), /^http-triage converted target=pdf/);
  assert.equal(sends.length, 3);
  assert.deepEqual(
    events.map((e) => [e.attempt, e.status, e.category, e.decision]),
    [
      [1, 500, 'retryable', 'retry'],
      [2, 500, 'retryable', 'retry'],
      [3, 200, 'success', 'done'],
    ],
  );
  const first = events[0];
  assert.equal(Object.getPrototypeOf(first), Object.prototype);
  assert.equal(first.reason, 'server_error');
  assert.equal(first.source, 'backoff');
  assert.equal(typeof first.delayMs, 'number');
  assert.equal(typeof first.code, 'string');
  assert.equal(typeof first.requestId, 'string');
  assert.ok(sends[1].at - first.at >= first.delayMs, 'the backoff delay was waited');
});

test('a 422 is not retried', async () => {
  const body = fileWithFate(PERMANENT, { fate: 'permanent', kind: 'corrupted' }, '422');
  const { res, events, sends } = await convert(broken, body);
  assert.equal(res.status, 422);
  assert.equal(sends.length, 1);
  assert.equal(events.length, 1);
  assert.equal(events[0].category, 'permanent');
  assert.equal(events[0].decision, 'give_up');
  assert.equal(events[0].code, 'corrupted');
});

test('a 401 stops at once', async () => {
  const { res, events, sends } = await convert(broken, 'any file', { key: 'wrong-key' });
  assert.equal(res.status, 401);
  assert.equal(sends.length, 1);
  assert.deepEqual(
    events.map((e) => [e.category, e.decision]),
    [['auth', 'stop']],
  );
});

test("the server's Retry-After is honoured: the retry is not sent early", async () => {
  const state = new SharedState();
  // Use up the one-per-second allowance, then ask again at once.
  const first = await fetchWithRetry(`${limited.url}/v1/convert?target=pdf`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${KEY}` },
    body: 'first',
  }, { state });
  assert.equal(first.status, 200);
  const { res, events, sends } = await convert(limited, 'second', { options: { state } });
  assert.equal(res.status, 200);
  assert.equal(events[0].status, 429);
  assert.equal(events[0].decision, 'retry');
  assert.equal(events[0].source, 'server');
  assert.ok(events[0].delayMs >= 1000, `Retry-After is whole seconds, got ${events[0].delayMs}`);
  const waited = sends[1].at - events[0].at;
  assert.ok(waited >= events[0].delayMs, `retried after ${waited} ms, asked ${events[0].delayMs} ms`);
});

test('a POST without an Idempotency-Key is not repeated after a 500', async () => {
  const body = fileWithFate(TRANSIENT, { fate: 'transient', kind: '500' }, 'nokey');
  const { res, events, sends } = await convert(flaky, body, { options: { idempotencyKey: false } });
  assert.equal(res.status, 500);
  assert.equal(sends.length, 1);
  assert.equal(sends[0].key, null);
  assert.equal(events[0].reason, 'not_safe_to_repeat');
  assert.equal(events[0].decision, 'give_up');
});

test('a POST is retried with one Idempotency-Key for every attempt', async () => {
  const body = fileWithFate(TRANSIENT, { fate: 'transient', kind: '503', failures: 2 }, 'key');
  const { res, sends } = await convert(flaky, body);
  assert.equal(res.status, 200);
  assert.equal(sends.length, 3);
  assert.match(sends[0].key, /^[0-9a-f-]{32,36}$/);
  assert.ok(sends.every((s) => s.key === sends[0].key));
  // A key the caller gives is used as is.
  const body2 = fileWithFate(TRANSIENT, { fate: 'transient', kind: '500', failures: 1 }, 'own-key');
  const own = await convert(flaky, body2, { options: { idempotencyKey: 'order-42' } });
  assert.equal(own.res.status, 200);
  assert.deepEqual(own.sends.map((s) => s.key), ['order-42', 'order-42']);
});

test('a dropped connection is classified and retried', async () => {
  const body = fileWithFate(TRANSIENT, { fate: 'transient', kind: 'drop', failures: 1 }, 'drop');
  const { res, events } = await convert(flaky, body);
  assert.equal(res.status, 200);
  assert.equal(events[0].status, null);
  assert.equal(events[0].category, 'retryable');
  assert.ok(events[0].transportError, 'a transport error kind');
});

test('an abort stops a hanging request at once', async () => {
  const body = fileWithFate(TRANSIENT, { fate: 'transient', kind: 'hang', failures: 1 }, 'abort');
  const ctrl = new AbortController();
  const t0 = performance.now();
  setTimeout(() => ctrl.abort(), 200);
  await assert.rejects(convert(flaky, body, { init: { signal: ctrl.signal } }), { name: 'AbortError' });
  assert.ok(performance.now() - t0 < 2000, 'did not wait for the 3 s hang');
});

test('an abort during a Retry-After wait stops the wait', async () => {
  const state = new SharedState();
  const ctrl = new AbortController();
  await convert(limited, 'use the allowance', { options: { state } });
  const t0 = performance.now();
  setTimeout(() => ctrl.abort(), 150);
  await assert.rejects(convert(limited, 'then wait', { options: { state }, init: { signal: ctrl.signal } }), {
    name: 'AbortError',
  });
  assert.ok(performance.now() - t0 < 900, 'did not sleep the whole Retry-After');
});

test('the total deadline cuts a hanging request', async () => {
  const body = fileWithFate(TRANSIENT, { fate: 'transient', kind: 'hang', failures: 1 }, 'deadline');
  const t0 = performance.now();
  await assert.rejects(convert(flaky, body, { options: { deadlineMs: 300 } }), (e) => {
    assert.ok(e instanceof DeadlineExceededError);
    assert.ok(e instanceof HttpTriageError);
    assert.equal(e.code, 'deadline_exceeded');
    return true;
  });
  const took = performance.now() - t0;
  assert.ok(took >= 290 && took < 2000, `took ${took} ms`);
});

test('a stream body is not retried: a clear error, not an empty resend', async () => {
  const body = fileWithFate(TRANSIENT, { fate: 'transient', kind: '500', failures: 1 }, 'stream');
  const stream = new Blob([body]).stream();
  await assert.rejects(convert(flaky, null, { init: { body: stream } }), (e) => {
    assert.ok(e instanceof BodyNotReplayableError);
    assert.equal(e.code, 'body_not_replayable');
    assert.equal(e.classification.status, 500);
    assert.equal(e.decision.decision, 'retry');
    return true;
  });
  // The same bytes as a string go through (the failure was used up by the stream's attempt).
  const { res } = await convert(flaky, body);
  assert.equal(res.status, 200);
});

test('a 429 paces every caller sharing the state', async () => {
  const state = new SharedState();
  await convert(limited, 'allowance', { options: { state } });
  const a = convert(limited, 'caller a', { options: { state } });
  const b = convert(limited, 'caller b', { options: { state } });
  const [ra, rb] = await Promise.all([a, b]);
  assert.equal(ra.res.status, 200);
  assert.equal(rb.res.status, 200);
  const snap = state.toJSON()[new URL(limited.url).origin];
  assert.equal(snap.gate, undefined, 'no gate: the pacer holds the callers');
  assert.ok(snap.pacer.rate !== null, 'the 429 taught the shared pacer a rate');
  assert.ok(snap.pacer.cuts >= 1, 'the 429 cut the shared pacer');
});

/** A loopback server that answers every request with `answer(req, res)`; counts requests. */
async function plainServer(answer) {
  const { createServer } = await import('node:http');
  let requests = 0;
  const server = createServer((req, res) => {
    requests += 1;
    answer(req, res);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}/`,
    requests: () => requests,
    close: () => new Promise((r) => server.close(r)),
  };
}

test('a deadline or a wait longer than the longest timer (~24.8 days) is kept, not cut to 1 ms', async () => {
  // setTimeout fires a longer timer after 1 ms: a 30-day deadline used to fail every call at once.
  const ok = await plainServer((req, res) => setTimeout(() => res.end('ok'), 30));
  try {
    const res = await fetchWithRetry(ok.url, {}, { deadlineMs: 30 * 86_400_000, state: new SharedState() });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'ok');
  } finally {
    await ok.close();
  }
  // A server's wait of 40 days, followed (clamp at 50): nothing is sent again before it, and no
  // timer overflows (Node reports each with a TimeoutOverflowWarning).
  const slow = await plainServer((req, res) => {
    res.writeHead(429, { 'retry-after': String(40 * 86_400) });
    res.end();
  });
  const overflows = [];
  const onWarning = (w) => w.name === 'TimeoutOverflowWarning' && overflows.push(w);
  process.on('warning', onWarning);
  try {
    const events = [];
    await assert.rejects(
      fetchWithRetry(slow.url, { signal: AbortSignal.timeout(300) }, {
        policy: { maxServerDelayMs: 50 * 86_400_000, longWait: 'clamp' },
        state: new SharedState(),
        onDecision: (e) => events.push(e),
      }),
      { name: 'TimeoutError' },
    );
    assert.equal(events.length, 1);
    assert.equal(events[0].decision, 'retry');
    assert.equal(events[0].delayMs, 40 * 86_400_000);
    assert.equal(slow.requests(), 1);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(overflows, []);
  } finally {
    process.off('warning', onWarning);
    await slow.close();
  }
});
