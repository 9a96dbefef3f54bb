// classify() on a ~300-byte error envelope, against a hand-written classifier in the seeds'
// style (JSON.parse + status sets) in the same process; and where the time goes.
// Run: node bench/classify.mjs   (after scripts/build.sh). A benchmark, not a test.
import { createRequire } from 'node:module';
import { classify } from '../js/node.mjs';

const raw = createRequire(import.meta.url)('../pkg/node/http_triage_wasm.js');

const body = JSON.stringify({
  error: {
    code: 'rate_limited',
    message: 'Too many requests: the limit for this key is 100 requests per minute, slow down.',
    details: { retry_after: 7, limit: 100, window: '60s', request_id: 'req_8f14e45fceea167a5a36dedd4bea2543' },
  },
}).padEnd(300, ' ');
const headers = { 'content-type': 'application/json', 'retry-after': '7', 'x-request-id': 'req_8f14e45f' };
const now = 1763800000000;

// The seeds' style: parse, look the status and the code up in sets.
const RETRYABLE = new Set([408, 429, 500, 502, 503, 504]);
const AUTH = new Set([401, 403]);
const PERMANENT = new Set([400, 404, 413, 415, 422]);
function seedClassify(status, hdrs, text) {
  let code = null;
  let message = null;
  try {
    const j = JSON.parse(text);
    const e = typeof j.error === 'object' && j.error !== null ? j.error : j;
    code = e.code ?? e.error_code ?? null;
    message = e.message ?? e.detail ?? null;
  } catch {}
  const ra = Number(hdrs['retry-after']);
  let category = 'permanent';
  if (code === 'quota_exceeded') category = 'quota';
  else if (RETRYABLE.has(status)) category = 'retryable';
  else if (AUTH.has(status)) category = 'auth';
  else if (PERMANENT.has(status)) category = 'permanent';
  return { category, code, message, retryAfterMs: Number.isFinite(ra) ? ra * 1000 : null };
}

// CPU time of this process (not wall time): on a shared, loaded machine the wall clock counts
// the time spent waiting for a core.
function bench(name, f, n = 200_000) {
  for (let i = 0; i < 20_000; i += 1) f(); // warm up
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i += 1) f();
  const c = process.cpuUsage(c0);
  const us = (c.user + c.system) / n;
  console.log(`${name.padEnd(58)} ${us.toFixed(3)} µs/call`);
  return us;
}

console.log(`body: ${Buffer.byteLength(body)} bytes; node ${process.version}`);
const input = { status: 429, headers, body, method: 'GET', now };
const flat = Object.entries(headers).flat().join('\0');
const args = [429, undefined, flat, 'GET', false, now, undefined];
const total = bench('classify() (wasm, whole call)', () => classify(input));
bench('seed-style JS classifier (JSON.parse + status sets)', () => seedClassify(429, headers, body));
console.log('where classify() spends it:');
const wasm = bench('  wasm: classifyText (arguments in, packed string out)', () => raw.classifyText(...args, body));
bench('  wasm: classifyText, no headers and no body (the crossing)', () =>
  raw.classifyText(200, undefined, '', undefined, false, now, undefined, ''));
bench('  classify() + reading .details (parsed on first read)', () => classify(input).details);
console.log(`target <= 3 µs per call: ${total <= 3 ? 'met' : 'NOT met'} (${total.toFixed(2)} µs; wasm part ${wasm.toFixed(2)} µs)`);
