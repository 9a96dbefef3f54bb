// Classify responses and errors, and let the core decide what to do next.
// Run: node examples/js/classify.mjs (after bindings-wasm/scripts/build.sh).
// In your project: import { … } from 'http-triage';
import { classify, classifyError, RetryPolicy } from '../../bindings-wasm/js/node.mjs';

const policy = new RetryPolicy({ maxAttempts: 4, baseDelayMs: 200 });

const answers = [
  { status: 429, headers: { 'Retry-After': '7' }, body: '{"error":{"code":"rate_limited","message":"slow down"}}' },
  { status: 429, headers: {}, body: '{"error":{"code":"insufficient_quota","message":"billing"}}' },
  { status: 422, headers: { 'content-type': 'application/problem+json' }, body: '{"title":"bad","code":"corrupted"}' },
  { status: 503, headers: [['Retry-After', '2']], body: '' },
];
for (const a of answers) {
  const c = classify({ ...a, method: 'POST', idempotencyKey: true });
  const d = policy.decide(c, { number: 1 }, Math.random());
  console.log(`${a.status} ${c.code ?? ''} -> ${c.category}/${c.reason}: ${d.decision}${d.delayMs === null ? '' : ` in ${d.delayMs} ms`}`);
}

// A refused connection, as Node's fetch reports it: a port nothing listens on any more.
const { createServer } = await import('node:net');
const closed = createServer();
await new Promise((r) => closed.listen(0, '127.0.0.1', r));
const { port } = closed.address();
await new Promise((r) => closed.close(r));
try {
  await fetch(`http://127.0.0.1:${port}/`);
} catch (err) {
  const c = classifyError(err, { method: 'POST' });
  console.log(`fetch failed -> ${c?.category}/${c?.reason} (request not processed: ${c?.requestNotProcessed})`);
}
