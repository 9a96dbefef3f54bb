// The JavaScript layer's conversions and errors: header and body shapes, thrown fetch errors,
// error classes, snapshots. Network errors are real ones where the machine can make them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { inspect } from 'node:util';
import * as ht from '../js/node.mjs';
import * as ledger from '../js/ledger-node.mjs';
import { mapError } from '../js/errors.js';

const NOW = 1763800000000;

test('headers as an object, pairs, a Headers or a Map classify alike', () => {
  const shapes = [
    { 'Retry-After': '7', 'X-Request-Id': 'r1' },
    [['retry-after', '7'], ['x-request-id', 'r1']],
    new Headers({ 'retry-after': '7', 'x-request-id': 'r1' }),
    new Map([['Retry-After', '7'], ['X-Request-Id', 'r1']]),
  ];
  for (const headers of shapes) {
    const c = ht.classify({ status: 503, headers, now: NOW });
    assert.equal(c.retryAfterMs, 7000);
    assert.equal(c.requestId, 'r1');
  }
});

test('a body as a string, Uint8Array, ArrayBuffer or DataView classifies alike', () => {
  const text = '{"error":{"code":"insufficient_quota","message":"no credit"}}';
  const bytes = new TextEncoder().encode(text);
  for (const body of [text, bytes, bytes.buffer, new DataView(bytes.buffer)]) {
    const c = ht.classify({ status: 429, body, now: NOW });
    assert.equal(c.category, 'quota');
    assert.equal(c.code, 'insufficient_quota');
  }
  // Not UTF-8: bytes still go through.
  const c = ht.classify({ status: 502, body: new Uint8Array([0xff, 0xfe, 0x3c]), now: NOW });
  assert.equal(c.category, 'retryable');
});

test('the packed result: every field, any text, details read lazily and as parseEnvelope reads them', () => {
  // Texts with the packing's separator, NUL, astral characters and a lone surrogate escape.
  const body = JSON.stringify({
    error: {
      code: 'bad\u0001code',
      message: 'na\u0000me 😀 \ud800 x',
      details: { n: 18446744073709551615, f: 1e999, s: '\ud800', deep: [1, { a: null }] },
      errors: [{ field: 'a😀.b', message: 'm\u0001' }, { field: '', message: 'second' }],
    },
  }).replace('18446744073709552000', '18446744073709551615').replace('"f":null', '"f":1e999');
  const c = ht.classify({ status: 422, headers: { 'x-request-id': 'r😀1', 'retry-after': '3' }, body, now: NOW });
  const e = ht.parseEnvelope(body, 'application/json');
  assert.equal(c.code, e.code);
  assert.equal(c.message, e.message);
  assert.deepEqual(c.violations, e.violations);
  assert.equal(c.requestId, 'r😀1');
  assert.equal(c.retryAfterMs, 3000);
  // On the prototype, not an own property: spread and structuredClone copy the own fields only.
  assert.ok(!Object.keys(c).includes('details'));
  assert.deepEqual(c.details, e.details);
  // Read as the core reads them in every language: 1e999 is null, a lone surrogate U+FFFD.
  assert.equal(c.details.f, null);
  assert.equal(c.details.s, '\ufffd');
  assert.equal(c.details.n, 18446744073709551615);
  // Out of range without an exponent, in a text with no letter e: null too, as in Rust and Python.
  const huge = `{"error":{"code":"x","details":{"n":${'9'.repeat(400)},"m":-${'1'.repeat(310)},"f":${'1'.repeat(309)}}}}`;
  for (const d of [ht.classify({ status: 400, body: huge, now: NOW }).details, ht.parseEnvelope(huge).details]) {
    assert.deepEqual(d, { n: null, m: null, f: Number('1'.repeat(309)) });
  }
  // toJSON() is the plain copy, details included: JSON, structuredClone of it, and Node's
  // inspect (console.log) see the parsed details.
  const plain = c.toJSON();
  assert.equal(Object.getPrototypeOf(plain), Object.prototype);
  assert.deepEqual(plain, { ...c, details: e.details });
  assert.deepEqual(structuredClone(plain).details, e.details);
  assert.deepEqual(JSON.parse(JSON.stringify(c)).details, JSON.parse(JSON.stringify(e.details)));
  assert.deepEqual(Object.keys(JSON.parse(JSON.stringify(c))).sort(), [...Object.keys(c), 'details'].sort());
  assert.match(inspect(c, { depth: 5 }), /details: \{[^]*deep: \[ 1, \{ a: null \} \]/);
  c.details = 'mine';
  assert.equal(c.details, 'mine');
  const bytes = ht.classify({ status: 422, body: new TextEncoder().encode(body), now: NOW });
  assert.deepEqual({ ...bytes }, { ...ht.classify({ status: 422, body, now: NOW }) });
  const t = ht.classify({ transportError: 'connect_refused', method: 'POST', now: NOW });
  assert.deepEqual(
    [t.status, t.transportError, t.details, t.requestNotProcessed, t.retryableHint],
    [null, 'connect_refused', null, true, null],
  );
  const r = ht.classify({ status: 409, rules: { status: { 409: 'retryable' } }, now: NOW });
  assert.deepEqual([r.category, r.reason], ['retryable', 'status_rule']);
});

test('bad input is an HttpTriageError with a stable code, never a trap', () => {
  const cases = [
    [() => ht.classify({ status: 42 }), 'invalid_input'],
    [() => ht.classify({ status: 200, statsu: 1 }), 'invalid_input'],
    [() => ht.classify({ transportError: 'nope' }), 'invalid_input'],
    [() => ht.classify({ status: 200, body: 12 }), 'invalid_input'],
    [() => ht.classify({ status: 200, now: -1 }), 'invalid_input'],
    [() => ht.classify({ status: 200, headers: { a: {} } }), 'invalid_input'],
    [() => ht.classify({ status: 200, headers: { a: 'x\0b' } }), 'invalid_input'],
    [() => ht.classify({ status: 200.5 }), 'invalid_input'],
    [() => ht.classify({ status: '200' }), 'invalid_input'],
    [() => ht.classify({}), 'invalid_input'],
    [() => ht.classify({ status: 503, transportError: 'dns' }), 'invalid_input'],
    [() => ht.classify({ status: 503, method: '' }), 'invalid_input'],
    [() => ht.classify({ status: 409, rules: { status: { 409: 'nope' } } }), 'invalid_input'],
    [() => new ht.RetryPolicy({ multiplier: 0.5 }), 'invalid_option'],
    [() => new ht.CircuitBreaker({ failureRatio: 2 }), 'invalid_option'],
    [() => new ht.Pacer({ beta: 1.5 }), 'invalid_option'],
    [() => new ht.Pacer({ warp: 9 }), 'invalid_option'],
    [() => ht.RateGate.fromJSON({ version: 99, reopens_at_ms: null }), 'invalid_snapshot'],
    [() => ht.Pacer.fromJSON('not a snapshot'), 'invalid_snapshot'],
    [() => new ht.RateGate().wait(-5), 'invalid_input'],
    [() => new ht.RetryBudget().record({ category: 'bogus', reason: 'ok' }), 'unknown_name'],
    [() => new ht.RetryPolicy().decide({}, {}, 0.5), 'invalid_input'],
    [() => ledger.parseLedgerLine('{"torn'), 'invalid_ledger_line'],
  ];
  for (const [f, code] of cases) {
    assert.throws(f, (e) => {
      assert.ok(e instanceof ht.HttpTriageError, `${e}`);
      assert.ok(e instanceof Error);
      assert.equal(e.code, code, e.message);
      return true;
    });
  }
  const e = (() => {
    try {
      new ht.RetryPolicy({ maxAttempts: 0 });
    } catch (err) {
      return err;
    }
  })();
  assert.ok(e instanceof ht.InvalidOptionError);
  assert.equal(e.option, 'max_attempts');
});

test('secrets in input never reach an error message', () => {
  assert.throws(() => new ht.RetryPolicy({ jitter: 'sk-live-SECRET' }), (e) => !e.message.includes('SECRET'));
  assert.throws(() => ht.classify({ status: 200, headers: [['authorization']] }), (e) => !/Bearer/.test(e.message));
});

test('a trap and wasm-bindgen guard errors become InternalError', () => {
  const trap = mapError(new WebAssembly.RuntimeError('unreachable'));
  assert.ok(trap instanceof ht.InternalError);
  assert.equal(trap.code, 'internal');
  assert.ok(trap.cause instanceof WebAssembly.RuntimeError);
  assert.equal(mapError(new Error('recursive use of an object detected')).code, 'internal');
});

test('thrown fetch errors map to the core transport kinds', () => {
  const nodeErr = (code, extra = {}) =>
    Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error(code), { code, ...extra }) });
  const kinds = [
    [nodeErr('ENOTFOUND'), 'dns'],
    [nodeErr('EAI_AGAIN'), 'dns'],
    [nodeErr('ECONNREFUSED'), 'connect_refused'],
    [nodeErr('ECONNRESET'), 'reset_before_response'],
    [nodeErr('UND_ERR_SOCKET'), 'closed_before_response'],
    [nodeErr('UND_ERR_CONNECT_TIMEOUT'), 'connect_timeout'],
    [nodeErr('UND_ERR_HEADERS_TIMEOUT'), 'timeout_after_send'],
    [nodeErr('ETIMEDOUT', { syscall: 'connect' }), 'connect_timeout'],
    [nodeErr('CERT_HAS_EXPIRED'), 'tls'],
    [nodeErr('ERR_TLS_CERT_ALTNAME_INVALID'), 'tls'],
    [nodeErr('UNABLE_TO_VERIFY_LEAF_SIGNATURE'), 'tls'],
    [Object.assign(new TypeError('fetch failed'), { cause: new AggregateError([nodeErr('ECONNREFUSED').cause]) }), 'connect_refused'],
    [new DOMException('signal timed out', 'TimeoutError'), 'timeout_after_send'],
    [new TypeError('Failed to fetch'), 'closed_before_response'],
  ];
  for (const [err, kind] of kinds) {
    assert.equal(ht.classifyError(err)?.transportError, kind, String(err.cause?.code ?? err.message));
  }
  assert.equal(ht.classifyError(new DOMException('aborted', 'AbortError')), null);
  assert.equal(ht.classifyError(new RangeError('a bug')), null);
  // Connect failures prove the server never saw the request: a POST may go again.
  const c = ht.classifyError(nodeErr('ECONNREFUSED'), { method: 'POST' });
  assert.equal(c.category, 'retryable');
  assert.equal(c.requestNotProcessed, true);
  // A reset may have reached it: a POST without a key is not repeated.
  assert.equal(ht.classifyError(nodeErr('ECONNRESET'), { method: 'POST' }).reason, 'not_safe_to_repeat');
});

test('real network errors: a refused connection and an unresolvable name', async () => {
  const s = createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  const refused = await fetch(`http://127.0.0.1:${port}/`).catch((e) => e);
  assert.equal(ht.classifyError(refused).transportError, 'connect_refused');
  const dns = await fetch('http://no-such-host.invalid/').catch((e) => e);
  assert.equal(ht.classifyError(dns).transportError, 'dns');
});

test('classifyResponse reads a clone and leaves the response readable', async () => {
  const res = new Response('{"error":{"code":"rate_limited"}}', { status: 429, headers: { 'retry-after': '2' } });
  const c = await ht.classifyResponse(res, { now: NOW });
  assert.equal(c.reason, 'rate_limited');
  assert.equal(c.retryAfterMs, 2000);
  assert.equal(await res.text(), '{"error":{"code":"rate_limited"}}');
  await assert.rejects(ht.classifyResponse(res), { code: 'invalid_input' });
});

test('state machines round-trip through JSON and keep deciding', () => {
  const c = ht.classify({ status: 429, headers: { 'Retry-After': '5' }, now: NOW });
  const gate = new ht.RateGate();
  gate.record(c, 1000);
  const back = ht.RateGate.fromJSON(JSON.parse(JSON.stringify(gate)));
  assert.equal(back.wait(2000), 4000);
  const breaker = new ht.CircuitBreaker({ failureThreshold: 2, failureRatio: null });
  const failure = ht.classify({ status: 500, now: NOW });
  breaker.record(failure, 10);
  breaker.record(failure, 11);
  const b2 = ht.CircuitBreaker.fromJSON(breaker.toJSON(), { failureThreshold: 2, failureRatio: null });
  assert.equal(b2.admit(12).admission, 'rejected');
  const pacer = new ht.Pacer();
  pacer.record(c, 0);
  const p2 = ht.Pacer.fromJSON(JSON.parse(JSON.stringify(pacer)));
  assert.equal(p2.rate, pacer.rate);
  assert.ok(p2.acquire(0) >= 0);
});

test('details of a text body are built when first read, from what the call was given, whatever ran since', () => {
  // Details depend on the status and the content type: a problem document's extensions are
  // its details only under application/problem+json.
  const problem = JSON.stringify({ title: 'Out of credit', balance: 30, accounts: ['/a/1'] });
  const stripe = JSON.stringify({ error: { type: 'rate_limit_error', code: 'rate_limited', message: 'slow', doc_url: 'https://d' } });
  const long = JSON.stringify({ error: { code: 'big', message: 'm', details: { pad: 'p'.repeat(60000) } } });
  const ct = { 'content-type': 'application/problem+json' };
  const a = ht.classify({ status: 403, headers: ct, body: problem, now: NOW });
  const b = ht.classify({ status: 429, headers: [['Content-Type', 'application/json'], ['retry-after', '1']], body: stripe, now: NOW });
  const c = ht.classify({ status: 400, body: long, now: NOW });
  const plain = ht.classify({ status: 403, body: problem, now: NOW });
  // Other calls in between overwrite the module's buffers.
  for (let i = 0; i < 3; i += 1) ht.classify({ status: 500, headers: { 'x-n': String(i) }, body: '{"error":{"code":"other","details":{"n":1}}}', now: NOW });
  ht.parseEnvelope('{"error":{"code":"zzz","details":[1,2,3]}}');
  assert.deepEqual(a.details, ht.parseEnvelope(problem, 'application/problem+json').details);
  assert.deepEqual(a.details, { balance: 30, accounts: ['/a/1'] });
  assert.deepEqual(b.details, { type: 'rate_limit_error', doc_url: 'https://d' });
  assert.equal(c.details.pad.length, 60000);
  assert.equal(plain.details, null);
  assert.equal(ht.parseEnvelope(problem).details, null);
  // The same as a byte body gives (built at once: bytes can change after the call).
  const enc = new TextEncoder();
  for (const [x, input] of [[a, { status: 403, headers: ct, body: problem }], [b, { status: 429, body: stripe }], [c, { status: 400, body: long }]]) {
    const bytes = enc.encode(input.body);
    const y = ht.classify({ ...input, body: bytes, now: NOW });
    bytes.fill(0x20);
    assert.deepEqual(y.details, x.details);
  }
  // Read once, then kept.
  assert.equal(a.details, a.details);
});

test('big bodies and many headers: the input buffer grows and later calls still read right', () => {
  const small = () => ht.classify({ status: 429, headers: { 'retry-after': '2' }, body: '{"error":{"code":"slow_down"}}', now: NOW });
  const before = small();
  const filler = 'x'.repeat(3 * 1024 * 1024);
  const big = JSON.stringify({ error: { code: 'too_big', message: 'é'.repeat(10) }, pad: filler });
  const c = ht.classify({ status: 422, body: big, now: NOW });
  assert.equal(c.code, 'too_big');
  const bytes = ht.classify({ status: 422, body: new TextEncoder().encode(big), now: NOW });
  assert.equal(bytes.code, 'too_big');
  const headers = Array.from({ length: 2000 }, (_, i) => [`x-h${i}`, 'v'.repeat(100)]);
  headers.push(['Retry-After', '9']);
  assert.equal(ht.classify({ status: 503, headers, now: NOW }).retryAfterMs, 9000);
  assert.deepEqual({ ...small() }, { ...before });
});

test('after a trap (a body too big for wasm32 memory) classify works again', (t) => {
  let huge;
  try {
    huge = new Uint8Array(2 ** 31 + 16); // zeroed pages, not touched: cheap to make
  } catch {
    t.skip('this Node cannot make a 2 GiB typed array');
    return;
  }
  assert.throws(() => ht.classify({ status: 500, body: huge, now: NOW }), (e) => e instanceof ht.InternalError);
  huge = null;
  const c = ht.classify({ status: 429, headers: { 'retry-after': '3' }, body: '{"error":{"code":"slow_down"}}', now: NOW });
  assert.deepEqual([c.category, c.code, c.retryAfterMs], ['retryable', 'slow_down', 3000]);
});

test('headers that are not ASCII: each shape, with a text or a byte body, reads every header right', () => {
  const body = '{"error":{"code":"slow_down","message":"trop de requêtes 😀"}}';
  const pairs = [
    ['x-note', 'café ☕'],
    ['x-request-id', 'req-é-😀-1'],
    ['retry-after', '4'],
    ['x-ratelimit-remaining', '0'],
  ];
  const shapes = [Object.fromEntries(pairs), pairs, new Map(pairs)];
  for (const headers of shapes) {
    for (const b of [body, new TextEncoder().encode(body)]) {
      const c = ht.classify({ status: 429, headers, body: b, method: 'POST', now: NOW });
      assert.deepEqual(
        [c.requestId, c.retryAfterMs, c.rateLimitRemaining, c.code, c.message],
        ['req-é-😀-1', 4000, 0, 'slow_down', 'trop de requêtes 😀'],
      );
    }
  }
  // Past 256 UTF-16 units the headers take the encoder's path: ASCII and not.
  for (const long of ['v'.repeat(300), `${'v'.repeat(300)}é😀`]) {
    const c = ht.classify({ status: 429, headers: [['x-long', long], ['x-request-id', 'req-é-2'], ['retry-after', '5']], now: NOW });
    assert.deepEqual([c.requestId, c.retryAfterMs], ['req-é-2', 5000]);
    const d = ht.classify({ status: 429, headers: { 'x-note': long, 'x-request-id': 'r😀', 'retry-after': '6' }, now: NOW });
    assert.deepEqual([d.requestId, d.retryAfterMs], ['r😀', 6000]);
  }
  // An ASCII call after them still reads right (the lengths come from the strings again).
  const c = ht.classify({ status: 429, headers: { 'x-request-id': 'abc', 'retry-after': '2' }, now: NOW });
  assert.deepEqual([c.requestId, c.retryAfterMs], ['abc', 2000]);
  assert.throws(
    () => ht.classify({ status: 429, headers: { 'x-a': 'é\u0000' }, now: NOW }),
    (e) => e instanceof ht.InvalidInputError && /NUL/.test(e.message),
  );
});

test('classify accepts each of its fields, and names them when refusing another', () => {
  const c = ht.classify({ status: 429, transportError: undefined, headers: {}, body: '', method: 'GET', idempotencyKey: false, now: NOW, rules: {} });
  assert.equal(c.category, 'retryable');
  assert.throws(
    () => ht.classify({ status: 200, Status: 1 }),
    (e) => e.code === 'invalid_input' && e.message.includes('status, transportError, headers, body, method, idempotencyKey, now, rules'),
  );
});
